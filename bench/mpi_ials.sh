#!/usr/bin/env bash
# Seconds per iALS iteration (and per evaluation) in one process and across MPI ranks on this
# machine (issue 14, part 3; BENCHMARKS.md "iALS on MPI").
#   bench/mpi_ials.sh [REPEATS [DATASET...]]
# Datasets: ml-100k (../shared/data/ml-100k, seed-loo), synth1m (1M rows at the ML-1M shape, 6,040
# users x 3,706 items) and synth5m (5M rows at the ML-20M shape, 138,493 users x 26,744 items),
# both from `cascade synth` with every rating kept as a positive (data.min_rating=0). Settings:
# 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (mpirun --oversubscribe
# --allow-run-as-root -np 2). Prints the median over REPEATS (3) of the per-iteration time of the
# iALS fit (15 iterations, factors 64), the part of it spent in the all-gathers (waiting for the
# slower rank included), and the time of `cascade eval` (test split, full catalogue).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CASCADE_BIN:-build/release/cascade}"
REPEATS="${1:-3}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
WD="$(mktemp -d)"
trap 'rm -rf "$WD"' EXIT
shift || true
DATASETS=("$@")
[ ${#DATASETS[@]} -gt 0 ] || DATASETS=(ml-100k synth1m synth5m)

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

run() {  # name ranks threads data-overrides...
  local name="$1" ranks="$2" threads="$3"; shift 3
  local launch=("$BIN")
  [ "$ranks" -gt 1 ] && launch=(mpirun --allow-run-as-root --oversubscribe -np "$ranks" "$BIN")
  local cfg=("$@" "threads=$threads" "workdir=$WD/runs-$ranks" "mlruns=$WD/mlruns-$ranks")
  : > "$WD/iter" ; : > "$WD/comm" ; : > "$WD/eval"
  for _ in $(seq "$REPEATS"); do
    "${launch[@]}" train "${cfg[@]}" --channels ials > /dev/null 2> "$WD/log"
    sed -n 's/.*(\([0-9.]*\) s per iteration, \([0-9.]*\) s of it in all-gathers).*/\1 \2/p' "$WD/log" > "$WD/line"
    cut -d' ' -f1 "$WD/line" >> "$WD/iter"
    cut -d' ' -f2 "$WD/line" >> "$WD/comm"
    "${launch[@]}" eval "${cfg[@]}" --channels ials 2> /dev/null | awk '$1 == "ials" && NF > 3 {print $NF}' >> "$WD/eval"
  done
  printf "%-10s %5s %7s   %10s %12s %8s\n" "$name" "$ranks" "$threads" "$(median < "$WD/iter")" \
    "$(median < "$WD/comm")" "$(median < "$WD/eval")"
}

printf "%-10s %5s %7s   %10s %12s %8s\n" data ranks threads "s/iter" "allgather_s" "eval_s"
for data in "${DATASETS[@]}"; do
  case "$data" in
    ml-100k) set -- data=ml-100k ;;
    synth1m) "$BIN" synth --users 6040 --items 3706 --interactions 1000000 --out "$WD/$data.csv" > /dev/null ;;
    synth5m) "$BIN" synth --users 138493 --items 26744 --interactions 5000000 --out "$WD/$data.csv" > /dev/null ;;
    *) echo "unknown dataset $data" >&2; exit 2 ;;
  esac
  [ "$data" = ml-100k ] || set -- data=csv "data.path=$WD/$data.csv" data.header=true "data.tag=$data" data.min_rating=0
  run "$data" 1 1 "$@"
  run "$data" 1 2 "$@"
  run "$data" 2 1 "$@"
done
