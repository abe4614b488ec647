/* leaf-run-control.c: pause, resume, stop and the next run, between a caller and the training
 * thread
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#define G_LOG_DOMAIN "leaf-run"

#include "config.h"

#include "leaf-run-control.h"

void
leaf_run_control_init (LeafRunControl *control)
{
  g_mutex_init (&control->lock);
  g_cond_init (&control->cond);
}

void
leaf_run_control_clear (LeafRunControl *control)
{
  g_mutex_clear (&control->lock);
  g_cond_clear (&control->cond);
}

void
leaf_run_control_reset (LeafRunControl *control)
{
  g_mutex_lock (&control->lock);
  control->paused = FALSE;
  control->stop = FALSE;
  g_mutex_unlock (&control->lock);
}

void
leaf_run_control_set_paused (LeafRunControl *control,
                             gboolean        paused)
{
  g_mutex_lock (&control->lock);
  control->paused = paused;
  g_cond_broadcast (&control->cond);
  g_mutex_unlock (&control->lock);
}

gboolean
leaf_run_control_is_paused (LeafRunControl *control)
{
  gboolean paused;

  g_mutex_lock (&control->lock);
  paused = control->paused;
  g_mutex_unlock (&control->lock);
  return paused;
}

void
leaf_run_control_request_stop (LeafRunControl *control)
{
  g_mutex_lock (&control->lock);
  control->stop = TRUE;
  g_cond_broadcast (&control->cond);
  g_mutex_unlock (&control->lock);
}

void
leaf_run_control_push_job (LeafRunControl *control,
                           gpointer        job)
{
  g_mutex_lock (&control->lock);
  g_assert (control->job == NULL);
  control->job = job;
  g_cond_broadcast (&control->cond);
  g_mutex_unlock (&control->lock);
}

void
leaf_run_control_quit (LeafRunControl *control)
{
  g_mutex_lock (&control->lock);
  control->quit = TRUE;
  control->stop = TRUE;
  g_cond_broadcast (&control->cond);
  g_mutex_unlock (&control->lock);
}

gpointer
leaf_run_control_next_job (LeafRunControl *control)
{
  gpointer job;

  g_mutex_lock (&control->lock);
  while (control->job == NULL && !control->quit)
    g_cond_wait (&control->cond, &control->lock);
  job = control->quit ? NULL : g_steal_pointer (&control->job);
  g_mutex_unlock (&control->lock);
  return job;
}

gboolean
leaf_run_control_checkpoint (LeafRunControl *control)
{
  gboolean stop;

  g_mutex_lock (&control->lock);
  while (control->paused && !control->stop)
    g_cond_wait (&control->cond, &control->lock);
  stop = control->stop;
  g_mutex_unlock (&control->lock);
  return stop;
}
