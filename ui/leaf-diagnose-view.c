/* leaf-diagnose-view.c
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Photos wait in a queue and are diagnosed one at a time by the diagnosis service, on its
 * thread: decoding, and on first use loading the catalog's active model, happen there too, so
 * that dropping a hundred photos never blocks the window. Each result joins a list on the left;
 * the selected one is shown with its top three diagnoses.
 *
 * The heatmap of where the model looked is computed on demand by the same service, only for the
 * photo shown while the heatmap is switched on, and kept with its diagnosis. Whether to advise
 * an expert's opinion is decided when the result is shown rather than when it is made, so that
 * changing the threshold in Preferences applies at once.
 */

#define G_LOG_DOMAIN "leaf-diagnose-view"

#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "leaf-active-model.h"
#include "leaf-class-color.h"
#include "leaf-diagnose-view.h"
#include "leaf-diagnosis-service.h"
#include "leaf-error.h"
#include "leaf-image.h"
#include "leaf-import.h"
#include "leaf-mnemonic.h"
#include "leaf-settings.h"
#include "leaf-toast.h"

#define TOP_K 3

/* LeafDiagnosis */

struct _LeafDiagnosis
{
  GObject parent_instance;
  char *name;
  GFile *file;        /* NULL for a pasted image */
  GBytes *bytes;      /* the pasted image, to add it to the catalog */
  GdkTexture *texture;
  GdkTexture *heatmap; /* NULL until computed */
  LeafDiagnosisResult *result; /* with the photo as decoded and the model, for its heatmap */
  char *model_description;     /* the model that diagnosed it, as leaf_model_info_describe() */
};

G_DEFINE_FINAL_TYPE (LeafDiagnosis, leaf_diagnosis, G_TYPE_OBJECT)

static void
leaf_diagnosis_finalize (GObject *object)
{
  LeafDiagnosis *self = LEAF_DIAGNOSIS (object);

  g_clear_pointer (&self->name, g_free);
  g_clear_object (&self->file);
  g_clear_pointer (&self->bytes, g_bytes_unref);
  g_clear_object (&self->texture);
  g_clear_object (&self->heatmap);
  g_clear_pointer (&self->result, leaf_diagnosis_result_free);
  g_clear_pointer (&self->model_description, g_free);
  G_OBJECT_CLASS (leaf_diagnosis_parent_class)->finalize (object);
}

static void
leaf_diagnosis_class_init (LeafDiagnosisClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = leaf_diagnosis_finalize;
}

static void
leaf_diagnosis_init (LeafDiagnosis *self)
{
}

const char *
leaf_diagnosis_get_name (LeafDiagnosis *self)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSIS (self), NULL);
  return self->name;
}

guint
leaf_diagnosis_get_n_classes (LeafDiagnosis *self)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSIS (self), 0);
  return self->result->n_classes;
}

/**
 * leaf_diagnosis_get_class:
 * @rank: 0 for the most probable class
 *
 * Returns: the class at that rank
 */
const char *
leaf_diagnosis_get_class (LeafDiagnosis *self,
                          guint          rank)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSIS (self), NULL);
  g_return_val_if_fail (rank < self->result->n_classes, NULL);
  return self->result->classes[self->result->ranking[rank]];
}

double
leaf_diagnosis_get_probability (LeafDiagnosis *self,
                                guint          rank)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSIS (self), 0);
  g_return_val_if_fail (rank < self->result->n_classes, 0);
  return self->result->probabilities[self->result->ranking[rank]];
}

/**
 * leaf_diagnosis_get_heatmap:
 *
 * Returns: (transfer none) (nullable): the photo with the heatmap of its most probable class,
 *   once computed
 */
GdkTexture *
leaf_diagnosis_get_heatmap (LeafDiagnosis *self)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSIS (self), NULL);
  return self->heatmap;
}

/* LeafDiagnoseView */

/* A photo waiting for its diagnosis */
typedef struct
{
  GFile *file;             /* NULL for a pasted image */
  GBytes *bytes;           /* the pasted or dropped image, in a format Leafscope reads */
  char *name;
  char *model_description; /* of the model it is sent to */
  LeafDiagnoseView *view;  /* while the service diagnoses it */
} Job;

static void
job_free (gpointer data)
{
  Job *job = data;

  g_clear_object (&job->file);
  g_clear_pointer (&job->bytes, g_bytes_unref);
  g_clear_pointer (&job->name, g_free);
  g_clear_pointer (&job->model_description, g_free);
  g_clear_object (&job->view);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

struct _LeafDiagnoseView
{
  GtkWidget parent_instance;

  LeafCatalog *catalog;
  LeafDiagnosisService *service;
  GListStore *results;
  LeafDiagnosis *current;
  GQueue pending; /* Job */
  GCancellable *cancellable;
  gboolean busy;
  GSettings *settings;      /* NULL when the schema is not installed */
  gboolean show_heatmap;
  GCancellable *heatmap_cancellable; /* of the heatmap being computed, if any */
  LeafDiagnosis *heatmap_diagnosis;  /* whose heatmap that is */

  /* Template widgets */
  GtkStack *stack;
  GtkWidget *history_scroller;
  GtkWidget *history_separator;
  GtkListBox *history_list;
  GtkLabel *name_label;
  GtkSpinner *spinner;
  GtkPicture *photo;
  GtkSpinner *heatmap_spinner;
  GtkLabel *verdict_label;
  GtkLabel *confidence_label;
  GtkLabel *refer_label;
  GtkBox *top_box;
  GtkLabel *model_label;
  AdwStatusPage *no_model_page;
  AdwSplitButton *add_button;
};

G_DEFINE_FINAL_TYPE (LeafDiagnoseView, leaf_diagnose_view, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_SHOW_HEATMAP,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  TRAIN_REQUESTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void process_next (LeafDiagnoseView *self);

static LeafModelInfo *
active_model (LeafDiagnoseView *self)
{
  return self->catalog != NULL ? leaf_active_model_get (self->catalog) : NULL;
}

static void
update_page (LeafDiagnoseView *self)
{
  g_autoptr(LeafModelInfo) model = NULL;
  g_autoptr(LeafModelInfo) latest = NULL;
  const char *page = "empty";

  if (self->current != NULL)
    page = "result";
  else if (self->catalog != NULL && (model = active_model (self)) == NULL)
    {
      page = "no-model";
      /* Models, but none chosen: the user removed the active one or stopped every run. */
      latest = leaf_catalog_get_latest_model (self->catalog, NULL);
      adw_status_page_set_title (self->no_model_page, latest != NULL
                                 ? _("No Model Chosen") : _("No Trained Model"));
      adw_status_page_set_description (self->no_model_page, latest != NULL
                                       ? _("The catalog has models, but none is chosen to "
                                           "diagnose. In Train’s history, open a model’s menu "
                                           "and choose Use for Diagnosis.")
                                       : _("Label photos in the Library and train a model on "
                                           "them; it will then diagnose new photos here."));
    }
  gtk_stack_set_visible_child_name (self->stack, page);
}

static GtkWidget *
probability_row_new (const char *name,
                     double      probability)
{
  GtkWidget *grid = gtk_grid_new ();
  GtkWidget *label = gtk_label_new (name);
  g_autofree char *text = g_strdup_printf ("%.1f%%", probability * 100);
  GtkWidget *percent = gtk_label_new (text);
  GtkWidget *bar = gtk_level_bar_new_for_interval (0, 1);

  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_widget_add_css_class (percent, "numeric");
  gtk_widget_add_css_class (percent, "dim-label");
  gtk_level_bar_set_value (GTK_LEVEL_BAR (bar), probability);
  /* The default offsets colour a low value as a warning; here a low value is just small. */
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_LOW);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_HIGH);
  gtk_level_bar_remove_offset_value (GTK_LEVEL_BAR (bar), GTK_LEVEL_BAR_OFFSET_FULL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (bar), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
  gtk_grid_attach (GTK_GRID (grid), label, 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), percent, 1, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), bar, 0, 1, 2, 1);
  return grid;
}

static void
rebuild_add_menu (LeafDiagnoseView *self)
{
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autoptr(GPtrArray) classes = NULL;

  if (self->catalog != NULL)
    classes = leaf_catalog_list_classes (self->catalog, NULL);
  for (guint i = 0; classes && i < classes->len; i++)
    {
      LeafClassInfo *info = g_ptr_array_index (classes, i);
      g_autofree char *label = leaf_mnemonic_escape (info->name);
      g_autoptr(GMenuItem) item = g_menu_item_new (label, NULL);

      g_menu_item_set_action_and_target (item, "diagnose.add-as", "s", info->name);
      g_menu_append_item (menu, item);
    }
  adw_split_button_set_menu_model (self->add_button, G_MENU_MODEL (menu));
}

/* The one set in Preferences, or < 0 for the model's own, chosen on its validation set. */
static double
refer_threshold (LeafDiagnoseView *self)
{
  if (self->settings == NULL || g_settings_get_boolean (self->settings,
                                                        "refer-use-model-threshold"))
    return -1;
  return g_settings_get_double (self->settings, "refer-threshold");
}

/* Adding a photo to a catalog this user may only read would fail: the buttons say so first. */
static gboolean
catalog_writable (LeafDiagnoseView *self)
{
  return self->catalog != NULL && !leaf_catalog_is_read_only (self->catalog);
}

/* Says why a diagnosis is referred; a referred diagnosis offers no class to add the photo as by
 * default, so that the model's guess does not become a label by one click. */
static void
update_refer (LeafDiagnoseView *self)
{
  LeafReferral referral = self->current != NULL
                            ? leaf_diagnosis_result_get_referral (self->current->result,
                                                                  refer_threshold (self))
                            : LEAF_REFERRAL_NONE;

  gtk_widget_set_visible (GTK_WIDGET (self->refer_label), referral != LEAF_REFERRAL_NONE);
  if (referral == LEAF_REFERRAL_UNFAMILIAR)
    {
      gtk_label_set_text (self->refer_label,
                          _("Unlike the photos this model was trained on: refer to an expert"));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->refer_label),
                                   _("The photo differs from every photo the model learnt from "
                                     "(another background, light, blur or subject), so its "
                                     "answer may be wrong however sure it looks."));
    }
  else if (referral == LEAF_REFERRAL_LOW_CONFIDENCE)
    {
      gtk_label_set_text (self->refer_label, _("Uncertain: refer to an expert"));
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->refer_label),
                                   _("The model is not confident about this photo; have an "
                                     "expert confirm the diagnosis."));
    }

  if (self->current != NULL)
    {
      /* Translators: button that imports the photo and labels it; %s is a class */
      g_autofree char *add_label = g_strdup_printf (_("Add to Catalog as %s"),
                                                    leaf_diagnosis_get_class (self->current, 0));

      adw_split_button_set_label (self->add_button, referral == LEAF_REFERRAL_NONE
                                                    ? add_label : _("Add to Catalog as…"));
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "diagnose.add-as-top",
                                     referral == LEAF_REFERRAL_NONE && catalog_writable (self));
    }
}

static void
cancel_heatmap (LeafDiagnoseView *self)
{
  if (self->heatmap_cancellable == NULL)
    return;
  g_cancellable_cancel (self->heatmap_cancellable);
  g_clear_object (&self->heatmap_cancellable);
  g_clear_object (&self->heatmap_diagnosis);
  gtk_spinner_stop (self->heatmap_spinner);
}

static void update_photo (LeafDiagnoseView *self);

static void
on_heatmap_ready_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(LeafDiagnoseView) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) heatmap = NULL;
  g_autoptr(LeafDiagnosis) diagnosis = NULL;

  heatmap = leaf_diagnosis_service_heatmap_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                   &error);

  /* A cancelled job was replaced by another, or the view went away: leave both alone. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  diagnosis = g_steal_pointer (&self->heatmap_diagnosis);
  g_clear_object (&self->heatmap_cancellable);
  gtk_spinner_stop (self->heatmap_spinner);
  if (heatmap == NULL)
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      return;
    }
  g_clear_object (&diagnosis->heatmap);
  diagnosis->heatmap = gdk_texture_new_for_pixbuf (heatmap);
  if (diagnosis == self->current)
    update_photo (self);
}

/* Shows the photo, or its heatmap when switched on, computing it the first time. */
static void
update_photo (LeafDiagnoseView *self)
{
  LeafDiagnosis *diagnosis = self->current;
  gboolean heatmap = self->show_heatmap && diagnosis != NULL && diagnosis->heatmap != NULL;

  if (diagnosis == NULL)
    return;
  gtk_picture_set_paintable (self->photo, GDK_PAINTABLE (heatmap ? diagnosis->heatmap
                                                                 : diagnosis->texture));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->photo),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  heatmap ? _("Heatmap of where the model found the evidence for "
                                              "its diagnosis: red is strong, blue is none")
                                          : "",
                                  -1);

  if (self->heatmap_diagnosis == diagnosis && self->show_heatmap)
    return;
  cancel_heatmap (self);
  if (self->show_heatmap && diagnosis->heatmap == NULL)
    {
      self->heatmap_cancellable = g_cancellable_new ();
      self->heatmap_diagnosis = g_object_ref (diagnosis);
      gtk_spinner_start (self->heatmap_spinner);
      leaf_diagnosis_service_heatmap_async (self->service, diagnosis->result->model_path,
                                            LEAF_DIAGNOSE_DEFAULT, diagnosis->result->image,
                                            (int) diagnosis->result->ranking[0],
                                            LEAF_HEATMAP_OVER_PHOTO, self->heatmap_cancellable,
                                            on_heatmap_ready_cb, g_object_ref (self));
    }
}

static void
show_diagnosis (LeafDiagnoseView *self,
                LeafDiagnosis    *diagnosis)
{
  GtkWidget *child;
  const char *top;

  g_set_object (&self->current, diagnosis);
  if (diagnosis == NULL)
    {
      update_page (self);
      return;
    }

  top = leaf_diagnosis_get_class (diagnosis, 0);
  gtk_label_set_text (self->name_label, diagnosis->name);
  update_photo (self);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->photo),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, diagnosis->name, -1);
  gtk_label_set_text (self->verdict_label, top);
  {
    /* Translators: how probable the diagnosis is, e.g. "87% probable" */
    g_autofree char *confidence = g_strdup_printf (_("%.0f%% probable"),
                                                   leaf_diagnosis_get_probability (diagnosis, 0)
                                                   * 100);

    gtk_label_set_text (self->confidence_label, confidence);
  }
  {
    /* Translators: %s describes a model, as in “Run 3 · 87 % validation · 4 Dec” */
    g_autofree char *by = g_strdup_printf (_("Diagnosed by %s"), diagnosis->model_description);
    const char *trained_on = diagnosis->result->trained_on;
    g_autofree char *text = trained_on != NULL ? g_strdup_printf ("%s\n%s", by, trained_on)
                                               : g_steal_pointer (&by);

    gtk_label_set_text (self->model_label, text);
  }

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->top_box))) != NULL)
    gtk_box_remove (self->top_box, child);
  for (guint rank = 0; rank < MIN (TOP_K, leaf_diagnosis_get_n_classes (diagnosis)); rank++)
    gtk_box_append (self->top_box,
                    probability_row_new (leaf_diagnosis_get_class (diagnosis, rank),
                                         leaf_diagnosis_get_probability (diagnosis, rank)));

  update_refer (self);
  rebuild_add_menu (self);
  gtk_stack_set_visible_child_name (self->stack, "result");
}

static GtkWidget *
history_row_new (gpointer item,
                 gpointer user_data)
{
  LeafDiagnosis *diagnosis = item;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  GtkWidget *picture = gtk_picture_new_for_paintable (GDK_PAINTABLE (diagnosis->texture));
  GtkWidget *labels = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *name = gtk_label_new (diagnosis->name);
  g_autofree char *text = g_strdup_printf ("%s · %.0f%%", leaf_diagnosis_get_class (diagnosis, 0),
                                           leaf_diagnosis_get_probability (diagnosis, 0) * 100);
  GtkWidget *verdict = gtk_label_new (text);

  gtk_picture_set_content_fit (GTK_PICTURE (picture), GTK_CONTENT_FIT_COVER);
  gtk_widget_set_size_request (picture, 40, 40);
  gtk_widget_set_overflow (picture, GTK_OVERFLOW_HIDDEN);
  gtk_widget_add_css_class (picture, "history-thumbnail");
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_label_set_xalign (GTK_LABEL (verdict), 0);
  gtk_label_set_ellipsize (GTK_LABEL (verdict), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (verdict, "caption");
  gtk_widget_add_css_class (verdict, "dim-label");
  gtk_box_append (GTK_BOX (labels), name);
  gtk_box_append (GTK_BOX (labels), verdict);
  gtk_widget_set_valign (labels, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), picture);
  gtk_box_append (GTK_BOX (box), labels);
  return box;
}

static void
on_history_row_selected_cb (LeafDiagnoseView *self,
                            GtkListBoxRow    *row)
{
  g_autoptr(LeafDiagnosis) diagnosis = NULL;

  if (row == NULL)
    return;
  diagnosis = g_list_model_get_item (G_LIST_MODEL (self->results),
                                     gtk_list_box_row_get_index (row));
  if (diagnosis != self->current)
    show_diagnosis (self, diagnosis);
}

static void
on_results_changed_cb (LeafDiagnoseView *self)
{
  gboolean several = g_list_model_get_n_items (G_LIST_MODEL (self->results)) > 1;

  gtk_widget_set_visible (self->history_scroller, several);
  gtk_widget_set_visible (self->history_separator, several);
}

/* Diagnosing */

static LeafDiagnosis *
diagnosis_new (Job                 *job,
               LeafDiagnosisResult *result)
{
  LeafDiagnosis *diagnosis = g_object_new (LEAF_TYPE_DIAGNOSIS, NULL);

  diagnosis->name = g_strdup (job->name);
  diagnosis->file = job->file ? g_object_ref (job->file) : NULL;
  diagnosis->bytes = job->bytes ? g_bytes_ref (job->bytes) : NULL;
  diagnosis->texture = gdk_texture_new_for_pixbuf (result->image);
  diagnosis->result = result;
  diagnosis->model_description = g_strdup (job->model_description);
  return diagnosis;
}

static void
on_diagnosed_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(Job) job = user_data;
  g_autoptr(LeafDiagnoseView) self = g_steal_pointer (&job->view);
  g_autoptr(GError) error = NULL;
  LeafDiagnosisResult *diagnosed;

  diagnosed = leaf_diagnosis_service_diagnose_finish (LEAF_DIAGNOSIS_SERVICE (source), result,
                                                      &error);
  self->busy = FALSE;
  gtk_spinner_stop (self->spinner);
  if (diagnosed == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      leaf_show_toast_error (GTK_WIDGET (self), error);
    }
  else
    {
      g_autoptr(LeafDiagnosis) diagnosis = diagnosis_new (job, diagnosed);
      GtkListBoxRow *row;

      g_list_store_append (self->results, diagnosis);
      row = gtk_list_box_get_row_at_index (self->history_list,
                                           g_list_model_get_n_items (G_LIST_MODEL (self->results)) - 1);
      gtk_list_box_select_row (self->history_list, row);
      show_diagnosis (self, diagnosis);
    }
  process_next (self);
}

static void
process_next (LeafDiagnoseView *self)
{
  while (!self->busy && !g_queue_is_empty (&self->pending))
    {
      g_autoptr(LeafModelInfo) model = active_model (self);
      g_autoptr(Job) job = NULL;
      g_autofree char *path = NULL;
      Job *taken;

      if (model == NULL)
        {
          g_queue_clear_full (&self->pending, job_free);
          update_page (self);
          return;
        }
      job = g_queue_pop_head (&self->pending);
      job->model_description = leaf_model_info_describe (model);
      if (job->file != NULL && (path = g_file_get_path (job->file)) == NULL)
        {
          g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                                 _("“%s” is not a local file; save it to a "
                                                   "folder first"), job->name);

          leaf_show_toast_error (GTK_WIDGET (self), error);
          continue;
        }

      self->busy = TRUE;
      gtk_spinner_start (self->spinner);
      job->view = g_object_ref (self);
      taken = g_steal_pointer (&job);
      if (path != NULL)
        leaf_diagnosis_service_diagnose_file_async (self->service, model->path,
                                                    LEAF_DIAGNOSE_DEFAULT, path,
                                                    self->cancellable, on_diagnosed_cb, taken);
      else
        leaf_diagnosis_service_diagnose_bytes_async (self->service, model->path,
                                                     LEAF_DIAGNOSE_DEFAULT, taken->bytes,
                                                     taken->name, self->cancellable,
                                                     on_diagnosed_cb, taken);
    }
}

/* Adding to the catalog */

typedef struct
{
  LeafDiagnoseView *self;
  char *path;        /* the file to import */
  char *temporary;   /* a pasted image written out for the import, removed after */
  char *class_name;
} AddJob;

static void
add_job_free (gpointer data)
{
  AddJob *job = data;

  if (job->temporary != NULL)
    g_unlink (job->temporary);
  g_clear_object (&job->self);
  g_free (job->temporary);
  g_free (job->path);
  g_free (job->class_name);
  g_free (job);
}

static char *
sha256_of_file (const char  *path,
                GError     **error)
{
  g_autoptr(GMappedFile) mapped = g_mapped_file_new (path, FALSE, error);

  if (mapped == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                      (const guchar *) g_mapped_file_get_contents (mapped),
                                      g_mapped_file_get_length (mapped));
}

static void
on_added_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  AddJob *job = user_data;
  LeafDiagnoseView *self = job->self;
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(LeafCatalogImage) image = NULL;
  g_autoptr(LeafClassInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sha = NULL;
  g_autofree char *message = NULL;
  gint64 id;

  summary = leaf_import_run_finish (LEAF_CATALOG (source), result, &error);
  if (summary != NULL && summary->skipped != NULL && summary->skipped->len > 0)
    {
      LeafImportSkip *skip = g_ptr_array_index (summary->skipped, 0);

      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED, skip->message);
    }
  /* The import copies the photo under its hash, so find it by hash. */
  if (error == NULL && (sha = sha256_of_file (job->path, &error)) != NULL)
    image = leaf_catalog_find_image (LEAF_CATALOG (source), sha, &error);
  if (image != NULL)
    info = leaf_catalog_find_class (LEAF_CATALOG (source), job->class_name, &error);
  id = image ? leaf_catalog_image_get_id (image) : 0;
  if (info == NULL
      || !leaf_catalog_set_labels (LEAF_CATALOG (source), &id, 1, info->id,
                                   LEAF_LABEL_HOW_SUGGESTION, &error))
    {
      leaf_show_toast_error (GTK_WIDGET (self), error);
      add_job_free (job);
      return;
    }
  /* Translators: %s is a class name */
  message = g_strdup_printf (_("Added to the catalog as %s"), info->name);
  leaf_show_toast (GTK_WIDGET (self), message);
  add_job_free (job);
}

static void
add_current (LeafDiagnoseView *self,
             const char       *class_name)
{
  LeafImportOptions options = { .copy = TRUE, .folder_labels = LEAF_FOLDER_LABELS_NEVER };
  g_autoptr(GError) error = NULL;
  AddJob *job;
  const char *paths[2] = { NULL, NULL };

  if (self->current == NULL || self->catalog == NULL)
    return;

  job = g_new0 (AddJob, 1);
  job->self = g_object_ref (self);
  job->class_name = g_strdup (class_name);
  if (self->current->file != NULL)
    job->path = g_file_get_path (self->current->file);
  else
    {
      gsize size = 0;
      const guint8 *data = g_bytes_get_data (self->current->bytes, &size);
      const char *format = leaf_image_sniff_format (data, size);
      /* Named after what it holds, so that import takes it as that kind of photo. */
      g_autofree char *template = g_strdup_printf ("leafscope-pasted-XXXXXX.%s",
                                                   format != NULL ? format : "png");
      int fd = g_file_open_tmp (template, &job->temporary, &error);

      if (fd < 0 || !g_file_set_contents (job->temporary, (const char *) data, size, &error))
        {
          if (fd >= 0)
            close (fd);
          add_job_free (job);
          leaf_show_toast_error (GTK_WIDGET (self), error);
          return;
        }
      close (fd);
      job->path = g_strdup (job->temporary);
    }

  paths[0] = job->path;
  leaf_import_run_async (self->catalog, paths, &options, self->cancellable, NULL, NULL, NULL,
                         on_added_cb, job);
}

/* Actions */

static void
on_files_chosen_cb (GtkNativeDialog *dialog,
                    int              response,
                    gpointer         user_data)
{
  g_autoptr(LeafDiagnoseView) self = user_data;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GListModel) files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (dialog));
      g_autoptr(GPtrArray) array = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint i = 0; i < g_list_model_get_n_items (files); i++)
        g_ptr_array_add (array, g_list_model_get_item (files, i));
      leaf_diagnose_view_open_files (self, (GFile **) array->pdata, array->len);
    }
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
}

static void
open_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  GtkFileChooserNative *dialog;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Photos"));
  /* The formats Leafscope decodes, not every one GdkPixbuf has a loader for. */
  for (const char * const *type = leaf_image_get_mime_types (); *type != NULL; type++)
    gtk_file_filter_add_mime_type (filter, *type);
  dialog = gtk_file_chooser_native_new (_("Open Photos"),
                                        GTK_WINDOW (gtk_widget_get_root (widget)),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (dialog), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
  g_signal_connect (dialog, "response", G_CALLBACK (on_files_chosen_cb), g_object_ref (widget));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
go_train_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  g_signal_emit (widget, signals[TRAIN_REQUESTED], 0);
}

static void
add_as_top_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  LeafDiagnoseView *self = LEAF_DIAGNOSE_VIEW (widget);

  if (self->current != NULL)
    add_current (self, leaf_diagnosis_get_class (self->current, 0));
}

static void
add_as_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  add_current (LEAF_DIAGNOSE_VIEW (widget), g_variant_get_string (parameter, NULL));
}

static void
show_no_image_on_clipboard (LeafDiagnoseView *self,
                            const GError     *error)
{
  g_autoptr(GError) message = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                            _("The clipboard holds no image to diagnose (%s)"),
                                            error->message);

  leaf_show_toast_error (GTK_WIDGET (self), message);
}

static void
on_clipboard_spliced_cb (GObject      *source,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(LeafDiagnoseView) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;

  if (g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, &error) < 0)
    {
      show_no_image_on_clipboard (self, error);
      return;
    }
  bytes = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (source));
  leaf_diagnose_view_open_bytes (self, bytes, _("Pasted image"));
}

static void
on_clipboard_read_cb (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(LeafDiagnoseView) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GInputStream) in = NULL;
  g_autoptr(GOutputStream) out = NULL;

  in = gdk_clipboard_read_finish (GDK_CLIPBOARD (source), result, NULL, &error);
  if (in == NULL)
    {
      show_no_image_on_clipboard (self, error);
      return;
    }
  out = g_memory_output_stream_new_resizable ();
  g_output_stream_splice_async (out, in,
                                G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE
                                | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, self->cancellable, on_clipboard_spliced_cb,
                                g_object_ref (self));
}

/* GObject */

/**
 * leaf_diagnose_view_reload_model:
 *
 * Takes the catalog's active model into account, for models recorded without the catalog's
 * runs-changed signal (by a trainer's own connection).
 */
void
leaf_diagnose_view_reload_model (LeafDiagnoseView *self)
{
  g_return_if_fail (LEAF_IS_DIAGNOSE_VIEW (self));
  update_page (self);
}

/**
 * leaf_diagnose_view_set_show_heatmap:
 * @show: whether to draw, over the photo, where the model found the evidence for its diagnosis
 */
void
leaf_diagnose_view_set_show_heatmap (LeafDiagnoseView *self,
                                     gboolean          show)
{
  g_return_if_fail (LEAF_IS_DIAGNOSE_VIEW (self));

  show = !!show;
  if (self->show_heatmap == show)
    return;
  self->show_heatmap = show;
  update_photo (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHOW_HEATMAP]);
}

/**
 * leaf_diagnose_view_is_showing_heatmap:
 *
 * Returns: whether the photo shown has its heatmap drawn over it (it may still be computing
 *   after the heatmap was switched on)
 */
gboolean
leaf_diagnose_view_is_showing_heatmap (LeafDiagnoseView *self)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSE_VIEW (self), FALSE);
  return self->current != NULL && self->current->heatmap != NULL
         && gtk_picture_get_paintable (self->photo) == GDK_PAINTABLE (self->current->heatmap);
}

static void
leaf_diagnose_view_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  LeafDiagnoseView *self = LEAF_DIAGNOSE_VIEW (object);

  switch (prop_id)
    {
    case PROP_SHOW_HEATMAP:
      g_value_set_boolean (value, self->show_heatmap);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_diagnose_view_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  LeafDiagnoseView *self = LEAF_DIAGNOSE_VIEW (object);

  switch (prop_id)
    {
    case PROP_SHOW_HEATMAP:
      leaf_diagnose_view_set_show_heatmap (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
leaf_diagnose_view_dispose (GObject *object)
{
  LeafDiagnoseView *self = LEAF_DIAGNOSE_VIEW (object);

  cancel_heatmap (self);
  g_clear_object (&self->settings);
  g_cancellable_cancel (self->cancellable);
  g_queue_clear_full (&self->pending, job_free);
  leaf_diagnose_view_set_catalog (self, NULL);
  g_clear_object (&self->current);
  g_clear_object (&self->service);
  gtk_widget_dispose_template (GTK_WIDGET (self), LEAF_TYPE_DIAGNOSE_VIEW);
  g_clear_object (&self->results);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (leaf_diagnose_view_parent_class)->dispose (object);
}

static void
leaf_diagnose_view_class_init (LeafDiagnoseViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = leaf_diagnose_view_dispose;
  object_class->get_property = leaf_diagnose_view_get_property;
  object_class->set_property = leaf_diagnose_view_set_property;

  /**
   * LeafDiagnoseView:show-heatmap:
   *
   * Whether the photo has the Grad-CAM heatmap of its diagnosis drawn over it.
   */
  properties[PROP_SHOW_HEATMAP] =
    g_param_spec_boolean ("show-heatmap", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * LeafDiagnoseView::train-requested:
   *
   * The user asked to go and train a model.
   */
  signals[TRAIN_REQUESTED] = g_signal_new ("train-requested", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/leafscope/Leafscope/leaf-diagnose-view.ui");
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, stack);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, history_scroller);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, history_separator);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, history_list);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, name_label);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, spinner);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, photo);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, heatmap_spinner);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, verdict_label);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, confidence_label);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, refer_label);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, top_box);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, model_label);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, no_model_page);
  gtk_widget_class_bind_template_child (widget_class, LeafDiagnoseView, add_button);

  gtk_widget_class_install_action (widget_class, "diagnose.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "diagnose.go-train", NULL, go_train_action);
  gtk_widget_class_install_action (widget_class, "diagnose.add-as-top", NULL, add_as_top_action);
  gtk_widget_class_install_action (widget_class, "diagnose.add-as", "s", add_as_action);
  gtk_widget_class_install_property_action (widget_class, "diagnose.show-heatmap",
                                            "show-heatmap");

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
leaf_diagnose_view_init (LeafDiagnoseView *self)
{
  GtkEventController *shortcuts;

  gtk_widget_init_template (GTK_WIDGET (self));

  /* H works wherever the focus is while Diagnose is shown, as Ctrl+V does: the window runs a
   * managed controller's shortcuts. */
  shortcuts = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                     GTK_SHORTCUT_SCOPE_MANAGED);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (shortcuts),
                                        gtk_shortcut_new (gtk_keyval_trigger_new (GDK_KEY_h, 0),
                                                          gtk_named_action_new ("diagnose.show-heatmap")));
  gtk_widget_add_controller (GTK_WIDGET (self), shortcuts);

  self->settings = leaf_settings_new ();
  if (self->settings != NULL)
    {
      g_settings_bind (self->settings, "show-heatmap", self, "show-heatmap",
                       G_SETTINGS_BIND_DEFAULT);
      g_signal_connect_object (self->settings, "changed::refer-use-model-threshold",
                               G_CALLBACK (update_refer), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->settings, "changed::refer-threshold",
                               G_CALLBACK (update_refer), self, G_CONNECT_SWAPPED);
    }

  g_queue_init (&self->pending);
  self->service = g_object_ref (leaf_diagnosis_service_get_default ());
  self->cancellable = g_cancellable_new ();
  self->results = g_list_store_new (LEAF_TYPE_DIAGNOSIS);
  gtk_list_box_bind_model (self->history_list, G_LIST_MODEL (self->results), history_row_new,
                           NULL, NULL);
  g_signal_connect_object (self->results, "items-changed", G_CALLBACK (on_results_changed_cb),
                           self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->history_list, "row-selected",
                           G_CALLBACK (on_history_row_selected_cb), self, G_CONNECT_SWAPPED);
  update_page (self);
}

GtkWidget *
leaf_diagnose_view_new (void)
{
  return g_object_new (LEAF_TYPE_DIAGNOSE_VIEW, NULL);
}

/**
 * leaf_diagnose_view_set_catalog:
 * @self: the view
 * @catalog: (nullable): the catalog whose active model diagnoses, and where photos are added
 */
void
leaf_diagnose_view_set_catalog (LeafDiagnoseView *self,
                                LeafCatalog      *catalog)
{
  g_return_if_fail (LEAF_IS_DIAGNOSE_VIEW (self));

  if (self->catalog == catalog)
    return;
  if (self->catalog != NULL)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  g_set_object (&self->catalog, catalog);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "diagnose.add-as", catalog_writable (self));
  if (catalog != NULL)
    {
      g_signal_connect_object (catalog, "runs-changed", G_CALLBACK (leaf_diagnose_view_reload_model),
                               self, G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "active-model-changed",
                               G_CALLBACK (leaf_diagnose_view_reload_model), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (catalog, "classes-changed", G_CALLBACK (rebuild_add_menu), self,
                               G_CONNECT_SWAPPED);
    }
  if (self->stack != NULL)
    update_page (self);
}

static void
enqueue (LeafDiagnoseView *self,
         Job              *job)
{
  g_queue_push_tail (&self->pending, job);
}

/**
 * leaf_diagnose_view_open_files:
 * @self: the view
 * @files: (array length=n_files): photos to diagnose, one after the other
 * @n_files: how many
 *
 * Unreadable files are reported in a toast each, with the reason.
 */
void
leaf_diagnose_view_open_files (LeafDiagnoseView  *self,
                               GFile            **files,
                               guint              n_files)
{
  g_return_if_fail (LEAF_IS_DIAGNOSE_VIEW (self));

  for (guint i = 0; i < n_files; i++)
    {
      Job *job = g_new0 (Job, 1);

      job->file = g_object_ref (files[i]);
      job->name = g_file_get_basename (files[i]);
      enqueue (self, job);
    }
  process_next (self);
}

/**
 * leaf_diagnose_view_open_bytes:
 * @self: the view
 * @bytes: a pasted photo, in one of the formats leaf_image_get_mime_types() lists
 * @name: what to call it
 */
void
leaf_diagnose_view_open_bytes (LeafDiagnoseView *self,
                               GBytes           *bytes,
                               const char       *name)
{
  Job *job;

  g_return_if_fail (LEAF_IS_DIAGNOSE_VIEW (self));
  g_return_if_fail (bytes != NULL);

  job = g_new0 (Job, 1);
  job->bytes = g_bytes_ref (bytes);
  job->name = g_strdup (name);
  enqueue (self, job);
  process_next (self);
}

/**
 * leaf_diagnose_view_open_texture:
 * @self: the view
 * @texture: a dropped image
 * @name: what to call it
 */
void
leaf_diagnose_view_open_texture (LeafDiagnoseView *self,
                                 GdkTexture       *texture,
                                 const char       *name)
{
  g_autoptr(GBytes) png = NULL;

  g_return_if_fail (GDK_IS_TEXTURE (texture));

  /* Through PNG, the dropped image takes the same decoding path as a file. */
  png = gdk_texture_save_to_png_bytes (texture);
  leaf_diagnose_view_open_bytes (self, png, name);
}

/**
 * leaf_diagnose_view_paste:
 *
 * Diagnoses the image on the clipboard, or says that there is none. Only the formats Leafscope
 * reads are asked for, as bytes that go to its own bounded decoder: GTK would decode whatever
 * its loaders know, an SVG that takes minutes included.
 */
void
leaf_diagnose_view_paste (LeafDiagnoseView *self)
{
  GdkClipboard *clipboard;

  g_return_if_fail (LEAF_IS_DIAGNOSE_VIEW (self));

  clipboard = gtk_widget_get_clipboard (GTK_WIDGET (self));
  gdk_clipboard_read_async (clipboard, (const char **) leaf_image_get_mime_types (),
                            G_PRIORITY_DEFAULT, self->cancellable, on_clipboard_read_cb,
                            g_object_ref (self));
}

/**
 * leaf_diagnose_view_get_results:
 *
 * Returns: (transfer none): the diagnoses made so far, a list of #LeafDiagnosis
 */
GListModel *
leaf_diagnose_view_get_results (LeafDiagnoseView *self)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSE_VIEW (self), NULL);
  return G_LIST_MODEL (self->results);
}

/**
 * leaf_diagnose_view_is_busy:
 *
 * Returns: whether photos are being diagnosed or wait for it
 */
gboolean
leaf_diagnose_view_is_busy (LeafDiagnoseView *self)
{
  g_return_val_if_fail (LEAF_IS_DIAGNOSE_VIEW (self), FALSE);
  return self->busy || !g_queue_is_empty (&self->pending);
}
