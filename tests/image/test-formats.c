/* test-formats.c: one list of photo formats for decoding, import, predict and evaluate
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GdkPixbuf opens whatever a loader claims (SVG, GIF, TGA, PNM, XPM...); Leafscope reads JPEG,
 * PNG, TIFF, WebP and BMP only, recognised by content, everywhere. The refused samples are made
 * here, small and harmless: before the allow-list, each of them decoded.
 */

#define G_LOG_DOMAIN "test-formats"

#include "config.h"

#include "leaf-test.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>

#include "leaf-catalog.h"
#include "leaf-error.h"
#include "leaf-image-private.h"
#include "leaf-import.h"

#include "image-test-util.h"

static char *scratch_dir;

static const char svg[] =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"48\">"
  "<rect width=\"64\" height=\"48\" fill=\"green\"/></svg>\n";

static const char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04"
                          "\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02"
                          "D\x01\x00;";

/* Version 1 (no footer), uncompressed true colour, 2 × 2, 24 bits, bottom-up. */
static const char tga[] = "\x00\x00\x02" "\x00\x00\x00\x00\x00" "\x00\x00\x00\x00"
                          "\x02\x00\x02\x00" "\x18\x00"
                          "\x00\xff\x00\x00\xff\x00\x00\xff\x00\x00\xff\x00";

static const char pnm[] = "P6\n2 2\n255\n"
                          "\x00\xc0\x00\x00\xc0\x00\x00\xc0\x00\x00\xc0\x00";

static const char xpm[] = "/* XPM */\nstatic char *leaf[] = {\n\"2 2 1 1\",\n\"a c #00C000\",\n"
                          "\"aa\",\n\"aa\"};\n";

/* A lossless 4 × 3 WebP (libwebp 1.2.4, WebPEncodeLosslessRGB) with pixel (x, y) =
 * (80 x, 120 y, 200): Debian's GdkPixbuf has no WebP saver to make one here. */
static const char webp[] =
  "\x52\x49\x46\x46\x38\x00\x00\x00\x57\x45\x42\x50\x56\x50\x38\x4c\x2b\x00\x00\x00\x2f\x03"
  "\x80\x00\x00\x5f\x40\x20\x69\xb3\x08\x8f\x6b\x7f\x78\x87\x81\x1a\xe4\xf9\xef\x41\x06\x58"
  "\x2e\x00\x41\x00\x89\x52\x0a\x29\x0c\xb7\xc2\x0a\xa3\x46\xf4\x3f\xa8\xcb\x01\x00";

/* A progressive 16 × 16 JPEG (libjpeg-turbo 2.1.5, jpeg_simple_progression, optimised Huffman
 * tables): ten scans, the last a refinement scan with its own Huffman table. */
static const char progressive[] =
  "\xff\xd8\xff\xe0\x00\x10\x4a\x46\x49\x46\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb"
  "\x00\x43\x00\x08\x06\x06\x07\x06\x05\x08\x07\x07\x07\x09\x09\x08\x0a\x0c\x14\x0d\x0c\x0b"
  "\x0b\x0c\x19\x12\x13\x0f\x14\x1d\x1a\x1f\x1e\x1d\x1a\x1c\x1c\x20\x24\x2e\x27\x20\x22\x2c"
  "\x23\x1c\x1c\x28\x37\x29\x2c\x30\x31\x34\x34\x34\x1f\x27\x39\x3d\x38\x32\x3c\x2e\x33\x34"
  "\x32\xff\xdb\x00\x43\x01\x09\x09\x09\x0c\x0b\x0c\x18\x0d\x0d\x18\x32\x21\x1c\x21\x32\x32"
  "\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32"
  "\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32\x32"
  "\x32\x32\x32\x32\xff\xc2\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11"
  "\x01\xff\xc4\x00\x16\x00\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
  "\x05\x04\x06\xff\xc4\x00\x14\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
  "\x00\x00\x00\xff\xda\x00\x0c\x03\x01\x00\x02\x10\x03\x10\x00\x00\x01\xcd\xb4\x9d\x67\xff"
  "\xc4\x00\x17\x10\x00\x03\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
  "\x03\x11\xff\xda\x00\x08\x01\x01\x00\x01\x05\x02\x48\x60\x90\xc1\x21\x82\x43\x0f\xff\xc4"
  "\x00\x17\x11\x00\x03\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x05"
  "\x11\xff\xda\x00\x08\x01\x03\x01\x01\x3f\x01\x9e\xee\x9f\xff\xc4\x00\x19\x11\x00\x01\x05"
  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x04\x14\x31\xf0\xff\xda\x00"
  "\x08\x01\x02\x01\x01\x3f\x01\x55\xd4\x5d\x47\xff\xc4\x00\x14\x10\x01\x00\x00\x00\x00\x00"
  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x20\xff\xda\x00\x08\x01\x01\x00\x06\x3f\x02\x1f"
  "\xff\xc4\x00\x15\x10\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
  "\x51\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x21\x91\x22\x44\x8f\xff\xda\x00\x0c\x03\x01\x00"
  "\x02\x00\x03\x00\x00\x00\x10\x53\xff\xc4\x00\x15\x11\x01\x01\x00\x00\x00\x00\x00\x00\x00"
  "\x00\x00\x00\x00\x00\x00\x00\x21\x00\xff\xda\x00\x08\x01\x03\x01\x01\x3f\x10\x1b\x7f\xff"
  "\xc4\x00\x19\x11\x01\x00\x02\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x11\x21"
  "\x81\x51\x91\xb1\xff\xda\x00\x08\x01\x02\x01\x01\x3f\x10\xcf\x5a\x86\xd5\xae\x7f\xff\xc4"
  "\x00\x17\x10\x00\x03\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x21"
  "\xf0\xff\xda\x00\x08\x01\x01\x00\x01\x3f\x10\x93\x51\x36\x22\x6d\x44\xda\x8f\xff\xd9";

typedef struct
{
  const char *kind;       /* as messages name it */
  const char *extension;
  const char *data;
  gsize length;
} Refused;

#define REFUSED(kind, ext, array) { kind, ext, array, sizeof array - 1 }

static const Refused refused[] = {
  REFUSED ("SVG", "svg", svg),
  REFUSED ("GIF", "gif", gif),
  REFUSED ("TGA", "tga", tga),
  REFUSED ("PNM", "ppm", pnm),
  REFUSED ("XPM", "xpm", xpm),
};

static char *
write_file (const char *dir,
            const char *name,
            const void *data,
            gsize       length)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
  return path;
}

static GBytes *
encode (const char *type,
        GdkPixbuf  *pixbuf)
{
  g_autoptr(GError) error = NULL;
  char *buffer = NULL;
  gsize length = 0;

  gdk_pixbuf_save_to_buffer (pixbuf, &buffer, &length, type, &error, NULL);
  g_assert_no_error (error);
  return g_bytes_new_take (buffer, length);
}

static void
assert_refused (GdkPixbuf  *pixbuf,
                GError     *error,
                const char *name,
                const char *kind)
{
  g_assert_null (pixbuf);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_test_message ("%s: %s", name, error->message);
  g_assert_nonnull (strstr (error->message, name));
  g_assert_nonnull (strstr (error->message, kind));
  g_assert_nonnull (strstr (error->message, "JPEG, PNG, TIFF, WebP"));
}

/* Every decoding path refuses them, by content: under their own name and under a photo's. */
static void
test_refused_formats (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      const Refused *r = &refused[i];
      g_autofree char *own_name = g_strdup_printf ("leaf.%s", r->extension);
      g_autofree char *photo_name = g_strdup_printf ("leaf-%s.jpg", r->extension);
      const char *names[] = { own_name, photo_name };
      g_autoptr(GBytes) bytes = g_bytes_new_static (r->data, r->length);

      g_assert_null (leaf_image_sniff_format ((const guint8 *) r->data, r->length));
      for (guint n = 0; n < G_N_ELEMENTS (names); n++)
        {
          g_autofree char *path = write_file (scratch_dir, names[n], r->data, r->length);
          g_autoptr(GError) error = NULL;
          g_autoptr(GdkPixbuf) pixbuf = leaf_image_load (path, 0, &error);
          g_autoptr(GdkPixbuf) thumbnail = NULL;

          assert_refused (pixbuf, error, names[n], r->kind);
          g_clear_error (&error);
          thumbnail = _leaf_image_load_fitted (path, 0, 128, &error);
          assert_refused (thumbnail, error, names[n], r->kind);
        }
      {
        /* Pasted or dropped data, as Diagnose hands it over. */
        g_autoptr(GError) error = NULL;
        g_autoptr(GdkPixbuf) pixbuf = leaf_image_load_from_bytes (bytes, "Pasted image", 0,
                                                                   &error);

        assert_refused (pixbuf, error, "Pasted image", r->kind);
      }
    }
}

static void
test_accepted_formats (void)
{
  static const char *const lossless[] = { "png", "tiff", "bmp" };
  g_autoptr(GdkPixbuf) gradient = image_test_make_gradient (40, 30);
  g_autoptr(GBytes) jpeg = encode ("jpeg", gradient);
  g_autoptr(GBytes) webp_bytes = g_bytes_new_static (webp, sizeof webp - 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) from_jpeg = leaf_image_load_from_bytes (jpeg, "leaf.jpg", 0, &error);
  g_autoptr(GdkPixbuf) from_webp = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (from_jpeg), ==, 40);
  g_assert_cmpint (gdk_pixbuf_get_height (from_jpeg), ==, 30);
  g_assert_cmpstr (leaf_image_sniff_format (g_bytes_get_data (jpeg, NULL),
                                            g_bytes_get_size (jpeg)), ==, "jpeg");
  for (guint i = 0; i < G_N_ELEMENTS (lossless); i++)
    {
      g_autoptr(GBytes) bytes = encode (lossless[i], gradient);
      g_autoptr(GdkPixbuf) decoded = leaf_image_load_from_bytes (bytes, lossless[i], 0, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (leaf_image_sniff_format (g_bytes_get_data (bytes, NULL),
                                                g_bytes_get_size (bytes)), ==, lossless[i]);
      g_assert_true (image_test_pixbufs_equal (decoded, gradient));
    }

  g_assert_cmpstr (leaf_image_sniff_format ((const guint8 *) webp, sizeof webp - 1), ==, "webp");
  from_webp = leaf_image_load_from_bytes (webp_bytes, "leaf.webp", 0, &error);
  if (_leaf_image_has_loader ("webp"))
    {
      const guint8 *p;

      g_assert_no_error (error);
      g_assert_cmpint (gdk_pixbuf_get_width (from_webp), ==, 4);
      g_assert_cmpint (gdk_pixbuf_get_height (from_webp), ==, 3);
      p = gdk_pixbuf_read_pixels (from_webp) + 2 * gdk_pixbuf_get_rowstride (from_webp) + 3 * 1;
      g_assert_cmpuint (p[0], ==, 80);
      g_assert_cmpuint (p[1], ==, 240);
      g_assert_cmpuint (p[2], ==, 200);
    }
  else
    {
      /* Without webp-pixbuf-loader: refused, saying what to install. */
      g_test_message ("no WebP loader here: %s", error->message);
      g_assert_null (from_webp);
      g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, "leaf.webp"));
      g_assert_nonnull (strstr (error->message, "webp-pixbuf-loader"));
    }
}

/* The progressive JPEG with its last scan (and the Huffman table before it) repeated, n_scans
 * scans in all. libjpeg warns about the repeats and decodes each one, a pass over the whole
 * image every time: the attack the limit is for, here on a picture too small to be slow. */
static GBytes *
make_jpeg_with_scans (guint n_scans)
{
  gsize length = sizeof progressive - 1;
  const guint8 *data = (const guint8 *) progressive;
  GByteArray *out = g_byte_array_new ();
  gsize last_table = 0;

  for (gsize i = 2; i + 1 < length; i++)
    if (data[i] == 0xFF && data[i + 1] == 0xC4)
      last_table = i;
  g_assert_cmpuint (last_table, >, 0);
  g_assert_cmpuint (n_scans, >=, 10);
  g_byte_array_append (out, data, length - 2);
  for (guint i = 10; i < n_scans; i++)
    g_byte_array_append (out, data + last_table, length - 2 - last_table);
  g_byte_array_append (out, data + length - 2, 2);
  return g_byte_array_free_to_bytes (out);
}

/* Each scan of a progressive JPEG costs a pass over the whole image: their number is bounded
 * before decoding, so that a small file cannot buy hours of work. */
static void
test_jpeg_scan_limit (void)
{
  g_autoptr(GBytes) too_many = make_jpeg_with_scans (LEAF_IMAGE_MAX_JPEG_SCANS + 1);
  g_autoptr(GBytes) at_limit = make_jpeg_with_scans (LEAF_IMAGE_MAX_JPEG_SCANS);
  g_autoptr(GBytes) plain = make_jpeg_with_scans (10);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) refused_pixbuf = leaf_image_load_from_bytes (too_many, "scans.jpg", 0,
                                                                    &error);
  g_autoptr(GdkPixbuf) limit_pixbuf = NULL;
  g_autoptr(GdkPixbuf) plain_pixbuf = NULL;

  g_assert_null (refused_pixbuf);
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_UNSAFE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "scans.jpg"));
  g_assert_nonnull (strstr (error->message, "scans"));
  g_clear_error (&error);

  /* Up to the limit, progressive JPEGs decode (the repeated refinements change the pixels). */
  limit_pixbuf = leaf_image_load_from_bytes (at_limit, "scans.jpg", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (limit_pixbuf), ==, 16);
  plain_pixbuf = leaf_image_load_from_bytes (plain, "plain.jpg", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_height (plain_pixbuf), ==, 16);
}

static void
test_sniff_and_names (void)
{
  static const struct { const char *name; gboolean photo; } names[] = {
    { "leaf.jpg", TRUE }, { "LEAF.JPG", TRUE }, { "leaf.jpeg", TRUE }, { "leaf.jfif", TRUE },
    { "leaf.jpe", TRUE }, { "leaf.png", TRUE }, { "leaf.tif", TRUE }, { "leaf.TIFF", TRUE },
    { "leaf.webp", TRUE }, { "leaf.bmp", TRUE },
    /* Refused when read, but reported rather than passed over. */
    { "leaf.gif", TRUE }, { "leaf.heic", TRUE }, { "leaf.heif", TRUE }, { "leaf.avif", TRUE },
    { "leaf.svg", FALSE }, { "leaf.tga", FALSE }, { "notes.txt", FALSE }, { "README", FALSE },
    { "leaf.jpg.txt", FALSE }, { "._leaf.jpg", FALSE }, { ".thumbnail.png", FALSE },
  };
  static const struct { const char *data; gsize length; const char *format; } heads[] = {
    { "\xff\xd8\xff\xe0", 4, "jpeg" },
    { "\x89PNG\r\n\x1a\n", 8, "png" },
    { "II*\0\x08\0\0\0", 8, "tiff" },
    { "MM\0*\0\0\0\x08", 8, "tiff" },
    { "BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0", 18, "bmp" },
    { "RIFF\x24\0\0\0WEBPVP8 ", 16, "webp" },
    /* An animated WebP (VP8X, animation flag) is a clip. */
    { "RIFF\x24\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0", 24, NULL },
    { "\xff\xd8", 2, NULL },
    { "", 0, NULL },
    { "<svg", 4, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (leaf_image_is_photo_name (names[i].name) != names[i].photo)
      g_error ("%s: expected %s", names[i].name, names[i].photo ? "a photo" : "not a photo");
  for (guint i = 0; i < G_N_ELEMENTS (heads); i++)
    g_assert_cmpstr (leaf_image_sniff_format ((const guint8 *) heads[i].data, heads[i].length),
                     ==, heads[i].format);
  g_assert_true (g_strv_contains (leaf_image_get_mime_types (), "image/jpeg"));
  g_assert_false (g_strv_contains (leaf_image_get_mime_types (), "image/svg+xml"));
}

/* ---- import and evaluate agree ----------------------------------------------------------- */

typedef struct
{
  const char *name;
  const void *data;  /* NULL: a photo encoded as `format` */
  gsize length;
  const char *format;
} FolderFile;

/* What evaluate does with each file of a class folder: photo names are predicted, which starts
 * with leaf_image_load(); the rest is passed over. */
static void
evaluate_rule (const char *dir,
               GPtrArray  *used,
               GPtrArray  *refused_paths)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (listing);
  while ((name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(GdkPixbuf) pixbuf = NULL;

      if (!leaf_image_is_photo_name (name))
        continue;
      pixbuf = leaf_image_load (path, LEAF_IMAGE_DEFAULT_MAX_PIXELS, &error);
      g_ptr_array_add (pixbuf != NULL ? used : refused_paths, g_steal_pointer (&path));
    }
}

static gboolean
contains_path (GPtrArray  *paths,
               const char *path)
{
  return g_ptr_array_find_with_equal_func (paths, path, g_str_equal, NULL);
}

static void
test_import_and_evaluate_agree (void)
{
  g_autoptr(GBytes) scans = make_jpeg_with_scans (LEAF_IMAGE_MAX_JPEG_SCANS + 1);
  const char *heic = "\x00\x00\x00\x18" "ftypheic" "\x00\x00\x00\x00" "mif1heic"
                     "\x00\x00\x00\x08" "free";
  const char *text = "Plot 7, photographed on Tuesday\n";
  gboolean webp_read = _leaf_image_has_loader ("webp");
  const FolderFile files[] = {
    { "a.jpg", NULL, 0, "jpeg" },
    { "b.JPEG", NULL, 0, "jpeg" },
    { "c.jfif", NULL, 0, "jpeg" },
    { "d.png", NULL, 0, "png" },
    { "e.tif", NULL, 0, "tiff" },
    { "f.bmp", NULL, 0, "bmp" },
    { "g.webp", webp, sizeof webp - 1, NULL },
    { "h.gif", gif, sizeof gif - 1, NULL },
    { "i.heic", heic, 32, NULL },
    { "drawing.jpg", svg, sizeof svg - 1, NULL },
    { "scan.png", pnm, sizeof pnm - 1, NULL },
    { "icon.jpeg", xpm, sizeof xpm - 1, NULL },
    { "targa.bmp", tga, sizeof tga - 1, NULL },
    { "notes.jpg", text, strlen (text), NULL },
    { "scans.jpg", g_bytes_get_data (scans, NULL), g_bytes_get_size (scans), NULL },
    /* Passed over by both: not photo names. */
    { "k.tga", tga, sizeof tga - 1, NULL },
    { "logo.svg", svg, sizeof svg - 1, NULL },
    { "notes.txt", text, strlen (text), NULL },
    { "README", text, strlen (text), NULL },
    { "._a.jpg", text, strlen (text), NULL },
  };
  const char *expect_used[] = { "a.jpg", "b.JPEG", "c.jfif", "d.png", "e.tif", "f.bmp",
                                webp_read ? "g.webp" : NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_build_filename (scratch_dir, "agree", NULL);
  g_autofree char *class_dir = g_build_filename (root, "photos", "healthy", NULL);
  g_autofree char *photos = g_build_filename (root, "photos", NULL);
  g_autofree char *catalog_path = g_build_filename (root, "agree.leafscope", NULL);
  g_autoptr(GPtrArray) used = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) refused_paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(LeafCatalog) catalog = NULL;
  g_autoptr(LeafImportSummary) summary = NULL;
  const char *roots[] = { photos, NULL };
  guint n_expect_used = webp_read ? 7 : 6;

  g_assert_cmpint (g_mkdir_with_parents (class_dir, 0755), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      /* Widths differ so that no two photos have the same content (one image to import). */
      g_autoptr(GdkPixbuf) picture = image_test_make_gradient (24 + i, 20);
      g_autoptr(GBytes) encoded = files[i].format ? encode (files[i].format, picture) : NULL;

      if (encoded != NULL)
        g_free (write_file (class_dir, files[i].name, g_bytes_get_data (encoded, NULL),
                            g_bytes_get_size (encoded)));
      else
        g_free (write_file (class_dir, files[i].name, files[i].data, files[i].length));
    }

  evaluate_rule (class_dir, used, refused_paths);

  catalog = leaf_catalog_open (catalog_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  summary = leaf_import_run (catalog, roots, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);

  /* What both use... */
  g_assert_cmpuint (used->len, ==, n_expect_used);
  g_assert_cmpuint (summary->n_added, ==, n_expect_used);
  for (guint i = 0; i < n_expect_used; i++)
    {
      g_autofree char *path = g_build_filename (class_dir, expect_used[i], NULL);

      g_assert_true (contains_path (used, path));
    }
  /* ...and what both report as unreadable, file for file. */
  g_assert_cmpuint (summary->skipped->len, ==, refused_paths->len);
  g_assert_cmpuint (refused_paths->len, ==, (webp_read ? 8 : 9));
  for (guint i = 0; i < summary->skipped->len; i++)
    {
      LeafImportSkip *skip = summary->skipped->pdata[i];

      g_test_message ("%s: %s (%s)", skip->path, skip->message,
                      leaf_import_skip_reason_to_string (skip->reason));
      g_assert_true (contains_path (refused_paths, skip->path));
      g_assert_cmpint (skip->reason, !=, LEAF_IMPORT_SKIP_UNREADABLE);
    }

  g_clear_object (&catalog);
  leaf_test_remove_tree (root);
}

/* ---- predict, through the command line --------------------------------------------------- */

/* `predict` names each refused file with the accepted formats, goes on with the others and
 * exits 1. Needs the shared stand-in weights ($LEAFSCOPE_SHARED/weights/leafnet-b0.pth). */
static void
test_cli_predict (void)
{
  const char *cli = g_getenv ("LEAFSCOPE_CLI");
  const char *shared = g_getenv ("LEAFSCOPE_SHARED");
  g_autofree char *weights = shared ? g_build_filename (shared, "weights", "leafnet-b0.pth",
                                                        NULL) : NULL;
  g_autoptr(GdkPixbuf) gradient = image_test_make_gradient (64, 48);
  g_autoptr(GBytes) jpeg = encode ("jpeg", gradient);
  g_autofree char *good = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  if (cli == NULL || weights == NULL || !g_file_test (weights, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("needs $LEAFSCOPE_CLI and $LEAFSCOPE_SHARED/weights/leafnet-b0.pth");
      return;
    }
  g_ptr_array_add (argv, g_strdup (cli));
  g_ptr_array_add (argv, g_strdup ("predict"));
  g_ptr_array_add (argv, g_strdup ("--weights"));
  g_ptr_array_add (argv, g_strdup (weights));
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *name = g_strdup_printf ("predict-%s.jpg", refused[i].extension);

      g_ptr_array_add (argv, write_file (scratch_dir, name, refused[i].data, refused[i].length));
    }
  good = write_file (scratch_dir, "predict-good.jpg", g_bytes_get_data (jpeg, NULL),
                     g_bytes_get_size (jpeg));
  g_ptr_array_add (argv, g_strdup (good));
  g_ptr_array_add (argv, NULL);

  g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                &status, &error);
  g_assert_no_error (error);
  g_test_message ("stdout:\n%s\nstderr:\n%s", out, err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *line = g_strdup_printf ("predict-%s.jpg” is an image in %s format",
                                               refused[i].extension, refused[i].kind);

      g_assert_nonnull (strstr (err, line));
    }
  g_assert_nonnull (strstr (out, "predict-good.jpg"));
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  leaf_test_init (&argc, &argv);

  scratch_dir = g_dir_make_tmp ("leafscope-formats-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/image/formats/refused", test_refused_formats);
  g_test_add_func ("/image/formats/accepted", test_accepted_formats);
  g_test_add_func ("/image/formats/jpeg-scan-limit", test_jpeg_scan_limit);
  g_test_add_func ("/image/formats/sniff-and-names", test_sniff_and_names);
  g_test_add_func ("/image/formats/import-and-evaluate-agree", test_import_and_evaluate_agree);
  g_test_add_func ("/image/formats/cli-predict", test_cli_predict);

  status = g_test_run ();
  leaf_test_remove_tree (scratch_dir);
  return status;
}
