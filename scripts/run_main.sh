#!/usr/bin/env bash
# The main job on the embedded default dataset (data/ml-latest-small):
# install Debian packages, build, prepare the data, train every recall channel,
# evaluate them on the held-out items and print the metrics table.
# Extra arguments are config overrides, e.g.  scripts/run_main.sh data=ml-100k recall=parity
set -euo pipefail
# XGBoost's and libtorch's OpenMP threads spin while they wait; on a shared 2-core machine that
# made a 0.4 s GBDT fit take 9-13 s. Passive waiting costs nothing measurable when idle.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."

echo "== 1/4 dependencies"
bash scripts/install_deps.sh
echo "== 2/4 build"
bash scripts/build.sh release
CASCADE=./build/release/cascade
echo "== 3/4 prepare + train (validation metrics)"
"$CASCADE" train "$@"
echo "== 4/4 evaluate on the test split"
"$CASCADE" eval "$@"
echo
echo "Runs are in ./mlruns (MLflow file store: 'mlflow ui --backend-store-uri mlruns' opens it)."
