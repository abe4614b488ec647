#!/bin/sh
# test-install.sh: `meson install` into a temporary DESTDIR puts every file a desktop needs in
# place, and the installed leafscope-cli works: --version, init, and import of an ImageFolder tree.
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Usage: test-install.sh MESON BUILDDIR PREFIX BINDIR DATADIR MANDIR LIBEXECDIR

set -u
meson=$1
builddir=$2
prefix=$3
bindir=$4
datadir=$5
mandir=$6
libexecdir=$7
app_id=io.github.leafscope.Leafscope
failed=0

fail () {
  echo "FAIL: $*" >&2
  failed=1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leafscope-install-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

# meson install sets DESTDIR for the post-install script, which then skips the caches it would
# otherwise update system-wide.
"$meson" install -C "$builddir" --no-rebuild --quiet --destdir "$tmp/root" >"$tmp/install.log" 2>&1 || {
  cat "$tmp/install.log" >&2
  echo "FAIL: meson install exited with status $?" >&2
  exit 1
}

# Options relative to the prefix resolve against it, absolute ones stand alone.
under_prefix () {
  case $1 in
    /*) printf '%s' "$tmp/root$1" ;;
    *) printf '%s' "$tmp/root$prefix/$1" ;;
  esac
}
bin=$(under_prefix "$bindir")
share=$(under_prefix "$datadir")
man=$(under_prefix "$mandir")

for f in "$bin/leafscope" "$bin/leafscope-cli" "$(under_prefix "$libexecdir")/leafscope/leafscope-cli-model"; do
  [ -x "$f" ] || fail "$f is not installed"
done
for f in \
  "$share/applications/$app_id.desktop" \
  "$share/metainfo/$app_id.metainfo.xml" \
  "$share/glib-2.0/schemas/$app_id.gschema.xml" \
  "$share/mime/packages/$app_id.mime.xml" \
  "$share/dbus-1/services/$app_id.service" \
  "$share/bash-completion/completions/leafscope-cli" \
  "$share/icons/hicolor/scalable/apps/$app_id.svg" \
  "$share/icons/hicolor/symbolic/apps/$app_id-symbolic.svg" \
  "$share/locale/es/LC_MESSAGES/leafscope.mo" \
  "$man/man1/leafscope.1" \
  "$man/man1/leafscope-cli.1"; do
  [ -s "$f" ] || fail "$f is not installed"
done

# The translations reach the installed desktop file and metainfo through i18n.merge_file.
grep -q '^Comment\[es\]=' "$share/applications/$app_id.desktop" 2>/dev/null \
  || fail "the installed desktop file has no Spanish Comment"
grep -q 'xml:lang="es"' "$share/metainfo/$app_id.metainfo.xml" 2>/dev/null \
  || fail "the installed metainfo has no Spanish text"
grep -q 'xml:lang="es"' "$share/mime/packages/$app_id.mime.xml" 2>/dev/null \
  || fail "the installed MIME type has no Spanish comment"

# The desktop file asks for D-Bus activation, which starts the installed binary as a service.
grep -q '^DBusActivatable=true$' "$share/applications/$app_id.desktop" 2>/dev/null \
  || fail "the installed desktop file does not ask for D-Bus activation"
grep -qx "Exec=$prefix/$bindir/leafscope --gapplication-service" \
  "$share/dbus-1/services/$app_id.service" 2>/dev/null \
  || grep -qx "Exec=$bindir/leafscope --gapplication-service" \
       "$share/dbus-1/services/$app_id.service" 2>/dev/null \
  || fail "the installed D-Bus service does not start the installed leafscope"

[ $failed -eq 0 ] || exit 1

# The installed binary, on a catalog in a fresh XDG_DATA_HOME, outside the build tree.
export XDG_DATA_HOME="$tmp/data" XDG_CACHE_HOME="$tmp/cache" LC_ALL=C
unset LANGUAGE LEAFSCOPE_LOCALEDIR
cli="$bin/leafscope-cli"

version=$("$cli" --version) || fail "installed leafscope-cli --version exited with $?"
case $version in
  "leafscope-cli "[0-9]*) ;;
  *) fail "installed leafscope-cli --version printed “$version”" ;;
esac

"$cli" init >/dev/null || fail "installed leafscope-cli init exited with $?"
[ -f "$XDG_DATA_HOME/leafscope/default.leafscope" ] || fail "init made no default catalog"

# Two classes of two small PNGs, written by the standard library alone (zlib + struct).
python=${LEAFSCOPE_PYTHON:-/usr/bin/python3}
"$python" - "$tmp/photos" <<'PY' || fail "could not write the test photos"
import os, struct, sys, zlib
def png(path, rgb):
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    w = h = 16
    raw = b"".join(b"\0" + bytes(rgb) * w for _ in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for cls, base in (("healthy", (30, 160, 40)), ("blight", (120, 80, 20))):
    os.makedirs(os.path.join(sys.argv[1], cls))
    for i in range(2):
        png(os.path.join(sys.argv[1], cls, "leaf%d.png" % i), (base[0] + i, base[1], base[2]))
PY

"$cli" import "$tmp/photos" >/dev/null || fail "installed leafscope-cli import exited with $?"
stats=$("$cli" stats --json) || fail "installed leafscope-cli stats exited with $?"
printf '%s\n' "$stats" | "$python" -c '
import json, sys
s = json.load(sys.stdin)
assert s["images"] == 4 and s["labeled"] == 4, s
assert s["classes"] == {"healthy": 2, "blight": 2}, s
' || fail "after importing 2 + 2 photos, stats said: $stats"

# The desktop knows a catalog by its content too, not only by its name (the MIME magic at
# offset 68), while any other SQLite file stays one.
if command -v update-mime-database >/dev/null && command -v gio >/dev/null; then
  update-mime-database "$share/mime" >/dev/null 2>&1 || fail "update-mime-database failed on $share/mime"
  cp "$XDG_DATA_HOME/leafscope/default.leafscope" "$tmp/renamed-catalog"
  "$python" -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (x)"); c.commit()' "$tmp/other.db"
  content_type () {
    XDG_DATA_DIRS="$share:${XDG_DATA_DIRS:-/usr/local/share:/usr/share}" \
      gio info -a standard::content-type "$1" | sed -n 's/^ *standard::content-type: //p'
  }
  type=$(content_type "$tmp/renamed-catalog")
  [ "$type" = application/x-leafscope-catalog ] || fail "a renamed catalog is seen as “$type”"
  type=$(content_type "$tmp/other.db")
  [ "$type" != application/x-leafscope-catalog ] || fail "any SQLite file is seen as a catalog"
fi

# A command that needs the model library, which the installed leafscope-cli hands to the
# installed leafscope-cli-model.
models=$("$cli" models list 2>&1) || fail "installed leafscope-cli models list exited with $?: $models"

exit $failed
