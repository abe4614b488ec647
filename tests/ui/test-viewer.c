/* test-viewer.c: the viewer's zoom says the scale the photo is drawn at, steps from it and keeps
 * the point under the pointer or the centre in place; the viewer shows the active model's
 * prediction for the photo
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "test-viewer"

#include "config.h"

#include "leaf-test.h"

#include <adwaita.h>
#include <math.h>

#include "leaf-catalog.h"
#include "leaf-import.h"
#include "leaf-library-view.h"
#include "leaf-viewer-window.h"
#include "ui-test-util.h"

#define PHOTO_WIDTH 640
#define PHOTO_HEIGHT 480
#define N_PHOTOS 3

static const char *const model_classes[] = { "blight", "healthy", NULL };

typedef struct
{
  char *dir;
  LeafCatalog *catalog;
  GtkWidget *window;
  LeafLibraryView *view;
  LeafViewerWindow *viewer;
} Fixture;

/* Photos larger than the tests' usual 48 pixels, so that fitting shrinks them in some windows
 * and enlarges them in others; each has its own stripes. */
static void
write_photos (const char *dir)
{
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  for (guint n = 0; n < N_PHOTOS; n++)
    {
      g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8,
                                                    PHOTO_WIDTH, PHOTO_HEIGHT);
      g_autofree char *name = g_strdup_printf ("leaf-%u.png", n);
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(GError) error = NULL;
      guchar *pixels = gdk_pixbuf_get_pixels (pixbuf);
      int stride = gdk_pixbuf_get_rowstride (pixbuf);

      for (int y = 0; y < PHOTO_HEIGHT; y++)
        for (int x = 0; x < PHOTO_WIDTH; x++)
          {
            guchar *p = pixels + y * stride + x * 3;

            p[0] = (guchar) (x * 255 / PHOTO_WIDTH);
            p[1] = (guchar) (y * 255 / PHOTO_HEIGHT);
            p[2] = (guchar) ((x / (16 + 8 * (int) n)) % 2 ? 200 : 40);
          }
      g_assert_true (gdk_pixbuf_save (pixbuf, path, "png", &error, NULL));
      g_assert_no_error (error);
    }
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *photos = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  LeafImportOptions options = { 0 };
  const char *paths[2] = { NULL, NULL };

  f->dir = g_dir_make_tmp ("leafscope-viewer-XXXXXX", NULL);
  photos = g_build_filename (f->dir, "photos", NULL);
  write_photos (photos);
  path = g_build_filename (f->dir, "test.leafscope", NULL);
  f->catalog = leaf_catalog_open (path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  paths[0] = photos;
  summary = leaf_import_run (f->catalog, paths, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary->n_added, ==, N_PHOTOS);
  for (guint i = 0; model_classes[i] != NULL; i++)
    {
      leaf_catalog_add_class (f->catalog, model_classes[i], "#2ec27e", NULL, &error);
      g_assert_no_error (error);
    }

  f->view = LEAF_LIBRARY_VIEW (leaf_library_view_new ());
  f->window = ui_test_show (GTK_WIDGET (f->view), 1000, 700);
  leaf_library_view_set_catalog (f->view, f->catalog);
  ui_test_iterate (100);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (leaf_library_view_get_selection (f->view))),
                    ==, N_PHOTOS);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  GtkWidget *view = GTK_WIDGET (f->view);

  if (f->viewer != NULL)
    {
      gtk_window_destroy (GTK_WINDOW (f->viewer));
      ui_test_iterate (50);
      g_assert_finalize_object (f->viewer);
    }
  g_object_ref (view);
  gtk_window_destroy (GTK_WINDOW (f->window));
  ui_test_iterate (50);
  g_assert_finalize_object (view);
  leaf_catalog_close (f->catalog);
  g_assert_finalize_object (f->catalog);
  leaf_test_remove_tree (f->dir);
  g_free (f->dir);
}

static gboolean
photo_shown (gpointer data)
{
  return leaf_viewer_window_get_scale (data) > 0;
}

/* Opens the viewer on the photo at @position, at the given size, and waits for the photo. */
static void
open_viewer (Fixture *f,
             guint    position,
             int      width,
             int      height)
{
  leaf_library_view_open_viewer (f->view, position);
  ui_test_iterate (50);
  f->viewer = LEAF_VIEWER_WINDOW (ui_test_find_toplevel (LEAF_TYPE_VIEWER_WINDOW));
  g_assert_nonnull (f->viewer);
  /* Held until teardown, which checks that closing frees it. */
  g_object_ref (f->viewer);
  gtk_window_set_default_size (GTK_WINDOW (f->viewer), width, height);
  g_assert_true (ui_test_wait_for (photo_shown, f->viewer, 20000));
  ui_test_iterate (100);
}

static GtkWidget *
photo_area (Fixture *f)
{
  GtkWidget *scroller = ui_test_find_type (GTK_WIDGET (f->viewer), GTK_TYPE_SCROLLED_WINDOW);

  g_assert_nonnull (scroller);
  return scroller;
}

/* The label of the button between − and +. */
static const char *
zoom_label (Fixture *f)
{
  GtkWidget *button = ui_test_find_label (GTK_WIDGET (f->viewer), "%");

  g_assert_nonnull (button);
  return gtk_label_get_text (GTK_LABEL (button));
}

typedef struct
{
  Fixture *f;
  double   scale;
} ScaleWait;

static gboolean
scale_is (gpointer data)
{
  ScaleWait *wait = data;

  return fabs (leaf_viewer_window_get_scale (wait->f->viewer) - wait->scale) < 1e-6;
}

/* Presses @keyval and waits until the photo is drawn at @scale. */
static void
press_and_wait (Fixture         *f,
                guint            keyval,
                GdkModifierType  modifiers,
                double           scale)
{
  ScaleWait wait = { f, scale };

  g_assert_true (ui_test_press_key (GTK_WIDGET (f->viewer), keyval, modifiers));
  g_assert_true (ui_test_wait_for (scale_is, &wait, 5000));
  /* The label follows at the next frame. */
  ui_test_iterate (50);
}

static char *
percent (double scale)
{
  return g_strdup_printf ("%.0f %%", scale * 100);
}

static double
fit_scale (Fixture *f)
{
  GtkWidget *area = photo_area (f);

  return MIN ((double) gtk_widget_get_width (area) / PHOTO_WIDTH,
              (double) gtk_widget_get_height (area) / PHOTO_HEIGHT);
}

/* What is drawn at (x, y) of the photo's area is the photo's pixel (photo_x, photo_y): its red
 * and green channels give its column and row. */
static void
assert_drawn_at (Fixture *f,
                 double   x,
                 double   y,
                 double   photo_x,
                 double   photo_y)
{
  g_autoptr(GdkTexture) texture = ui_test_render (photo_area (f));
  int width = gdk_texture_get_width (texture);
  int height = gdk_texture_get_height (texture);
  g_autofree guchar *pixels = g_malloc ((gsize) width * height * 4);
  const guchar *pixel;

  gdk_texture_download (texture, pixels, (gsize) width * 4);
  /* Cairo's ARGB32, native byte order: B, G, R, A on little-endian machines. */
  pixel = pixels + ((gsize) y * width + (gsize) x) * 4;
  g_test_message ("drawn at (%.0f, %.0f): red %u, green %u; photo (%.1f, %.1f) has %.0f, %.0f",
                  x, y, pixel[2], pixel[1], photo_x, photo_y,
                  floor (photo_x) * 255 / PHOTO_WIDTH, floor (photo_y) * 255 / PHOTO_HEIGHT);
  g_assert_cmpfloat (fabs (pixel[2] - floor (photo_x) * 255 / PHOTO_WIDTH), <=, 3);
  g_assert_cmpfloat (fabs (pixel[1] - floor (photo_y) * 255 / PHOTO_HEIGHT), <=, 3);
}

/* Fitted, the label gives the scale the photo is drawn at, in a window larger and smaller than
 * the photo, and follows the window's size. */
static void
test_fit_label_is_true (Fixture       *f,
                        gconstpointer  data)
{
  const int sizes[][2] = { { 1000, 760 }, { 500, 400 } };

  open_viewer (f, 0, sizes[0][0], sizes[0][1]);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *shown = NULL;
      g_autofree char *expected = NULL;
      double fit;

      if (i > 0)
        {
          gtk_window_set_default_size (GTK_WINDOW (f->viewer), sizes[i][0], sizes[i][1]);
          ui_test_iterate (300);
        }
      fit = fit_scale (f);
      g_assert_cmpfloat_with_epsilon (leaf_viewer_window_get_scale (f->viewer), fit, 1e-9);
      shown = percent (fit);
      expected = g_strdup_printf ("Fit (%s)", shown);
      g_test_message ("%d × %d: %s", sizes[i][0], sizes[i][1], zoom_label (f));
      g_assert_cmpstr (zoom_label (f), ==, expected);
      /* Drawn at that scale: a point 200 × 150 photo pixels from the centre lies there. */
      assert_drawn_at (f, gtk_widget_get_width (photo_area (f)) / 2.0 + 200.5 * fit,
                       gtk_widget_get_height (photo_area (f)) / 2.0 + 150.5 * fit,
                       520.5, 390.5);
    }
  g_assert_cmpfloat (leaf_viewer_window_get_zoom (f->viewer), ==, 0);
}

/* + and − step from the scale shown, below the fitted scale too, and 1:1 is 100 %. */
static void
test_zoom_steps_from_shown_scale (Fixture       *f,
                                  gconstpointer  data)
{
  g_autofree char *expected = NULL;
  double fit;

  open_viewer (f, 0, 1000, 760);
  fit = leaf_viewer_window_get_scale (f->viewer);

  press_and_wait (f, GDK_KEY_plus, 0, fit * 1.25);
  expected = percent (fit * 1.25);
  g_assert_cmpstr (zoom_label (f), ==, expected);

  press_and_wait (f, GDK_KEY_minus, 0, fit);
  press_and_wait (f, GDK_KEY_minus, 0, fit / 1.25);
  g_clear_pointer (&expected, g_free);
  expected = percent (fit / 1.25);
  g_assert_cmpstr (zoom_label (f), ==, expected);

  press_and_wait (f, GDK_KEY_1, GDK_CONTROL_MASK, 1.0);
  g_assert_cmpstr (zoom_label (f), ==, "100 %");

  press_and_wait (f, GDK_KEY_0, GDK_CONTROL_MASK, fit);
  g_assert_cmpfloat (leaf_viewer_window_get_zoom (f->viewer), ==, 0);
}

static void
assert_point_kept (Fixture *f,
                   double   x,
                   double   y,
                   double   photo_x,
                   double   photo_y)
{
  double now_x, now_y;
  /* Scroll positions are whole pixels of the window. */
  double tolerance = 1.0 / leaf_viewer_window_get_scale (f->viewer);

  g_assert_true (leaf_viewer_window_get_photo_point (f->viewer, x, y, &now_x, &now_y));
  g_test_message ("(%.0f, %.0f): photo (%.2f, %.2f) then (%.2f, %.2f)", x, y, photo_x, photo_y,
                  now_x, now_y);
  g_assert_cmpfloat (fabs (now_x - photo_x), <=, tolerance);
  g_assert_cmpfloat (fabs (now_y - photo_y), <=, tolerance);
  assert_drawn_at (f, x, y, photo_x, photo_y);
}

/* The keys zoom about the centre, the pointer's zoom about the pointer: the point of the photo
 * there stays there. */
static void
test_zoom_keeps_point (Fixture       *f,
                       gconstpointer  data)
{
  GtkWidget *area;
  double centre_x, centre_y, photo_x, photo_y, scale;
  const double pointer[][2] = { { 120, 90 }, { 700, 500 }, { 300, 420 } };

  open_viewer (f, 0, 1000, 760);
  area = photo_area (f);
  centre_x = gtk_widget_get_width (area) / 2.0;
  centre_y = gtk_widget_get_height (area) / 2.0;

  /* Fitted, the centre of the area is the centre of the photo. */
  g_assert_true (leaf_viewer_window_get_photo_point (f->viewer, centre_x, centre_y,
                                                     &photo_x, &photo_y));
  g_assert_cmpfloat_with_epsilon (photo_x, PHOTO_WIDTH / 2.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (photo_y, PHOTO_HEIGHT / 2.0, 1e-6);

  scale = leaf_viewer_window_get_scale (f->viewer);
  for (guint i = 0; i < 3; i++)
    {
      scale *= 1.25;
      press_and_wait (f, GDK_KEY_plus, 0, scale);
      assert_point_kept (f, centre_x, centre_y, photo_x, photo_y);
    }

  for (guint i = 0; i < G_N_ELEMENTS (pointer); i++)
    {
      ScaleWait wait = { f, scale * (i == 1 ? 0.8 : 1.25) };

      g_assert_true (leaf_viewer_window_get_photo_point (f->viewer, pointer[i][0], pointer[i][1],
                                                         &photo_x, &photo_y));
      leaf_viewer_window_zoom_at (f->viewer, wait.scale, pointer[i][0], pointer[i][1]);
      g_assert_true (ui_test_wait_for (scale_is, &wait, 5000));
      ui_test_iterate (50);
      assert_point_kept (f, pointer[i][0], pointer[i][1], photo_x, photo_y);
      scale = wait.scale;
    }
}

static gint64
nth_image_id (Fixture *f,
              guint    position)
{
  g_autoptr(LeafLibraryItem) item =
    g_list_model_get_item (G_LIST_MODEL (leaf_library_view_get_selection (f->view)), position);

  return leaf_library_item_get_id (item);
}

static gboolean
prediction_shown (gpointer data)
{
  return ui_test_find_label (data, "Model says") != NULL;
}

/* The active model's stored prediction: its class and probability, and the advice to refer the
 * photo when the model would; nothing for a photo the model has not predicted. */
static void
test_shows_prediction (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *model_path = g_build_filename (f->dir, "model.safetensors", NULL);
  g_autoptr(GError) error = NULL;
  gint64 model_id, ids[2];
  const float probabilities[] = { 0.72f, 0.28f, 0.45f, 0.55f };
  const gboolean referred[] = { FALSE, TRUE };
  GtkWidget *label;

  g_file_set_contents (model_path, "stand-in", -1, &error);
  g_assert_no_error (error);
  model_id = leaf_catalog_add_model (f->catalog, 0, model_path,
                                     "0000000000000000000000000000000000000000000000000000000000000000",
                                     model_classes, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_set_active_model (f->catalog, model_id, &error));
  g_assert_no_error (error);
  ids[0] = nth_image_id (f, 0);
  ids[1] = nth_image_id (f, 1);
  g_assert_true (leaf_catalog_add_predictions (f->catalog, model_id, ids, 2, probabilities, 2,
                                               referred, &error));
  g_assert_no_error (error);

  open_viewer (f, 0, 1000, 760);
  g_assert_true (ui_test_wait_for (prediction_shown, f->viewer, 5000));
  label = ui_test_find_label (GTK_WIDGET (f->viewer), "Model says");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, "Model says blight (72 %)");
  g_assert_false (gtk_widget_has_css_class (label, "warning"));

  g_assert_true (ui_test_press_key (GTK_WIDGET (f->viewer), GDK_KEY_Right, 0));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==,
                   "Model says healthy (55 %): refer to an expert");
  g_assert_true (gtk_widget_has_css_class (label, "warning"));

  g_assert_true (ui_test_press_key (GTK_WIDGET (f->viewer), GDK_KEY_Right, 0));
  g_assert_false (gtk_widget_get_visible (label));
}

int
main (int   argc,
      char *argv[])
{
  ui_test_init (&argc, &argv);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/ui/viewer/fit-label-is-true", test_fit_label_is_true);
  ADD ("/ui/viewer/zoom-steps-from-shown-scale", test_zoom_steps_from_shown_scale);
  ADD ("/ui/viewer/zoom-keeps-point", test_zoom_keeps_point);
  ADD ("/ui/viewer/shows-prediction", test_shows_prediction);
#undef ADD

  return g_test_run ();
}
