/* leaf-ood.c: how unlike the photos a model was trained on a photo is
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The detector reads the pooled features the classifier sees, scaled to unit length, and measures
 * the Mahalanobis distance of a photo to the nearest class mean under one covariance shared by
 * the classes (Lee et al., "A Simple Unified Framework for Detecting Out-of-Distribution Samples
 * and Adversarial Attacks", 2018). A few hundred training photos cannot estimate a 1280 x 1280
 * covariance, so it is the probabilistic-PCA one (Tipping and Bishop, 1999): the leading
 * COMPONENTS directions keep their own variances, and every other direction shares the mean of
 * the rest. That shrinks the covariance towards a multiple of the identity, keeps it invertible,
 * and fits in a model file's metadata: the class means, the directions and their variances.
 * A photo away from every training photo scores high whether it leaves along a direction the
 * training photos vary in (a leaf seen as never before) or off them (something else entirely).
 *
 * The score is that squared distance divided by the number of features, so that typical
 * training photos score about 1. The threshold is chosen on photos the detector was not fitted
 * on (the validation photos) so that a set share of them is flagged.
 */

#define G_LOG_DOMAIN "leaf-ood"

#include "config.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "leaf-error.h"
#include "leaf-json.h"
#include "leaf-json-private.h"
#include "leaf-ood.h"

#define METHOD "mahalanobis-ppca"
#define COMPONENTS 32
/* Bounds on what a model file may ask for, so that a damaged one cannot make us allocate much. */
#define MAX_FEATURES 4096
#define MAX_CLASSES 1000

struct _LeafOod
{
  guint n_features;
  guint n_classes;
  guint n_components;
  float *means;          /* n_classes x n_features, of unit-length features */
  float *basis;          /* n_components x n_features, orthonormal rows */
  double *variances;     /* n_components, along each row of basis */
  double residual;       /* the variance of every other direction */
  double threshold;      /* scores above it are flagged */
  double flagged_share;  /* of the photos the threshold was chosen on */
};

void
leaf_ood_free (LeafOod *self)
{
  if (self == NULL)
    return;
  g_free (self->means);
  g_free (self->basis);
  g_free (self->variances);
  g_free (self);
}

static void
normalise (const float *in,
           guint        n,
           double      *out)
{
  double norm = 0;

  for (guint j = 0; j < n; j++)
    norm += (double) in[j] * in[j];
  norm = norm > 0 ? 1 / sqrt (norm) : 0;
  for (guint j = 0; j < n; j++)
    out[j] = in[j] * norm;
}

/* Symmetric eigendecomposition ------------------------------------------------------------ */

/* Householder reduction of the symmetric n x n matrix v (row-major) to tridiagonal form, then the
 * QL algorithm with implicit shifts; afterwards column j of v is the eigenvector of eigenvalue
 * d[j], in ascending order. After EISPACK's tred2 and tql2 (as JAMA writes them; public domain). */
static void
tridiagonalise (double *v,
                double *d,
                double *e,
                guint   n)
{
#define V(i, j) v[(gsize) (i) * n + (j)]
  for (guint j = 0; j < n; j++)
    d[j] = V (n - 1, j);

  for (guint i = n - 1; i > 0; i--)
    {
      double scale = 0, h = 0;

      for (guint k = 0; k < i; k++)
        scale += fabs (d[k]);
      if (scale == 0)
        {
          e[i] = d[i - 1];
          for (guint j = 0; j < i; j++)
            {
              d[j] = V (i - 1, j);
              V (i, j) = 0;
              V (j, i) = 0;
            }
        }
      else
        {
          double f, g, hh;

          for (guint k = 0; k < i; k++)
            {
              d[k] /= scale;
              h += d[k] * d[k];
            }
          f = d[i - 1];
          g = sqrt (h);
          if (f > 0)
            g = -g;
          e[i] = scale * g;
          h -= f * g;
          d[i - 1] = f - g;
          for (guint j = 0; j < i; j++)
            e[j] = 0;
          for (guint j = 0; j < i; j++)
            {
              f = d[j];
              V (j, i) = f;
              g = e[j] + V (j, j) * f;
              for (guint k = j + 1; k <= i - 1; k++)
                {
                  g += V (k, j) * d[k];
                  e[k] += V (k, j) * f;
                }
              e[j] = g;
            }
          f = 0;
          for (guint j = 0; j < i; j++)
            {
              e[j] /= h;
              f += e[j] * d[j];
            }
          hh = f / (h + h);
          for (guint j = 0; j < i; j++)
            e[j] -= hh * d[j];
          for (guint j = 0; j < i; j++)
            {
              f = d[j];
              g = e[j];
              for (guint k = j; k <= i - 1; k++)
                V (k, j) -= f * e[k] + g * d[k];
              d[j] = V (i - 1, j);
              V (i, j) = 0;
            }
        }
      d[i] = h;
    }

  for (guint i = 0; i + 1 < n; i++)
    {
      double h;

      V (n - 1, i) = V (i, i);
      V (i, i) = 1;
      h = d[i + 1];
      if (h != 0)
        {
          for (guint k = 0; k <= i; k++)
            d[k] = V (k, i + 1) / h;
          for (guint j = 0; j <= i; j++)
            {
              double g = 0;

              for (guint k = 0; k <= i; k++)
                g += V (k, i + 1) * V (k, j);
              for (guint k = 0; k <= i; k++)
                V (k, j) -= g * d[k];
            }
        }
      for (guint k = 0; k <= i; k++)
        V (k, i + 1) = 0;
    }
  for (guint j = 0; j < n; j++)
    {
      d[j] = V (n - 1, j);
      V (n - 1, j) = 0;
    }
  V (n - 1, n - 1) = 1;
  e[0] = 0;
#undef V
}

/* vt is v transposed: row j is the vector of column j, so that the rotations run along rows. */
static void
diagonalise (double *vt,
             double *d,
             double *e,
             guint   n)
{
#define VT(i, j) vt[(gsize) (i) * n + (j)]
  double f = 0, tst1 = 0;
  const double eps = DBL_EPSILON;

  for (guint i = 1; i < n; i++)
    e[i - 1] = e[i];
  e[n - 1] = 0;

  for (guint l = 0; l < n; l++)
    {
      guint m = l;

      tst1 = MAX (tst1, fabs (d[l]) + fabs (e[l]));
      while (m < n - 1 && fabs (e[m]) > eps * tst1)
        m++;
      if (m > l)
        {
          guint iter = 0;

          do
            {
              double g = d[l], p = (d[l + 1] - g) / (2 * e[l]), r = hypot (p, 1);
              double dl1, h, c = 1, c2 = 1, c3 = 1, el1, s = 0, s2 = 0;

              if (p < 0)
                r = -r;
              d[l] = e[l] / (p + r);
              d[l + 1] = e[l] * (p + r);
              dl1 = d[l + 1];
              h = g - d[l];
              for (guint i = l + 2; i < n; i++)
                d[i] -= h;
              f += h;

              p = d[m];
              el1 = e[l + 1];
              for (guint i = m; i-- > l;)
                {
                  c3 = c2;
                  c2 = c;
                  s2 = s;
                  g = c * e[i];
                  h = c * p;
                  r = hypot (p, e[i]);
                  e[i + 1] = s * r;
                  s = e[i] / r;
                  c = p / r;
                  p = c * d[i] - s * g;
                  d[i + 1] = h + s * (c * g + s * d[i]);
                  for (guint k = 0; k < n; k++)
                    {
                      h = VT (i + 1, k);
                      VT (i + 1, k) = s * VT (i, k) + c * h;
                      VT (i, k) = c * VT (i, k) - s * h;
                    }
                }
              p = -s * s2 * c3 * el1 * e[l] / dl1;
              e[l] = s * p;
              d[l] = c * p;
            }
          while (fabs (e[l]) > eps * tst1 && ++iter < 60);
        }
      d[l] += f;
      e[l] = 0;
    }
#undef VT
}

/* Eigenvalues of the symmetric n x n matrix a, largest first, into values; the matching unit
 * eigenvectors into the rows of a. */
static void
eigen_symmetric (double *a,
                 double *values,
                 guint   n)
{
  g_autofree double *e = g_new (double, n);
  g_autofree double *vt = g_new (double, (gsize) n * n);
  g_autofree guint *order = g_new (guint, n);

  tridiagonalise (a, values, e, n);
  for (guint i = 0; i < n; i++)
    for (guint j = 0; j < n; j++)
      vt[(gsize) j * n + i] = a[(gsize) i * n + j];
  diagonalise (vt, values, e, n);

  /* Ascending as the algorithm leaves them, nearly: sort to be sure, largest first. */
  for (guint i = 0; i < n; i++)
    order[i] = i;
  for (guint i = 1; i < n; i++)
    for (guint j = i; j > 0 && values[order[j]] > values[order[j - 1]]; j--)
      {
        guint t = order[j];
        order[j] = order[j - 1];
        order[j - 1] = t;
      }
  for (guint i = 0; i < n; i++)
    memcpy (a + (gsize) i * n, vt + (gsize) order[i] * n, n * sizeof (double));
  memcpy (e, values, n * sizeof (double));
  for (guint i = 0; i < n; i++)
    values[i] = e[order[i]];
}

/* Fitting ---------------------------------------------------------------------------------- */

/* A photo's features at unit length, less its class's mean. */
static void
centre (const float  *features,
        const double *mean,
        guint         n_features,
        double       *out)
{
  normalise (features, n_features, out);
  for (guint j = 0; j < n_features; j++)
    out[j] -= mean[j];
}

/**
 * leaf_ood_fit:
 * @features: @n x @n_features pooled features of the training photos, row by row, as the
 *   backbone gives them (they are scaled to unit length here)
 * @labels: the class index of each photo
 * @n_classes: how many classes there are; a class without photos has no mean
 *
 * Returns: (transfer full): the detector, without a threshold yet (it flags nothing), or
 *   %NULL with @error set when there are too few photos to fit it
 */
LeafOod *
leaf_ood_fit (const float  *features,
              const guint  *labels,
              gsize         n,
              guint         n_features,
              guint         n_classes,
              GError      **error)
{
  g_autoptr(LeafOod) self = NULL;
  g_autofree double *centred = NULL;
  g_autofree double *counts = g_new0 (double, n_classes);
  g_autofree double *means = g_new0 (double, (gsize) n_classes * n_features);
  g_autofree double *matrix = NULL;
  g_autofree double *values = NULL;
  guint n_present = 0, rank, size;
  double trace = 0, kept = 0;

  g_return_val_if_fail (features != NULL || n == 0, NULL);
  g_return_val_if_fail (n_features > 0 && n_features <= MAX_FEATURES, NULL);
  g_return_val_if_fail (n_classes > 0 && n_classes <= MAX_CLASSES, NULL);

  for (gsize i = 0; i < n; i++)
    g_return_val_if_fail (labels[i] < n_classes, NULL);

  for (gsize i = 0; i < n; i++)
    {
      g_autofree double *x = g_new (double, n_features);

      normalise (features + i * n_features, n_features, x);
      for (guint j = 0; j < n_features; j++)
        means[(gsize) labels[i] * n_features + j] += x[j];
      counts[labels[i]]++;
    }
  for (guint c = 0; c < n_classes; c++)
    if (counts[c] > 0)
      {
        n_present++;
        for (guint j = 0; j < n_features; j++)
          means[(gsize) c * n_features + j] /= counts[c];
      }
  /* The within-class covariance has at most n - n_present directions of any variance. */
  if (n < (gsize) n_present + 2)
    {
      g_set_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID,
                   _("Too few training photos (%zu) to tell which photos are "
                     "unlike them; label more photos and train again"), n);
      return NULL;
    }

  /* With fewer photos than features, the n x n Gram matrix of the centred photos has the
   * covariance's nonzero eigenvalues, and is much cheaper to decompose; it needs every centred
   * photo at once. With more, the covariance is summed a photo at a time, so that memory does
   * not grow with the photos. */
  size = MIN (n, n_features);
  matrix = g_new0 (double, (gsize) size * size);
  values = g_new (double, size);
  centred = g_new (double, (n <= n_features ? n : 1) * (gsize) n_features);
  for (gsize i = 0; i < n; i++)
    {
      double *row = centred + (n <= n_features ? i : 0) * n_features;

      centre (features + i * n_features, means + (gsize) labels[i] * n_features, n_features,
              row);
      for (guint j = 0; j < n_features; j++)
        trace += row[j] * row[j];
      if (n > n_features)
        for (guint a = 0; a < n_features; a++)
          for (guint b = 0; b <= a; b++)
            matrix[(gsize) a * size + b] += row[a] * row[b] / n;
    }
  trace /= n;
  if (n <= n_features)
    for (gsize a = 0; a < n; a++)
      for (gsize b = 0; b <= a; b++)
        {
          double dot = 0;
          for (guint j = 0; j < n_features; j++)
            dot += centred[a * n_features + j] * centred[b * n_features + j];
          matrix[a * size + b] = matrix[b * size + a] = dot / n;
        }
  if (n > n_features)
    for (guint a = 0; a < n_features; a++)
      for (guint b = 0; b < a; b++)
        matrix[(gsize) b * size + a] = matrix[(gsize) a * size + b];
  eigen_symmetric (matrix, values, size);

  rank = MIN (n - n_present, size);
  self = g_new0 (LeafOod, 1);
  self->n_features = n_features;
  self->n_classes = n_classes;
  self->n_components = MIN (COMPONENTS, MIN (rank, n_features - 1));
  while (self->n_components > 0 && !(values[self->n_components - 1] > 0))
    self->n_components--;
  self->means = g_new (float, (gsize) n_classes * n_features);
  for (gsize i = 0; i < (gsize) n_classes * n_features; i++)
    self->means[i] = means[i];
  self->basis = g_new (float, (gsize) self->n_components * n_features);
  self->variances = g_new (double, MAX (self->n_components, 1));
  for (guint k = 0; k < self->n_components; k++)
    {
      float *u = self->basis + (gsize) k * n_features;
      double norm = 0;

      if (n <= n_features)
        {
          /* From the Gram matrix's eigenvector w: u = centred^T w, scaled to unit length. */
          g_autofree double *acc = g_new0 (double, n_features);
          for (gsize i = 0; i < n; i++)
            for (guint j = 0; j < n_features; j++)
              acc[j] += matrix[(gsize) k * size + i] * centred[i * n_features + j];
          for (guint j = 0; j < n_features; j++)
            norm += acc[j] * acc[j];
          norm = sqrt (norm);
          for (guint j = 0; j < n_features; j++)
            u[j] = acc[j] / norm;
        }
      else
        for (guint j = 0; j < n_features; j++)
          u[j] = matrix[(gsize) k * size + j];
      self->variances[k] = values[k];
      kept += values[k];
    }
  /* What the leading directions leave, shared by all the others; never below a millionth of
   * the total, so that directions the training photos never took still count as finite. */
  self->residual = MAX ((trace - kept) / (n_features - self->n_components), 1e-6 * trace);
  if (!(self->residual > 0))
    self->residual = 1e-12;
  for (guint k = 0; k < self->n_components; k++)
    self->variances[k] = MAX (self->variances[k], self->residual);
  self->threshold = INFINITY;
  return g_steal_pointer (&self);
}

/**
 * leaf_ood_score:
 * @features: one photo's pooled features, leaf_ood_get_n_features() values
 *
 * Returns: the squared Mahalanobis distance to the nearest class mean, divided by the number
 *   of features: about 1 for photos like the training photos, more for photos unlike them
 */
double
leaf_ood_score (const LeafOod *self,
                const float   *features)
{
  guint d = self->n_features;
  g_autofree double *x = g_new (double, d);
  g_autofree double *diff = g_new (double, d);
  double best = INFINITY;

  g_return_val_if_fail (self != NULL, NAN);
  g_return_val_if_fail (features != NULL, NAN);

  normalise (features, d, x);
  for (guint c = 0; c < self->n_classes; c++)
    {
      const float *mean = self->means + (gsize) c * d;
      double total = 0, inside = 0, distance = 0;
      gboolean empty = TRUE;

      for (guint j = 0; j < d; j++)
        {
          diff[j] = x[j] - mean[j];
          total += diff[j] * diff[j];
          empty = empty && mean[j] == 0;
        }
      /* A class without training photos has no mean to be near. */
      if (empty)
        continue;
      for (guint k = 0; k < self->n_components; k++)
        {
          const float *u = self->basis + (gsize) k * d;
          double p = 0;

          for (guint j = 0; j < d; j++)
            p += u[j] * diff[j];
          inside += p * p;
          distance += p * p / self->variances[k];
        }
      distance += MAX (total - inside, 0) / self->residual;
      best = MIN (best, distance);
    }
  return best / d;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/**
 * leaf_ood_choose_threshold:
 * @features: @n photos the detector was not fitted on (the validation photos)
 * @flagged_share: how many of them to flag, as a share (#LEAF_OOD_FLAGGED_SHARE)
 *
 * Sets the threshold so that the photos scoring above it are at most @flagged_share of @n
 * (as close to it as ties allow). Without photos, nothing is flagged.
 */
void
leaf_ood_choose_threshold (LeafOod     *self,
                           const float *features,
                           gsize        n,
                           double       flagged_share)
{
  g_autofree double *scores = g_new (double, MAX (n, 1));
  gsize keep, flagged = 0;

  g_return_if_fail (self != NULL);
  g_return_if_fail (flagged_share >= 0 && flagged_share <= 1);

  self->threshold = INFINITY;
  self->flagged_share = 0;
  if (n == 0)
    return;
  for (gsize i = 0; i < n; i++)
    scores[i] = leaf_ood_score (self, features + i * self->n_features);
  qsort (scores, n, sizeof (double), compare_doubles);
  keep = (gsize) ceil ((1 - flagged_share) * n - 1e-9);
  self->threshold = scores[MAX (keep, 1) - 1];
  for (gsize i = 0; i < n; i++)
    flagged += scores[i] > self->threshold;
  self->flagged_share = (double) flagged / n;
}

double
leaf_ood_get_threshold (const LeafOod *self)
{
  g_return_val_if_fail (self != NULL, INFINITY);
  return self->threshold;
}

guint
leaf_ood_get_n_features (const LeafOod *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_features;
}

/**
 * leaf_ood_is_unfamiliar:
 * @score: a score of leaf_ood_score()
 *
 * Returns: whether a photo of that score is unlike the training photos, so that its diagnosis
 *   should go to an expert
 */
gboolean
leaf_ood_is_unfamiliar (const LeafOod *self,
                        double         score)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return score > self->threshold;
}

/* Storing --------------------------------------------------------------------------------- */

/* Arrays of floats go as base64 of their little-endian bytes (safetensors' F32): a third of the
 * size of JSON numbers, and exact. */
static void
add_floats (JsonBuilder *b,
            const char  *name,
            const float *values,
            gsize        n)
{
  g_autofree guint32 *le = g_new (guint32, MAX (n, 1));
  g_autofree char *text = NULL;

  for (gsize i = 0; i < n; i++)
    {
      guint32 bits;
      memcpy (&bits, &values[i], sizeof bits);
      le[i] = GUINT32_TO_LE (bits);
    }
  text = g_base64_encode ((const guchar *) le, n * sizeof (guint32));
  leaf_json_add_string (b, name, text);
}

static float *
read_floats (JsonObject *object,
             const char *name,
             gsize       n)
{
  const char *text = _leaf_json_string_member (object, name);
  g_autofree guchar *bytes = NULL;
  float *values;
  gsize length = 0;

  /* base64 holds 3 bytes in 4 characters: a text of another length cannot be n floats. */
  if (text == NULL || strlen (text) != (n * sizeof (float) + 2) / 3 * 4)
    return NULL;
  bytes = g_base64_decode (text, &length);
  if (length != n * sizeof (float))
    return NULL;
  values = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      guint32 bits;
      memcpy (&bits, bytes + i * sizeof bits, sizeof bits);
      bits = GUINT32_FROM_LE (bits);
      memcpy (&values[i], &bits, sizeof bits);
      if (!isfinite (values[i]))
        {
          g_free (values);
          return NULL;
        }
    }
  return values;
}

/**
 * leaf_ood_to_json:
 *
 * Returns: (transfer full): an object a model file's metadata keeps, which
 *   leaf_ood_from_json() reads back
 */
JsonNode *
leaf_ood_to_json (const LeafOod *self)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  g_return_val_if_fail (self != NULL, NULL);

  json_builder_begin_object (b);
  leaf_json_add_string (b, "method", METHOD);
  leaf_json_add_int (b, "features", self->n_features);
  leaf_json_add_int (b, "classes", self->n_classes);
  leaf_json_add_int (b, "components", self->n_components);
  /* JSON has no infinity: a detector without a threshold writes null, and reads back as one. */
  if (isfinite (self->threshold))
    leaf_json_add_double (b, "threshold", self->threshold);
  else
    leaf_json_add_node (b, "threshold", NULL);
  leaf_json_add_double (b, "flagged_share", self->flagged_share);
  leaf_json_add_double (b, "residual_variance", self->residual);
  leaf_json_begin_array (b, "variances");
  for (guint k = 0; k < self->n_components; k++)
    json_builder_add_double_value (b, self->variances[k]);
  json_builder_end_array (b);
  add_floats (b, "means", self->means, (gsize) self->n_classes * self->n_features);
  add_floats (b, "basis", self->basis, (gsize) self->n_components * self->n_features);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/**
 * leaf_ood_from_json:
 * @node: an object as leaf_ood_to_json() writes it
 *
 * Returns: (transfer full): the detector, or %NULL with @error set when @node is not one
 */
LeafOod *
leaf_ood_from_json (JsonNode  *node,
                    GError   **error)
{
  JsonObject *object = _leaf_json_node_object (node);
  g_autoptr(LeafOod) self = g_new0 (LeafOod, 1);
  JsonArray *variances;
  JsonNode *threshold;
  gint64 n_features, n_classes, n_components;

  if (object == NULL || g_strcmp0 (_leaf_json_string_member (object, "method"), METHOD) != 0)
    goto damaged;
  n_features = _leaf_json_int_member (object, "features", 0);
  n_classes = _leaf_json_int_member (object, "classes", 0);
  n_components = _leaf_json_int_member (object, "components", -1);
  if (n_features < 2 || n_features > MAX_FEATURES || n_classes < 1 || n_classes > MAX_CLASSES ||
      n_components < 0 || n_components >= n_features)
    goto damaged;
  self->n_features = n_features;
  self->n_classes = n_classes;
  self->n_components = n_components;

  /* null: no threshold yet; anything but a number otherwise is damage. */
  threshold = json_object_get_member (object, "threshold");
  self->threshold = threshold == NULL || JSON_NODE_HOLDS_NULL (threshold)
                      ? INFINITY : _leaf_json_double_member (object, "threshold", NAN);
  self->flagged_share = _leaf_json_double_member (object, "flagged_share", 0);
  self->residual = _leaf_json_double_member (object, "residual_variance", NAN);
  if (!(self->residual > 0) || !isfinite (self->residual) || isnan (self->threshold))
    goto damaged;

  variances = _leaf_json_array_member (object, "variances");
  if (variances == NULL || json_array_get_length (variances) != n_components)
    goto damaged;
  self->variances = g_new (double, MAX (n_components, 1));
  for (guint k = 0; k < n_components; k++)
    {
      JsonNode *element = json_array_get_element (variances, k);

      self->variances[k] = JSON_NODE_HOLDS_VALUE (element) &&
                           (json_node_get_value_type (element) == G_TYPE_DOUBLE ||
                            json_node_get_value_type (element) == G_TYPE_INT64)
                             ? json_node_get_double (element) : NAN;
      if (!(self->variances[k] > 0) || !isfinite (self->variances[k]))
        goto damaged;
    }
  self->means = read_floats (object, "means", (gsize) n_classes * n_features);
  self->basis = read_floats (object, "basis", (gsize) n_components * n_features);
  if (self->means == NULL || self->basis == NULL)
    goto damaged;
  return g_steal_pointer (&self);

damaged:
  g_set_error_literal (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT,
                       _("The record of the photos the model was trained on is damaged"));
  return NULL;
}

/* Lab photos ------------------------------------------------------------------------------ */

/**
 * leaf_ood_plain_background:
 * @photo: a photo as decoded (8-bit RGB or RGBA)
 *
 * Whether the photo looks taken on a plain background, as laboratory photos are (one leaf on
 * an even grey, blue or white sheet): at least half of its border, a band a twentieth of its
 * size wide, is of a dull colour close to the border's median colour. A leaf may cover the
 * rest. Field photos, with soil, other leaves and sky at the edges, seldom are. On the
 * development set's lab photos it says yes for 81 %; on those leaves pasted on cluttered
 * scenes, for 10 %.
 *
 * Returns: whether the background looks plain
 */
gboolean
leaf_ood_plain_background (GdkPixbuf *photo)
{
  int width, height, stride, channels, band;
  const guint8 *pixels;
  g_autoptr(GArray) border = g_array_new (FALSE, FALSE, 3);
  guint histogram[3][256] = { { 0 } };
  int median[3];
  guint plain = 0;

  g_return_val_if_fail (GDK_IS_PIXBUF (photo), FALSE);

  width = gdk_pixbuf_get_width (photo);
  height = gdk_pixbuf_get_height (photo);
  stride = gdk_pixbuf_get_rowstride (photo);
  channels = gdk_pixbuf_get_n_channels (photo);
  pixels = gdk_pixbuf_read_pixels (photo);
  band = MAX (MIN (width, height) / 20, 1);
  if (channels < 3 || width < 2 * band + 2 || height < 2 * band + 2)
    return FALSE;

  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        const guint8 *p;

        /* Inside the band: jump to its right-hand part. */
        if (x == band && y >= band && y < height - band)
          x = width - band;
        p = pixels + (gsize) y * stride + (gsize) x * channels;
        g_array_append_vals (border, p, 1);
        for (int c = 0; c < 3; c++)
          histogram[c][p[c]]++;
      }

  for (int c = 0; c < 3; c++)
    {
      guint seen = 0;

      median[c] = 0;
      while (median[c] < 255 && (seen += histogram[c][median[c]]) * 2 < border->len)
        median[c]++;
    }
  for (guint i = 0; i < border->len; i++)
    {
      const guint8 *p = &g_array_index (border, guint8, 3 * i);
      int distance = 0, lo = 255, hi = 0;

      for (int c = 0; c < 3; c++)
        {
          distance += (p[c] - median[c]) * (p[c] - median[c]);
          lo = MIN (lo, p[c]);
          hi = MAX (hi, p[c]);
        }
      plain += distance <= 45 * 45 && hi - lo <= 40;
    }
  return 2 * plain >= border->len;
}
