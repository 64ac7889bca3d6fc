#!/usr/bin/env bash
# Runs a Google Test program as N processes at once, each taking every N-th test
# (GTEST_TOTAL_SHARDS / GTEST_SHARD_INDEX), and fails if any shard fails.
#
#   scripts/run_gtest_shards.sh N PROGRAM [gtest flags...]
#
# Why not ctest's process per test: every cascade_tests process spends ~0.8 s of CPU starting
# (libtorch's operator registry), which over ~620 tests was about half of the suite's CPU time.
# A shard's output goes to a file and is printed when the shard ends, so shards do not interleave.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 N PROGRAM [gtest flags...]" >&2
  exit 2
fi
N="$1"
PROGRAM="$2"
shift 2
# A hung test must not hold CI until its hard limit: a shard is killed after SHARD_TIMEOUT s
# (exit 124, its log printed).
SHARD_TIMEOUT="${SHARD_TIMEOUT:-1800}"
LOGS="$(mktemp -d)"
trap 'rm -rf "$LOGS"' EXIT
start=$(date +%s)
pids=()
for ((i = 0; i < N; i++)); do
  GTEST_TOTAL_SHARDS="$N" GTEST_SHARD_INDEX="$i" timeout -k 10 "$SHARD_TIMEOUT" "$PROGRAM" --gtest_brief=1 "$@" > "$LOGS/$i.log" 2>&1 &
  pids+=("$!")
done
failed=0
for ((i = 0; i < N; i++)); do
  if wait "${pids[$i]}"; then rc=0; else rc=$?; fi
  echo "---- shard $((i + 1))/$N of $(basename "$PROGRAM") (exit $rc)"
  if [ "$rc" -ne 0 ]; then
    failed=1
    cat "$LOGS/$i.log"
  else
    # Passing shards: only gtest's own summary lines (the logs of passing tests are noise).
    grep -E '^\[(==========|  PASSED  |  FAILED  |  SKIPPED )\]' "$LOGS/$i.log" || true
  fi
done
echo "$(basename "$PROGRAM"): $N shards in $(( $(date +%s) - start )) s"
exit "$failed"
