/* leaf-confusion.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The ratios follow the one definition leaf-metrics.h describes: undefined (NAN) where their
 * denominator is zero.
 */

#define G_LOG_DOMAIN "leaf-confusion"

#include "config.h"

#include <math.h>
#include <string.h>

#include "leaf-confusion.h"

struct _LeafConfusion
{
  GObject parent_instance;
  GStrv class_names;
  guint n;
  guint *counts; /* n × n, row = true class, column = predicted class */
};

G_DEFINE_FINAL_TYPE (LeafConfusion, leaf_confusion, G_TYPE_OBJECT)

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
leaf_confusion_finalize (GObject *object)
{
  LeafConfusion *self = LEAF_CONFUSION (object);

  g_clear_pointer (&self->class_names, g_strfreev);
  g_clear_pointer (&self->counts, g_free);
  G_OBJECT_CLASS (leaf_confusion_parent_class)->finalize (object);
}

static void
leaf_confusion_class_init (LeafConfusionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = leaf_confusion_finalize;

  /**
   * LeafConfusion::changed:
   *
   * Emitted after any count changed.
   */
  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
leaf_confusion_init (LeafConfusion *self)
{
}

/**
 * leaf_confusion_new:
 * @class_names: the classes, in the order of the matrix's rows and columns
 *
 * Returns: (transfer full): a matrix of zeros
 */
LeafConfusion *
leaf_confusion_new (const char *const *class_names)
{
  LeafConfusion *self;

  g_return_val_if_fail (class_names != NULL, NULL);

  self = g_object_new (LEAF_TYPE_CONFUSION, NULL);
  self->class_names = g_strdupv ((char **) class_names);
  self->n = g_strv_length (self->class_names);
  self->counts = g_new0 (guint, (gsize) self->n * self->n);
  return self;
}

guint
leaf_confusion_get_n_classes (LeafConfusion *self)
{
  g_return_val_if_fail (LEAF_IS_CONFUSION (self), 0);
  return self->n;
}

const char *
leaf_confusion_get_class_name (LeafConfusion *self,
                               guint          index)
{
  g_return_val_if_fail (LEAF_IS_CONFUSION (self), NULL);
  g_return_val_if_fail (index < self->n, NULL);
  return self->class_names[index];
}

/**
 * leaf_confusion_set_counts:
 * @self: a matrix
 * @counts: (array length=n_counts): n × n counts, row by row, rows being true classes
 * @n_counts: must be the square of the number of classes
 */
void
leaf_confusion_set_counts (LeafConfusion *self,
                           const guint   *counts,
                           gsize          n_counts)
{
  g_return_if_fail (LEAF_IS_CONFUSION (self));
  g_return_if_fail (n_counts == (gsize) self->n * self->n);

  memcpy (self->counts, counts, n_counts * sizeof (guint));
  g_signal_emit (self, signals[CHANGED], 0);
}

guint
leaf_confusion_get_count (LeafConfusion *self,
                          guint          truth,
                          guint          predicted)
{
  g_return_val_if_fail (LEAF_IS_CONFUSION (self), 0);
  g_return_val_if_fail (truth < self->n && predicted < self->n, 0);
  return self->counts[truth * self->n + predicted];
}

guint
leaf_confusion_get_row_total (LeafConfusion *self,
                              guint          truth)
{
  guint total = 0;

  g_return_val_if_fail (LEAF_IS_CONFUSION (self), 0);
  g_return_val_if_fail (truth < self->n, 0);

  for (guint j = 0; j < self->n; j++)
    total += self->counts[truth * self->n + j];
  return total;
}

guint
leaf_confusion_get_total (LeafConfusion *self)
{
  guint total = 0;

  g_return_val_if_fail (LEAF_IS_CONFUSION (self), 0);

  for (gsize i = 0; i < (gsize) self->n * self->n; i++)
    total += self->counts[i];
  return total;
}

/**
 * leaf_confusion_get_precision:
 *
 * Returns: the share of photos predicted as @index that truly are, or NAN when none was
 *   predicted as @index
 */
double
leaf_confusion_get_precision (LeafConfusion *self,
                              guint          index)
{
  guint column = 0;

  g_return_val_if_fail (LEAF_IS_CONFUSION (self), NAN);
  g_return_val_if_fail (index < self->n, NAN);

  for (guint i = 0; i < self->n; i++)
    column += self->counts[i * self->n + index];
  return column == 0 ? NAN : (double) self->counts[index * self->n + index] / column;
}

/**
 * leaf_confusion_get_recall:
 *
 * Returns: the share of photos of class @index predicted as @index, or NAN when the class has
 *   no photos
 */
double
leaf_confusion_get_recall (LeafConfusion *self,
                           guint          index)
{
  guint row;

  g_return_val_if_fail (LEAF_IS_CONFUSION (self), NAN);
  g_return_val_if_fail (index < self->n, NAN);

  row = leaf_confusion_get_row_total (self, index);
  return row == 0 ? NAN : (double) self->counts[index * self->n + index] / row;
}

/**
 * leaf_confusion_get_f1:
 *
 * Returns: the harmonic mean of precision and recall of class @index; 0 when one of them is
 *   undefined, since no photo of the class was then predicted right; NAN when both are, the class
 *   neither occurring nor being predicted
 */
double
leaf_confusion_get_f1 (LeafConfusion *self,
                       guint          index)
{
  double precision, recall;

  g_return_val_if_fail (LEAF_IS_CONFUSION (self), NAN);
  g_return_val_if_fail (index < self->n, NAN);

  precision = leaf_confusion_get_precision (self, index);
  recall = leaf_confusion_get_recall (self, index);
  if (isnan (precision) && isnan (recall))
    return NAN;
  if (isnan (precision) || isnan (recall) || precision + recall == 0)
    return 0.0;
  return 2 * precision * recall / (precision + recall);
}

/**
 * leaf_confusion_get_macro_f1:
 *
 * Returns: the mean F1 of the classes whose F1 is defined, or NAN when none is
 */
double
leaf_confusion_get_macro_f1 (LeafConfusion *self)
{
  double sum = 0;
  guint n = 0;

  g_return_val_if_fail (LEAF_IS_CONFUSION (self), NAN);

  for (guint i = 0; i < self->n; i++)
    {
      double f1 = leaf_confusion_get_f1 (self, i);

      if (!isnan (f1))
        {
          sum += f1;
          n++;
        }
    }
  return n == 0 ? NAN : sum / n;
}

/**
 * leaf_confusion_get_accuracy:
 *
 * Returns: the share of all photos on the diagonal, or NAN for an empty matrix
 */
double
leaf_confusion_get_accuracy (LeafConfusion *self)
{
  guint total, diagonal = 0;

  g_return_val_if_fail (LEAF_IS_CONFUSION (self), NAN);

  total = leaf_confusion_get_total (self);
  for (guint i = 0; i < self->n; i++)
    diagonal += self->counts[i * self->n + i];
  return total == 0 ? NAN : (double) diagonal / total;
}
