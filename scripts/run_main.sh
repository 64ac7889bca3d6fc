#!/usr/bin/env bash
# The main job on the embedded default dataset (data/ml-latest-small):
# install Debian packages, build, prepare the data, train every recall channel,
# evaluate them on the held-out items and print the metrics table, then train the ranking
# stage on the seed-oof split of the same data, choose the funnel on validation and print the
# ranker / funnel table, build a model bundle of that funnel and leave the HTTP service running
# on it (Ctrl-C stops it), with a private redis-server as its feature store. PORT (default 8080) picks the service's port.
# Extra arguments are config overrides, e.g.  scripts/run_main.sh data=ml-100k recall=parity
set -euo pipefail
# XGBoost's and libtorch's OpenMP threads spin while they wait; on a shared 2-core machine that
# made a 0.4 s GBDT fit take 9-13 s. Passive waiting costs nothing measurable when idle.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."

echo "== 1/6 dependencies"
bash scripts/install_deps.sh
echo "== 2/6 build"
bash scripts/build.sh release
CASCADE=./build/release/cascade
echo "== 3/6 prepare + train (validation metrics)"
"$CASCADE" train "$@"
echo "== 4/6 evaluate on the test split"
"$CASCADE" eval "$@"
echo "== 5/6 ranking stage (seed-oof on the embedded dataset: recall channels on the recall slice,"
echo "        LR / GBDT / DeepFM / DIN on the ranker slice; the funnel chosen on validation, then"
echo "        tested once against its own pool)"
"$CASCADE" bench funnel --data data/ml-latest-small --dataset ml-latest --protocol seed-oof \
  --cache runs/ml-latest/oof-channels --json runs/ml-latest/funnel.json "$@"
echo
echo "Runs are in ./mlruns (MLflow file store: 'mlflow ui --backend-store-uri mlruns' opens it)."

echo "== 6/6 model bundle of the funnel step 5 chose on validation + service (channels from step 5's cache)"
"$CASCADE" bundle --data data/ml-latest-small --dataset ml-latest --out runs/ml-latest/bundle \
  --funnel-from runs/ml-latest/funnel.json --cache runs/ml-latest/oof-channels "$@"
"$CASCADE" serve --bundle runs/ml-latest/bundle --explain
echo "== report: the dataset's statistics, the funnel of step 5 and the bundle's diversity sweep"
"$CASCADE" bench rerank --bundle runs/ml-latest/bundle --json runs/ml-latest/rerank.json
"$CASCADE" report --data data/ml-latest-small --dataset ml-latest --funnel runs/ml-latest/funnel.json \
  --rerank runs/ml-latest/rerank.json --out runs/ml-latest/report
echo "Report: $(pwd)/runs/ml-latest/report/index.html (every figure and ablation: scripts/make_report.sh)"
PORT="${PORT:-8080}"
REDIS_DIR="$(pwd)/runs/redis"
mkdir -p "$REDIS_DIR"
redis-server --port 0 --unixsocket "$REDIS_DIR/redis.sock" --unixsocketperm 700 --dir "$REDIS_DIR" \
  --appendonly yes --save "" --daemonize no >"$REDIS_DIR/redis.log" 2>&1 &
REDIS_PID=$!
trap 'kill $REDIS_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -S "$REDIS_DIR/redis.sock" ] && break; sleep 0.05; done
[ -S "$REDIS_DIR/redis.sock" ] || { echo "redis-server did not start: $(cat "$REDIS_DIR/redis.log")"; exit 1; }
echo
echo "Starting the service on http://127.0.0.1:$PORT (Ctrl-C stops it). Then, from another terminal:"
echo "  curl 'http://127.0.0.1:$PORT/recommend/1?k=5&explain=true'"
echo "  curl -X POST http://127.0.0.1:$PORT/events -d '{\"user_id\": 1, \"item_id\": 260}'"
echo "  curl 'http://127.0.0.1:$PORT/similar/260?k=5'"
echo "  curl http://127.0.0.1:$PORT/metrics        # and /health, /ready, /openapi.json"
echo "  or open http://127.0.0.1:$PORT/ in a browser: the dashboard"
"$CASCADE" serve --bundle runs/ml-latest/bundle --port "$PORT" --redis "unix:$REDIS_DIR/redis.sock"
