#!/bin/sh
# test-gui-spanish.sh: leafscope run from its build folder, as `./setup.sh run` does, speaks
# Spanish with LANGUAGE=es without being installed or told where the translations are.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-gui-spanish.sh LEAFSCOPE

set -u
unset LEAFSCOPE_LOCALEDIR
failed=0

# --help needs no display; its options are Leafscope's own messages. C.UTF-8: see
# test-cli-spanish.sh.
es=$(LANGUAGE=es LC_ALL=C.UTF-8 "$1" --help)
printf '%s\n' "$es" | grep -q 'Mostrar la versión y salir' \
  || { printf 'FAIL: leafscope --help is not Spanish:\n%s\n' "$es" >&2; failed=1; }
en=$(LANGUAGE= LC_ALL=C "$1" --help)
printf '%s\n' "$en" | grep -q 'Print the version and exit' \
  || { echo "FAIL: no English --help in the C locale" >&2; failed=1; }

exit $failed
