#!/usr/bin/env bash
# The Python module's tests (tests/python, pytest) against an INSTALLED copy: a venv that sees
# Debian's numpy/pandas/scipy/pytest (--system-site-packages) gets `pip install
# --no-build-isolation .` built in the existing Release tree (only the extension target is
# (re)built there), so what is tested is what a user's install gives. Run after the Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD="${CASCADE_BUILD_DIR:-build/release}"
VENV="$BUILD/venv"

if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
fi
CASCADE_CMAKE_BUILD_DIR="$ROOT/$BUILD" "$VENV/bin/python" -m pip install --quiet --no-build-isolation \
  --no-deps --force-reinstall "$ROOT"
# Run from outside the checkout so `import cascade` cannot pick up python/cascade (no extension).
cd "$BUILD"
CASCADE_BIN="$ROOT/$BUILD/cascade" CASCADE_SOURCE_DIR="$ROOT" OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" \
  "$ROOT/$VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/tests/python" "$@"
