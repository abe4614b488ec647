#!/bin/sh
# test-cli-spanish.sh: leafscope-cli speaks Spanish with LANGUAGE=es and the catalogs built in the
# build tree, and English without it.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-cli-spanish.sh LEAFSCOPE-CLI LOCALEDIR

set -u
cli=$1
export LEAFSCOPE_LOCALEDIR=$2
failed=0

[ -f "$LEAFSCOPE_LOCALEDIR/es/LC_MESSAGES/leafscope.mo" ] || {
  echo "FAIL: no $LEAFSCOPE_LOCALEDIR/es/LC_MESSAGES/leafscope.mo" >&2
  exit 1
}

# C.UTF-8 rather than es_ES.UTF-8, which the machine may not have generated: gettext still
# follows LANGUAGE whenever the locale is not plain "C".
es=$(LANGUAGE=es LC_ALL=C.UTF-8 "$cli" --help)
for text in 'Uso: leafscope-cli' 'Subcomandos:' 'Opciones:'; do
  printf '%s\n' "$es" | grep -q "$text" || { echo "FAIL: no “$text” in Spanish --help" >&2; failed=1; }
done
printf '%s\n' "$es" | grep -q 'Subcommands:' && { echo "FAIL: English left in Spanish --help" >&2; failed=1; }

# GOption's own strings come from GLib's catalog; ours must be Spanish in a subcommand's help too.
es=$(LANGUAGE=es LC_ALL=C.UTF-8 "$cli" import --help)
printf '%s\n' "$es" | grep -q -- '--copy' || { echo "FAIL: import --help lost its options" >&2; failed=1; }
printf '%s\n' "$es" | grep -q 'Copy the images' && { echo "FAIL: import --help is English" >&2; failed=1; }

en=$(LANGUAGE= LC_ALL=C "$cli" --help)
printf '%s\n' "$en" | grep -q 'Subcommands:' || { echo "FAIL: no English --help in the C locale" >&2; failed=1; }

exit $failed
