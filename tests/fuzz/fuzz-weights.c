/* fuzz-weights.c: libFuzzer target for the weight-file readers
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * lt_state_dict_load() picks the reader from the content, so one target covers both the
 * torch.save path (zip archive, restricted unpickler) and safetensors; it is built twice,
 * as fuzz-checkpoint and fuzz-safetensors, each started from its own seed corpus. The input
 * goes through a memfd because the readers take a path and read with pread().
 */

#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lt-weights.h"

/* Reading a tensor allocates numel times its element size: keep what a loaded file may ask
 * for below libFuzzer's memory limit, as a real caller would check a shape before reading. */
#define MAX_READ_BYTES (16u << 20)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static size_t
element_size (const char *dtype)
{
  static const struct { const char *name; size_t size; } sizes[] = {
    { "float32", 4 }, { "float16", 2 }, { "bfloat16", 2 }, { "float64", 8 }, { "int64", 8 },
    { "int32", 4 }, { "int16", 2 }, { "int8", 1 }, { "uint8", 1 }, { "bool", 1 },
  };

  for (size_t i = 0; dtype != NULL && i < sizeof sizes / sizeof sizes[0]; i++)
    if (strcmp (dtype, sizes[i].name) == 0)
      return sizes[i].size;
  abort ();  /* the header promises one of these names */
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static int fd = -1;
  static char path[64];
  LtStateDict *sd = NULL;
  char *error = NULL;

  if (fd < 0)
    {
      fd = memfd_create ("fuzz-weights", 0);
      if (fd < 0)
        abort ();
      snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    }
  if (ftruncate (fd, 0) != 0 || pwrite (fd, data, size, 0) != (ssize_t) size)
    abort ();

  if (lt_state_dict_load (path, &sd, &error) != LT_OK)
    {
      /* Every refusal explains itself. */
      if (error == NULL || error[0] == '\0')
        abort ();
      lt_string_free (error);
      return 0;
    }

  for (size_t i = 0; i < lt_state_dict_count (sd); i++)
    {
      int64_t dims[LT_MAX_DIMS];
      int64_t numel = lt_state_dict_numel (sd, i);
      size_t esize = element_size (lt_state_dict_dtype_name (sd, i));
      int n_dims = lt_state_dict_shape (sd, i, dims, LT_MAX_DIMS);
      int64_t product = 1;

      if (lt_state_dict_name (sd, i) == NULL || n_dims < 0 || n_dims > LT_MAX_DIMS || numel < 0)
        abort ();
      for (int d = 0; d < n_dims; d++)
        product *= dims[d];
      if (product != numel)
        abort ();
      if ((uint64_t) numel <= MAX_READ_BYTES / esize)
        {
          void *buffer = malloc ((size_t) numel * esize + 1);
          if (lt_state_dict_read (sd, i, buffer, (size_t) numel * esize, &error) != LT_OK)
            {
              lt_string_free (error);
              error = NULL;
            }
          free (buffer);
        }
    }
  for (size_t i = 0; lt_state_dict_metadata_key (sd, i) != NULL; i++)
    if (lt_state_dict_metadata (sd, lt_state_dict_metadata_key (sd, i)) == NULL)
      abort ();
  lt_state_dict_free (sd);
  return 0;
}
