#!/usr/bin/env bash
# The cluster tests (tests/cluster, pytest on Debian's python3): replicas of `cascade serve`
# behind HAProxy with one Redis (scripts/serve_cluster.sh) — an event posted through one replica
# reaches another within the cache TTL, a replica killed under load costs no request once
# HAProxy marked it down, a rolling reload (scripts/cluster_reload.sh) under load fails no
# request and answers each with one bundle. Builds two small bundles on the embedded dataset.
#
#   bash scripts/run_cluster_tests.sh          # after scripts/build.sh release
#   CASCADE_CLUSTER_BUNDLES="OLD NEW" bash scripts/run_cluster_tests.sh   # reuse two bundles
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."
START=$(date +%s)
BIN="${CASCADE_BIN:-$PWD/build/release/cascade}"
[ -x "$BIN" ] || { echo "[cluster] $BIN is missing: run scripts/build.sh release first" >&2; exit 1; }
for tool in haproxy redis-server curl; do
  command -v "$tool" >/dev/null || { echo "[cluster] $tool missing: run scripts/install_deps.sh" >&2; exit 1; }
done
CASCADE_BIN="$BIN" /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/cluster "$@"
echo "[cluster] passed in $(( $(date +%s) - START )) s"
