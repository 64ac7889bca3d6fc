#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, with clang) and runs each for FUZZ_SECONDS (default 30)
# on a copy of its seed corpus (fuzz/corpus/<target>). A crash, a sanitizer report or an
# abort fails the script and leaves the input in build/fuzz/artifacts/; add it to the target's
# corpus once fixed (a regression input). Prints executions per target.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${FUZZ_SECONDS:-30}"
command -v clang++ >/dev/null || { echo "[fuzz] clang++ missing: run scripts/install_deps.sh" >&2; exit 1; }
START=$(date +%s)
CXX=clang++ cmake -S fuzz -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/fuzz -j "$(nproc)"
mkdir -p build/fuzz/artifacts
for target in request event_journal csv_loader movielens config funnel_spec snapshot manifest; do
  work="build/fuzz/corpus-$target"
  rm -rf "$work" && mkdir -p "$work" && cp fuzz/corpus/$target/* "$work"/
  log="build/fuzz/$target.log"
  if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "build/fuzz/fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 \
      -artifact_prefix=build/fuzz/artifacts/ "$work" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "[fuzz] $target FAILED; the input is in build/fuzz/artifacts/" >&2
    exit 1
  fi
  echo "[fuzz] $target: $(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#') executions in ${SECONDS_PER_TARGET} s, no crash"
done
echo "[fuzz] passed in $(( $(date +%s) - START )) s"
