/* test-overlay.c: what the GUI reads back and draws: the calibration record with its
 * reliability bins, and the heatmap placed over the part of the photo the model saw
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <math.h>
#include <stdlib.h>

#include "leaf-calibration.h"
#include "leaf-error.h"
#include "leaf-heatmap.h"

static void
test_calibration_round_trip (void)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;
  LeafCalibration in = {
    .temperature = 1.75,
    .ece_before = 0.125,
    .ece_after = 0.03125,
    .nll_before = 0.9,
    .nll_after = 0.6,
    .refer_below = 0.55,
    .coverage = 0.8,
    .covered_error = 0.02,
  }, out;

  for (guint i = 0; i < LEAF_CALIBRATION_N_BINS; i++)
    {
      in.bins_before[i] = (LeafReliabilityBin) { (i + 0.5) / 15, i / 16.0, i * 3 };
      in.bins_after[i] = (LeafReliabilityBin) { (i + 0.25) / 15, i / 15.0, 45 - i * 3 };
    }
  node = leaf_calibration_to_json (&in);
  g_assert_true (leaf_calibration_from_json (node, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (out.temperature, ==, in.temperature);
  g_assert_cmpfloat (out.ece_before, ==, in.ece_before);
  g_assert_cmpfloat (out.ece_after, ==, in.ece_after);
  g_assert_cmpfloat (out.nll_before, ==, in.nll_before);
  g_assert_cmpfloat (out.nll_after, ==, in.nll_after);
  g_assert_cmpfloat (out.refer_below, ==, in.refer_below);
  g_assert_cmpfloat (out.coverage, ==, in.coverage);
  g_assert_cmpfloat (out.covered_error, ==, in.covered_error);
  for (guint i = 0; i < LEAF_CALIBRATION_N_BINS; i++)
    {
      g_assert_cmpfloat (out.bins_before[i].confidence, ==, in.bins_before[i].confidence);
      g_assert_cmpfloat (out.bins_before[i].accuracy, ==, in.bins_before[i].accuracy);
      g_assert_cmpuint (out.bins_before[i].count, ==, in.bins_before[i].count);
      g_assert_cmpfloat (out.bins_after[i].confidence, ==, in.bins_after[i].confidence);
      g_assert_cmpfloat (out.bins_after[i].accuracy, ==, in.bins_after[i].accuracy);
      g_assert_cmpuint (out.bins_after[i].count, ==, in.bins_after[i].count);
    }
}

/* Records from before the reliability bins were kept have no diagram to draw. */
static void
test_calibration_without_bins (void)
{
  const char *records[] = {
    "{\"temperature\": 1.2, \"ece_before\": 0.1, \"ece_after\": 0.05}",
    "{\"reliability_before\": [], \"reliability\": []}",
    "[]",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (records); i++)
    {
      g_autoptr(JsonNode) node = json_from_string (records[i], NULL);
      g_autoptr(GError) error = NULL;
      LeafCalibration out;

      g_assert_nonnull (node);
      g_assert_false (leaf_calibration_from_json (node, &out, &error));
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
    }
}

static void
get_rgb (GdkPixbuf *pixbuf,
         int        x,
         int        y,
         guint8    *rgb)
{
  const guint8 *p = gdk_pixbuf_read_pixels (pixbuf) + y * gdk_pixbuf_get_rowstride (pixbuf)
                    + x * gdk_pixbuf_get_n_channels (pixbuf);

  rgb[0] = p[0], rgb[1] = p[1], rgb[2] = p[2];
}

/* A 400 x 200 grey photo, resized to a shorter side of 40 and cropped to 32 in the middle,
 * as a model with image_size 32 sees it: the crop is the photo's 160 x 160 centre square,
 * from x = 120 to 280 and y = 20 to 180. A map of 1 over it turns it dark red; the rest is
 * dimmed to half. */
static void
test_heatmap_over_photo (void)
{
  g_autoptr(GdkPixbuf) photo = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 400, 200);
  g_autoptr(GdkPixbuf) overlay = NULL;
  float map[32 * 32];
  guint8 hot[3], rgb[3];

  gdk_pixbuf_fill (photo, 0x808080ff);
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    map[i] = 1.0f;
  leaf_heatmap_color (1.0, hot);

  overlay = leaf_heatmap_overlay_photo (photo, map, 32, 40, 1.0);
  g_assert_cmpint (gdk_pixbuf_get_width (overlay), ==, 400);
  g_assert_cmpint (gdk_pixbuf_get_height (overlay), ==, 200);

  /* Inside the crop, at its corners and centre: the map's colour. */
  {
    const int inside[][2] = { { 121, 21 }, { 278, 178 }, { 200, 100 } };

    for (gsize i = 0; i < G_N_ELEMENTS (inside); i++)
      {
        get_rgb (overlay, inside[i][0], inside[i][1], rgb);
        for (int c = 0; c < 3; c++)
          g_assert_cmpint (abs (rgb[c] - hot[c]), <=, 2);
      }
  }
  /* Outside: the photo, dimmed. */
  {
    const int outside[][2] = { { 118, 100 }, { 282, 100 }, { 200, 18 }, { 200, 182 }, { 0, 0 } };

    for (gsize i = 0; i < G_N_ELEMENTS (outside); i++)
      {
        get_rgb (overlay, outside[i][0], outside[i][1], rgb);
        for (int c = 0; c < 3; c++)
          g_assert_cmpint (rgb[c], ==, 0x40);
      }
  }

  /* At half opacity, a map of 0 (dark blue) mixes with the grey. */
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    map[i] = 0.0f;
  g_clear_object (&overlay);
  overlay = leaf_heatmap_overlay_photo (photo, map, 32, 40, 0.5);
  leaf_heatmap_color (0.0, hot);
  get_rgb (overlay, 200, 100, rgb);
  for (int c = 0; c < 3; c++)
    g_assert_cmpint (abs (rgb[c] - (0x80 + hot[c]) / 2), <=, 2);
}

int
main (int   argc,
      char *argv[])
{
  leaf_test_init (&argc, &argv);
  g_test_add_func ("/calibration/json/round-trip", test_calibration_round_trip);
  g_test_add_func ("/calibration/json/without-bins", test_calibration_without_bins);
  g_test_add_func ("/heatmap/over-photo", test_heatmap_over_photo);
  return g_test_run ();
}
