#!/usr/bin/python3
# test-layers.py: the layers as the build means them, checked on every #include line
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# shim/ (C++ over libtorch) <- engine/ (GLib, no GTK) <- ui/ (GTK) <- app/. Each layer includes
# headers of its own folder and of the layer below only: the shim knows no GLib, the engine no
# GTK, and neither ui/ nor app/ sees the shim or libtorch, which the engine links privately (its
# public headers include no shim header; a -private.h one may). The
# command line (app/cli/, app/leafscope-cli.c) is built without GTK and includes no ui/ header.
# The build alone does not catch all of this (ui/ gets GTK and the engine's headers, which may
# include the shim's), so this test reads the sources.
#
# Usage: test-layers.py SOURCE-ROOT. Prints TAP: first that the checker itself catches each kind
# of violation in a small tree of its own, then that SOURCE-ROOT has none.

import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.MULTILINE)
SOURCE_SUFFIXES = ('.c', '.h', '.cpp', '.hpp')

GTK = re.compile(r'^(gtk/|gdk/|gsk/|adwaita\.h|graphene|pango/|cairo)')
GLIB = re.compile(r'^(glib|gio|gobject|gdk-pixbuf|json-glib|libsoup|sqlite3)[/.-]')
TORCH = re.compile(r'^(torch|ATen|c10|caffe2)/')
SHIM = re.compile(r'^lt(-[a-z-]+)?\.h(pp)?$')

# For each layer: the folders of its sources, the folders its quoted includes may come from,
# and the system headers it must not include, with why.
LAYERS = {
    'shim': (['shim'], ['shim'],
             [(GLIB, 'the shim is plain C++ over libtorch, without GLib'),
              (GTK, 'the shim knows no GTK')]),
    'engine': (['engine'], ['engine', 'shim'],
               [(GTK, 'the engine never uses GTK')]),
    'ui': (['ui'], ['ui', 'engine'],
           [(TORCH, 'only the shim uses libtorch'),
            (SHIM, 'ui/ talks to engine objects, never to the shim'),
            (re.compile(r'^sqlite3\.h$'), 'ui/ never calls SQLite')]),
    'cli': (['app/cli'], ['app/cli', 'engine'],
            [(TORCH, 'only the shim uses libtorch'),
             (SHIM, 'the command line talks to the engine, never to the shim'),
             (GTK, 'the command line is built without GTK')]),
    'app': (['app'], ['app', 'ui', 'engine'],
            [(TORCH, 'only the shim uses libtorch'),
             (SHIM, 'app/ talks to engine objects, never to the shim')]),
}
# Made by the build, next to no source.
GENERATED = {'config.h'}
# The command line's main() lives in app/ but keeps the command line's rules.
CLI_MAIN = 'app/leafscope-cli.c'


def layer_files(root, folders):
    for folder in folders:
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if name.endswith(SOURCE_SUFFIXES):
                yield os.path.join(folder, name)


def violations(root):
    found = []
    for layer, (folders, allowed, forbidden) in LAYERS.items():
        for rel in layer_files(root, folders):
            if rel == CLI_MAIN:
                allowed_here, forbidden_here = ['app'] + LAYERS['cli'][1], LAYERS['cli'][2]
            else:
                allowed_here, forbidden_here = allowed, forbidden
            if layer == 'engine' and rel.endswith('.h') and not rel.endswith('-private.h'):
                forbidden_here = forbidden_here + [
                    (SHIM, 'a public engine header, which ui/ and app/ include, keeps the shim '
                           'out of sight (a -private.h header may include it)')]
            with open(os.path.join(root, rel), encoding='utf-8', errors='replace') as f:
                text = f.read()
            for match in INCLUDE.finditer(text):
                kind, header = match.groups()
                line = text.count('\n', 0, match.start()) + 1
                why = [why for pattern, why in forbidden_here if pattern.search(header)]
                if kind == '"' and header not in GENERATED:
                    here = os.path.dirname(rel)
                    if not any(os.path.isfile(os.path.join(root, d, header))
                               for d in [here] + allowed_here):
                        why.append(f'not a header of {", ".join(allowed_here)}')
                if why:
                    closing = '>' if kind == '<' else '"'
                    found.append(f'{rel}:{line}: #include {kind}{header}{closing}: '
                                 + '; '.join(why))
    return found


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def self_check():
    """Each kind of violation, alone in a tree otherwise clean, is found."""
    cases = {
        'ui-includes-shim': ('ui/leaf-view.c', '#include "lt.h"\n'),
        'ui-includes-torch': ('ui/leaf-view.c', '#include <torch/torch.h>\n'),
        'app-includes-shim': ('app/main.c', '#include "lt-weights.h"\n'),
        'cli-includes-shim': ('app/cli/leaf-cli-x.c', '#include "lt-weights.h"\n'),
        'cli-includes-gtk': ('app/cli/leaf-cli-x.c', '#include <gtk/gtk.h>\n'),
        'cli-includes-ui': ('app/leafscope-cli.c', '#include "leaf-window.h"\n'),
        'engine-includes-gtk': ('engine/leaf-thing.c', '#include <gtk/gtk.h>\n'),
        'engine-includes-adwaita': ('engine/leaf-thing.h', '#  include <adwaita.h>\n'),
        'engine-includes-ui': ('engine/leaf-thing.c', '#include "leaf-window.h"\n'),
        'engine-header-includes-shim': ('engine/leaf-error.h', '#include "lt.h"\n'),
        'shim-includes-glib': ('shim/lt-thing.cpp', '#include <glib.h>\n'),
        'shim-includes-engine': ('shim/lt-thing.cpp', '#include "leaf-error.h"\n'),
    }
    clean = {
        'shim/lt.h': '#include <stdint.h>\n',
        'engine/leaf-error.h': '#include <glib.h>\n',
        'engine/leaf-error-private.h': '#include "leaf-error.h"\n#include "lt.h"\n',
        'engine/leaf-error.c': '#include "leaf-error-private.h"\n#include "lt.h"\n',
        'ui/leaf-window.h': '#include <gtk/gtk.h>\n#include "leaf-error.h"\n',
        'app/main.c': '#include "config.h"\n#include "leaf-window.h"\n',
        'app/cli/leaf-cli.h': '#include <glib.h>\n',
        'app/leafscope-cli.c': '#include "cli/leaf-cli.h"\n#include "leaf-error.h"\n',
    }
    results = []
    with tempfile.TemporaryDirectory() as root:
        for rel, text in clean.items():
            write(root, rel, text)
        results.append(('self-check/clean-tree-passes', violations(root) == []))
        for name, (rel, text) in cases.items():
            original = os.path.join(root, rel)
            before = open(original, encoding='utf-8').read() if os.path.exists(original) else None
            write(root, rel, (before or '') + text)
            results.append((f'self-check/finds/{name}', len(violations(root)) == 1))
            if before is None:
                os.remove(original)
            else:
                write(root, rel, before)
    return results


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
    results = self_check()
    problems = violations(root)
    results.append(('source-tree-keeps-its-layers', problems == []))
    print(f'1..{len(results)}')
    for i, (name, ok) in enumerate(results, 1):
        print(f'{"ok" if ok else "not ok"} {i} /layers/{name}')
    for problem in problems:
        print(f'# {problem}')
    return 0 if all(ok for _, ok in results) else 1


if __name__ == '__main__':
    sys.exit(main())
