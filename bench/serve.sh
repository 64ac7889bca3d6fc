#!/usr/bin/env bash
# Load benchmark of `cascade serve` (issue 5 contract):
#   bench/serve.sh [BUNDLE_DIR]
# Starts a private redis-server (unix socket) as the feature store, starts the service on a
# free loopback port, warms it up, drives GET /recommend/{user}?k=10 over every user of the
# bundle (round-robin) with wrk for DURATION seconds, and prints as its LAST line one JSON
# object: {"p50_ms","p99_ms","qps","errors","rss_mb_start","rss_mb_end", ...}.
# Without BUNDLE_DIR it first trains a bundle on ../shared/data/ml-100k (the embedded
# data/ml-latest-small when that folder is absent) into runs/<tag>/bundle.
# Environment: DURATION (30), WARMUP (5), CONNECTIONS (2), WRK_THREADS (1), SERVER_THREADS
# (0 = the server's default), PATH_SUFFIX ("?k=10"), REDIS (1; 0 = in-process store only),
# SERVER_ARGS (more `cascade serve` flags, e.g. "--keep-alive-max-requests 100000").
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-30}"
WARMUP="${WARMUP:-5}"
CONNECTIONS="${CONNECTIONS:-2}"
WRK_THREADS="${WRK_THREADS:-1}"
SERVER_THREADS="${SERVER_THREADS:-0}"
PATH_SUFFIX="${PATH_SUFFIX:-?k=10}"
USE_REDIS="${REDIS:-1}"

log() { echo "[serve.sh] $*" >&2; }
source "$ROOT/bench/lib.sh"
bench_require_tools wrk curl redis-server
[ -x build/release/cascade ] || bash scripts/build.sh release >&2
CASCADE="$ROOT/build/release/cascade"

BUNDLE="${1:-}"
if [ -z "$BUNDLE" ]; then
  if [ -d ../shared/data/ml-100k ]; then
    DATA=../shared/data/ml-100k; DATASET=ml-100k; TAG=ml-100k
  else
    DATA=data/ml-latest-small; DATASET=ml-latest; TAG=ml-latest
  fi
  BUNDLE="runs/$TAG/bundle"
  log "training a bundle on $DATA into $BUNDLE"
  "$CASCADE" bundle --data "$DATA" --dataset "$DATASET" --out "$BUNDLE" --cache "runs/$TAG/oof-channels" >&2
fi
[ -f "$BUNDLE/manifest.json" ] || { log "$BUNDLE is not a bundle (no manifest.json)"; exit 1; }

bench_workdir cascade-serve-bench
REDIS_ARGS=()
if [ "$USE_REDIS" = "1" ]; then
  bench_start_redis
  REDIS_ARGS=(--redis "unix:$WORK/redis.sock")
fi
# shellcheck disable=SC2086  # SERVER_ARGS is a list of flags
bench_start_server --bundle "$BUNDLE" --threads "$SERVER_THREADS" "${REDIS_ARGS[@]}" ${SERVER_ARGS:-}
log "serving $(curl -s "$URL/health") on $URL"

# Users: every user of the bundle, round-robin across wrk's connections.
tail -n +2 "$BUNDLE/data/user_ids.tsv" | cut -f2 >"$WORK/users.txt"
N_USERS="$(wc -l <"$WORK/users.txt")"
cat >"$WORK/bench.lua" <<LUA
-- Requests are formatted once, up front, so wrk spends its (shared) CPU on I/O only.
local reqs = {}
for line in io.lines("$WORK/users.txt") do
  reqs[#reqs + 1] = wrk.format("GET", "/recommend/" .. line .. "$PATH_SUFFIX")
end
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format('WRK {"p50_ms":%.4f,"p99_ms":%.4f,"qps":%.1f,"errors":%d,"requests":%d}\n',
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), errors, summary.requests))
end
LUA

log "warm-up ${WARMUP}s"
wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" -s "$WORK/bench.lua" "$URL" >/dev/null
RSS_START="$(bench_rss_mb)"
log "measuring ${DURATION}s: $CONNECTIONS connections, $WRK_THREADS wrk thread(s), $N_USERS users"
wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${DURATION}s" -s "$WORK/bench.lua" --latency "$URL" >"$WORK/wrk.txt"
RSS_END="$(bench_rss_mb)"
cat "$WORK/wrk.txt" >&2
RESULT="$(grep '^WRK ' "$WORK/wrk.txt" | sed 's/^WRK //')"
curl -s "$URL/metrics" | grep -E '^cascade_requests_total|^cascade_feature_store_cache' >&2 || true
VERSION="$(curl -s "$URL/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bundle_version"])')"
python3 - "$RESULT" "$RSS_START" "$RSS_END" "$BUNDLE" "$VERSION" "$CONNECTIONS" "$DURATION" "$USE_REDIS" "$(nproc)" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
out = {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "qps": r["qps"], "errors": r["errors"],
       "rss_mb_start": float(sys.argv[2]), "rss_mb_end": float(sys.argv[3]),
       "requests": r["requests"], "bundle": sys.argv[4], "bundle_version": sys.argv[5],
       "connections": int(sys.argv[6]), "duration_s": int(sys.argv[7]), "redis": sys.argv[8] == "1",
       "cores": int(sys.argv[9])}
print(json.dumps(out))
PY
