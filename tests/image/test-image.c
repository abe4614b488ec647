/* test-image.c: decoding, preprocessing and views against PIL and torchvision
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * make-reference.py (run with $LEAFSCOPE_PYTHON) writes test photos and what PIL and torchvision
 * 0.14 make of them; these tests decode and preprocess the same photos and compare. Tests that
 * need the references skip when Python with torch is not available.
 */

#define G_LOG_DOMAIN "test-image"

#include "config.h"

#include "leaf-test.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "leaf-error.h"
#include "leaf-image.h"
#include "leaf-image-private.h"
#include "leaf-image-augment.h"
#include "leaf-image-transform.h"

#include "image-test-util.h"

static char *ref_dir;            /* output of make-reference.py */
static JsonObject *manifest;     /* its manifest.json, or NULL when it could not run */
static char *scratch_dir;        /* for inputs made here */

static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };

static gboolean
require_references (void)
{
  if (manifest != NULL)
    return TRUE;
  g_test_skip ("no reference data: $LEAFSCOPE_PYTHON with torch and PIL is needed");
  return FALSE;
}

static char *
ref_path (const char *file)
{
  return g_build_filename (ref_dir, file, NULL);
}

static char *
scratch_path (const char *file)
{
  return g_build_filename (scratch_dir, file, NULL);
}

static float *
read_floats (const char *file,
             gsize       n_values)
{
  g_autofree char *path = ref_path (file);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, ==, n_values * sizeof (float));
  return (float *) contents;
}

static GdkPixbuf *
load_or_die (const char *path)
{
  g_autoptr(GError) error = NULL;
  GdkPixbuf *pixbuf = leaf_image_load (path, 0, &error);

  g_assert_no_error (error);
  g_assert_nonnull (pixbuf);
  return pixbuf;
}

/* Differences between a CHW ImageNet-normalised tensor and a reference, in 8-bit levels of the
 * unnormalised image (one level is 1 / 255 / std). */
typedef struct
{
  double max_levels;
  double fraction_differing;
} Difference;

static Difference
compare_tensors (const float *values,
                 const float *reference,
                 guint        size)
{
  gsize plane = (gsize) size * size;
  Difference d = { 0, 0 };
  gsize differing = 0;

  for (guint c = 0; c < 3; c++)
    for (gsize p = 0; p < plane; p++)
      {
        double levels = fabs ((double) values[c * plane + p] - reference[c * plane + p]) *
                        imagenet_std[c] * 255.0;

        d.max_levels = MAX (d.max_levels, levels);
        if (levels > 1e-3)
          differing++;
      }
  d.fraction_differing = (double) differing / (3 * plane);
  return d;
}

/* ---- decoding ---------------------------------------------------------------------------- */

static void
test_decode_matches_pil (gconstpointer data)
{
  const char *member = data;
  JsonArray *images;
  guint n_compared = 0;

  if (!require_references ())
    return;

  images = json_object_get_array_member (manifest, member);
  if (json_array_get_length (images) == 0)
    {
      g_test_skip ("no photos: $LEAFSCOPE_SHARED/data/tomato5-dev is absent");
      return;
    }

  for (guint i = 0; i < json_array_get_length (images); i++)
    {
      JsonObject *image = json_array_get_object_element (images, i);
      const char *path = json_object_get_string_member (image, "path");
      int width = json_object_get_int_member (image, "width");
      int height = json_object_get_int_member (image, "height");
      g_autofree char *rgb_path = ref_path (json_object_get_string_member (image, "rgb"));
      g_autoptr(GdkPixbuf) pixbuf = load_or_die (path);
      g_autofree guint8 *reference = NULL;
      gsize length = 0;
      const guint8 *pixels;
      int stride, max_diff = 0;
      gsize differing = 0;

      g_file_get_contents (rgb_path, (char **) &reference, &length, NULL);
      g_assert_nonnull (reference);

      g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, width);
      g_assert_cmpint (gdk_pixbuf_get_height (pixbuf), ==, height);
      g_assert_cmpint (gdk_pixbuf_get_n_channels (pixbuf), ==, 3);
      g_assert_false (gdk_pixbuf_get_has_alpha (pixbuf));
      g_assert_cmpuint (length, ==, (gsize) width * height * 3);

      pixels = gdk_pixbuf_read_pixels (pixbuf);
      stride = gdk_pixbuf_get_rowstride (pixbuf);
      for (int y = 0; y < height; y++)
        for (int x = 0; x < width * 3; x++)
          {
            int d = abs ((int) pixels[(gsize) y * stride + x] -
                         (int) reference[((gsize) y * width * 3) + x]);

            max_diff = MAX (max_diff, d);
            differing += d != 0;
          }

      g_test_message ("%s: %d×%d, decoded RGB max |Δ| %d, %.4f%% of values differ",
                      json_object_get_string_member (image, "name"), width, height, max_diff,
                      100.0 * differing / ((gsize) width * height * 3));
      /* PNG is lossless; JPEG goes through libjpeg-turbo on both sides. */
      if (g_str_has_suffix (path, ".png"))
        g_assert_cmpint (max_diff, ==, 0);
      else
        g_assert_cmpint (max_diff, <=, 1);
      n_compared++;
    }

  g_assert_cmpuint (n_compared, >, 0);
}

static void
test_decode_exif_orientation (void)
{
  g_autofree char *path6 = NULL;
  g_autofree char *path3 = NULL;
  g_autoptr(GdkPixbuf) rotated = NULL;
  g_autoptr(GdkPixbuf) upside_down = NULL;

  if (!require_references ())
    return;

  /* Saved as 320×240 with orientation 6 (rotate 90° clockwise to view) and 300×225 with 3. */
  path6 = ref_path ("exif6.jpg");
  path3 = ref_path ("exif3.jpg");
  rotated = load_or_die (path6);
  upside_down = load_or_die (path3);
  g_assert_cmpint (gdk_pixbuf_get_width (rotated), ==, 240);
  g_assert_cmpint (gdk_pixbuf_get_height (rotated), ==, 320);
  g_assert_cmpint (gdk_pixbuf_get_width (upside_down), ==, 300);
  g_assert_cmpint (gdk_pixbuf_get_height (upside_down), ==, 225);
  /* The pixels themselves are checked against PIL's exif_transpose by /image/decode/matches-pil. */
}

/* The thumbnailer's scaled decoding keeps the orientation and the aspect ratio. */
static void
test_decode_fitted (void)
{
  g_autofree char *path = NULL;
  g_autoptr(GdkPixbuf) fitted = NULL;
  g_autoptr(GError) error = NULL;

  if (!require_references ())
    return;

  path = ref_path ("exif6.jpg");
  fitted = _leaf_image_load_fitted (path, 0, 64, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (fitted), ==, 48);
  g_assert_cmpint (gdk_pixbuf_get_height (fitted), ==, 64);
  g_assert_cmpint (gdk_pixbuf_get_n_channels (fitted), ==, 3);
}

static void
test_decode_from_bytes (void)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GdkPixbuf) from_file = NULL;
  g_autoptr(GdkPixbuf) from_bytes = NULL;
  g_autoptr(GError) error = NULL;
  gsize length = 0;

  if (!require_references ())
    return;

  path = ref_path ("exif6.jpg");
  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);

  from_file = load_or_die (path);
  from_bytes = leaf_image_load_from_bytes (bytes, "pasted image", 0, &error);
  g_assert_no_error (error);
  g_assert_true (image_test_pixbufs_equal (from_file, from_bytes));
}

/* ---- preprocessing ----------------------------------------------------------------------- */

static void
check_preprocess (JsonArray  *images,
                  Difference *worst)
{
  for (guint i = 0; i < json_array_get_length (images); i++)
    {
      JsonObject *image = json_array_get_object_element (images, i);
      JsonArray *tensors = json_object_get_array_member (image, "tensors");
      g_autoptr(GdkPixbuf) pixbuf = load_or_die (json_object_get_string_member (image, "path"));

      for (guint t = 0; t < json_array_get_length (tensors); t++)
        {
          JsonObject *tensor = json_array_get_object_element (tensors, t);
          guint resize = json_object_get_int_member (tensor, "resize");
          guint crop = json_object_get_int_member (tensor, "crop");
          g_autoptr(LeafImageTransform) transform = leaf_image_transform_new (resize, crop);
          gsize n = leaf_image_transform_get_n_values (transform);
          g_autofree float *reference = NULL;
          g_autofree float *values = g_new (float, n);
          Difference d;

          g_assert_cmpuint (n, ==, 3 * crop * crop);
          reference = read_floats (json_object_get_string_member (tensor, "file"), n);
          leaf_image_transform_apply (transform, pixbuf, values);
          d = compare_tensors (values, reference, crop);

          g_test_message ("%s resize %u crop %u: max |Δ| %.4f levels, %.4f%% of values differ",
                          json_object_get_string_member (image, "name"), resize, crop,
                          d.max_levels, 100.0 * d.fraction_differing);
          g_assert_cmpfloat (d.max_levels, <=, 1.001);
          worst->max_levels = MAX (worst->max_levels, d.max_levels);
          worst->fraction_differing = MAX (worst->fraction_differing, d.fraction_differing);
        }
    }
}

static void
test_preprocess_matches_torchvision (void)
{
  Difference worst = { 0, 0 };

  if (!require_references ())
    return;

  check_preprocess (json_object_get_array_member (manifest, "images"), &worst);
  g_test_message ("worst over generated photos: %.4f levels, %.4f%% of values differ",
                  worst.max_levels, 100.0 * worst.fraction_differing);
}

static void
test_preprocess_real_photos (void)
{
  JsonArray *real;
  Difference worst = { 0, 0 };

  if (!require_references ())
    return;

  real = json_object_get_array_member (manifest, "real");
  if (json_array_get_length (real) == 0)
    {
      g_test_skip ("no photos: $LEAFSCOPE_SHARED/data/tomato5-dev is absent");
      return;
    }
  check_preprocess (real, &worst);
  g_test_message ("worst over %u real photos: %.4f levels, %.4f%% of values differ",
                  json_array_get_length (real), worst.max_levels,
                  100.0 * worst.fraction_differing);
}

/* The tolerance above means something only if a plausible wrong resampler fails it. */
static void
test_preprocess_wrong_resize_is_caught (void)
{
  JsonArray *images;
  guint n_checked = 0;

  if (!require_references ())
    return;

  images = json_object_get_array_member (manifest, "images");
  for (guint i = 0; i < json_array_get_length (images); i++)
    {
      JsonObject *image = json_array_get_object_element (images, i);
      const char *wrong[] = { "bilinear", "no-antialias" };
      g_autoptr(GdkPixbuf) pixbuf = NULL;
      g_autoptr(LeafImageTransform) transform = NULL;
      g_autofree float *values = NULL;

      if (!json_object_has_member (image, "bilinear"))
        continue;

      pixbuf = load_or_die (json_object_get_string_member (image, "path"));
      transform = leaf_image_transform_new (256, 224);
      values = g_new (float, leaf_image_transform_get_n_values (transform));
      leaf_image_transform_apply (transform, pixbuf, values);

      for (guint w = 0; w < G_N_ELEMENTS (wrong); w++)
        {
          g_autofree float *reference =
            read_floats (json_object_get_string_member (image, wrong[w]), 3 * 224 * 224);
          Difference d = compare_tensors (values, reference, 224);

          g_test_message ("%s against %s: max |Δ| %.2f levels, %.2f%% of values differ",
                          json_object_get_string_member (image, "name"), wrong[w],
                          d.max_levels, 100.0 * d.fraction_differing);
          g_assert_cmpfloat (d.max_levels, >, 4.0);
          g_assert_cmpfloat (d.fraction_differing, >, 0.1);
          n_checked++;
        }
    }

  g_assert_cmpuint (n_checked, >=, 2);
}

static void
test_preprocess_region (void)
{
  JsonArray *regions;
  g_autoptr(LeafImageTransform) transform = leaf_image_transform_new (256, 224);
  g_autofree float *values = g_new (float, leaf_image_transform_get_n_values (transform));

  if (!require_references ())
    return;

  regions = json_object_get_array_member (manifest, "regions");
  g_assert_cmpuint (json_array_get_length (regions), >, 0);
  for (guint i = 0; i < json_array_get_length (regions); i++)
    {
      JsonObject *r = json_array_get_object_element (regions, i);
      g_autofree char *name = g_strconcat (json_object_get_string_member (r, "image"), ".jpg",
                                           NULL);
      g_autofree char *path = ref_path (name);
      g_autoptr(GdkPixbuf) pixbuf = load_or_die (path);
      g_autofree float *reference = read_floats (json_object_get_string_member (r, "file"),
                                                 3 * 224 * 224);
      LeafImageRect rect = {
        json_object_get_int_member (r, "x"), json_object_get_int_member (r, "y"),
        json_object_get_int_member (r, "width"), json_object_get_int_member (r, "height"),
      };
      Difference d;

      leaf_image_transform_apply_region (transform, pixbuf, &rect, values);
      d = compare_tensors (values, reference, 224);
      g_test_message ("%s region %d,%d %d×%d: max |Δ| %.4f levels, %.4f%% differ", name,
                      rect.x, rect.y, rect.width, rect.height, d.max_levels,
                      100.0 * d.fraction_differing);
      g_assert_cmpfloat (d.max_levels, <=, 1.001);
    }
}

typedef struct
{
  LeafImageTransform *transform;
  GPtrArray          *pixbufs;
  guint               first;
  float              *out;    /* one buffer per pixbuf */
} ThreadJob;

static gpointer
preprocess_thread (gpointer data)
{
  ThreadJob *job = data;
  gsize n = leaf_image_transform_get_n_values (job->transform);

  /* Each thread walks the photos from a different start so that they race on the cache. */
  for (guint k = 0; k < job->pixbufs->len; k++)
    {
      guint i = (job->first + k) % job->pixbufs->len;

      leaf_image_transform_apply (job->transform, job->pixbufs->pdata[i], job->out + i * n);
    }
  return NULL;
}

static void
test_preprocess_threads_agree (void)
{
  g_autoptr(LeafImageTransform) transform = leaf_image_transform_new (256, 224);
  g_autoptr(GPtrArray) pixbufs = g_ptr_array_new_with_free_func (g_object_unref);
  gsize n = leaf_image_transform_get_n_values (transform);
  const guint n_threads = 4;
  ThreadJob jobs[4];
  GThread *threads[4];
  g_autofree float *serial = NULL;
  JsonArray *images;

  if (!require_references ())
    return;

  images = json_object_get_array_member (manifest, "images");
  for (guint i = 0; i < json_array_get_length (images); i++)
    {
      JsonObject *image = json_array_get_object_element (images, i);

      g_ptr_array_add (pixbufs, load_or_die (json_object_get_string_member (image, "path")));
    }

  {
    g_autoptr(LeafImageTransform) fresh = leaf_image_transform_new (256, 224);

    serial = g_new (float, n * pixbufs->len);
    for (guint i = 0; i < pixbufs->len; i++)
      leaf_image_transform_apply (fresh, pixbufs->pdata[i], serial + i * n);
  }

  for (guint t = 0; t < n_threads; t++)
    {
      jobs[t] = (ThreadJob) { transform, pixbufs, t * 3, g_new (float, n * pixbufs->len) };
      threads[t] = g_thread_new ("preprocess", preprocess_thread, &jobs[t]);
    }
  for (guint t = 0; t < n_threads; t++)
    {
      g_thread_join (threads[t]);
      g_assert_cmpmem (jobs[t].out, n * pixbufs->len * sizeof (float),
                       serial, n * pixbufs->len * sizeof (float));
      g_free (jobs[t].out);
    }
}

/* Pixbufs with an alpha channel (4 bytes a pixel) go through the same arithmetic; the RGB path
 * is the one checked against torchvision. Covers each pass skipped and not. */
static void
test_preprocess_ignores_alpha (void)
{
  static const int sizes[][2] = { { 256, 400 }, { 400, 256 }, { 300, 500 }, { 256, 256 } };
  g_autoptr(LeafImageTransform) transform = leaf_image_transform_new (256, 224);
  gsize n = leaf_image_transform_get_n_values (transform);
  g_autofree float *rgb_values = g_new (float, n);
  g_autofree float *rgba_values = g_new (float, n);

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GdkPixbuf) rgb = image_test_make_gradient (sizes[i][0], sizes[i][1]);
      g_autoptr(GdkPixbuf) rgba = gdk_pixbuf_add_alpha (rgb, FALSE, 0, 0, 0);

      leaf_image_transform_apply (transform, rgb, rgb_values);
      leaf_image_transform_apply (transform, rgba, rgba_values);
      g_assert_cmpmem (rgb_values, n * sizeof (float), rgba_values, n * sizeof (float));
    }
}

static void
test_preprocess_resize_for_crop (void)
{
  g_assert_cmpuint (leaf_image_resize_size_for_crop (224), ==, 256);
  g_assert_cmpuint (leaf_image_resize_size_for_crop (160), ==, 182);
  g_assert_cmpuint (leaf_image_resize_size_for_crop (112), ==, 128);
}

/* ---- views and augmentation -------------------------------------------------------------- */

static void
test_views_match_torch (void)
{
  JsonArray *cases;

  if (!require_references ())
    return;

  cases = json_object_get_array_member (manifest, "views");
  g_assert_cmpuint (json_array_get_length (cases), >, 0);
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      JsonObject *files = json_object_get_object_member (c, "files");
      guint size = json_object_get_int_member (c, "size");
      gsize n = 3 * size * size;
      g_autofree float *input = g_new (float, n);
      g_autofree float *output = g_new (float, n);

      /* The same input as the script's torch.arange. */
      for (gsize k = 0; k < n; k++)
        input[k] = k;

      for (LeafImageView v = 0; v < LEAF_IMAGE_N_VIEWS; v++)
        {
          const char *name = leaf_image_view_get_name (v);
          g_autofree float *reference = NULL;

          g_assert_true (json_object_has_member (files, name));
          reference = read_floats (json_object_get_string_member (files, name), n);
          leaf_image_view_apply (v, input, output, 3, size);
          g_assert_cmpmem (output, n * sizeof (float), reference, n * sizeof (float));
        }
    }
}

static void
test_views_inverse (void)
{
  const guint size = 9;
  gsize n = 2 * size * size;
  g_autofree float *input = g_new (float, n);
  g_autofree float *viewed = g_new (float, n);
  g_autofree float *back = g_new (float, n);
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);

  for (gsize k = 0; k < n; k++)
    input[k] = g_rand_double (rand);

  for (LeafImageView v = 0; v < LEAF_IMAGE_N_VIEWS; v++)
    {
      LeafImageView inverse = leaf_image_view_get_inverse (v);
      LeafImageView parsed;

      leaf_image_view_apply (v, input, viewed, 2, size);
      leaf_image_view_apply (inverse, viewed, back, 2, size);
      g_assert_cmpmem (back, n * sizeof (float), input, n * sizeof (float));
      g_assert_cmpint (leaf_image_view_get_inverse (inverse), ==, v);

      /* All eight are different images... */
      for (guint s = 0; s < seen->len; s++)
        g_assert_true (memcmp (seen->pdata[s], viewed, n * sizeof (float)) != 0);
      g_ptr_array_add (seen, g_memdup2 (viewed, n * sizeof (float)));

      /* ...with names that read back. */
      g_assert_true (leaf_image_view_from_name (leaf_image_view_get_name (v), &parsed));
      g_assert_cmpint (parsed, ==, v);
    }
  g_assert_false (leaf_image_view_from_name ("rotate-45", &(LeafImageView) { 0 }));
}

static void
test_resized_crop_sampling (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autoptr(GRand) again = g_rand_new_with_seed (42);
  LeafImageRect region, repeat;
  guint n_full = 0;

  for (guint i = 0; i < 2000; i++)
    {
      int width = g_rand_int_range (rand, 1, 900);
      int height = g_rand_int_range (rand, 1, 900);
      double area, ratio;

      g_rand_int_range (again, 1, 900);
      g_rand_int_range (again, 1, 900);
      leaf_image_sample_resized_crop (rand, width, height, 0.08, 1.0, 3.0 / 4, 4.0 / 3, &region);
      leaf_image_sample_resized_crop (again, width, height, 0.08, 1.0, 3.0 / 4, 4.0 / 3, &repeat);
      g_assert_cmpmem (&region, sizeof region, &repeat, sizeof repeat);

      g_assert_cmpint (region.x, >=, 0);
      g_assert_cmpint (region.y, >=, 0);
      g_assert_cmpint (region.width, >, 0);
      g_assert_cmpint (region.height, >, 0);
      g_assert_cmpint (region.x + region.width, <=, width);
      g_assert_cmpint (region.y + region.height, <=, height);

      /* Rounding to whole pixels bends the bounds a little on small images. */
      area = (double) region.width * region.height / ((double) width * height);
      ratio = (double) region.width / region.height;
      if (width >= 100 && height >= 100 && area < 0.999)
        {
          g_assert_cmpfloat (area, >=, 0.08 * 0.95);
          g_assert_cmpfloat (ratio, >=, 0.75 * 0.97);
          g_assert_cmpfloat (ratio, <=, 4.0 / 3 * 1.03);
        }
      n_full += area >= 0.999;
    }
  g_assert_cmpuint (n_full, <, 2000);

  /* A scale no draw can satisfy falls back to the largest centred crop within the ratios. */
  leaf_image_sample_resized_crop (rand, 400, 100, 2.0, 3.0, 3.0 / 4, 4.0 / 3, &region);
  g_assert_cmpint (region.height, ==, 100);
  g_assert_cmpint (region.width, ==, 133);
  g_assert_cmpint (region.x, ==, (400 - 133) / 2);
  g_assert_cmpint (region.y, ==, 0);
  leaf_image_sample_resized_crop (rand, 300, 300, 2.0, 3.0, 3.0 / 4, 4.0 / 3, &region);
  g_assert_cmpmem (&region, sizeof region, (&(LeafImageRect) { 0, 0, 300, 300 }), sizeof region);
}

static void
test_color_jitter_matches_torchvision (void)
{
  JsonArray *cases;
  g_autoptr(LeafImageTransform) transform = leaf_image_transform_new (256, 224);
  g_autofree char *path = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autofree float *values = g_new (float, 3 * 224 * 224);

  if (!require_references ())
    return;

  path = ref_path ("square.jpg");
  pixbuf = load_or_die (path);
  cases = json_object_get_array_member (manifest, "jitter");
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      JsonArray *order = json_object_get_array_member (c, "order");
      g_autofree float *reference = read_floats (json_object_get_string_member (c, "file"),
                                                 3 * 224 * 224);
      LeafColorJitter jitter = {
        json_object_get_double_member (c, "brightness"),
        json_object_get_double_member (c, "contrast"),
        json_object_get_double_member (c, "saturation"),
        { json_array_get_int_element (order, 0), json_array_get_int_element (order, 1),
          json_array_get_int_element (order, 2) },
      };
      Difference d;

      leaf_image_transform_apply (transform, pixbuf, values);
      leaf_color_jitter_apply (&jitter, values, 224);
      d = compare_tensors (values, reference, 224);
      g_test_message ("jitter %.1f/%.1f/%.1f: max |Δ| %.6f levels", jitter.brightness,
                      jitter.contrast, jitter.saturation, d.max_levels);
      /* Float arithmetic, not 8-bit: only rounding separates us from torch. */
      g_assert_cmpfloat (d.max_levels, <=, 0.01);
    }
}

static void
test_color_jitter_sampling (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  guint first_seen[3] = { 0, };
  LeafColorJitter jitter;

  for (guint i = 0; i < 600; i++)
    {
      guint mask = 0;

      leaf_color_jitter_sample (rand, 0.4, 1.5, 0.0, &jitter);
      g_assert_cmpfloat (jitter.brightness, >=, 0.6f);
      g_assert_cmpfloat (jitter.brightness, <=, 1.4f);
      g_assert_cmpfloat (jitter.contrast, >=, 0.0f);
      g_assert_cmpfloat (jitter.contrast, <=, 2.5f);
      g_assert_cmpfloat (jitter.saturation, ==, 1.0f);
      for (guint k = 0; k < 3; k++)
        {
          g_assert_cmpuint (jitter.order[k], <, 3);
          mask |= 1u << jitter.order[k];
        }
      g_assert_cmpuint (mask, ==, 7);
      first_seen[jitter.order[0]]++;
    }
  /* Every operation comes first about a third of the time. */
  for (guint k = 0; k < 3; k++)
    g_assert_cmpuint (first_seen[k], >, 120);
}

/* ---- refusing bad files ------------------------------------------------------------------ */

static guint32
crc32_of (const guint8 *data,
          gsize         length)
{
  guint32 crc = 0xFFFFFFFF;

  for (gsize i = 0; i < length; i++)
    {
      crc ^= data[i];
      for (int b = 0; b < 8; b++)
        crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1));
    }
  return ~crc;
}

static void
append_png_chunk (GByteArray   *png,
                  const char   *type,
                  const guint8 *data,
                  guint32       length)
{
  guint8 be[4] = { length >> 24, length >> 16, length >> 8, length };
  guint start;
  guint32 crc;

  g_byte_array_append (png, be, 4);
  start = png->len;
  g_byte_array_append (png, (const guint8 *) type, 4);
  g_byte_array_append (png, data, length);
  crc = crc32_of (png->data + start, length + 4);
  be[0] = crc >> 24; be[1] = crc >> 16; be[2] = crc >> 8; be[3] = crc;
  g_byte_array_append (png, be, 4);
}

/* A well-formed PNG whose header claims width × height RGB pixels, with an empty image stream:
 * a few dozen bytes that would make a naive decoder allocate width × height × 3 bytes. */
static GBytes *
make_png_bomb (guint32 width,
               guint32 height)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n' };
  static const guint8 empty_zlib[8] = { 0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01 };
  guint8 ihdr[13] = { width >> 24, width >> 16, width >> 8, width,
                      height >> 24, height >> 16, height >> 8, height,
                      8, 2, 0, 0, 0 };
  GByteArray *png = g_byte_array_new ();

  g_byte_array_append (png, signature, sizeof signature);
  append_png_chunk (png, "IHDR", ihdr, sizeof ihdr);
  append_png_chunk (png, "IDAT", empty_zlib, sizeof empty_zlib);
  append_png_chunk (png, "IEND", NULL, 0);
  return g_byte_array_free_to_bytes (png);
}

static GBytes *
encode (const char *type,
        int         width,
        int         height)
{
  g_autoptr(GdkPixbuf) pixbuf = image_test_make_gradient (width, height);
  g_autoptr(GError) error = NULL;
  char *buffer = NULL;
  gsize length = 0;

  gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &length, type, &error, NULL);
  g_assert_no_error (error);
  return g_bytes_new_take (buffer, length);
}

static char *
write_scratch (const char   *name,
               const void   *data,
               gsize         length)
{
  g_autoptr(GError) error = NULL;
  char *path = scratch_path (name);

  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
  return path;
}

static void
assert_load_fails (const char *name,
                   const void *data,
                   gsize       length,
                   int         code)
{
  g_autofree char *path = write_scratch (name, data, length);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = leaf_image_load (path, 0, &error);

  g_assert_null (pixbuf);
  g_assert_error (error, LEAF_ENGINE_ERROR, code);
  g_test_message ("%s: %s", name, error->message);
  g_assert_nonnull (strstr (error->message, name));
}

static void
test_errors_png_bomb (void)
{
  g_autoptr(GBytes) bomb = make_png_bomb (50000, 50000);
  g_autofree char *path = write_scratch ("bomb.png", g_bytes_get_data (bomb, NULL),
                                         g_bytes_get_size (bomb));
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;

  g_assert_cmpuint (g_bytes_get_size (bomb), <, 100);

  pixbuf = leaf_image_load (path, 0, &error);
  g_assert_null (pixbuf);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "bomb.png"));
  g_assert_nonnull (strstr (error->message, "50000 × 50000"));
  g_clear_error (&error);

  pixbuf = leaf_image_load_from_bytes (bomb, "dropped image", 0, &error);
  g_assert_null (pixbuf);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE);
  g_assert_nonnull (strstr (error->message, "dropped image"));
}

static void
test_errors_jpeg_bomb (void)
{
  g_autoptr(GBytes) jpeg = encode ("jpeg", 64, 48);
  gsize length = g_bytes_get_size (jpeg);
  g_autofree guint8 *data = g_memdup2 (g_bytes_get_data (jpeg, NULL), length);
  gboolean patched = FALSE;

  /* Rewrite the frame header (SOF0: FF C0, length, precision, height, width) to 65000². */
  for (gsize i = 2; i + 9 < length && !patched; i++)
    if (data[i] == 0xFF && data[i + 1] == 0xC0)
      {
        data[i + 5] = 65000 >> 8; data[i + 6] = 65000 & 0xFF;
        data[i + 7] = 65000 >> 8; data[i + 8] = 65000 & 0xFF;
        patched = TRUE;
      }
  g_assert_true (patched);
  assert_load_fails ("bomb.jpg", data, length, LEAF_ENGINE_ERROR_UNSAFE);
}

static void
test_errors_pixel_limit (void)
{
  g_autoptr(GBytes) png = encode ("png", 300, 200);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) at_limit = leaf_image_load_from_bytes (png, "limit", 300 * 200, &error);
  g_autoptr(GdkPixbuf) over_limit = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (at_limit);
  over_limit = leaf_image_load_from_bytes (png, "limit", 300 * 200 - 1, &error);
  g_assert_null (over_limit);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE);
}

static void
test_errors_damaged (void)
{
  g_autoptr(GBytes) jpeg = encode ("jpeg", 160, 120);
  g_autoptr(GBytes) png = encode ("png", 160, 120);
  gsize jpeg_length = 0, png_length = 0;
  const guint8 *jpeg_data = g_bytes_get_data (jpeg, &jpeg_length);
  const guint8 *png_data = g_bytes_get_data (png, &png_length);
  const char text[] = "These are notes about leaves, not a photo.\n";
  g_autofree guint8 *zeroed = g_malloc0 (jpeg_length);

  assert_load_fails ("empty.jpg", "", 0, LEAF_ENGINE_ERROR_FORMAT);
  assert_load_fails ("notes.jpg", text, sizeof text - 1, LEAF_ENGINE_ERROR_FORMAT);
  assert_load_fails ("half.jpg", jpeg_data, jpeg_length / 2, LEAF_ENGINE_ERROR_FORMAT);
  /* All scans present, only the end-of-image marker missing. */
  assert_load_fails ("no-eoi.jpg", jpeg_data, jpeg_length - 2, LEAF_ENGINE_ERROR_FORMAT);
  assert_load_fails ("half.png", png_data, png_length / 2, LEAF_ENGINE_ERROR_FORMAT);
  assert_load_fails ("no-iend.png", png_data, png_length - 12, LEAF_ENGINE_ERROR_FORMAT);

  /* A JPEG signature followed by nothing sensible. */
  memcpy (zeroed, jpeg_data, 4);
  assert_load_fails ("zeroed.jpg", zeroed, jpeg_length, LEAF_ENGINE_ERROR_FORMAT);
}

static void
test_errors_missing (void)
{
  g_autofree char *path = scratch_path ("absent.jpg");
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = leaf_image_load (path, 0, &error);

  g_assert_null (pixbuf);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "absent.jpg"));
}

/* Phones append data after the end-of-image marker (motion photos); the photo is complete. */
static void
test_decode_trailing_data (void)
{
  g_autoptr(GBytes) jpeg = encode ("jpeg", 160, 120);
  g_autoptr(GByteArray) with_trailer = g_byte_array_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  gsize length = 0;
  const guint8 *data = g_bytes_get_data (jpeg, &length);
  static const guint8 trailer[] = "\0\0\0\x18" "ftypmp42 not a JPEG at all";

  g_byte_array_append (with_trailer, data, length);
  g_byte_array_append (with_trailer, trailer, sizeof trailer);
  bytes = g_bytes_new (with_trailer->data, with_trailer->len);
  pixbuf = leaf_image_load_from_bytes (bytes, "motion photo", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (pixbuf), ==, 160);
}

/* ---- setup ------------------------------------------------------------------------------- */

static void
make_references (void)
{
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "image", "make-reference.py",
                                                   NULL);
  g_autofree char *manifest_path = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { python, script, ref_dir, NULL };
  int status = 0;

  if (python == NULL || !g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    return;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                     &status, &error))
    {
      g_test_message ("could not run %s: %s", script, error->message);
      return;
    }
  if (!g_spawn_check_wait_status (status, &error))
    {
      g_test_message ("%s failed: %s", script, error->message);
      return;
    }

  manifest_path = ref_path ("manifest.json");
  parser = json_parser_new ();
  json_parser_load_from_file (parser, manifest_path, &error);
  g_assert_no_error (error);
  manifest = json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  leaf_test_init (&argc, &argv);

  ref_dir = g_dir_make_tmp ("leafscope-image-ref-XXXXXX", &error);
  g_assert_no_error (error);
  scratch_dir = g_dir_make_tmp ("leafscope-image-XXXXXX", &error);
  g_assert_no_error (error);
  make_references ();

  g_test_add_data_func ("/image/decode/matches-pil", "images", test_decode_matches_pil);
  g_test_add_data_func ("/image/decode/real-photos-match-pil", "real", test_decode_matches_pil);
  g_test_add_func ("/image/decode/exif-orientation", test_decode_exif_orientation);
  g_test_add_func ("/image/decode/fitted", test_decode_fitted);
  g_test_add_func ("/image/decode/from-bytes", test_decode_from_bytes);
  g_test_add_func ("/image/decode/trailing-data", test_decode_trailing_data);
  g_test_add_func ("/image/preprocess/matches-torchvision", test_preprocess_matches_torchvision);
  g_test_add_func ("/image/preprocess/real-photos", test_preprocess_real_photos);
  g_test_add_func ("/image/preprocess/wrong-resize-is-caught",
                   test_preprocess_wrong_resize_is_caught);
  g_test_add_func ("/image/preprocess/region", test_preprocess_region);
  g_test_add_func ("/image/preprocess/threads-agree", test_preprocess_threads_agree);
  g_test_add_func ("/image/preprocess/ignores-alpha", test_preprocess_ignores_alpha);
  g_test_add_func ("/image/preprocess/resize-for-crop", test_preprocess_resize_for_crop);
  g_test_add_func ("/image/views/match-torch", test_views_match_torch);
  g_test_add_func ("/image/views/inverse", test_views_inverse);
  g_test_add_func ("/image/augment/resized-crop-sampling", test_resized_crop_sampling);
  g_test_add_func ("/image/augment/color-jitter-matches-torchvision",
                   test_color_jitter_matches_torchvision);
  g_test_add_func ("/image/augment/color-jitter-sampling", test_color_jitter_sampling);
  g_test_add_func ("/image/errors/png-bomb", test_errors_png_bomb);
  g_test_add_func ("/image/errors/jpeg-bomb", test_errors_jpeg_bomb);
  g_test_add_func ("/image/errors/pixel-limit", test_errors_pixel_limit);
  g_test_add_func ("/image/errors/damaged", test_errors_damaged);
  g_test_add_func ("/image/errors/missing", test_errors_missing);

  status = g_test_run ();

  g_clear_pointer (&manifest, json_object_unref);
  leaf_test_remove_tree (ref_dir);
  leaf_test_remove_tree (scratch_dir);
  return status;
}
