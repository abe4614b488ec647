/* lt-runtime.hpp: process-wide settings that lt_init() makes
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

namespace lt {

/* Applies lt_init()'s thread count to the calling thread; every computing entry point calls
 * it first. */
void use_configured_threads ();

} // namespace lt
