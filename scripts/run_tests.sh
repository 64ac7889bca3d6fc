#!/usr/bin/env bash
# The test suite: install Debian packages, build (Release), run every test through ctest.
# Set CASCADE_ASAN=1 to also build and run the suite under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
bash scripts/build.sh release
ctest --preset release -j "$(nproc)"

if [ "${CASCADE_ASAN:-0}" = "1" ]; then
  bash scripts/build.sh asan
  ctest --preset asan -j "$(nproc)"
fi
