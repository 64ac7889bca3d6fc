#!/usr/bin/env bash
# Rolling bundle reload of a cluster started by scripts/serve_cluster.sh:
#
#   scripts/cluster_reload.sh RUN_DIR NEW_BUNDLE_DIR
#
# One replica at a time: HAProxy stops sending it new requests (`set server ... state drain` on
# the runtime socket), the script waits until the replica has no request in flight (the server's
# `scur` in `show stat`), reloads it directly (POST /admin/reload {"bundle": DIR} on its own
# port, with the cluster's admin token: the server swaps its bundle atomically, so every request
# is answered by one bundle; NEW_BUNDLE_DIR must lie under the cluster's BUNDLE_ROOT),
# checks /ready reports the new version, then gives it back to HAProxy (`state ready`). The other
# replicas serve meanwhile. Stops at the first replica that refuses the bundle, leaving it
# serving its old bundle and back in rotation. Prints the new version as its last line.
set -euo pipefail
# Debian's interpreter: a pyenv shim first on PATH costs ~0.8 s per start on a loaded machine.
PY="$(command -v /usr/bin/python3 || command -v python3)"
log() { echo "[cluster-reload] $*" >&2; }
die() { log "$*"; exit 1; }

RUN_DIR="${1:-}"
NEW="${2:-}"
[ -n "$RUN_DIR" ] && [ -n "$NEW" ] || die "usage: $0 RUN_DIR NEW_BUNDLE_DIR"
[ -f "$RUN_DIR/cluster.env" ] || die "$RUN_DIR/cluster.env missing: not a serve_cluster.sh run dir"
[ -f "$NEW/manifest.json" ] || die "$NEW is not a bundle (no manifest.json)"
NEW="$(cd "$NEW" && pwd)"
# shellcheck disable=SC1091
. "$RUN_DIR/cluster.env"
DRAIN_TIMEOUT_S="${DRAIN_TIMEOUT_S:-30}"

# The runtime socket, through Python (always there, unlike socat).
hap() {
  "$PY" - "$HAPROXY_SOCK" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while chunk := s.recv(65536):
    out += chunk
sys.stdout.write(out.decode())
PY
}
# "scur status" of server $1 in backend `replicas`.
server_stat() { hap "show stat" | awk -F, -v s="$1" '$1 == "replicas" && $2 == s {print $5, $18}'; }
stamp() { date +%T.%N | cut -c1-12; }
version_of() { "$PY" -c 'import json, sys; print(json.load(sys.stdin)["bundle_version"])'; }

# Takes server $1 out of HAProxy's rotation and waits until it has no request in flight.
drain() {
  local name="$1" out scur t0
  out="$(hap "set server replicas/$name state drain")"
  [ -z "$out" ] || die "haproxy refused to drain $name: $out"
  t0=$(date +%s)
  while :; do
    read -r scur _ < <(server_stat "$name")
    [ "$scur" = "0" ] && break
    [ $(($(date +%s) - t0)) -lt "$DRAIN_TIMEOUT_S" ] ||
      die "$name still has $scur request(s) in flight after ${DRAIN_TIMEOUT_S}s"
    sleep 0.02
  done
}

i=0
for port in $REPLICA_PORTS; do
  i=$((i + 1))
  name="r$i"
  replica="http://127.0.0.1:$port"
  if [ "$N" = "1" ]; then
    # Draining the only replica would leave HAProxy nothing to send to (503s); its own atomic
    # swap keeps answering meanwhile, so it reloads in place.
    log "$(stamp) $name is the only replica: reloading it in place"
  else
    log "$(stamp) $name: drain"
    drain "$name"
    log "$(stamp) $name ($replica): no request in flight; reloading"
  fi
  body="$("$PY" -c 'import json, sys; print(json.dumps({"bundle": sys.argv[1]}))' "$NEW")"
  # The admin token travels in a header read from a file (never on a command line `ps` shows).
  if ! answer="$(curl -sS -f -X POST "$replica/admin/reload" -H 'Content-Type: application/json' \
      -H @"$ADMIN_HEADER_FILE" -d "$body")"; then
    hap "set server replicas/$name state ready" >/dev/null
    die "$name refused the bundle (it still serves its old one): $answer"
  fi
  version="$(echo "$answer" | version_of)"
  ready="$(curl -sS -f "$replica/ready" | version_of)"
  # Left drained: a replica whose /ready disagrees with its reload answer is not trusted.
  [ "$ready" = "$version" ] || die "$name reports $ready on /ready after reloading to $version (left drained)"
  hap "set server replicas/$name state ready" >/dev/null
  log "$(stamp) $name serves $version"
done
echo "$version"
