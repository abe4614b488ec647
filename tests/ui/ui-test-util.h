/* ui-test-util.h: helpers for the widget tests, which run under Xvfb
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "leaf-test.h"

#include <gtk/gtk.h>

#include "leaf-recipe.h"

G_BEGIN_DECLS

void        ui_test_init           (int           *argc,
                                    char        ***argv);
void        ui_test_iterate        (guint          ms);
gboolean    ui_test_wait_for       (GSourceFunc    condition,
                                    gpointer       data,
                                    guint          timeout_ms);
GdkTexture *ui_test_render         (GtkWidget     *widget);
guint       ui_test_count_pixels   (GdkTexture    *texture,
                                    const char    *color,
                                    int            tolerance);
gboolean    ui_test_press_key      (GtkWidget     *widget,
                                    guint          keyval,
                                    GdkModifierType modifiers);
GtkWidget  *ui_test_show           (GtkWidget     *child,
                                    int            width,
                                    int            height);
GtkWidget  *ui_test_find_label     (GtkWidget     *root,
                                    const char    *substring);
GtkWidget  *ui_test_find_type      (GtkWidget     *root,
                                    GType          type);
/* The first widget under root, shown or not, whose action is action_name. */
GtkWidget  *ui_test_find_actionable (GtkWidget    *root,
                                     const char   *action_name);
GtkWidget  *ui_test_focus_item     (GtkWidget     *list);
GtkWindow  *ui_test_find_toplevel  (GType          type);
GtkEventController *ui_test_find_controller (GtkWidget *widget,
                                             GType      type);
GtkWidget  *ui_test_find_message_dialog (void);
char       *ui_test_make_photos    (const char    *dir,
                                    const char * const *classes,
                                    guint          per_class);
char       *ui_test_make_catalog   (const char    *dir,
                                    const char * const *classes,
                                    guint          per_class);
void        ui_test_tiny_recipe    (LeafRecipe    *recipe);

G_END_DECLS
