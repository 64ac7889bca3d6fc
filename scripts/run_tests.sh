#!/usr/bin/env bash
# The test suite: install Debian packages, build (Release), run every test through ctest, the
# cluster tests (scripts/run_cluster_tests.sh), the MPI equality test (scripts/run_mpi_tests.sh),
# the Python module's pytest suite (scripts/run_python_tests.sh), the dashboard's browser test
# (scripts/run_browser_tests.sh), the libFuzzer targets for a bounded time (scripts/run_fuzz.sh),
# then build and run the same suite under AddressSanitizer + UBSan
# in one process
# (CASCADE_ASAN=0 skips that).
set -euo pipefail
# XGBoost's and libtorch's OpenMP threads spin while they wait; on a shared 2-core machine that
# made a 0.4 s GBDT fit take 9-13 s. Passive waiting costs nothing measurable when idle.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."

bash scripts/install_deps.sh
# The benchmark programs are not part of the suite; skipping them saves minutes of a cold build
# (scripts/build.sh alone builds them again).
CASCADE_BUILD_BENCH="${CASCADE_BUILD_BENCH:-OFF}" bash scripts/build.sh release
ctest --preset release -j "$(nproc)"
# Replicas behind HAProxy with one Redis: events across replicas, a replica killed under load,
# a rolling bundle reload under load.
bash scripts/run_cluster_tests.sh
# iALS training and evaluation across 2 MPI ranks equal one process's (mpirun, ~10 s).
bash scripts/run_mpi_tests.sh
# The Python module: pip-installed into a venv from the Release tree, then pytest.
bash scripts/run_python_tests.sh
# The dashboard in headless Chromium (installs chromium and the pinned npm package if missing).
bash scripts/run_browser_tests.sh
# libFuzzer on the request parsers, the event journal and the CSV loader, 30 s each (fuzz/).
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" bash scripts/run_fuzz.sh

if [ "${CASCADE_ASAN:-1}" = "1" ]; then
  CASCADE_BUILD_BENCH=OFF bash scripts/build.sh asan
  # One process for the whole suite: under ASan every test process spends 3-5 s loading
  # libtorch, so ctest's process per test would take ~4x longer. (The Release pass above
  # keeps one process per test; this pass also shows the tests do not depend on order.)
  # The two end-to-end CLI runs of whole training jobs (bench funnel; bundle built twice for
  # determinism) ran the same library code as the unit tests for ~5 min under ASan; they run in
  # the Release pass above and are left out here to keep CI inside its time budget.
  ASAN_SKIP="CliEndToEnd.BenchFunnelChoosesOnValidationAndBeatsThePool:CliEndToEnd.TheSameBundleCommandTwiceGivesIdenticalModelsAndMetrics"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/asan/cascade_tests --gtest_brief=1 \
    --gtest_filter="-${ASAN_SKIP}"
fi
