#!/usr/bin/env bash
# Soak test of `cascade serve` (issue 15):
#   bench/soak.sh [BUNDLE_DIR]
# Starts a private redis-server and the service (admin token, event journal), then for MINUTES
# one-minute rounds drives it with wrk at full speed: EVENT_PERCENT % of the requests are
# POST /events (one event of a random user and item), the rest GET /recommend/{user}?k=10; in
# the middle of every round a hot reload (POST /admin/reload with the token). After each round
# it prints one line: requests/s, p50/p99 (ms), non-2xx by status, the server's RSS and open
# file descriptors, the reload's answer. The LAST line is one JSON object with the rounds and
# the checks of the issue: RSS and fds flat (within 5% of the first round after warm-up),
# p99 of every round within 2x of the first, no 5xx other than 503.
# With events, a fill phase first posts events only (FILL_CHUNK_S-second chunks) until the
# server's event cache stops growing (< 1% per chunk, at most FILL_MAX_CHUNKS chunks): the
# cache holds up to max_events_per_user (1000) events of every posting user, and a cache still
# filling is data arriving, not a leak, so the rounds start from the state a long-running
# server is in. Every round also reports the cache's events and estimated MB (/metrics).
# Environment: MINUTES (10), ROUND_S (60), CONNECTIONS (4), EVENT_PERCENT (10), WARMUP (20;
# one hot reload included), FILL (1; 0 = no fill phase), FILL_CHUNK_S (20), FILL_MAX_CHUNKS (40).
# Without BUNDLE_DIR: runs/ml-latest/bundle (scripts/run_main.sh builds it).
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
MINUTES="${MINUTES:-10}"
ROUND_S="${ROUND_S:-60}"
CONNECTIONS="${CONNECTIONS:-4}"
EVENT_PERCENT="${EVENT_PERCENT:-10}"
WARMUP="${WARMUP:-20}"
FILL="${FILL:-1}"
FILL_CHUNK_S="${FILL_CHUNK_S:-20}"
FILL_MAX_CHUNKS="${FILL_MAX_CHUNKS:-40}"
log() { echo "[soak] $*" >&2; }
source "$ROOT/bench/lib.sh"
bench_require_tools wrk curl redis-server
CASCADE="$ROOT/build/release/cascade"
[ -x "$CASCADE" ] || { log "$CASCADE missing: run scripts/build.sh release"; exit 1; }
BUNDLE="${1:-runs/ml-latest/bundle}"
[ -f "$BUNDLE/manifest.json" ] || { log "$BUNDLE is not a bundle (no manifest.json)"; exit 1; }
BUNDLE="$(cd "$BUNDLE" && pwd)"

bench_workdir cascade-soak
bench_start_redis
(umask 077; od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$WORK/admin-token")
printf 'Authorization: Bearer %s\n' "$(cat "$WORK/admin-token")" >"$WORK/admin-header"
bench_start_server --bundle "$BUNDLE" --redis "unix:$WORK/redis.sock" \
  --admin-token-file "$WORK/admin-token" --events-journal "$WORK/events.journal"

tail -n +2 "$BUNDLE/data/user_ids.tsv" | cut -f2 >"$WORK/users.txt"
tail -n +2 "$BUNDLE/data/item_ids.tsv" | cut -f2 >"$WORK/items.txt"
# write_lua FILE PERCENT: the request mix with PERCENT % event posts.
write_lua() {
cat >"$1" <<LUA
-- Requests formatted up front; statuses counted per thread and summed in done().
local users, items = {}, {}
for l in io.lines("$WORK/users.txt") do users[#users + 1] = l end
for l in io.lines("$WORK/items.txt") do items[#items + 1] = l end
local threads = {}
function setup(thread) threads[#threads + 1] = thread end
local gets, posts = {}, {}
for k = 1, #users do gets[k] = wrk.format("GET", "/recommend/" .. users[k] .. "?k=10") end
for k = 1, 2000 do
  local body = string.format('{"user_id": "%s", "item_id": "%s"}', users[math.random(#users)], items[math.random(#items)])
  posts[k] = wrk.format("POST", "/events", {["Content-Type"] = "application/json"}, body)
end
local i = 0
status = {}
function request()
  i = i + 1
  if (i % 100) < $2 then return posts[(i % #posts) + 1] end
  return gets[(i % #gets) + 1]
end
function response(s, headers, body) status[s] = (status[s] or 0) + 1 end
function done(summary, latency, requests)
  local by = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("status")) do by[s] = (by[s] or 0) + n end
  end
  local parts = {}
  for s, n in pairs(by) do parts[#parts + 1] = string.format('"%d":%d', s, n) end
  io.write(string.format('WRK {"qps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"requests":%d,"socket_errors":%d,"status":{%s}}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ",")))
end
LUA
}
write_lua "$WORK/soak.lua" "$EVENT_PERCENT"
write_lua "$WORK/fill.lua" 100
# metric NAME: one gauge of the server's /metrics (0 when absent).
metric() { curl -s "$URL/metrics" | awk -v n="$1" '$1 == n {v = $2} END {print v + 0}'; }

if [ "$EVENT_PERCENT" -gt 0 ] && [ "$FILL" = 1 ]; then
  prev=0
  for c in $(seq 1 "$FILL_MAX_CHUNKS"); do
    wrk -t 1 -c "$CONNECTIONS" -d "${FILL_CHUNK_S}s" -s "$WORK/fill.lua" "$URL" >"$WORK/fill-$c.txt"
    now="$(metric cascade_event_cache_events)"
    log "fill chunk $c: event cache $now events, $(metric cascade_event_cache_bytes_estimate | awk '{printf "%.1f", $1 / 1048576}') MB estimated, RSS $(bench_rss_mb) MB"
    if awk -v a="$prev" -v b="$now" 'BEGIN {exit !(b > 0 && b - a < 0.01 * b)}'; then break; fi
    [ "$c" = "$FILL_MAX_CHUNKS" ] && log "the event cache still grows after $c chunks: rounds start from a cache that is not full"
    prev="$now"
  done
fi

log "warm-up ${WARMUP}s on $URL ($CONNECTIONS connections, $EVENT_PERCENT% events)"
# The warm-up includes one hot reload: the first reload holds two bundles for a moment and the
# allocator keeps some of that memory, a one-time step the rounds are compared after.
( sleep $((WARMUP / 2)); curl -s -X POST "$URL/admin/reload" -H @"$WORK/admin-header" -d '' -o /dev/null ) &
RELOADER=$!
wrk -t 1 -c "$CONNECTIONS" -d "${WARMUP}s" -s "$WORK/soak.lua" "$URL" >/dev/null
wait "$RELOADER" || true  # only the reloader: a bare `wait` would wait for the server too
: >"$WORK/rounds.jsonl"
for m in $(seq 1 "$MINUTES"); do
  ( sleep $((ROUND_S / 2))
    curl -s -X POST "$URL/admin/reload" -H @"$WORK/admin-header" -H 'Content-Type: application/json' -d '' -o "$WORK/reload-$m.json" -w '%{http_code}' \
      >"$WORK/reload-$m.code" ) &
  RELOADER=$!
  wrk -t 1 -c "$CONNECTIONS" -d "${ROUND_S}s" -s "$WORK/soak.lua" --latency "$URL" >"$WORK/wrk-$m.txt"
  wait "$RELOADER" || true
  R="$(grep '^WRK ' "$WORK/wrk-$m.txt" | sed 's/^WRK //')"
  python3 - "$R" "$m" "$(bench_rss_mb)" "$(bench_fds)" "$(cat "$WORK/reload-$m.code" 2>/dev/null || echo none)" \
    "$(metric cascade_event_cache_events)" "$(metric cascade_event_cache_bytes_estimate)" >>"$WORK/rounds.jsonl" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
r.update(minute=int(sys.argv[2]), rss_mb=float(sys.argv[3]), fds=int(sys.argv[4]), reload_http=sys.argv[5],
         cache_events=int(float(sys.argv[6])), cache_mb_estimate=round(float(sys.argv[7]) / 1048576, 1))
print(json.dumps(r))
PY
  log "$(tail -1 "$WORK/rounds.jsonl")"
done
python3 - "$WORK/rounds.jsonl" "$(nproc)" "$CONNECTIONS" "$EVENT_PERCENT" "$FILL" <<'PY'
import json, sys
rounds = [json.loads(l) for l in open(sys.argv[1])]
first = rounds[0]
five_xx = sum(n for r in rounds for s, n in r["status"].items() if s.startswith("5") and s != "503")
out = {
    "rounds": rounds, "cores": int(sys.argv[2]), "connections": int(sys.argv[3]), "event_percent": int(sys.argv[4]),
    "fill_phase": sys.argv[5] == "1" and int(sys.argv[4]) > 0,
    "rss_mb_first": first["rss_mb"], "rss_mb_last": rounds[-1]["rss_mb"],
    "rss_flat": all(abs(r["rss_mb"] - first["rss_mb"]) <= 0.05 * first["rss_mb"] for r in rounds),
    "fds_first": first["fds"], "fds_max": max(r["fds"] for r in rounds),
    "fds_flat": all(abs(r["fds"] - first["fds"]) <= max(1, 0.05 * first["fds"]) for r in rounds),
    "p99_ms_first": first["p99_ms"], "p99_ms_max": max(r["p99_ms"] for r in rounds),
    "p99_within_2x": all(r["p99_ms"] <= 2 * first["p99_ms"] for r in rounds),
    "five_xx_other_than_503": five_xx,
    "reloads_ok": sum(r["reload_http"] == "200" for r in rounds), "reloads": len(rounds),
    "socket_errors": sum(r["socket_errors"] for r in rounds),
}
print(json.dumps(out))
PY
