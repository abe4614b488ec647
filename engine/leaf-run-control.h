/* leaf-run-control.h: pause, resume, stop and the next run, between a caller and the training
 * thread
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Shared between the caller (who starts, pauses, resumes and stops runs) and the training
 * thread (who waits for the next run, and while paused). */
typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean paused;
  gboolean stop;
  gboolean quit;
  gpointer job;         /* the next run's LeafRunSetup, until the thread takes it */
} LeafRunControl;

void     leaf_run_control_init           (LeafRunControl *control);
void     leaf_run_control_clear          (LeafRunControl *control);
void     leaf_run_control_reset          (LeafRunControl *control);
void     leaf_run_control_set_paused     (LeafRunControl *control,
                                          gboolean        paused);
gboolean leaf_run_control_is_paused      (LeafRunControl *control);
void     leaf_run_control_request_stop   (LeafRunControl *control);
void     leaf_run_control_push_job       (LeafRunControl *control,
                                          gpointer        job);
void     leaf_run_control_quit           (LeafRunControl *control);
/* Waits for a job, which it returns, or until told to quit (NULL). */
gpointer leaf_run_control_next_job       (LeafRunControl *control);
/* Blocks while paused; returns TRUE when the run should stop. */
gboolean leaf_run_control_checkpoint     (LeafRunControl *control);

G_END_DECLS
