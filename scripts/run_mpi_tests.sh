#!/usr/bin/env bash
# iALS and evaluation across MPI ranks (issue 14, part 3): `mpirun -np 2 cascade train` must give
# the factors of a single-process `cascade train` (max abs difference <= 1e-4; the expected value is
# 0, the ranks solve disjoint rows with the same kernels), and `mpirun -np 2 cascade eval` the same
# per-user values and metrics (coverage included) as one process. A non-iALS channel (popularity)
# rides along to check that rank 0 fits it alone. Embedded dataset, 1 thread per rank: ~20 s.
#
# mpirun flags: root (CI containers) needs --allow-run-as-root; --oversubscribe lets 2 ranks run
# on fewer free slots than cores (CI shares 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CASCADE_BIN:-build/release/cascade}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
MPIRUN=(mpirun --allow-run-as-root --oversubscribe -np 2)

WD="$(mktemp -d)"
trap 'rm -rf "$WD"' EXIT
# threads=1: one rank per core; the result does not depend on the thread count anyway.
common=(threads=1 seed=7 data=ml-latest-small "data.path=$PWD/data/ml-latest-small")
one=("${common[@]}" "workdir=$WD/one" "mlruns=$WD/one-mlruns")
mpi=("${common[@]}" "workdir=$WD/mpi" "mlruns=$WD/mpi-mlruns")

echo "[mpi] one process: cascade train + eval"
"$BIN" train "${one[@]}" --channels ials,popularity > "$WD/one-train.txt"
"$BIN" eval "${one[@]}" --channels ials > "$WD/one-eval.txt"
echo "[mpi] ${MPIRUN[*]}: cascade train + eval"
"${MPIRUN[@]}" "$BIN" train "${mpi[@]}" --channels ials,popularity > "$WD/mpi-train.txt"
"${MPIRUN[@]}" "$BIN" eval "${mpi[@]}" --channels ials > "$WD/mpi-eval.txt"

"$PY" scripts/mpi_compare.py factors "$WD/one/ml-latest-small/models/ials" \
  "$WD/mpi/ml-latest-small/models/ials" 1e-4
"$PY" scripts/mpi_compare.py eval "$WD/one-mlruns" "$WD/mpi-mlruns"
# Rank 0 alone saved both channels and printed one table (the other rank stays quiet).
[ -f "$WD/mpi/ml-latest-small/models/popularity/manifest.json" ] || { echo "[mpi] FAIL: no popularity model"; exit 1; }
for f in train eval; do
  n=$(grep -c "^validation split\|^test split" "$WD/mpi-$f.txt" || true)
  [ "$n" = "1" ] || { echo "[mpi] FAIL: $f printed $n result headers under MPI (want 1)"; cat "$WD/mpi-$f.txt"; exit 1; }
done
# Commands that cannot share their work refuse to run on several ranks.
if "${MPIRUN[@]}" "$BIN" prepare --help > "$WD/refuse.txt" 2>&1; then
  echo "[mpi] FAIL: prepare ran under mpirun -np 2"; exit 1
fi
grep -q "does not run across MPI ranks" "$WD/refuse.txt" || { echo "[mpi] FAIL: no refusal message"; cat "$WD/refuse.txt"; exit 1; }
echo "[mpi] OK"
