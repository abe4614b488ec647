/* leaf-reliability-diagram.h: how often the model is right at each level of confidence
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "leaf-calibration.h"

G_BEGIN_DECLS

#define LEAF_TYPE_RELIABILITY_DIAGRAM (leaf_reliability_diagram_get_type ())
G_DECLARE_FINAL_TYPE (LeafReliabilityDiagram, leaf_reliability_diagram, LEAF, RELIABILITY_DIAGRAM,
                      GtkWidget)

GtkWidget  *leaf_reliability_diagram_new             (void);
void        leaf_reliability_diagram_set_calibration (LeafReliabilityDiagram *self,
                                                      const LeafCalibration  *calibration);
const char *leaf_reliability_diagram_get_summary     (LeafReliabilityDiagram *self);

G_END_DECLS
