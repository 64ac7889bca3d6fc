#!/usr/bin/env bash
# Throughput of `cascade serve` replicas behind HAProxy (issue 14, part 4):
#   bench/serve_cluster.sh BUNDLE_DIR
# For each replica count in REPLICAS (default "1 2"): starts scripts/serve_cluster.sh N in the
# background, warms up, then runs wrk RUNS times (4 connections, DURATION s each, GET
# /recommend/{user}?k=10 over every user of the bundle, round robin) through HAProxy; with one
# replica also straight at the replica (no HAProxy) for the proxy's own cost. Prints one JSON
# line per run and, last, one JSON object of medians per setup.
# Environment: DURATION (20), WARMUP (5), RUNS (3), CONNECTIONS (4), WRK_THREADS (1),
# REPLICAS ("1 2"), SERVER_THREADS (0 = the server's default).
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DURATION="${DURATION:-20}"
WARMUP="${WARMUP:-5}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-4}"
WRK_THREADS="${WRK_THREADS:-1}"
REPLICAS="${REPLICAS:-1 2}"
SERVER_THREADS="${SERVER_THREADS:-0}"
PY="$(command -v /usr/bin/python3 || command -v python3)"
log() { echo "[serve_cluster bench] $*" >&2; }

BUNDLE="${1:-}"
[ -f "$BUNDLE/manifest.json" ] || { log "usage: $0 BUNDLE_DIR (a bundle: manifest.json)"; exit 1; }
WORK="$(mktemp -d /tmp/cascade-cluster-bench.XXXXXX)"
RUN_DIR=""
cleanup() {
  [ -n "$RUN_DIR" ] && bash scripts/serve_cluster.sh stop "$RUN_DIR" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

tail -n +2 "$BUNDLE/data/user_ids.tsv" | cut -f2 >"$WORK/users.txt"
cat >"$WORK/bench.lua" <<LUA
local reqs = {}
for line in io.lines("$WORK/users.txt") do
  reqs[#reqs + 1] = wrk.format("GET", "/recommend/" .. line .. "?k=10")
end
local i = 0
request = function()
  i = i + 1
  return reqs[(i % #reqs) + 1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"p50_ms":%.4f,"p99_ms":%.4f,"qps":%.1f,"errors":%d,"requests":%d}\n',
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), e.connect + e.read + e.write + e.status + e.timeout,
    summary.requests))
end
LUA

# measure SETUP URL: warm-up, then RUNS wrk runs; one JSON line each into $WORK/results.
measure() {
  local setup="$1" url="$2" r line
  wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" -s "$WORK/bench.lua" "$url" >/dev/null
  for r in $(seq 1 "$RUNS"); do
    line="$(wrk -t "$WRK_THREADS" -c "$CONNECTIONS" -d "${DURATION}s" -s "$WORK/bench.lua" --latency "$url" |
      grep '^WRK ' | sed 's/^WRK //')"
    line="$("$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); d.update(setup=sys.argv[2], run=int(sys.argv[3])); print(json.dumps(d))' \
      "$line" "$setup" "$r")"
    echo "$line" | tee -a "$WORK/results"
  done
}

for n in $REPLICAS; do
  RUN_DIR="$WORK/run-$n"
  bash scripts/serve_cluster.sh "$n" --bundle "$BUNDLE" --port 0 --run-dir "$RUN_DIR" \
    --threads "$SERVER_THREADS" --background >/dev/null
  # shellcheck disable=SC1091
  . "$RUN_DIR/cluster.env"
  log "$n replica(s) behind HAProxy at $URL: $CONNECTIONS connections, $RUNS x ${DURATION}s"
  if [ "$n" = "1" ]; then
    measure "1 replica, direct (no HAProxy)" "http://127.0.0.1:$REPLICA_PORTS"
  fi
  measure "$n replica(s) behind HAProxy" "$URL"
  bash scripts/serve_cluster.sh stop "$RUN_DIR"
  RUN_DIR=""
done

"$PY" - "$WORK/results" "$BUNDLE" "$(nproc)" "$CONNECTIONS" "$DURATION" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
out = {"bundle": sys.argv[2], "cores": int(sys.argv[3]), "connections": int(sys.argv[4]),
       "duration_s": int(sys.argv[5]), "setups": {}}
for setup in dict.fromkeys(r["setup"] for r in rows):
    rs = [r for r in rows if r["setup"] == setup]
    out["setups"][setup] = {k: statistics.median(r[k] for r in rs) for k in ("qps", "p50_ms", "p99_ms")}
    out["setups"][setup].update(runs=len(rs), errors=sum(r["errors"] for r in rs))
print(json.dumps(out))
PY
