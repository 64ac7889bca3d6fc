#!/usr/bin/env bash
# The test suite: install Debian packages, build (Release), run every test (cascade_tests as
# two shard processes, scripts/run_gtest_shards.sh), the cluster tests
# (scripts/run_cluster_tests.sh), the MPI equality test (scripts/run_mpi_tests.sh), the Python
# module's pytest suite (scripts/run_python_tests.sh), the dashboard's browser test
# (scripts/run_browser_tests.sh), the libFuzzer targets for a bounded time (scripts/run_fuzz.sh),
# ThreadSanitizer over the concurrency tests (scripts/run_tsan_tests.sh), then build and run the
# same suite under AddressSanitizer + UBSan (CASCADE_ASAN=0 skips that).
# Each phase prints its start time, so a slow CI run shows where the minutes went.
set -euo pipefail
# XGBoost's and libtorch's OpenMP threads spin while they wait; on a shared 2-core machine that
# made a 0.4 s GBDT fit take 9-13 s. Passive waiting costs nothing measurable when idle.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."
SUITE_START=$(date +%s)
phase() { echo "==== [$(( $(date +%s) - SUITE_START )) s] $*"; }

phase "install dependencies"
bash scripts/install_deps.sh
# The benchmark programs are not part of the suite; skipping them saves minutes of a cold build
# (scripts/build.sh alone builds them again).
phase "build (Release)"
CASCADE_BUILD_BENCH="${CASCADE_BUILD_BENCH:-OFF}" bash scripts/build.sh release
# Every test, as nproc processes that each run a share of them (`ctest --preset release` runs
# the same tests one process each: ~0.8 s of libtorch start-up per test, half the CPU time).
phase "unit and end-to-end tests (Release)"
bash scripts/run_gtest_shards.sh "$(nproc)" ./build/release/cascade_tests
# Replicas behind HAProxy with one Redis: events across replicas, a replica killed under load,
# a rolling bundle reload under load.
phase "cluster tests"
bash scripts/run_cluster_tests.sh
# iALS training and evaluation across 2 MPI ranks equal one process's (mpirun, ~10 s).
phase "MPI tests"
bash scripts/run_mpi_tests.sh
# The Python module: pip-installed into a venv from the Release tree, then pytest.
phase "Python tests"
bash scripts/run_python_tests.sh
# The dashboard in headless Chromium (installs chromium and the pinned npm package if missing).
phase "browser tests"
bash scripts/run_browser_tests.sh
# libFuzzer on every parser of outside bytes (requests, journal, loaders, configs, funnel spec,
# snapshots, manifests), 20 s each here (fuzz/; scripts/run_fuzz.sh alone gives 30): eight
# targets, inside CI's time budget.
phase "fuzzing"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}" bash scripts/run_fuzz.sh
# ThreadSanitizer: the concurrent sources and their tests instrumented, the rest reused from the
# Release build (scripts/run_tsan_tests.sh full instruments everything: too slow for CI).
phase "ThreadSanitizer"
bash scripts/run_tsan_tests.sh

if [ "${CASCADE_ASAN:-1}" = "1" ]; then
  phase "build (AddressSanitizer + UBSan)"
  CASCADE_BUILD_BENCH=OFF bash scripts/build.sh asan
  # nproc processes, each a share of the suite: under ASan every test process spends 3-5 s
  # loading libtorch, so ctest's process per test would take ~4x longer. A shard runs its tests in
  # one process, in the order given, so this pass also shows the tests do not depend on running
  # alone.
  # The two end-to-end CLI runs of whole training jobs (bench funnel; bundle built twice for
  # determinism) ran the same library code as the unit tests for ~5 min under ASan; they run in
  # the Release pass above and are left out here to keep CI inside its time budget.
  phase "unit and end-to-end tests (AddressSanitizer + UBSan)"
  ASAN_SKIP="CliEndToEnd.BenchFunnelChoosesOnValidationAndBeatsThePool:CliEndToEnd.TheSameBundleCommandTwiceGivesIdenticalModelsAndMetrics"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    bash scripts/run_gtest_shards.sh "$(nproc)" ./build/asan/cascade_tests --gtest_filter="-${ASAN_SKIP}"
fi
phase "all passed"
