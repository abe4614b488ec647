/* leaf-agreement.h: how far labellers agree beyond chance, Cohen's kappa for two of them and
 * Fleiss' kappa for more
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One labeller's class for one photo, as indices. */
typedef struct
{
  guint item;
  guint rater;
  guint category;
} LeafVote;

typedef enum
{
  LEAF_KAPPA_NONE,   /* fewer than two labellers on any photo */
  LEAF_KAPPA_COHEN,  /* exactly two labellers: the photos both labelled */
  LEAF_KAPPA_FLEISS, /* more: every photo with at least two labels */
} LeafKappaMethod;

typedef struct
{
  LeafKappaMethod method;
  guint n_raters;  /* labellers with a label on a photo that counts */
  guint n_items;   /* photos that count */
  double observed; /* share of agreeing pairs of labels (NAN when nothing counts) */
  double kappa;    /* NAN when undefined: nothing counts, or chance alone agrees fully */
} LeafKappa;

void        leaf_agreement_kappa        (const LeafVote *votes,
                                         gsize           n_votes,
                                         guint           n_categories,
                                         int             category,
                                         LeafKappa      *kappa);
const char *leaf_kappa_method_to_string (LeafKappaMethod method);

G_END_DECLS
