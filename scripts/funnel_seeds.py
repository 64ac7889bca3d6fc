#!/usr/bin/env python3
"""One row per `cascade bench funnel --json` run (e.g. the same command with seed=42..45), then
the mean and spread: what one draw of the neural models and of the selection is worth.

  scripts/funnel_seeds.py run42.json run43.json ...
"""
import json
import statistics
import sys


def ci(d):
    return f"{d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"


def main(paths):
    print("| run | chosen on validation (after the pool) | validation R@10 | test R@10 | pool R@10 | funnel − pool | best channel alone | funnel − channel | best ranker alone (test) | funnel − that ranker |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    tests, gains = [], []
    for p in paths:
        j = json.load(open(p))
        sel, f = j["selection"], j["funnel"]
        valid = max(r["valid"]["recall@10"] for r in sel["lambda"]) if "lambda" in sel else float("nan")
        name, ch = max(j["channels_alone"].items(), key=lambda kv: kv[1]["recall@10"])
        rk, r = max(((k, v) for k, v in j["rankers"].items() if v.get("candidate", True)),
                    key=lambda kv: kv[1]["recall@10"])
        spec = sel["chosen"]["spec"].split(" > ", 1)[1]
        pw = j["ranker_pairwise"]
        a, b = pw["names"].index("funnel"), pw["names"].index(rk)
        vs_ranker = {k: pw[k][a][b] for k in ("diff", "ci_low", "ci_high")}
        print(f"| {p.rsplit('/', 1)[-1]} | `{spec}` | {valid:.4f} | {f['recall@10']:.4f} | {f['pool']['recall@10']:.4f} | "
              f"{ci(f['vs_pool']['recall@10'])} | {name} {ch['recall@10']:.4f} | {ci(ch['funnel_vs_channel']['recall@10'])} | "
              f"{rk} {r['recall@10']:.4f} | {ci(vs_ranker)} |")
        tests.append(f["recall@10"])
        gains.append(f["vs_pool"]["recall@10"]["diff"])
    if len(tests) > 1:
        print(f"\nTest Recall@10 over {len(tests)} runs: mean {statistics.mean(tests):.4f}, sd {statistics.stdev(tests):.4f}, "
              f"min {min(tests):.4f}, max {max(tests):.4f}; gain over the pool: mean {statistics.mean(gains):+.4f}, "
              f"min {min(gains):+.4f}.")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
