#!/usr/bin/env bash
# N `cascade serve` replicas behind HAProxy, sharing one Redis feature store (issue 14, part 4).
#
#   scripts/serve_cluster.sh N [--bundle DIR] [--port P] [--run-dir DIR] [--cache-ttl-ms MS]
#                              [--threads T] [--bundle-root DIR] [--background]
#   scripts/serve_cluster.sh stop RUN_DIR        # stops what a --background start left running
#
# Starts one redis-server (private unix socket, no persistence), N replicas on free loopback
# ports (--port 0 + --ready-file: the script waits until each has loaded the bundle), and HAProxy
# on 127.0.0.1:P (default 8080; 0 = a free port) with a config generated into the run dir:
# round robin, health checks on GET /ready every 250 ms (a dead replica is marked down after two
# failed checks), retries with redispatch (a request refused by or cut off from a dead replica
# is sent to another one), and an admin runtime socket (drain/ready, used by
# scripts/cluster_reload.sh for rolling reloads).
#
# Admin access (issue 15): a random token is written to RUN_DIR/admin-token (mode 600) and every
# replica gets --admin-token-file and --bundle-root (default: the directory holding the bundle),
# so POST /admin/reload needs `Authorization: Bearer <token>` (RUN_DIR/admin-header holds that
# header line for `curl -H @file`) and may only name bundles under the root.
#
# Foreground (default): Ctrl-C / TERM stops everything. --background: returns once the cluster
# is up and leaves it running; the run dir then describes it:
#   cluster.env               N, PORT, URL, REPLICA_PORTS, HAPROXY_SOCK, REDIS_SOCK, BUNDLE,
#                             BUNDLE_ROOT, ADMIN_HEADER_FILE, BIN
#   redis.pid, haproxy.pid, replica-I.pid (I = 1..N)   one pid per component
#   replica-I.port, *.log, haproxy.cfg, redis.sock, haproxy.sock, admin-token, admin-header
# Environment: CASCADE_BIN (build/release/cascade).
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# Debian's interpreter: a pyenv shim first on PATH costs ~0.8 s per start on a loaded machine.
PY="$(command -v /usr/bin/python3 || command -v python3)"
log() { echo "[cluster] $*" >&2; }
die() { log "$*"; exit 1; }

# Kills the components whose pidfiles are in $1, front to back (HAProxy first, Redis last, so no
# replica loses its store while it still takes requests), and waits for each to exit.
stop_cluster() {
  local dir="$1" f pid
  for f in "$dir"/haproxy.pid "$dir"/replica-*.pid "$dir"/redis.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
}

if [ "${1:-}" = "stop" ]; then
  [ -n "${2:-}" ] && [ -d "$2" ] || die "usage: $0 stop RUN_DIR"
  stop_cluster "$2"
  exit 0
fi

N="${1:-}"
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "usage: $0 N [--bundle DIR] [--port P] [--run-dir DIR] [--cache-ttl-ms MS] [--threads T] [--bundle-root DIR] [--background]"
shift
BUNDLE="$ROOT/runs/ml-latest/bundle"
PORT=8080
RUN_DIR=""
CACHE_TTL_MS=2000
THREADS=0
BUNDLE_ROOT=""
BACKGROUND=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) BUNDLE="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    --run-dir) RUN_DIR="$2"; shift 2 ;;
    --cache-ttl-ms) CACHE_TTL_MS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --bundle-root) BUNDLE_ROOT="$2"; shift 2 ;;
    --background) BACKGROUND=1; shift ;;
    *) die "unknown argument $1" ;;
  esac
done

BIN="${CASCADE_BIN:-$ROOT/build/release/cascade}"
[ -x "$BIN" ] || die "$BIN is missing: run scripts/build.sh release first"
for tool in haproxy redis-server curl "$PY"; do
  command -v "$tool" >/dev/null || die "$tool missing: run scripts/install_deps.sh"
done
[ -f "$BUNDLE/manifest.json" ] || die "$BUNDLE is not a bundle (no manifest.json); build one with \`cascade bundle\` or scripts/run_main.sh"
BUNDLE="$(cd "$BUNDLE" && pwd)"
[ -n "$BUNDLE_ROOT" ] || BUNDLE_ROOT="$(dirname "$BUNDLE")"
[ -d "$BUNDLE_ROOT" ] || die "--bundle-root $BUNDLE_ROOT is not a directory"
BUNDLE_ROOT="$(cd "$BUNDLE_ROOT" && pwd)"
if [ -z "$RUN_DIR" ]; then
  RUN_DIR="$(mktemp -d /tmp/cascade-cluster.XXXXXX)"
else
  mkdir -p "$RUN_DIR"
  RUN_DIR="$(cd "$RUN_DIR" && pwd)"
  ls "$RUN_DIR"/*.pid >/dev/null 2>&1 && die "$RUN_DIR has pidfiles: a cluster runs there (stop it with: $0 stop $RUN_DIR)"
fi
# A unix socket path is limited to 107 bytes.
[ ${#RUN_DIR} -le 90 ] || die "run dir path too long for unix sockets: $RUN_DIR"
if [ "$PORT" = "0" ]; then
  PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi

# Whatever was started goes down with the script: on Ctrl-C / TERM, on a failure while starting,
# and when a component exits; only a successful --background start leaves it running.
trap 'stop_cluster "$RUN_DIR"; exit 130' INT TERM
trap 'stop_cluster "$RUN_DIR"' EXIT

# 1. Redis: the replicas' shared feature store (events posted to one are read by all).
rm -f "$RUN_DIR/redis.sock"
redis-server --port 0 --unixsocket "$RUN_DIR/redis.sock" --unixsocketperm 700 --dir "$RUN_DIR" \
  --save "" --appendonly no --daemonize no >"$RUN_DIR/redis.log" 2>&1 &
echo $! >"$RUN_DIR/redis.pid"
for _ in $(seq 1 100); do [ -S "$RUN_DIR/redis.sock" ] && break; sleep 0.05; done
[ -S "$RUN_DIR/redis.sock" ] || die "redis-server did not start: $(cat "$RUN_DIR/redis.log")"

# 2. The replicas, each on a free port it reports through its ready file, admin routes behind a
# fresh random token.
(
  umask 077
  od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$RUN_DIR/admin-token"
  printf 'Authorization: Bearer %s\n' "$(cat "$RUN_DIR/admin-token")" >"$RUN_DIR/admin-header"
)
for i in $(seq 1 "$N"); do
  rm -f "$RUN_DIR/replica-$i.port"
  "$BIN" serve --bundle "$BUNDLE" --host 127.0.0.1 --port 0 --threads "$THREADS" \
    --redis "unix:$RUN_DIR/redis.sock" --cache-ttl-ms "$CACHE_TTL_MS" \
    --admin-token-file "$RUN_DIR/admin-token" --bundle-root "$BUNDLE_ROOT" \
    --ready-file "$RUN_DIR/replica-$i.port" >"$RUN_DIR/replica-$i.log" 2>&1 &
  echo $! >"$RUN_DIR/replica-$i.pid"
done
REPLICA_PORTS=()
for i in $(seq 1 "$N"); do
  pid="$(cat "$RUN_DIR/replica-$i.pid")"
  for _ in $(seq 1 1200); do
    [ -s "$RUN_DIR/replica-$i.port" ] && break
    kill -0 "$pid" 2>/dev/null || die "replica $i exited: $(tail -5 "$RUN_DIR/replica-$i.log")"
    sleep 0.05
  done
  [ -s "$RUN_DIR/replica-$i.port" ] || die "replica $i not ready after 60 s"
  REPLICA_PORTS+=("$(cat "$RUN_DIR/replica-$i.port")")
done

# 3. HAProxy in front.
{
  cat <<CFG
# Generated by scripts/serve_cluster.sh: $N replicas of $BUNDLE
global
    log stdout format iso local0 notice
    stats socket $RUN_DIR/haproxy.sock mode 600 level admin
    maxconn 4096

defaults
    mode http
    log global
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout http-keep-alive 30s
    timeout queue 5s
    # A request refused by a dead replica, or cut off when a replica dies under it, is retried
    # (up to 3 times) and, from the second try on, on another server.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout
    option dontlognull

frontend cascade
    bind 127.0.0.1:$PORT
    # Only connection failures retry a POST: replaying one whose answer was lost could store
    # its events twice.
    http-request disable-l7-retry if METH_POST
    default_backend replicas

backend replicas
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    # Checked every 250 ms (100 ms once a check fails): down after 2 failures, up after 2 passes.
    default-server check inter 250ms fastinter 100ms downinter 500ms fall 2 rise 2
CFG
  for i in $(seq 1 "$N"); do
    echo "    server r$i 127.0.0.1:${REPLICA_PORTS[$((i - 1))]}"
  done
} >"$RUN_DIR/haproxy.cfg"
haproxy -c -q -f "$RUN_DIR/haproxy.cfg" || die "haproxy rejected $RUN_DIR/haproxy.cfg"
haproxy -db -f "$RUN_DIR/haproxy.cfg" >"$RUN_DIR/haproxy.log" 2>&1 &
echo $! >"$RUN_DIR/haproxy.pid"
URL="http://127.0.0.1:$PORT"
for _ in $(seq 1 200); do
  curl -sf "$URL/ready" >/dev/null 2>&1 && break
  kill -0 "$(cat "$RUN_DIR/haproxy.pid")" 2>/dev/null || die "haproxy exited: $(cat "$RUN_DIR/haproxy.log")"
  sleep 0.05
done
curl -sf "$URL/ready" >/dev/null || die "haproxy does not answer on $URL: $(cat "$RUN_DIR/haproxy.log")"

cat >"$RUN_DIR/cluster.env" <<ENV
N=$N
PORT=$PORT
URL=$URL
REPLICA_PORTS="${REPLICA_PORTS[*]}"
HAPROXY_SOCK=$RUN_DIR/haproxy.sock
REDIS_SOCK=$RUN_DIR/redis.sock
BUNDLE=$BUNDLE
BUNDLE_ROOT=$BUNDLE_ROOT
ADMIN_HEADER_FILE=$RUN_DIR/admin-header
BIN=$BIN
ENV

echo "cluster of $N replica(s) on $URL (bundle $(curl -s "$URL/ready"))"
for i in $(seq 1 "$N"); do echo "  replica r$i: http://127.0.0.1:${REPLICA_PORTS[$((i - 1))]}"; done
echo "  redis: unix:$RUN_DIR/redis.sock   haproxy runtime socket: $RUN_DIR/haproxy.sock"
echo "  run dir: $RUN_DIR"
echo "  rolling reload: scripts/cluster_reload.sh $RUN_DIR NEW_BUNDLE_DIR"
if [ "$BACKGROUND" = "1" ]; then
  trap - EXIT INT TERM
  echo "  stop: scripts/serve_cluster.sh stop $RUN_DIR"
  exit 0
fi
echo "Ctrl-C stops the cluster."
# A replica that dies is HAProxy's business (it routes around it); HAProxy or Redis exiting ends
# the cluster. Ctrl-C / TERM interrupt the wait through the trap.
wait -n "$(cat "$RUN_DIR/haproxy.pid")" "$(cat "$RUN_DIR/redis.pid")" || true
log "haproxy or redis-server exited; stopping the cluster"
