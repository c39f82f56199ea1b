#!/usr/bin/env bash
# Build the one-folder bundle dist/ented-desktop/ from this checkout with PyInstaller (build.spec), prove it with
# its own self-test (offline, in a throwaway user folder), and report its size by package.
#
#   scripts/build_bundle.sh              uses .venv (made by the README's install command)
#   PYTHON=/path/to/python scripts/build_bundle.sh
#
# Exits non-zero when the build or a self-test check fails. CI runs it after the tests (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
DIST=dist/ented-desktop

seconds() { date +%s; }
began=$(seconds)
# Editable, like the README's install: a plain install would shadow the checkout that the tests import.
"$PYTHON" -m pip install -q -e ".[build]"
built=$(seconds)
"$PYTHON" -m PyInstaller build.spec --noconfirm --log-level WARN
packed=$(seconds)
echo "build: pip $((built - began)) s, PyInstaller $((packed - built)) s"

"$DIST/ented" --version
"$DIST/ented-desktop" --selftest
tested=$(seconds)

echo "size of $DIST: $(du -sm "$DIST" | awk '{ printf "%.2f GiB", $1 / 1024 }'); largest parts (MiB):"
# awk reads all of sort's output (head would close the pipe early: SIGPIPE, which pipefail turns into a failure)
du -sm "$DIST"/_internal/* | sort -rn | awk 'NR <= 12 { printf "  %6d  %s\n", $1, substr($2, index($2, "_internal/") + 10) }'
cuda=$(find "$DIST/_internal" \( -path '*/nvidia/*' -o -name 'libtorch_cuda*' -o -name 'libc10_cuda*' \
  -o -name 'libtorch_nvshmem*' -o -name 'libcudart*' -o -name 'libnvjpeg*' \) -type f -print0 \
  | du -cm --files0-from=- | tail -n 1 | cut -f1)
echo "  of which CUDA libraries: $cuda MiB"
echo "bundle built and self-tested in $((tested - began)) s"
