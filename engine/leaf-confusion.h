/* leaf-confusion.h: counts of true against predicted classes for one evaluated run, and the
 * precision, recall, F1 and accuracy they give (undefined ratios are NAN, see leaf-metrics.h)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define LEAF_TYPE_CONFUSION (leaf_confusion_get_type ())
G_DECLARE_FINAL_TYPE (LeafConfusion, leaf_confusion, LEAF, CONFUSION, GObject)

LeafConfusion *leaf_confusion_new            (const char *const *class_names);
guint          leaf_confusion_get_n_classes  (LeafConfusion     *self);
const char    *leaf_confusion_get_class_name (LeafConfusion     *self,
                                              guint              index);
void           leaf_confusion_set_counts     (LeafConfusion     *self,
                                              const guint       *counts,
                                              gsize              n_counts);
guint          leaf_confusion_get_count      (LeafConfusion     *self,
                                              guint              truth,
                                              guint              predicted);
guint          leaf_confusion_get_row_total  (LeafConfusion     *self,
                                              guint              truth);
guint          leaf_confusion_get_total      (LeafConfusion     *self);
double         leaf_confusion_get_precision  (LeafConfusion     *self,
                                              guint              index);
double         leaf_confusion_get_recall     (LeafConfusion     *self,
                                              guint              index);
double         leaf_confusion_get_f1         (LeafConfusion     *self,
                                              guint              index);
double         leaf_confusion_get_macro_f1   (LeafConfusion     *self);
double         leaf_confusion_get_accuracy   (LeafConfusion     *self);

G_END_DECLS
