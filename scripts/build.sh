#!/usr/bin/env bash
# Configures and builds a preset (release by default; `asan` for the sanitizer build).
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET="${1:-release}"
JOBS="${CASCADE_JOBS:-$(nproc)}"
# CASCADE_BUILD_BENCH=OFF skips the Google Benchmark programs (the test run does not need them);
# unset, release builds them and asan does not.
DEFAULT_BENCH=ON
[ "$PRESET" = "asan" ] || [ "$PRESET" = "tsan" ] && DEFAULT_BENCH=OFF
cmake --preset "$PRESET" -DCASCADE_BUILD_BENCH="${CASCADE_BUILD_BENCH:-$DEFAULT_BENCH}" >/dev/null
cmake --build --preset "$PRESET" -j "$JOBS"
