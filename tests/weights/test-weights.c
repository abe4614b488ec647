/* test-weights.c: reading torch.save and safetensors files, hostile ones included
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * make-weights.py (PyTorch) writes the files and, for the good ones, what torch.load finds in
 * them: names, dtypes, shapes and a SHA-256 of each tensor's bytes. Every value checked here
 * comes from PyTorch, never from the code under test.
 */

#define G_LOG_DOMAIN "test-weights"

#include "config.h"

#include "leaf-test.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>

#include "lt-weights.h"

/* Defined in test-weights-cxx.cpp, which includes lt-weights.h as C++. */
int test_weights_header_in_cxx (void);

typedef struct
{
  char *name;
  char *dtype;
  char *shape;
  char *sha256;
} ExpectedTensor;

static char *gen_dir;        /* what make-weights.py wrote; NULL when Python is unavailable */
static GHashTable *expected; /* file name -> GPtrArray of ExpectedTensor, in torch.load order */
static char *leafnet_path;

static void
expected_tensor_free (ExpectedTensor *t)
{
  g_free (t->name);
  g_free (t->dtype);
  g_free (t->shape);
  g_free (t->sha256);
  g_free (t);
}

static gboolean
require_files (void)
{
  if (gen_dir == NULL)
    g_test_skip ("LEAFSCOPE_PYTHON (Python with torch) is not available");
  return gen_dir != NULL;
}

static char *
gen_path (const char *name)
{
  return g_build_filename (gen_dir, name, NULL);
}

static char *
run_python (const char *const *args, int *status)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "weights", "make-weights.py", NULL);
  g_auto(GStrv) argv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_strv_builder_add (builder, g_getenv ("LEAFSCOPE_PYTHON"));
  g_strv_builder_add (builder, script);
  g_strv_builder_addv (builder, (const char **) args);
  argv = g_strv_builder_end (builder);
  g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, status, &error);
  g_assert_no_error (error);
  return g_strconcat (out, err, NULL);
}

static void
load_expected (void)
{
  g_autofree char *path = gen_path ("expected.tsv");
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) lines = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  expected = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify) g_ptr_array_unref);
  lines = g_strsplit (text, "\n", -1);
  for (char **line = lines; *line != NULL && **line != '\0'; line++)
    {
      g_auto(GStrv) f = g_strsplit (*line, "\t", -1);
      GPtrArray *list;
      ExpectedTensor *t;

      g_assert_cmpuint (g_strv_length (f), ==, 5);
      list = g_hash_table_lookup (expected, f[0]);
      if (list == NULL)
        {
          list = g_ptr_array_new_with_free_func ((GDestroyNotify) expected_tensor_free);
          g_hash_table_insert (expected, g_strdup (f[0]), list);
        }
      t = g_new0 (ExpectedTensor, 1);
      t->name = g_strdup (f[1]);
      t->dtype = g_strdup (f[2]);
      t->shape = g_strdup (f[3]);
      t->sha256 = g_strdup (f[4]);
      g_ptr_array_add (list, t);
    }
}

static LtStateDict *
load_ok (const char *path)
{
  LtStateDict *sd = NULL;
  char *message = NULL;
  LtStatus status = lt_state_dict_load (path, &sd, &message);

  if (status != LT_OK)
    g_error ("loading %s failed (%s): %s", path, lt_status_name (status), message);
  g_assert_null (message);
  g_assert_nonnull (sd);
  return sd;
}

static char *
shape_string (const LtStateDict *sd, size_t i)
{
  int64_t dims[LT_MAX_DIMS];
  int ndim = lt_state_dict_shape (sd, i, dims, LT_MAX_DIMS);
  GString *s = g_string_new (NULL);

  g_assert_cmpint (ndim, >=, 0);
  g_assert_cmpint (ndim, <=, LT_MAX_DIMS);
  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d > 0 ? "," : "", dims[d]);
  return g_string_free (s, FALSE);
}

static size_t
element_size (const char *dtype)
{
  if (g_str_equal (dtype, "float64") || g_str_equal (dtype, "int64"))
    return 8;
  if (g_str_equal (dtype, "float32") || g_str_equal (dtype, "int32"))
    return 4;
  if (g_str_equal (dtype, "float16") || g_str_equal (dtype, "bfloat16") || g_str_equal (dtype, "int16"))
    return 2;
  return 1;
}

static char *
tensor_sha256 (const LtStateDict *sd, size_t i)
{
  size_t size = (size_t) lt_state_dict_numel (sd, i) * element_size (lt_state_dict_dtype_name (sd, i));
  g_autofree guint8 *bytes = g_malloc (MAX (size, 1));
  char *message = NULL;

  g_assert_cmpint (lt_state_dict_read (sd, i, bytes, size, &message), ==, LT_OK);
  g_assert_null (message);
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, bytes, size);
}

/* Checks sd against what torch.load found in the file `label`: same names, dtypes, shapes and
 * bytes; in the same order too when `ordered` (safetensors files list names in their own order). */
static void
assert_matches_torch (const LtStateDict *sd, const char *label, gboolean ordered)
{
  GPtrArray *want = g_hash_table_lookup (expected, label);
  g_autoptr(GHashTable) index = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_nonnull (want);
  g_assert_cmpuint (lt_state_dict_count (sd), ==, want->len);
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    g_hash_table_insert (index, (gpointer) lt_state_dict_name (sd, i), GSIZE_TO_POINTER (i + 1));

  for (guint k = 0; k < want->len; k++)
    {
      const ExpectedTensor *t = g_ptr_array_index (want, k);
      size_t i = GPOINTER_TO_SIZE (g_hash_table_lookup (index, t->name));
      g_autofree char *shape = NULL;
      g_autofree char *sha = NULL;

      if (i == 0)
        g_error ("%s: tensor %s is missing", label, t->name);
      i--;
      if (ordered)
        g_assert_cmpuint (i, ==, k);
      g_assert_cmpstr (lt_state_dict_dtype_name (sd, i), ==, t->dtype);
      shape = shape_string (sd, i);
      g_assert_cmpstr (shape, ==, t->shape);
      sha = tensor_sha256 (sd, i);
      if (!g_str_equal (sha, t->sha256))
        g_error ("%s: tensor %s has other values than torch.load reads", label, t->name);
    }
}

static void
test_header_cxx (void)
{
  g_assert_true (test_weights_header_in_cxx ());
}

static void
test_reads_like_torch (gconstpointer data)
{
  const char *file = data;
  g_autofree char *path = NULL;
  LtStateDict *sd;

  if (!require_files ())
    return;
  path = gen_path (file);
  sd = load_ok (path);
  assert_matches_torch (sd, file, !g_str_has_suffix (file, ".safetensors"));
  /* Only safetensors carry metadata; make-weights.py writes this one. */
  if (g_str_has_suffix (file, ".safetensors"))
    g_assert_cmpstr (lt_state_dict_metadata (sd, "format"), ==, "pt");
  else
    g_assert_null (lt_state_dict_metadata_key (sd, 0));
  lt_state_dict_free (sd);
}

static void
test_reads_python_safetensors (void)
{
  g_autofree char *path = NULL;
  LtStateDict *sd;

  if (!require_files ())
    return;
  path = gen_path ("python.safetensors");
  sd = load_ok (path);
  assert_matches_torch (sd, "python.safetensors", FALSE);
  g_assert_cmpstr (lt_state_dict_metadata (sd, "format"), ==, "pt");
  g_assert_cmpstr (lt_state_dict_metadata (sd, "source"), ==, "make-weights.py");
  g_assert_null (lt_state_dict_metadata (sd, "missing"));
  g_assert_cmpstr (lt_state_dict_metadata_key (sd, 0), ==, "format");
  g_assert_cmpstr (lt_state_dict_metadata_key (sd, 1), ==, "source");
  g_assert_null (lt_state_dict_metadata_key (sd, 2));
  lt_state_dict_free (sd);
}

static void
test_reads_leafnet (void)
{
  LtStateDict *sd;

  if (!require_files ())
    return;
  if (leafnet_path == NULL)
    {
      g_test_skip ("the shared leafnet-b0.pth is not available");
      return;
    }
  sd = load_ok (leafnet_path);
  assert_matches_torch (sd, "leafnet", TRUE);
  lt_state_dict_free (sd);
}

static void
save_ok (const LtStateDict *sd, const char *path)
{
  char *message = NULL;
  LtStatus status = lt_state_dict_save_safetensors (sd, path, &message);

  if (status != LT_OK)
    g_error ("saving %s failed (%s): %s", path, lt_status_name (status), message);
}

/* PyTorch reads our file by hand and compares it with the original .pth. */
static void
assert_python_accepts (const char *safetensors, const char *reference)
{
  const char *args[] = { "check-safetensors", safetensors, reference, "format=pt",
                         "origin=round trip", NULL };
  g_autofree char *output = NULL;
  int status;

  output = run_python (args, &status);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("Python rejects %s: %s", safetensors, output);
}

static void
test_safetensors_round_trip (gconstpointer data)
{
  const char *file = data;
  g_autofree char *source = NULL;
  g_autofree char *copy = NULL;
  LtStateDict *sd;
  LtStateDict *again;
  char *message = NULL;

  if (!require_files ())
    return;
  source = gen_path (file);
  copy = g_strconcat (source, ".safetensors", NULL);
  sd = load_ok (source);
  g_assert_cmpint (lt_state_dict_set_metadata (sd, "origin", "test", &message), ==, LT_OK);
  g_assert_cmpint (lt_state_dict_set_metadata (sd, "format", "pt", &message), ==, LT_OK);
  g_assert_cmpint (lt_state_dict_set_metadata (sd, "origin", "round trip", &message), ==, LT_OK);
  save_ok (sd, copy);

  again = load_ok (copy);
  assert_matches_torch (again, file, FALSE);
  g_assert_cmpstr (lt_state_dict_metadata (again, "origin"), ==, "round trip");
  g_assert_cmpstr (lt_state_dict_metadata (again, "format"), ==, "pt");
  assert_python_accepts (copy, source);
  lt_state_dict_free (again);
  lt_state_dict_free (sd);
}

/* Python's writer follows the reference implementation; ours must give the same bytes. */
static void
test_safetensors_same_bytes_as_reference (void)
{
  g_autofree char *theirs = NULL;
  g_autofree char *ours = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  gsize a_len, b_len;
  LtStateDict *sd;

  if (!require_files ())
    return;
  theirs = gen_path ("python.safetensors");
  ours = gen_path ("rewritten.safetensors");
  sd = load_ok (theirs);
  save_ok (sd, ours);
  lt_state_dict_free (sd);

  g_assert_true (g_file_get_contents (theirs, &a, &a_len, NULL));
  g_assert_true (g_file_get_contents (ours, &b, &b_len, NULL));
  g_assert_cmpmem (a, a_len, b, b_len);
}

/* Our torch.save file reads back as what was saved, with our reader and with torch.load. */
static void
test_torch_round_trip (gconstpointer data)
{
  const char *file = data;
  const char *args[] = { "check-torch", NULL, NULL, NULL };
  g_autofree char *source = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *output = NULL;
  LtStateDict *sd;
  LtStateDict *again;
  char *message = NULL;
  int status;

  if (!require_files ())
    return;
  source = gen_path (file);
  copy = g_strconcat (source, ".saved.pth", NULL);
  sd = load_ok (source);
  g_assert_cmpint (lt_state_dict_set_metadata (sd, "format", "pt", &message), ==, LT_OK);
  g_assert_cmpint (lt_state_dict_save_torch (sd, copy, &message), ==, LT_OK);
  g_assert_null (message);

  again = load_ok (copy);
  assert_matches_torch (again, file, TRUE);
  /* A plain state dict has no room for metadata. */
  g_assert_null (lt_state_dict_metadata_key (again, 0));

  args[1] = copy;
  args[2] = source;
  output = run_python (args, &status);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("torch.load rejects %s: %s", copy, output);
  lt_state_dict_free (again);
  lt_state_dict_free (sd);
}

static void
test_torch_bad_destination (void)
{
  g_autofree char *source = NULL;
  LtStateDict *sd;
  char *message = NULL;

  if (!require_files ())
    return;
  source = gen_path ("small.pth");
  sd = load_ok (source);
  g_assert_cmpint (lt_state_dict_save_torch (sd, "/nonexistent-leafscope-dir/w.pth", &message), ==,
                   LT_ERROR_IO);
  g_assert_nonnull (strstr (message, "cannot create a file in /nonexistent-leafscope-dir"));
  lt_string_free (message);
  lt_state_dict_free (sd);
}

/* DataParallel's "module." comes off, leaving the wrapped model's own names and values. */
static void
test_strip_prefix (void)
{
  g_autofree char *path = NULL;
  LtStateDict *sd;
  char *message = NULL;

  if (!require_files ())
    return;
  path = gen_path ("module-prefixed.pth");
  sd = load_ok (path);
  g_assert_cmpint (lt_state_dict_strip_prefix (sd, "model.", &message), ==, LT_ERROR_MISMATCH);
  g_assert_nonnull (strstr (message, "no tensor name starts with \"model.\""));
  lt_string_free (message);
  message = NULL;
  /* A failed call leaves the names as they were. */
  g_assert_true (g_str_has_prefix (lt_state_dict_name (sd, 0), "module."));

  g_assert_cmpint (lt_state_dict_strip_prefix (sd, "module.", &message), ==, LT_OK);
  g_assert_null (message);
  assert_matches_torch (sd, "small.pth", TRUE);
  /* A name that is the prefix itself would become empty. */
  g_assert_cmpint (lt_state_dict_strip_prefix (sd, lt_state_dict_name (sd, 0), &message), ==,
                   LT_ERROR_MISMATCH);
  lt_string_free (message);
  lt_state_dict_free (sd);
}

static guint
count_files (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  return n;
}

static void
test_safetensors_replaces_atomically (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *target = NULL;
  g_autofree char *source = NULL;
  g_autofree char *contents = NULL;
  LtStateDict *sd;
  LtStateDict *again;

  if (!require_files ())
    return;
  dir = g_dir_make_tmp ("leafscope-atomic-XXXXXX", NULL);
  target = g_build_filename (dir, "model.safetensors", NULL);
  g_assert_true (g_file_set_contents (target, "old contents", -1, NULL));
  source = gen_path ("small.pth");
  sd = load_ok (source);
  save_ok (sd, target);

  /* The old file is replaced and no temporary file is left beside it. */
  g_assert_cmpuint (count_files (dir), ==, 1);
  again = load_ok (target);
  assert_matches_torch (again, "small.pth", FALSE);

  lt_state_dict_free (again);
  lt_state_dict_free (sd);
  g_assert_cmpint (g_remove (target), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

/* A file size limit makes write() fail with EFBIG, the way a full disk fails with ENOSPC. */
static void
test_safetensors_disk_full (void)
{
  g_autofree char *dir = NULL;
  g_autofree char *target = NULL;

  if (!require_files ())
    return;
  if (g_test_subprocess ())
    {
      const char *target_env = g_getenv ("TEST_WEIGHTS_TARGET");
      g_autofree char *source = gen_path ("effnet.pth");
      struct rlimit limit = { 64 * 1024, 64 * 1024 };
      LtStateDict *sd = load_ok (source);
      char *message = NULL;

      signal (SIGXFSZ, SIG_IGN);
      g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
      g_assert_cmpint (lt_state_dict_save_safetensors (sd, target_env, &message), ==, LT_ERROR_IO);
      g_assert_true (g_str_has_prefix (message, target_env));
      g_assert_nonnull (strstr (message, g_strerror (EFBIG)));
      g_assert_nonnull (strstr (message, "free some disk space"));
      lt_string_free (message);
      lt_state_dict_free (sd);
      return;
    }

  dir = g_dir_make_tmp ("leafscope-full-XXXXXX", NULL);
  target = g_build_filename (dir, "model.safetensors", NULL);
  g_setenv ("TEST_WEIGHTS_TARGET", target, TRUE);
  g_test_trap_subprocess (NULL, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
  /* Neither the target nor a temporary file remains. */
  g_assert_cmpuint (count_files (dir), ==, 0);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_safetensors_bad_destination (void)
{
  g_autofree char *source = NULL;
  LtStateDict *sd;
  char *message = NULL;

  if (!require_files ())
    return;
  source = gen_path ("small.pth");
  sd = load_ok (source);
  g_assert_cmpint (lt_state_dict_save_safetensors (sd, "/nonexistent-leafscope-dir/w.safetensors",
                                                   &message), ==, LT_ERROR_IO);
  g_assert_nonnull (strstr (message, "cannot create a file in /nonexistent-leafscope-dir"));
  lt_string_free (message);
  lt_state_dict_free (sd);
}

static void
test_api_arguments (void)
{
  LtStateDict *sd = (LtStateDict *) 0x1;
  char *message = NULL;
  guint8 byte;

  g_assert_cmpint (lt_state_dict_load (NULL, &sd, &message), ==, LT_ERROR_INVALID_ARGUMENT);
  g_assert_null (sd);
  g_assert_nonnull (message);
  lt_string_free (message);
  message = NULL;
  g_assert_cmpuint (lt_state_dict_count (NULL), ==, 0);
  g_assert_null (lt_state_dict_name (NULL, 0));
  g_assert_cmpint (lt_state_dict_shape (NULL, 0, NULL, 0), ==, -1);
  g_assert_cmpint (lt_state_dict_numel (NULL, 0), ==, -1);
  g_assert_null (lt_state_dict_dtype_name (NULL, 0));
  g_assert_null (lt_state_dict_metadata (NULL, "x"));
  g_assert_cmpint (lt_state_dict_read (NULL, 0, &byte, 1, &message), ==, LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (message);
  message = NULL;
  lt_state_dict_free (NULL);

  if (!require_files ())
    return;
  {
    g_autofree char *path = gen_path ("small.pth");
    sd = load_ok (path);
  }
  /* Out of range, and a buffer of the wrong size. */
  g_assert_null (lt_state_dict_name (sd, lt_state_dict_count (sd)));
  g_assert_cmpint (lt_state_dict_shape (sd, lt_state_dict_count (sd), NULL, 0), ==, -1);
  g_assert_cmpint (lt_state_dict_read (sd, 0, &byte, 1, &message), ==, LT_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (message, "0.weight takes 432 bytes, not 1"));
  lt_string_free (message);
  message = NULL;
  /* The shape is reported even when the caller's array is too small for it. */
  g_assert_cmpint (lt_state_dict_shape (sd, 0, NULL, 0), ==, 4);
  g_assert_cmpint (lt_state_dict_set_metadata (sd, "key", "\xff", &message), ==,
                   LT_ERROR_INVALID_ARGUMENT);
  lt_string_free (message);
  lt_state_dict_free (sd);
}

/* A damaged file may be refused (FORMAT, UNSAFE) or, when the damage misses everything that
 * matters, read; anything else (a libtorch exception, a crash, a sanitizer report) is a bug. */
static LtStatus
assert_survives (const char *path)
{
  LtStateDict *sd = NULL;
  char *message = NULL;
  LtStatus status = lt_state_dict_load (path, &sd, &message);

  if (status != LT_OK && status != LT_ERROR_FORMAT && status != LT_ERROR_UNSAFE)
    g_error ("%s: unexpected status %s: %s", path, lt_status_name (status), message);
  if (status != LT_OK)
    {
      g_assert_nonnull (message);
      g_assert_null (sd);
      lt_string_free (message);
      return status;
    }
  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    g_free (tensor_sha256 (sd, i));
  lt_state_dict_free (sd);
  return status;
}

static void
test_fuzz_pickles (void)
{
  guint n = 0;
  guint outcomes[LT_ERROR_UNKNOWN + 1] = { 0 };

  if (!require_files ())
    return;
  for (;; n++)
    {
      g_autofree char *name = g_strdup_printf ("fuzz-%03u.pth", n);
      g_autofree char *path = gen_path (name);

      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        break;
      outcomes[assert_survives (path)]++;
    }
  g_assert_cmpuint (n, ==, 400);
  g_test_message ("read %u, refused as damaged %u, refused as unsafe %u", outcomes[LT_OK],
                  outcomes[LT_ERROR_FORMAT], outcomes[LT_ERROR_UNSAFE]);
}

/* Random damage to the bytes of a whole file: zip directories, local headers, safetensors
 * headers. The seed is fixed so that a failure can be replayed. */
static void
test_fuzz_bytes (gconstpointer data)
{
  const char *file = data;
  g_autofree char *source = NULL;
  g_autofree char *target = NULL;
  g_autofree char *original = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (1950);
  gsize length;

  if (!require_files ())
    return;
  source = gen_path (file);
  target = g_strconcat (source, ".fuzz", NULL);
  g_assert_true (g_file_get_contents (source, &original, &length, NULL));
  for (int round = 0; round < 300; round++)
    {
      g_autofree char *bytes = g_memdup2 (original, length);
      gsize size = length;
      int damage = g_rand_int_range (rand, 1, 5);

      for (int k = 0; k < damage; k++)
        {
          gsize at = g_rand_int_range (rand, 0, (gint32) size);

          switch (g_rand_int_range (rand, 0, 4))
            {
            case 0:
              bytes[at] ^= (char) (1 << g_rand_int_range (rand, 0, 8));
              break;
            case 1:
              bytes[at] = (char) g_rand_int_range (rand, 0, 256);
              break;
            case 2:
              memset (bytes + at, 0xff, MIN (8, size - at));
              break;
            default:
              size = MAX (at, 1);
              break;
            }
        }
      g_assert_true (g_file_set_contents (target, bytes, (gssize) size, NULL));
      assert_survives (target);
    }
  g_remove (target);
}

typedef struct
{
  const char *file;
  LtStatus status;
  const char *message;
} Hostile;

static const Hostile hostile_files[] = {
  { "evil-system.pth", LT_ERROR_UNSAFE, "names the Python callable posix.system" },
  { "evil-eval.pth", LT_ERROR_UNSAFE, "names the Python callable builtins.eval" },
  { "evil-popen.pth", LT_ERROR_UNSAFE, "names the Python callable subprocess.Popen" },
  { "evil-inst.pth", LT_ERROR_UNSAFE, "uses the pickle opcode INST" },
  { "evil-system-protocol0.pth", LT_ERROR_UNSAFE, "names the Python callable posix.system" },
  { "evil-inst-protocol0.pth", LT_ERROR_UNSAFE, "uses the pickle opcode INST" },
  { "evil-persid-protocol0.pth", LT_ERROR_UNSAFE, "names the Python callable os.system" },
  { "persid-protocol0-garbage.pth", LT_ERROR_FORMAT,
    "a PERSID opcode whose persistent id is not a torch storage: __import__('os')" },
  { "set-protocol4.pth", LT_ERROR_FORMAT,
    "uses the pickle opcode EMPTY_SET, which builds a set; a state dict holds none" },
  { "whole-model.pth", LT_ERROR_UNSAFE, "torch.nn.modules.linear.Linear" },
  { "view-past-end.pth", LT_ERROR_FORMAT, "reaches element 14 of a storage of 10 elements" },
  { "view-negative-size.pth", LT_ERROR_FORMAT, "has a negative size" },
  { "view-negative-stride.pth", LT_ERROR_FORMAT, "has a negative stride" },
  { "view-negative-offset.pth", LT_ERROR_FORMAT, "has a negative storage offset" },
  { "view-numel-overflow.pth", LT_ERROR_FORMAT, "has more elements than can be counted" },
  { "view-stride-overflow.pth", LT_ERROR_FORMAT, "reaches past the end of its storage" },
  { "view-expanded.pth", LT_ERROR_FORMAT, "overlapping views are not supported" },
  { "view-rank-mismatch.pth", LT_ERROR_FORMAT, "has 2 sizes but 1 strides" },
  { "truncated.pth", LT_ERROR_FORMAT, "no end record: the file is truncated" },
  { "short-record.pth", LT_ERROR_FORMAT,
    "holds 100 bytes but is declared to hold 108 float32 values" },
  { "flipped-byte.pth", LT_ERROR_FORMAT, "small/data/0 is damaged (CRC-32 mismatch)" },
  { "deflated.pth", LT_ERROR_FORMAT, "is compressed (zip method 8)" },
  { "no-pickle.zip", LT_ERROR_FORMAT, "zip archive without data.pkl" },
  { "torchscript.pt", LT_ERROR_FORMAT, "TorchScript module" },
  { "legacy.pth", LT_ERROR_FORMAT, "unsupported format: legacy torch.save file; re-save it "
                                   "with torch.save in PyTorch >= 1.6" },
  { "plain.pkl", LT_ERROR_FORMAT, "plain Python pickle" },
  { "list.pth", LT_ERROR_FORMAT, "it holds a list, not a dict of named tensors" },
  { "epoch.pth", LT_ERROR_FORMAT, "entry \"epoch\" is an int, not a tensor" },
  { "deep.pth", LT_ERROR_FORMAT, "it holds a tuple" },
  { "cyclic.pth", LT_ERROR_FORMAT, "it holds a list" },
  { "bad-memo.pth", LT_ERROR_FORMAT, "memo entry 7, which was never stored" },
  { "unterminated.pth", LT_ERROR_FORMAT, "ends in the middle of an opcode" },
  { "overlapping-members.pth", LT_ERROR_FORMAT,
    "members archive/data/0 and archive/data/1 overlap" },
  { "text.txt", LT_ERROR_FORMAT, "it is a text file" },
  { "empty.pth", LT_ERROR_FORMAT, "the file is empty" },
  { "page.pth", LT_ERROR_FORMAT, "it is a web page" },
  { "lfs.pth", LT_ERROR_FORMAT, "Git LFS pointer" },
  { "st-header-too-big.safetensors", LT_ERROR_FORMAT,
    "header (1000 bytes) is larger than the file (15 bytes)" },
  { "st-absurd-header.safetensors", LT_ERROR_FORMAT, "more than the 100 MB the format allows" },
  { "st-out-of-range.safetensors", LT_ERROR_FORMAT, "data_offsets [0, 16] out of range" },
  { "st-overlap.safetensors", LT_ERROR_FORMAT,
    "tensors \"a\" and \"b\" have overlapping data_offsets" },
  { "st-size-mismatch.safetensors", LT_ERROR_FORMAT,
    "data_offsets span 16 bytes but F32 of that shape takes 12" },
  { "st-unknown-dtype.safetensors", LT_ERROR_FORMAT, "unknown dtype \"F7\"" },
  { "st-duplicate.safetensors", LT_ERROR_FORMAT, "header lists \"a\" twice" },
  { "st-bad-json.safetensors", LT_ERROR_FORMAT, "header is not valid JSON" },
  { "st-trailing.safetensors", LT_ERROR_FORMAT, "4 bytes after the last tensor" },
  { "st-gap.safetensors", LT_ERROR_FORMAT, "4 unused bytes before tensor \"a\"" },
  { "st-metadata.safetensors", LT_ERROR_FORMAT, "__metadata__ entry \"a\" is not a string" },
  { "st-shape-overflow.safetensors", LT_ERROR_FORMAT, "more elements than can be counted" },
  { "st-too-many-dims.safetensors", LT_ERROR_FORMAT, "its shape has 65 dimensions" },
  { "does-not-exist.pth", LT_ERROR_IO, "No such file or directory" },
  { ".", LT_ERROR_IO, "Is a directory" },
};

static void
test_hostile (gconstpointer data)
{
  const Hostile *h = data;
  g_autofree char *path = NULL;
  g_autofree char *marker = NULL;
  LtStateDict *sd = (LtStateDict *) 0x1;
  char *message = NULL;
  LtStatus status;

  if (!require_files ())
    return;
  path = gen_path (h->file);
  status = lt_state_dict_load (path, &sd, &message);
  g_test_message ("%s: %s", lt_status_name (status), message);
  g_assert_cmpstr (lt_status_name (status), ==, lt_status_name (h->status));
  g_assert_null (sd);
  g_assert_nonnull (message);
  g_assert_true (g_str_has_prefix (message, path));
  g_assert_nonnull (strstr (message, h->message));
  lt_string_free (message);

  /* The hostile pickles would create this file if anything ran them. */
  marker = gen_path ("marker");
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
}

static void
remove_generated (void)
{
  g_autoptr(GDir) d = g_dir_open (gen_dir, 0, NULL);
  const char *name;

  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = gen_path (name);
      g_remove (path);
    }
  g_rmdir (gen_dir);
}

int
main (int argc, char *argv[])
{
  const char *python = g_getenv ("LEAFSCOPE_PYTHON");
  const char *shared = g_getenv ("LEAFSCOPE_SHARED");
  int result;

  leaf_test_init (&argc, &argv);

  if (shared != NULL)
    {
      leafnet_path = g_build_filename (shared, "weights", "leafnet-b0.pth", NULL);
      if (!g_file_test (leafnet_path, G_FILE_TEST_IS_REGULAR))
        g_clear_pointer (&leafnet_path, g_free);
    }
  /* A subprocess test reuses the files of the process that started it. */
  if (g_test_subprocess ())
    gen_dir = g_strdup (g_getenv ("TEST_WEIGHTS_GEN_DIR"));
  else if (python != NULL && g_file_test (python, G_FILE_TEST_IS_EXECUTABLE))
    {
      const char *args[] = { NULL, NULL, NULL, NULL };
      g_autofree char *output = NULL;
      int status;

      gen_dir = g_dir_make_tmp ("test-weights-XXXXXX", NULL);
      args[0] = gen_dir;
      if (leafnet_path != NULL)
        {
          args[1] = "--leafnet";
          args[2] = leafnet_path;
        }
      output = run_python (args, &status);
      if (!g_spawn_check_wait_status (status, NULL))
        g_error ("make-weights.py failed: %s", output);
      g_setenv ("TEST_WEIGHTS_GEN_DIR", gen_dir, TRUE);
    }
  if (gen_dir != NULL)
    load_expected ();

  g_test_add_func ("/weights/header/compiles-as-cxx", test_header_cxx);
  g_test_add_func ("/weights/api/arguments", test_api_arguments);
  for (const char *const *f = (const char *const[]) { "small.pth", "small.safetensors",
                                                      "dtypes.pth", "views.pth",
                                                      "params.pth", "checkpoint.pth",
                                                      "protocol0.pth", "protocol1.pth",
                                                      "protocol4.pth", "dtypes-protocol0.pth",
                                                      "checkpoint-protocol0.pth",
                                                      "checkpoint-protocol1.pth",
                                                      "effnet.pth", "module-prefixed.pth", NULL };
       *f != NULL; f++)
    {
      g_autofree char *test = g_strdup_printf ("/weights/torch/reads/%s", *f);
      g_test_add_data_func (test, *f, test_reads_like_torch);
    }
  g_test_add_func ("/weights/torch/reads/leafnet-b0.pth", test_reads_leafnet);
  g_test_add_func ("/weights/safetensors/reads-python-file", test_reads_python_safetensors);
  g_test_add_func ("/weights/safetensors/same-bytes-as-reference",
                   test_safetensors_same_bytes_as_reference);
  g_test_add_data_func ("/weights/safetensors/round-trip/effnet.pth", "effnet.pth",
                        test_safetensors_round_trip);
  g_test_add_data_func ("/weights/safetensors/round-trip/dtypes.pth", "dtypes.pth",
                        test_safetensors_round_trip);
  g_test_add_data_func ("/weights/safetensors/round-trip/views.pth", "views.pth",
                        test_safetensors_round_trip);
  g_test_add_func ("/weights/safetensors/replaces-atomically", test_safetensors_replaces_atomically);
  g_test_add_func ("/weights/safetensors/disk-full", test_safetensors_disk_full);
  g_test_add_func ("/weights/safetensors/bad-destination", test_safetensors_bad_destination);
  for (const char *const *f = (const char *const[]) { "effnet.pth", "dtypes.pth", "views.pth",
                                                      "checkpoint.pth", NULL };
       *f != NULL; f++)
    {
      g_autofree char *test = g_strdup_printf ("/weights/torch/round-trip/%s", *f);
      g_test_add_data_func (test, *f, test_torch_round_trip);
    }
  g_test_add_func ("/weights/torch/bad-destination", test_torch_bad_destination);
  g_test_add_func ("/weights/torch/strip-prefix", test_strip_prefix);
  g_test_add_func ("/weights/fuzz/pickles", test_fuzz_pickles);
  g_test_add_data_func ("/weights/fuzz/bytes/small.pth", "small.pth", test_fuzz_bytes);
  g_test_add_data_func ("/weights/fuzz/bytes/views.pth", "views.pth", test_fuzz_bytes);
  g_test_add_data_func ("/weights/fuzz/bytes/small.safetensors", "small.safetensors",
                        test_fuzz_bytes);
  g_test_add_data_func ("/weights/fuzz/bytes/python.safetensors", "python.safetensors",
                        test_fuzz_bytes);
  for (gsize i = 0; i < G_N_ELEMENTS (hostile_files); i++)
    {
      g_autofree char *test = g_strdup_printf ("/weights/hostile/%s",
                                               g_str_equal (hostile_files[i].file, ".")
                                                   ? "directory" : hostile_files[i].file);
      g_test_add_data_func (test, &hostile_files[i], test_hostile);
    }

  result = g_test_run ();

  if (gen_dir != NULL && !g_test_subprocess ())
    remove_generated ();
  g_clear_pointer (&expected, g_hash_table_unref);
  g_free (gen_dir);
  g_free (leafnet_path);
  return result;
}
