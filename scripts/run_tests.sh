#!/usr/bin/env bash
# The test suite: install Debian packages, build (Release), run every test through ctest,
# then build and run the same suite under AddressSanitizer + UBSan (CASCADE_ASAN=0 skips that).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
bash scripts/build.sh release
ctest --preset release -j "$(nproc)"

if [ "${CASCADE_ASAN:-1}" = "1" ]; then
  bash scripts/build.sh asan
  ctest --preset asan -j "$(nproc)"
fi
