/* fuzz-model-meta.c: libFuzzer target for the JSON a model file carries about itself
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Anything accepted must survive a round trip: what leaf_model_meta_to_json() writes from it
 * is accepted again and says the same. The model card's figures (recipe, metrics, calibration)
 * must render from any input too: from the metadata when it is accepted, and with the input
 * standing for the training run's summary, which the card reads from the catalog.
 */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "leaf-model-card.h"
#include "leaf-model-file.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *json = g_strndup ((const char *) data, size);
  g_autoptr(GError) error = NULL;
  g_autoptr(LeafModelMeta) meta = leaf_model_meta_from_json (json, "fuzz.safetensors", &error);
  g_autoptr(LeafModelMeta) again = NULL;
  g_autofree char *written = NULL;
  g_autofree char *figures = NULL;
  const LeafModelMeta bare = { .temperature = 1.0 };

  figures = leaf_model_card_render_figures (meta != NULL ? meta : &bare, json);
  if (figures == NULL)
    abort ();
  if (meta == NULL)
    {
      if (error == NULL || error->message == NULL || error->message[0] == '\0')
        abort ();
      return 0;
    }

  written = leaf_model_meta_to_json (meta);
  again = leaf_model_meta_from_json (written, "fuzz.safetensors", &error);
  if (again == NULL || again->n_classes != meta->n_classes
      || again->image_size != meta->image_size || again->resize_size != meta->resize_size
      || again->run_id != meta->run_id)
    abort ();
  for (guint i = 0; i < meta->n_classes; i++)
    if (g_strcmp0 (again->classes[i], meta->classes[i]) != 0)
      abort ();
  return 0;
}
