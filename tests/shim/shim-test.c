/* shim-test.c: helpers shared by the shim's tests
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "shim-test"

#include "config.h"

#include <glib/gstdio.h>
#include <math.h>

#include "shim-test.h"

static gboolean
python_has_torchvision (const char *python)
{
  const char *argv[] = { python, "-c", "import torchvision", NULL };
  int wait_status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                     | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &wait_status, NULL))
    return FALSE;
  return g_spawn_check_wait_status (wait_status, NULL);
}

ShimReference *
shim_reference_make (char **skip)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = NULL;
  g_autofree char *ini_path = NULL;
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  ShimReference *ref;
  int wait_status = 0;

  if (python == NULL || !g_file_test (python, G_FILE_TEST_IS_EXECUTABLE)
      || !python_has_torchvision (python))
    {
      *skip = g_strdup ("LEAFSCOPE_PYTHON does not name a Python with torchvision");
      return NULL;
    }

  ref = g_new0 (ShimReference, 1);
  ref->dir = g_dir_make_tmp ("leafscope-shim-XXXXXX", &error);
  g_assert_no_error (error);
  script = g_test_build_filename (G_TEST_DIST, "shim", "make_reference.py", NULL);
  {
    const char *argv[] = { python, script, ref->dir, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                  &wait_status, &error);
    g_assert_no_error (error);
    g_spawn_check_wait_status (wait_status, &error);
    g_assert_no_error (error);
  }

  ref->ini = g_key_file_new ();
  ini_path = shim_reference_path (ref, "reference.ini");
  g_key_file_load_from_file (ref->ini, ini_path, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  return ref;
}

void
shim_reference_free (ShimReference *ref)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (ref == NULL)
    return;
  dir = g_dir_open (ref->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (ref->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (ref->dir);
  g_key_file_free (ref->ini);
  g_free (ref->dir);
  g_free (ref);
}

char *
shim_reference_path (const ShimReference *ref, const char *name)
{
  return g_build_filename (ref->dir, name, NULL);
}

float *
shim_reference_floats (const ShimReference *ref, const char *name, gsize *n_values)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = shim_reference_path (ref, name);
  char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, >, 0);
  g_assert_cmpuint (length % sizeof (float), ==, 0);
  G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);
  *n_values = length / sizeof (float);
  return (float *) contents;
}

LtTensor *
shim_tensor_f32 (const float *data, const int64_t *shape, size_t ndim)
{
  LtTensor *tensor = NULL;

  shim_assert_ok (lt_tensor_new_f32 (data, shape, ndim, &tensor, &shim_error_));
  return tensor;
}

float *
shim_tensor_values (const LtTensor *tensor)
{
  gsize n = (gsize) lt_tensor_numel (tensor);
  float *values = g_new (float, MAX (n, 1));

  shim_assert_ok (lt_tensor_copy_f32 (tensor, values, n, &shim_error_));
  return values;
}

float
shim_max_abs (const float *values, gsize n)
{
  float m = 0.f;

  for (gsize i = 0; i < n; i++)
    m = MAX (m, fabsf (values[i]));
  return m;
}

float
shim_max_abs_diff (const float *a, const float *b, gsize n)
{
  float m = 0.f;

  for (gsize i = 0; i < n; i++)
    {
      float d = fabsf (a[i] - b[i]);
      /* A NaN on either side must fail every comparison that uses this. */
      if (isnan (d))
        return INFINITY;
      m = MAX (m, d);
    }
  return m;
}
