/* bench-forward.c: EfficientNet-B0 inference throughput through the shim (see run.sh)
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "bench-forward"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <glib.h>

#include "lt.h"

static int batch = 32;
static int size = 224;
static int iterations = 5;
static int cut = 7;
static int threads = 0;
static gboolean json;

static const GOptionEntry entries[] = {
  { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Images per batch (32)", "N" },
  { "size", 's', 0, G_OPTION_ARG_INT, &size, "Image side in pixels (224)", "PX" },
  { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "Timed batches per measurement, the best counts (5)", "N" },
  { "cut", 'c', 0, G_OPTION_ARG_INT, &cut, "Prefix features[0:cut] to time (7)", "K" },
  { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads, 0 for all cores (0)", "N" },
  { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per line", NULL },
  { NULL },
};

static void
check (LtStatus status, char *error)
{
  if (status == LT_OK)
    return;
  g_printerr ("bench-forward: %s\n", error != NULL ? error : lt_status_name (status));
  exit (1);
}

typedef struct
{
  double images_per_second;     /* from the fastest batch's wall-clock time */
  double images_per_cpu_second; /* from the cheapest batch's CPU time, all threads together */
} Rate;

static double
cpu_seconds (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* The best of `iterations` batches after one untimed batch: on a shared machine the fastest
 * batch is the one least disturbed by others, and CPU time is the cost others do not inflate. */
static Rate
measure (LtModel *model, const LtTensor *images, int prefix_cut)
{
  double best_wall = G_MAXDOUBLE, best_cpu = G_MAXDOUBLE;
  char *error = NULL;

  for (int i = -1; i < iterations; i++)
    {
      gint64 start = g_get_monotonic_time ();
      double cpu_start = cpu_seconds ();
      LtTensor *out = NULL;

      if (prefix_cut < 0)
        check (lt_model_forward (model, images, &out, &error), error);
      else
        check (lt_model_forward_prefix (model, images, prefix_cut, &out, &error), error);
      lt_tensor_free (out);
      if (i < 0)
        continue;
      best_wall = MIN (best_wall, (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC);
      best_cpu = MIN (best_cpu, cpu_seconds () - cpu_start);
    }
  return (Rate) { batch / best_wall, batch / best_cpu };
}

static void
report (const char *what, Rate rate)
{
  if (json)
    printf ("{\"impl\": \"shim\", \"what\": \"%s\", \"batch\": %d, \"size\": %d, "
            "\"threads\": %d, \"images_per_second\": %.2f, \"images_per_cpu_second\": %.2f}\n",
            what, batch, size, lt_get_num_threads (), rate.images_per_second,
            rate.images_per_cpu_second);
  else
    printf ("shim  %-20s %8.1f img/s  %8.1f img/CPU-s  (batch %d, %d px, %d threads)\n", what,
            rate.images_per_second, rate.images_per_cpu_second, batch, size,
            lt_get_num_threads ());
  fflush (stdout);
}

int
main (int argc, char *argv[])
{
  g_autoptr(GOptionContext) context = g_option_context_new ("- time EfficientNet-B0 forward");
  g_autoptr(GError) option_error = NULL;
  g_autofree float *pixels = NULL;
  g_autofree char *prefix_name = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  LtModel *model = NULL;
  LtTensor *images = NULL;
  char *error = NULL;
  int64_t shape[4];
  gsize n;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &option_error))
    {
      g_printerr ("bench-forward: %s\n", option_error->message);
      return 2;
    }
  if (batch < 1 || size < 32 || iterations < 1 || cut < 0 || cut > LT_N_FEATURES)
    {
      g_printerr ("bench-forward: --batch >= 1, --size >= 32, --iterations >= 1, 0 <= --cut <= 9\n");
      return 2;
    }

  check (lt_init (threads, &error), error);
  lt_manual_seed (1);
  check (lt_model_new (1000, &model, &error), error);

  shape[0] = batch;
  shape[1] = 3;
  shape[2] = shape[3] = size;
  n = (gsize) batch * 3 * size * size;
  pixels = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    pixels[i] = (float) g_rand_double_range (rand, -2.0, 2.0);
  check (lt_tensor_new_f32 (pixels, shape, 4, &images, &error), error);

  report ("forward", measure (model, images, -1));
  prefix_name = g_strdup_printf ("features[0:%d]", cut);
  report (prefix_name, measure (model, images, cut));

  lt_tensor_free (images);
  lt_model_free (model);
  return 0;
}
