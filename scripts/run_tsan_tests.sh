#!/usr/bin/env bash
# ThreadSanitizer over the concurrency tests: the server (workers, admission queue, hot reload
# under load), the feature store (Redis writer thread, journal, replay), the event cache and
# metrics, the cancellation flags and thread pool, and the Recommender answering from four
# threads at once. Any report fails the run (TSan exits 66).
#
#   scripts/run_tsan_tests.sh        CI: cascade_tsan_tests in the Release tree. The concurrent
#                                    sources and these tests are instrumented; channels, rankers
#                                    and data code are the Release objects (no second full build).
#   scripts/run_tsan_tests.sh full   The tsan preset: every object instrumented (a full build,
#                                    ~1 h on 2 cores), plus the channels' concurrent-scoring tests.
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."
MODE="${1:-partial}"
FILTER='ServerTest.*:ServerLoading.*:ServerOverload.*:HandlerTest.*:FeatureStore*:JournaledStore*'
FILTER+=':EventJournal.*:EventCache.*:Prometheus*:Stats*:Cancel.*:Parallel.*:RecommenderConcurrency.*'
case "$MODE" in
  partial)
    cmake --build build/release -j "${CASCADE_JOBS:-$(nproc)}" --target cascade_tsan_tests
    BIN=build/release/cascade_tsan_tests ;;
  full)
    CASCADE_BUILD_BENCH=OFF bash scripts/build.sh tsan
    BIN=build/tsan/cascade_tests
    FILTER+=':*RecallContract.ConcurrentScoring*:SasrecTest.ConcurrentScoring*' ;;
  *) echo "usage: $0 [partial|full]" >&2; exit 2 ;;
esac
start=$(date +%s)
TSAN_OPTIONS="second_deadlock_stack=1 ${TSAN_OPTIONS:-}" "$BIN" --gtest_brief=1 --gtest_filter="$FILTER"
echo "ThreadSanitizer ($MODE): clean in $(( $(date +%s) - start )) s"
