/* test-votes.c: labels as votes of several labellers, adjudication, agreement (Cohen's and
 * Fleiss' kappa), and three labelling processes on one catalog at once
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "leaf-test.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "catalog-test-util.h"
#include "leaf-agreement.h"
#include "leaf-catalog.h"
#include "leaf-catalog-private.h"
#include "leaf-error.h"
#include "leaf-image-list.h"
#include "leaf-import.h"

/* ---- Kappa on published examples ---- */

/* Cohen's kappa, the example of its Wikipedia article: 50 proposals read by two people, yes/yes
 * 20, yes/no 5, no/yes 10, no/no 15; po 0.7, pe 0.5, kappa 0.4. */
static void
test_cohen_known (void)
{
  g_autoptr(GArray) votes = g_array_new (FALSE, FALSE, sizeof (LeafVote));
  const guint cells[2][2] = { { 20, 5 }, { 10, 15 } };
  guint item = 0;
  LeafKappa kappa;

  for (guint a = 0; a < 2; a++)
    for (guint b = 0; b < 2; b++)
      for (guint n = 0; n < cells[a][b]; n++, item++)
        {
          LeafVote first = { item, 7, a }, second = { item, 3, b };

          /* Raters in either order, and a photo with one label, which says nothing. */
          g_array_append_val (votes, second);
          g_array_append_val (votes, first);
        }
  g_array_append_val (votes, ((LeafVote) { 1000, 7, 0 }));

  leaf_agreement_kappa ((LeafVote *) votes->data, votes->len, 2, -1, &kappa);
  g_assert_cmpint (kappa.method, ==, LEAF_KAPPA_COHEN);
  g_assert_cmpuint (kappa.n_raters, ==, 2);
  g_assert_cmpuint (kappa.n_items, ==, 50);
  g_assert_cmpfloat_with_epsilon (kappa.observed, 0.7, 1e-12);
  g_assert_cmpfloat_with_epsilon (kappa.kappa, 0.4, 1e-12);
  /* With two categories, agreement on "yes or not" is the same. */
  leaf_agreement_kappa ((LeafVote *) votes->data, votes->len, 2, 0, &kappa);
  g_assert_cmpfloat_with_epsilon (kappa.kappa, 0.4, 1e-12);
}

/* Fleiss' kappa, the example of its Wikipedia article: 10 subjects, 14 raters, 5 categories;
 * P-bar 0.378, P-e 0.213, kappa 0.210. */
static void
test_fleiss_known (void)
{
  static const guint table[10][5] = {
    { 0, 0, 0, 0, 14 }, { 0, 2, 6, 4, 2 }, { 0, 0, 3, 5, 6 }, { 0, 3, 9, 2, 0 },
    { 2, 2, 8, 1, 1 }, { 7, 7, 0, 0, 0 }, { 3, 2, 6, 3, 0 }, { 2, 5, 3, 2, 2 },
    { 6, 5, 2, 1, 0 }, { 0, 2, 2, 3, 7 },
  };
  g_autoptr(GArray) votes = g_array_new (FALSE, FALSE, sizeof (LeafVote));
  LeafKappa kappa;

  for (guint i = 0; i < 10; i++)
    {
      guint rater = 0;

      for (guint k = 0; k < 5; k++)
        for (guint n = 0; n < table[i][k]; n++)
          g_array_append_val (votes, ((LeafVote) { i, rater++, k }));
    }
  leaf_agreement_kappa ((LeafVote *) votes->data, votes->len, 5, -1, &kappa);
  g_assert_cmpint (kappa.method, ==, LEAF_KAPPA_FLEISS);
  g_assert_cmpuint (kappa.n_raters, ==, 14);
  g_assert_cmpuint (kappa.n_items, ==, 10);
  g_assert_cmpfloat_with_epsilon (kappa.observed, 0.378, 0.0005);
  g_assert_cmpfloat_with_epsilon (kappa.kappa, 0.210, 0.0005);
}

/* One labeller, or photos each labelled once: nothing to agree on. Everyone choosing one class
 * agrees, but no better than chance would: undefined, not 1. */
static void
test_kappa_undefined (void)
{
  const LeafVote alone[] = { { 0, 0, 1 }, { 1, 0, 0 }, { 2, 1, 1 } };
  const LeafVote same[] = { { 0, 0, 1 }, { 0, 1, 1 }, { 1, 0, 1 }, { 1, 1, 1 } };
  LeafKappa kappa;

  leaf_agreement_kappa (alone, G_N_ELEMENTS (alone), 2, -1, &kappa);
  g_assert_cmpint (kappa.method, ==, LEAF_KAPPA_NONE);
  g_assert_true (isnan (kappa.kappa));
  leaf_agreement_kappa (same, G_N_ELEMENTS (same), 2, -1, &kappa);
  g_assert_cmpint (kappa.method, ==, LEAF_KAPPA_COHEN);
  g_assert_cmpfloat (kappa.observed, ==, 1.0);
  g_assert_true (isnan (kappa.kappa));
}

/* ---- Votes in a catalog ---- */

/* The fixture's data for a catalog on a server rather than in a file. */
#define ON_SERVER GINT_TO_POINTER (1)

typedef struct
{
  char *dir;
  char *path;
  LeafCatalog *catalog;
  gint64 healthy, blight;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = ctu_make_tmp_dir ();
  fixture->path = data == ON_SERVER ? ctu_server_catalog ()
                                    : g_build_filename (fixture->dir, "votes.leafscope", NULL);
  fixture->catalog = leaf_catalog_open (fixture->path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  ctu_insert_images (fixture->path, 1, 6);
  fixture->healthy = leaf_catalog_add_class (fixture->catalog, "healthy", NULL, NULL, &error);
  g_assert_no_error (error);
  fixture->blight = leaf_catalog_add_class (fixture->catalog, "blight", NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  g_clear_object (&fixture->catalog);
  leaf_test_remove_tree (fixture->dir);
  g_free (fixture->path);
  g_free (fixture->dir);
}

static void
vote (Fixture      *fixture,
      const char   *labeller,
      gint64        image_id,
      gint64        class_id,
      LeafLabelHow  how)
{
  g_autoptr(GError) error = NULL;

  leaf_catalog_set_labeller (fixture->catalog, labeller);
  g_assert_true (leaf_catalog_set_labels (fixture->catalog, &image_id, 1, class_id, how, &error));
  g_assert_no_error (error);
}

static gint64
label_of (Fixture *fixture,
          gint64   image_id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalogImage) image = leaf_catalog_get_image (fixture->catalog, image_id, &error);

  g_assert_no_error (error);
  return leaf_catalog_image_get_class_id (image);
}

static guint
n_disputed (Fixture *fixture)
{
  LeafImageQuery disputed = { .disputed_only = TRUE };
  g_autoptr(GError) error = NULL;
  guint n = 0;

  g_assert_true (leaf_catalog_count_images (fixture->catalog, &disputed, &n, &error));
  g_assert_no_error (error);
  return n;
}

/* Two disagree: no label and the queue; a third breaks the tie but the photo stays disputed
 * until an adjudicator decides, and later votes do not change the decision. */
static void
test_majority_tie_adjudication (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) votes = NULL;
  g_autofree char *adjudicator = NULL;
  gint64 decided = 0, photo = 1;

  vote (fixture, "ana", photo, fixture->healthy, LEAF_LABEL_HOW_MANUAL);
  g_assert_cmpint (label_of (fixture, photo), ==, fixture->healthy);
  g_assert_cmpuint (n_disputed (fixture), ==, 0);

  vote (fixture, "bo", photo, fixture->blight, LEAF_LABEL_HOW_MANUAL);
  g_assert_cmpint (label_of (fixture, photo), ==, 0);
  g_assert_cmpuint (n_disputed (fixture), ==, 1);

  vote (fixture, "cy", photo, fixture->blight, LEAF_LABEL_HOW_SUGGESTION);
  g_assert_cmpint (label_of (fixture, photo), ==, fixture->blight);
  g_assert_cmpuint (n_disputed (fixture), ==, 1);

  leaf_catalog_set_labeller (fixture->catalog, "dee");
  g_assert_true (leaf_catalog_adjudicate (fixture->catalog, &photo, 1, fixture->healthy, &error));
  g_assert_no_error (error);
  g_assert_cmpint (label_of (fixture, photo), ==, fixture->healthy);
  g_assert_cmpuint (n_disputed (fixture), ==, 0);
  vote (fixture, "ana", photo, fixture->blight, LEAF_LABEL_HOW_MANUAL);
  g_assert_cmpint (label_of (fixture, photo), ==, fixture->healthy);

  votes = leaf_catalog_list_votes (fixture->catalog, photo, &adjudicator, &decided, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (votes->len, ==, 3);
  g_assert_cmpstr (adjudicator, ==, "dee");
  g_assert_cmpint (decided, ==, fixture->healthy);

  /* Withdrawn, the votes decide again: three for blight. */
  g_assert_true (leaf_catalog_adjudicate (fixture->catalog, &photo, 1, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (label_of (fixture, photo), ==, fixture->blight);
  g_assert_cmpuint (n_disputed (fixture), ==, 0);
}

/* A folder's name is where a photo came from, not an opinion: the first person's vote replaces
 * it without a dispute, as a relabel did before votes. */
static void
test_folder_import_yields (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) votes = NULL;

  vote (fixture, "importer", 2, fixture->healthy, LEAF_LABEL_HOW_FOLDER_IMPORT);
  g_assert_cmpint (label_of (fixture, 2), ==, fixture->healthy);
  vote (fixture, "ana", 2, fixture->blight, LEAF_LABEL_HOW_MANUAL);
  g_assert_cmpint (label_of (fixture, 2), ==, fixture->blight);
  g_assert_cmpuint (n_disputed (fixture), ==, 0);

  votes = leaf_catalog_list_votes (fixture->catalog, 2, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (votes->len, ==, 2);
  for (guint i = 0; i < votes->len; i++)
    {
      LeafVoteInfo *info = votes->pdata[i];

      g_assert_cmpint (info->counts, ==, g_str_equal (info->labeller, "ana"));
    }
}

/* Each labeller undoes and redoes their own actions only; the label follows the votes left. */
static void
test_undo_per_labeller (Fixture       *fixture,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *undone = NULL;

  vote (fixture, "ana", 3, fixture->healthy, LEAF_LABEL_HOW_MANUAL);
  vote (fixture, "bo", 3, fixture->blight, LEAF_LABEL_HOW_MANUAL);
  vote (fixture, "bo", 4, fixture->blight, LEAF_LABEL_HOW_MANUAL);
  g_assert_cmpint (label_of (fixture, 3), ==, 0);

  leaf_catalog_set_labeller (fixture->catalog, "ana");
  g_assert_true (leaf_catalog_undo (fixture->catalog, &undone, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (undone, "healthy"));
  /* Ana's vote went; Bo's stand. */
  g_assert_cmpint (label_of (fixture, 3), ==, fixture->blight);
  g_assert_cmpint (label_of (fixture, 4), ==, fixture->blight);
  g_assert_false (leaf_catalog_undo (fixture->catalog, NULL, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Bo's new action does not end Ana's redo. */
  vote (fixture, "bo", 5, fixture->healthy, LEAF_LABEL_HOW_MANUAL);
  leaf_catalog_set_labeller (fixture->catalog, "ana");
  g_assert_true (leaf_catalog_redo (fixture->catalog, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (label_of (fixture, 3), ==, 0);

  leaf_catalog_set_labeller (fixture->catalog, "bo");
  g_assert_true (leaf_catalog_undo (fixture->catalog, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (label_of (fixture, 5), ==, 0);
  g_assert_cmpint (label_of (fixture, 4), ==, fixture->blight);
}

/* The catalog's agreement is the kappa of its ballots: Cohen's for two labellers, Fleiss' from
 * three, per class as "this class or not". */
static void
test_agreement (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafAgreement) two = NULL;
  g_autoptr(LeafAgreement) three = NULL;
  const LeafClassAgreement *healthy;
  guint n_labellers = 0;
  /* ana and bo on photos 1-4: agree on 1, 2 and 3. */
  const gint64 ana[] = { fixture->healthy, fixture->healthy, fixture->blight, fixture->blight };
  const gint64 bo[] = { fixture->healthy, fixture->healthy, fixture->blight, fixture->healthy };

  for (guint i = 0; i < 4; i++)
    {
      vote (fixture, "ana", i + 1, ana[i], LEAF_LABEL_HOW_MANUAL);
      vote (fixture, "bo", i + 1, bo[i], LEAF_LABEL_HOW_MANUAL);
    }
  /* Alone on a photo: not part of agreement. */
  vote (fixture, "cy", 6, fixture->blight, LEAF_LABEL_HOW_MANUAL);

  two = leaf_catalog_get_agreement (fixture->catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpint (two->overall.method, ==, LEAF_KAPPA_COHEN);
  g_assert_cmpuint (two->overall.n_items, ==, 4);
  g_assert_cmpuint (two->n_labellers, ==, 3);
  g_assert_true (leaf_catalog_count_labellers (fixture->catalog, &n_labellers, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_labellers, ==, 3);
  g_assert_cmpuint (two->n_disputed, ==, 1);
  /* po 3/4; ana 2/2, bo 3/1: pe = 0.5 * 0.75 + 0.5 * 0.25 = 0.5; kappa 0.5. */
  g_assert_cmpfloat_with_epsilon (two->overall.observed, 0.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (two->overall.kappa, 0.5, 1e-12);
  g_assert_cmpuint (two->classes->len, ==, 2);
  healthy = &g_array_index (two->classes, LeafClassAgreement, 0);
  g_assert_cmpstr (healthy->class_name, ==, "healthy");
  g_assert_cmpfloat_with_epsilon (healthy->kappa.kappa, 0.5, 1e-12);

  vote (fixture, "cy", 4, fixture->blight, LEAF_LABEL_HOW_MANUAL);
  three = leaf_catalog_get_agreement (fixture->catalog, &error);
  g_assert_no_error (error);
  g_assert_cmpint (three->overall.method, ==, LEAF_KAPPA_FLEISS);
  g_assert_cmpuint (three->overall.n_raters, ==, 3);
  /* Photo 4: blight, healthy, blight: 1 of 3 pairs agree; the others 1. */
  g_assert_cmpfloat_with_epsilon (three->overall.observed, (3 + 1.0 / 3) / 4, 1e-12);
}

/* ---- Three labellers at once, as three processes ---- */

typedef struct
{
  GSubprocess *process;
  char *lines;
  char *out;
  char *err;
  gboolean done;
} Labeller;

static void
labeller_done_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  Labeller *labeller = data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &labeller->out,
                                        &labeller->err, &error);
  g_assert_no_error (error);
  labeller->done = TRUE;
}

/* Three labellers label the same 6 photos at once, each in their own process, each line its
 * own transaction: every label a process acknowledged is there (none lost to another's write),
 * photo 6 is disputed, and stats --json gives Fleiss' kappa. */
static void
test_three_processes (Fixture       *fixture,
                      gconstpointer  data)
{
  const char *names[] = { "ana", "bo", "cy" };
  Labeller labellers[3] = { { 0 } };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(JsonNode) stats = NULL;
  JsonObject *agreement;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  g_clear_object (&fixture->catalog);
  for (guint p = 0; p < 3; p++)
    {
      g_autoptr(GSubprocessLauncher) launcher =
        ctu_cli_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                              G_SUBPROCESS_FLAGS_STDERR_PIPE);
      GString *lines = g_string_new (NULL);

      /* Each labeller changes their mind on every round, so that every line writes. */
      for (guint round = 0; round < 20; round++)
        for (guint i = 1; i <= 6; i++)
          g_string_append_printf (lines, "%064x\t%s\n", i,
                                  round % 2 == (i == 6 && p == 2) ? "blight" : "healthy");
      labellers[p].lines = g_string_free (lines, FALSE);
      labellers[p].process =
        g_subprocess_launcher_spawn (launcher, &error, ctu_cli_path (), "--catalog",
                                     fixture->path, "--labeller", names[p], "label", "--stdin",
                                     NULL);
      g_assert_no_error (error);
    }
  for (guint p = 0; p < 3; p++)
    g_subprocess_communicate_utf8_async (labellers[p].process, labellers[p].lines, NULL,
                                         labeller_done_cb, &labellers[p]);
  for (guint p = 0; p < 3; p++)
    {
      while (!labellers[p].done)
        g_main_context_iteration (NULL, TRUE);
      g_test_message ("%s: %s", names[p], labellers[p].err);
      g_assert_true (g_subprocess_get_if_exited (labellers[p].process));
      g_assert_cmpint (g_subprocess_get_exit_status (labellers[p].process), ==, 0);
      g_assert_cmpuint (ctu_count_lines (labellers[p].out), ==, 120);
      g_object_unref (labellers[p].process);
      g_free (labellers[p].lines);
      g_free (labellers[p].out);
      g_free (labellers[p].err);
    }

  /* The last round (odd): ana and bo healthy on all six, cy blight on photo 6. */
  g_assert_cmpint (ctu_query_int (fixture->path, "SELECT count(*) FROM votes"), ==, 18);
  g_assert_cmpint (ctu_query_int (fixture->path, "SELECT count(*) FROM votes v JOIN classes c "
                                  "ON c.id = v.class_id WHERE c.name = 'blight'"), ==, 1);
  g_assert_cmpint (ctu_query_int (fixture->path, "SELECT count(*) FROM labels l JOIN classes c "
                                  "ON c.id = l.class_id WHERE c.name = 'healthy'"), ==, 6);
  g_assert_cmpint (ctu_query_int (fixture->path, "SELECT count(*) FROM label_actions"), ==, 360);

  g_assert_cmpint (ctu_run_cli (fixture->path, &out, &err, "list", "--disputed", "--json", NULL),
                   ==, 0);
  g_assert_nonnull (strstr (out, "0006\""));
  g_assert_null (strstr (out, "0005\""));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctu_run_cli (fixture->path, &out, &err, "stats", "--json", NULL), ==, 0);
  stats = json_from_string (out, &error);
  g_assert_no_error (error);
  agreement = json_object_get_object_member (json_node_get_object (stats), "agreement");
  g_assert_cmpint (json_object_get_int_member (agreement, "disputed"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (agreement, "labellers"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (agreement,
                                                                                 "overall"),
                                                  "method"), ==, "fleiss");
}

/* ---- Merging a laptop's catalog ---- */

/* The lab's catalog (the fixture's) and a laptop's, with photos 1-3 in both, photo 50 only on
 * the laptop, and a class only the laptop has: the laptop's votes join the lab's, a
 * disagreement waits for a decision, and merging again changes nothing. */
static void
test_merge (Fixture       *fixture,
            gconstpointer  data)
{
  g_autofree char *laptop_path = g_build_filename (fixture->dir, "laptop.leafscope", NULL);
  g_autofree char *junk = g_build_filename (fixture->dir, "notes.txt", NULL);
  g_autoptr(LeafCatalog) laptop = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafCatalogImage) photo50 = NULL;
  g_autoptr(LeafClassInfo) mold = NULL;
  g_autofree char *before = NULL;
  LeafMergeSummary summary;
  gint64 healthy, blight, leaf_mold, ids[] = { 1, 2, 50 };
  sqlite3 *db;

  laptop = leaf_catalog_open (laptop_path, LEAF_CATALOG_OPEN_CREATE, &error);
  g_assert_no_error (error);
  ctu_insert_images (laptop_path, 1, 3);
  ctu_insert_images (laptop_path, 50, 1);
  leaf_mold = leaf_catalog_add_class (laptop, "leaf mold", NULL, NULL, &error);
  blight = leaf_catalog_add_class (laptop, "blight", NULL, NULL, &error);
  healthy = leaf_catalog_add_class (laptop, "healthy", NULL, NULL, &error);
  g_assert_no_error (error);
  leaf_catalog_set_labeller (laptop, "ana");
  g_assert_true (leaf_catalog_set_labels (laptop, ids, 1, healthy, LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_true (leaf_catalog_set_labels (laptop, ids + 1, 1, blight, LEAF_LABEL_HOW_MANUAL,
                                          &error));
  g_assert_true (leaf_catalog_set_labels (laptop, ids + 2, 1, leaf_mold, LEAF_LABEL_HOW_MANUAL,
                                          &error));
  g_assert_no_error (error);

  vote (fixture, "bo", 1, fixture->healthy, LEAF_LABEL_HOW_MANUAL);
  vote (fixture, "bo", 2, fixture->healthy, LEAF_LABEL_HOW_MANUAL);

  g_assert_true (leaf_catalog_merge (fixture->catalog, laptop_path, &summary, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (summary.n_images_added, ==, 1);
  g_assert_cmpuint (summary.n_classes_added, ==, 1);
  g_assert_cmpuint (summary.n_votes_added, ==, 3);
  g_assert_cmpuint (summary.n_votes_updated, ==, 0);
  g_assert_cmpuint (summary.n_disputed, ==, 1);
  g_assert_cmpint (label_of (fixture, 1), ==, fixture->healthy);
  g_assert_cmpint (label_of (fixture, 2), ==, 0);
  g_assert_cmpuint (n_disputed (fixture), ==, 1);
  photo50 = leaf_catalog_find_image (fixture->catalog,
                                     "0000000000000000000000000000000000000000000000000000000000000032",
                                     &error);
  g_assert_no_error (error);
  mold = leaf_catalog_find_class (fixture->catalog, "leaf mold", &error);
  g_assert_no_error (error);
  g_assert_cmpint (leaf_catalog_image_get_class_id (photo50), ==, mold->id);

  /* Again: nothing new. */
  g_assert_true (leaf_catalog_merge (fixture->catalog, laptop_path, &summary, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (summary.n_images_added + summary.n_classes_added + summary.n_votes_added
                    + summary.n_votes_updated + summary.n_decisions, ==, 0);
  db = ctu_sql_open (fixture->path);
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM votes"), ==, 5);
  g_assert_cmpint (ctu_sql_int (db, "SELECT count(*) FROM images"), ==, 7);
  sqlite3_close (db);

  /* Ana changes her mind in the field, and decides photo 2 there: both come in. */
  g_assert_true (leaf_catalog_set_labels (laptop, ids, 1, blight, LEAF_LABEL_HOW_MANUAL, &error));
  g_assert_true (leaf_catalog_adjudicate (laptop, ids + 1, 1, healthy, &error));
  g_assert_no_error (error);
  g_assert_true (leaf_catalog_merge (fixture->catalog, laptop_path, &summary, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (summary.n_votes_updated, ==, 1);
  g_assert_cmpuint (summary.n_decisions, ==, 1);
  g_assert_cmpint (label_of (fixture, 2), ==, fixture->healthy);
  g_assert_cmpint (label_of (fixture, 1), ==, 0);

  /* Not a catalog, or this very one: refused, nothing changed. */
  before = ctu_catalog_state (fixture->path);
  ctu_write_bytes (junk, "field notes, not a catalog, long enough for a header......\n", -1);
  g_assert_false (leaf_catalog_merge (fixture->catalog, junk, &summary, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_FORMAT);
  g_clear_error (&error);
  g_assert_false (leaf_catalog_merge (fixture->catalog, fixture->path, &summary, &error));
  g_assert_error (error, LEAF_ENGINE_ERROR, LEAF_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  {
    g_autofree char *after = ctu_catalog_state (fixture->path);

    g_assert_cmpstr (before, ==, after);
  }
}

/* ---- Another program's changes ---- */

static void
count_signal_cb (LeafCatalog *catalog,
                 guint       *count)
{
  (*count)++;
}

static void
count_labels_cb (LeafCatalog *catalog,
                 GArray      *ids,
                 guint       *count)
{
  (*count)++;
}

/* Waits, on the catalog's thread, until *count moves; fails after a minute (the watch looks
 * twice a second: only a broken watch takes that long). */
static void
wait_for (guint *count)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (*count == 0 && g_get_monotonic_time () < deadline)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (10000);
  g_assert_cmpuint (*count, >, 0);
}

/* A label or a class that leafscope-cli adds to the catalog shows in an open catalog's signals,
 * as the window needs to show them; what it did itself it announces once, not again. */
static void
test_watch_sees_other_programs (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  guint labels = 0, classes = 0, images = 0;
  gint64 photo = 2;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  leaf_catalog_watch (fixture->catalog);
  g_signal_connect (fixture->catalog, "labels-changed", G_CALLBACK (count_labels_cb), &labels);
  g_signal_connect (fixture->catalog, "classes-changed", G_CALLBACK (count_signal_cb), &classes);
  g_signal_connect (fixture->catalog, "images-changed", G_CALLBACK (count_signal_cb), &images);

  g_assert_cmpint (ctu_run_cli (fixture->path, &out, &err, "--labeller", "bo", "label",
                                "0000000000000000000000000000000000000000000000000000000000000002",
                                "blight", NULL), ==, 0);
  wait_for (&labels);
  g_assert_cmpint (label_of (fixture, photo), ==, fixture->blight);
  g_assert_cmpuint (classes, ==, 0);
  g_assert_cmpuint (images, ==, 0);

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ctu_run_cli (fixture->path, &out, &err, "classes", "add", "leaf mold", NULL),
                   ==, 0);
  wait_for (&classes);

  /* Our own label: one emission, made when it was saved, and none from the watch after. */
  labels = 0;
  vote (fixture, "ana", photo, fixture->healthy, LEAF_LABEL_HOW_MANUAL);
  g_assert_cmpuint (labels, ==, 1);
  for (guint i = 0; i < 150; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
    }
  g_assert_cmpuint (labels, ==, 1);
}

/* What a connection of this process's own (an import's) changed is announced once, when it is
 * made, not again by the watch; another program's change still is. */
static void
test_watch_announces_ours_once (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autofree char *folder = g_build_filename (fixture->dir, "photos", NULL);
  g_autofree char *rust = g_build_filename (folder, "rust", NULL);
  const char *paths[] = { folder, NULL };
  g_autoptr(LeafImportSummary) summary = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  guint classes = 0, images = 0;

  if (ctu_cli_path () == NULL)
    {
      g_test_skip ("LEAFSCOPE_CLI is not set");
      return;
    }
  g_assert_cmpint (g_mkdir_with_parents (rust, 0700), ==, 0);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("leaf-%u.png", i);
      g_autofree char *path = g_build_filename (rust, name, NULL);

      ctu_write_image (path, "png", 24, 24, 100 + i);
    }
  leaf_catalog_watch (fixture->catalog);
  g_signal_connect (fixture->catalog, "classes-changed", G_CALLBACK (count_signal_cb), &classes);
  g_signal_connect (fixture->catalog, "images-changed", G_CALLBACK (count_signal_cb), &images);

  summary = leaf_import_run (fixture->catalog, paths, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (summary);
  g_assert_cmpuint (images, ==, 1);
  g_assert_cmpuint (classes, ==, 1);
  _leaf_catalog_look_for_changes (fixture->catalog);
  g_assert_cmpuint (images, ==, 1);
  g_assert_cmpuint (classes, ==, 1);

  g_assert_cmpint (ctu_run_cli (fixture->path, &out, &err, "classes", "add", "leaf mold", NULL),
                   ==, 0);
  _leaf_catalog_look_for_changes (fixture->catalog);
  g_assert_cmpuint (classes, ==, 2);
  g_assert_cmpuint (images, ==, 1);
}

static void
let_go_cb (GObject     *item,
           GParamSpec  *pspec,
           GObject    **other)
{
  g_clear_object (other);
}

/* What another program changed refreshes every photo the Library holds; a cell that lets go of
 * one photo when another changes (as a grid rebinding its cells does) must not leave the refresh
 * with a photo already gone. */
static void
test_refresh_with_cells_letting_go (Fixture       *fixture,
                                    gconstpointer  data)
{
  LeafImageQuery all = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafImageList) list = leaf_image_list_new (fixture->catalog, &all, NULL, &error);
  GObject *held[2];

  g_assert_no_error (error);
  held[0] = g_list_model_get_item (G_LIST_MODEL (list), 0);
  held[1] = g_list_model_get_item (G_LIST_MODEL (list), 1);
  /* Now only the cells (here) hold them. */
  g_assert_true (leaf_image_list_reload (list, &error));
  g_assert_no_error (error);
  g_signal_connect (held[0], "notify::image", G_CALLBACK (let_go_cb), &held[1]);
  g_signal_connect (held[1], "notify::image", G_CALLBACK (let_go_cb), &held[0]);

  /* Whichever is refreshed first lets go of the other, which is refreshed all the same. */
  leaf_image_list_refresh (list);
  g_assert_null (held[0]);
  g_assert_null (held[1]);
}

static void
test_skip_server (gconstpointer data)
{
  g_test_skip (data);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *no_server = NULL;
  int status;

  leaf_test_init (&argc, &argv);

  g_test_add_func ("/agreement/cohen-known", test_cohen_known);
  g_test_add_func ("/agreement/fleiss-known", test_fleiss_known);
  g_test_add_func ("/agreement/undefined", test_kappa_undefined);
#define ADD(path, func) \
  g_test_add ("/votes/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("majority-tie-adjudication", test_majority_tie_adjudication);
  ADD ("folder-import-yields", test_folder_import_yields);
  ADD ("undo-per-labeller", test_undo_per_labeller);
  ADD ("agreement", test_agreement);
  ADD ("three-processes", test_three_processes);
  ADD ("watch-sees-other-programs", test_watch_sees_other_programs);
  ADD ("watch-announces-ours-once", test_watch_announces_ours_once);
  ADD ("refresh-with-cells-letting-go", test_refresh_with_cells_letting_go);
  ADD ("merge", test_merge);
#undef ADD
  /* The same on a catalog on a PostgreSQL server. */
#define ADD(path, func) \
  g_test_add ("/votes/server/" path, Fixture, ON_SERVER, fixture_set_up, func, fixture_tear_down)
  if (ctu_server_available (&no_server))
    {
      ADD ("majority-tie-adjudication", test_majority_tie_adjudication);
      ADD ("folder-import-yields", test_folder_import_yields);
      ADD ("undo-per-labeller", test_undo_per_labeller);
      ADD ("agreement", test_agreement);
      ADD ("three-processes", test_three_processes);
      ADD ("watch-sees-other-programs", test_watch_sees_other_programs);
      ADD ("watch-announces-ours-once", test_watch_announces_ours_once);
    }
  else
    g_test_add_data_func ("/votes/server", no_server, test_skip_server);
#undef ADD
  status = g_test_run ();
  ctu_server_stop ();
  return status;
}
