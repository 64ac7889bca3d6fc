#!/usr/bin/env bash
# The main job on the embedded default dataset (data/ml-latest-small):
# install Debian packages, build, prepare the data, train every recall channel,
# evaluate them on the held-out items and print the metrics table, then train the ranking
# stage on the seed-oof split of the same data and print the ranker / funnel table.
# Extra arguments are config overrides, e.g.  scripts/run_main.sh data=ml-100k recall=parity
set -euo pipefail
# XGBoost's and libtorch's OpenMP threads spin while they wait; on a shared 2-core machine that
# made a 0.4 s GBDT fit take 9-13 s. Passive waiting costs nothing measurable when idle.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."

echo "== 1/5 dependencies"
bash scripts/install_deps.sh
echo "== 2/5 build"
bash scripts/build.sh release
CASCADE=./build/release/cascade
echo "== 3/5 prepare + train (validation metrics)"
"$CASCADE" train "$@"
echo "== 4/5 evaluate on the test split"
"$CASCADE" eval "$@"
echo "== 5/5 ranking stage (seed-oof on the embedded dataset: recall channels on the recall slice,"
echo "        LR / GBDT / DeepFM / DIN on the ranker slice, funnel against its own pool)"
"$CASCADE" bench funnel --data data/ml-latest-small --dataset ml-latest --protocol seed-oof --refit false \
  --cache runs/ml-latest/oof-channels --json runs/ml-latest/funnel.json "$@"
echo
echo "Runs are in ./mlruns (MLflow file store: 'mlflow ui --backend-store-uri mlruns' opens it)."
