#!/usr/bin/env bash
# Configures and builds a preset (release by default; `asan` for the sanitizer build).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET="${1:-release}"
JOBS="${CASCADE_JOBS:-$(nproc)}"
cmake --preset "$PRESET" >/dev/null
cmake --build --preset "$PRESET" -j "$JOBS"
