#!/usr/bin/env bash
# Cost versus size (issue 14, part 2): wall time and peak RSS of every stage at 1M, 5M and 20M
# rows, and iALS alone at 100M, on `cascade synth` logs.
#   bench/scale.sh [--out DIR] [--channels a,b,...] [--bundle] [SIZE...]
# SIZE: 1m (ML-1M shape: 6,040 users x 3,706 items), 5m (34,623 x 13,372), 20m (the ML-20M shape:
# 138,493 x 26,744), 100m (700,000 x 60,000; iALS only). Default: 1m 5m 20m.
# Stages: synth (CSV), prepare (seed-oof snapshot), then `cascade train --channels C` for each
# channel (default popularity,content,ials,ease,two_tower,sasrec: fit on the recall slice, then
# Recall@10 on the validation item over every user), and with --bundle `cascade bundle` with the
# default funnel (channels twice, rankers, offline evaluation). Each stage is its own process:
# peak RSS is /usr/bin/time's maximum resident set. Prints one JSON object per stage and writes
# them all to DIR/scale.json; DIR (default a temp dir) keeps the logs. A channel the data is too
# big for (EASE past max_items) is reported as refused, with the estimate it printed.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$(pwd)/${CASCADE_BIN:-build/release/cascade}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
OUT="" CHANNELS="popularity,content,ials,ease,two_tower,sasrec" BUNDLE=0 SIZES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --channels) CHANNELS="$2"; shift 2 ;;
    --bundle) BUNDLE=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) SIZES+=("$1"); shift ;;
  esac
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1m 5m 20m)
[ -n "$OUT" ] || OUT="$(mktemp -d)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
JSON="$OUT/scale.json"
: > "$OUT/stages.jsonl"

# stage SIZE NAME LOG CMD...: runs CMD under /usr/bin/time, appends a JSON line.
stage() {
  local size="$1" name="$2" log="$3"; shift 3
  local status=ok
  /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$@" > "$log" 2>&1 || status=failed
  read -r wall rss_kb < <(tail -1 "$OUT/time.txt")
  local extra=""
  if [ "$status" = failed ] && grep -q "exceed max_items" "$log"; then
    status=refused
    extra=", \"reason\": $(grep -o "ease: .*" "$log" | head -1 | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')"
  fi
  local fit
  fit="$(sed -n "s/.*info $name: fit \([0-9.]*\) s, validation recall@10 \([0-9.]*\).*/\"fit_s\": \1, \"valid_recall@10\": \2/p" "$log" | tail -1)"
  [ -z "$fit" ] || extra="$extra, $fit"
  local line="{\"size\": \"$size\", \"stage\": \"$name\", \"status\": \"$status\", \"wall_s\": $wall, \"peak_rss_mb\": $((rss_kb / 1024))$extra}"
  echo "$line" | tee -a "$OUT/stages.jsonl"
}

for size in "${SIZES[@]}"; do
  case "$size" in
    1m) shape=(--users 6040 --items 3706 --interactions 1000000) ;;
    5m) shape=(--users 34623 --items 13372 --interactions 5000000) ;;
    20m) shape=(--users 138493 --items 26744 --interactions 20000000) ;;
    100m) shape=(--users 700000 --items 60000 --interactions 100000000) ;;
    *) echo "unknown size $size (1m, 5m, 20m, 100m)" >&2; exit 2 ;;
  esac
  dir="$OUT/$size"
  mkdir -p "$dir"
  stage "$size" synth "$dir/synth.log" "$BIN" synth "${shape[@]}" --out "$dir/log.csv"
  data=(data=csv "data.path=$dir/log.csv" data.header=true "data.tag=synth-$size" data.protocol=seed-oof
        "workdir=$dir/runs" "mlruns=$dir/mlruns")
  stage "$size" prepare "$dir/prepare.log" "$BIN" prepare --data "$dir/log.csv" --dataset csv --header \
    --protocol seed-oof --out "$dir/prepared"
  chans="$CHANNELS"
  [ "$size" = 100m ] && chans=ials
  for ch in ${chans//,/ }; do
    stage "$size" "$ch" "$dir/train-$ch.log" "$BIN" train "${data[@]}" --channels "$ch"
  done
  if [ "$BUNDLE" = 1 ] && [ "$size" != 100m ]; then
    stage "$size" bundle "$dir/bundle.log" "$BIN" bundle --data "$dir/log.csv" --dataset csv --header \
      --out "$dir/bundle" "workdir=$dir/runs" "mlruns=$dir/mlruns"
  fi
  rm -f "$dir/log.csv"  # 0.5 GB at 20M, 2.5 GB at 100M
done
python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])], indent=1))' \
  "$OUT/stages.jsonl" > "$JSON"
echo "wrote $JSON"
