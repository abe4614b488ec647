#!/usr/bin/env bash
# Installs what Leafscope needs on Debian 12, builds it, then runs the app (`./setup.sh run`) or
# every test (`./setup.sh test`). Extra arguments go to the app or to `meson test`.
set -euo pipefail
cd "$(dirname "$0")"

mode=${1:-run}
shift || true

packages=(
  meson ninja-build pkg-config gcc g++ gettext
  libglib2.0-dev libglib2.0-dev-bin libgdk-pixbuf-2.0-dev libjson-glib-dev libsoup-3.0-dev
  libsqlite3-dev libgtk-4-dev libadwaita-1-dev
  # Catalogs on a PostgreSQL server.
  libpq-dev
  # libtorch, and OpenBLAS so that it does not fall back to Netlib's reference BLAS; Gloo's
  # headers for data-parallel training (c10d).
  libtorch-dev libopenblas0-pthread libgloo-dev
  # GdkPixbuf reads WebP photos only with this loader.
  webp-pixbuf-loader
)
if [ "$mode" = test ]; then
  packages+=(
    # Reference numbers come from Debian's own PyTorch and torchvision.
    python3-torch python3-torchvision python3-pil
    xvfb xauth desktop-file-utils appstream sqlite3
    # The install test asks the desktop's MIME database what a renamed catalog is.
    shared-mime-info libglib2.0-bin
    # A private session bus for the tests that launch a second instance.
    dbus-daemon
    # The server tests start a private PostgreSQL server of their own.
    postgresql-15
    # Fuzzing with libFuzzer and the sanitizer runtimes (.ci/run, tests/fuzz).
    clang-14 libclang-rt-14-dev lld-14
  )
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
missing=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${packages[@]}" 2>/dev/null \
          | awk '$1 != "ii" { print $2 }' || true)
if [ -n "$missing" ] || ! dpkg-query -W "${packages[@]}" >/dev/null 2>&1; then
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi

if [ -d _build ]; then
  meson setup --reconfigure _build >/dev/null
else
  meson setup _build
fi
ninja -C _build

case "$mode" in
  run)  exec _build/app/leafscope "$@" ;;
  test) exec xvfb-run -a -s "-screen 0 1280x1024x24" meson test -C _build --print-errorlogs "$@" ;;
  *)    echo "usage: $0 run|test" >&2; exit 2 ;;
esac
