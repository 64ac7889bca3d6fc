#!/usr/bin/env bash
# One command for the whole report: runs every bench command the report draws (with --json) on
# one dataset, then `cascade report` over the dataset and those JSON files.
#   scripts/make_report.sh [DATA DATASET OUTDIR]
# Defaults: the embedded data/ml-latest-small (dataset ml-latest), output in report/. For
# MovieLens 100K:  scripts/make_report.sh ../shared/data/ml-100k ml-100k report-ml100k
# OUTDIR gets index.html and fig/ (the report), json/ (the bench results it was drawn from),
# bundle/ and oof-channels/ (the funnel's model bundle and channel cache, reused by a re-run).
# THREADS (default 0 = all cores) is passed to every command. A step whose JSON is already in
# OUTDIR/json is not run again (delete the file, or FRESH=1, to re-run it): a re-run after an
# interruption, or with new report code, costs only the missing steps.
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
cd "$(dirname "$0")/.."

DATA="${1:-data/ml-latest-small}"
DATASET="${2:-ml-latest}"
OUT="${3:-report}"
THREADS="${THREADS:-0}"
CASCADE=./build/release/cascade
[ -x "$CASCADE" ] || bash scripts/build.sh release
mkdir -p "$OUT/json"
J="$OUT/json"
D=(--data "$DATA" --dataset "$DATASET")
[ "${FRESH:-0}" = "1" ] && rm -f "$J"/*.json
# need FILE: true when FILE must be produced; says so when an earlier run's file is reused.
need() { if [ -s "$1" ]; then echo "   reusing $1"; return 1; fi; }

echo "== 1/6 recall channels, fusion strategies, drop-one (cascade bench quality)"
need "$J/quality.json" && "$CASCADE" bench quality "${D[@]}" --protocol seed-loo --threads "$THREADS" --json "$J/quality.json"

echo "== 2/6 funnel: rankers, pairwise tests, DIN attention vs sum, user buckets (cascade bench funnel)"
need "$J/funnel.json" && "$CASCADE" bench funnel "${D[@]}" --protocol seed-oof --sum-ablation true --threads "$THREADS" \
  --cache "$OUT/oof-channels" --json "$J/funnel.json"

echo "== 3/6 parameter sweeps: SASRec max_len, Two-Tower dim (cascade bench sweep)"
need "$J/sweep-sasrec.json" && "$CASCADE" bench sweep "${D[@]}" --protocol seed-loo --channel sasrec --param max_len --values 10,25,50,100 \
  --threads "$THREADS" --json "$J/sweep-sasrec.json"
need "$J/sweep-two_tower.json" && "$CASCADE" bench sweep "${D[@]}" --protocol seed-loo --channel two_tower --param dim --values 16,32,64,128 \
  --threads "$THREADS" --json "$J/sweep-two_tower.json"

echo "== 4/6 bundle of the funnel chosen on validation, then the MMR diversity sweep with IPS/SNIPS (cascade bench rerank) and the cuts curve (cascade bench cuts)"
if [ ! -s "$J/rerank.json" ] || [ ! -s "$J/cuts.json" ]; then
  [ -s "$OUT/bundle/manifest.json" ] || "$CASCADE" bundle "${D[@]}" --out "$OUT/bundle" --funnel-from "$J/funnel.json" \
    --cache "$OUT/oof-channels" --report "quality=$J/quality.json" --threads "$THREADS"
  need "$J/rerank.json" && "$CASCADE" bench rerank --bundle "$OUT/bundle" --json "$J/rerank.json"
  # The cost curve of the bundle's cuts on its validation users (choose a cut on validation).
  need "$J/cuts.json" && "$CASCADE" bench cuts --bundle "$OUT/bundle" --split valid --json "$J/cuts.json"
fi

echo "== 5/6 off-policy estimators against a known truth (cascade bench ope: synthetic logged exposure)"
need "$J/ope.json" && "$CASCADE" bench ope --users 5000 --items 1000 --impressions 500000 --seed 42 --resamples 500 \
  --threads "$THREADS" --json "$J/ope.json"

echo "== 6/6 report"
"$CASCADE" report "${D[@]}" --quality "$J/quality.json" --funnel "$J/funnel.json" --rerank "$J/rerank.json" --cuts "$J/cuts.json" \
  --sweep "$J/sweep-sasrec.json" --sweep "$J/sweep-two_tower.json" --ope "$J/ope.json" --out "$OUT"
