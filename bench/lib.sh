# Shared start-up of the load scripts (bench/serve.sh, bench/soak.sh); source it after setting
# `log`. Each script gets a private work directory, a private redis-server on a unix socket and
# `cascade serve` on a free loopback port, all stopped and removed on exit.
#   bench_require_tools TOOL...       exits naming the first missing tool
#   bench_workdir NAME                sets WORK (mktemp -d /tmp/NAME.XXXXXX) and the exit trap
#   bench_start_redis                 sets REDIS_PID; the socket is $WORK/redis.sock
#   bench_start_server ARGS...        cascade serve --port 0 ARGS; sets SERVER_PID and URL
#   bench_rss_mb / bench_fds          the server's resident memory (MB) and open descriptors
# shellcheck shell=bash

bench_require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { log "$tool missing: run scripts/install_deps.sh"; exit 1; }
  done
}

bench_cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null || true
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
}

bench_workdir() {
  WORK="$(mktemp -d "/tmp/$1.XXXXXX")"
  SERVER_PID=""
  REDIS_PID=""
  trap bench_cleanup EXIT
}

bench_start_redis() {
  redis-server --port 0 --unixsocket "$WORK/redis.sock" --unixsocketperm 700 --dir "$WORK" \
    --save "" --appendonly no --daemonize no >"$WORK/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do [ -S "$WORK/redis.sock" ] && break; sleep 0.05; done
  [ -S "$WORK/redis.sock" ] || { log "redis-server did not start: $(cat "$WORK/redis.log")"; exit 1; }
}

bench_start_server() {
  "$CASCADE" serve --port 0 --ready-file "$WORK/port" "$@" >"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    [ -f "$WORK/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { log "server exited: $(cat "$WORK/serve.log")"; exit 1; }
    sleep 0.1
  done
  [ -f "$WORK/port" ] || { log "server not ready after 60 s: $(tail -5 "$WORK/serve.log")"; exit 1; }
  URL="http://127.0.0.1:$(cat "$WORK/port")"
}

bench_rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER_PID/status"; }
bench_fds() { ls "/proc/$SERVER_PID/fd" | wc -l; }
