#!/usr/bin/env python3
"""Markdown tables from `cascade bench funnel --json OUT.json` (BENCHMARKS.md, README headline).

  scripts/funnel_tables.py funnel.json            # every table
  scripts/funnel_tables.py funnel.json --headline # the README's one-row headline
  scripts/funnel_tables.py --seeds run42.json run43.json ...  # one row per draw, mean and spread
"""
import json
import statistics
import sys


def ci(d, with_p=True):
    text = f"{d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
    return f"{text}, p = {d['p_value']:.3f}" if with_p else text


def headline(j):
    f = j["funnel"]
    print("| funnel (chosen on validation) | Recall@10 | NDCG@10 | pool Recall@10 | gain over its pool (Recall@10) |")
    print("|---|---|---|---|---|")
    print(f"| `{f['spec']}` | {f['recall@10']:.4f} | {f['ndcg@10']:.4f} | {f['pool']['recall@10']:.4f} | "
          f"{ci(f['vs_pool']['recall@10'])} |")


def tables(j):
    pool = j["pool"]
    print(f"{j['dataset']} {j['protocol']}, {j['users']} test users; configured pool: depth {pool['pool_depth']}, "
          f"quota {pool['quota']}, pool recall {pool['pool_recall']:.4f}"
          + (f"; channel folds {j['channel_folds']}" if j.get("channel_folds") else "") + "\n")
    # Each ranker alone over the configured pool: test (j["rankers"]) and, where recorded, validation.
    alone_valid = j.get("selection", {}).get("rankers_alone", {})
    print("| ranker | validation Recall@10 | test Recall@10 | test NDCG@10 | test Recall@50 | test AUC in pool "
          "| fit s | ms / user | test Recall@10 vs pool |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| pool (fused order) | – | {pool['recall@10']:.4f} | {pool['ndcg@10']:.4f} | {pool['recall@50']:.4f} "
          "| – | – | – | – |")
    for name, r in j["rankers"].items():
        label = name if r.get("candidate", True) else f"{name} (ablation)"
        valid = f"{alone_valid[name]['recall@10']:.4f}" if name in alone_valid else "–"
        print(f"| {label} | {valid} | {r['recall@10']:.4f} | {r['ndcg@10']:.4f} | {r['recall@50']:.4f} | "
              f"{r['auc_in_pool']:.4f} | {r['fit_seconds']:.1f} | {r['ms_per_user']:.2f} | "
              f"{ci(r['vs_pool']['recall@10'])} |")

    sel = j["selection"]
    c = sel["chosen"]
    print(f"\nChosen on {sel['on']}: `{c['spec']}`\n")
    if "pairs" in sel:
        print("| pre > fine (validation, pool order before re-rank) | Recall@10 | NDCG@10 |")
        print("|---|---|---|")
        for pair, m in sorted(sel["pairs"].items(), key=lambda kv: -kv[1]["recall@10"])[:10]:
            print(f"| {pair} | {m['recall@10']:.4f} | {m['ndcg@10']:.4f} |")
        print()
        print("| quota | pool depth | pre-rank keep | validation Recall@10 | NDCG@10 |")
        print("|---|---|---|---|---|")
        for row in sel.get("cuts", []):
            print(f"| {row['quota']} | {row['pool_depth']} | {row['pre_keep']} | {row['valid']['recall@10']:.4f} | "
                  f"{row['valid']['ndcg@10']:.4f} |")
        if "lambda" in sel:
            print()
            print("| re-rank λ | validation Recall@10 | NDCG@10 |")
            print("|---|---|---|")
            for row in sel["lambda"]:
                print(f"| {row['lambda']} | {row['valid']['recall@10']:.4f} | {row['valid']['ndcg@10']:.4f} |")

    print()
    print("| test, served list | Recall@10 | NDCG@10 | its pool Recall@10 | Recall@10 vs pool | NDCG@10 vs pool |")
    print("|---|---|---|---|---|---|")
    rows = [("chosen funnel, serving request time", j["funnel"])]
    for key, label in (("event", "request time = held-out event's time (not servable)"),
                       ("no_time_features", "time features off")):
        if key in j.get("time_policy", {}):
            rows.append((label, j["time_policy"][key]))
    rows.append((f"configured funnel `{j['funnel_config']['spec']}`", j["funnel_config"]))
    for label, f in rows:
        print(f"| {label} | {f['recall@10']:.4f} | {f['ndcg@10']:.4f} | {f['pool']['recall@10']:.4f} | "
              f"{ci(f['vs_pool']['recall@10'])} | {ci(f['vs_pool']['ndcg@10'])} |")

    pw = j.get("ranker_pairwise", {})
    if "funnel" in pw.get("names", []):
        names = pw["names"]
        f = names.index("funnel")
        print()
        print("| the served funnel vs each ranker alone over the configured pool (test, paired) | Recall@10 difference (funnel − ranker) |")
        print("|---|---|")
        for k, n in enumerate(names):
            if k == f or n == "pool":
                continue
            d = {"diff": pw["diff"][f][k], "ci_low": pw["ci_low"][f][k], "ci_high": pw["ci_high"][f][k], "p_value": pw["p_value"][f][k]}
            print(f"| {n} | {ci(d)} |")

    if "channels_alone" in j:
        print()
        print("| recall channel alone (its own top 10; test) | Recall@10 | NDCG@10 | Recall@50 | validation Recall@10 | served funnel − channel (test Recall@10, paired) |")
        print("|---|---|---|---|---|---|")
        va = sel.get("channels_alone", {})
        for name, c in j["channels_alone"].items():
            v = f"{va[name]['recall@10']:.4f}" if name in va else "–"
            print(f"| {name} | {c['recall@10']:.4f} | {c['ndcg@10']:.4f} | {c['recall@50']:.4f} | {v} | "
                  f"{ci(c['funnel_vs_channel']['recall@10'])} |")

    r = j["funnel"]["retention"]
    print()
    print("| retention (share of test items still present) | pool | pre-rank | fine-rank | top 10 |")
    print("|---|---|---|---|---|")
    print(f"| chosen funnel | {r['pool']:.4f} | {r['pre_rank']:.4f} | {r['fine_rank']:.4f} | {r['top10']:.4f} |")
    if "ablations" in j:
        print()
        print("| ablation (a vs b, difference a − b) | Recall@10 | NDCG@10 |")
        print("|---|---|---|")
        for name, a in j["ablations"].items():
            print(f"| {name} | {ci(a['recall@10'])} | {ci(a['ndcg@10'])} |")
    fa = j.get("feature_ablations")
    if fa:
        print()
        print(f"| feature group off (chosen funnel re-fitted) | dense columns | validation Recall@10 (funnel "
              f"{fa['funnel']['valid']['recall@10']:.4f}) | off − funnel | test Recall@10 (funnel "
              f"{fa['funnel']['test']['recall@10']:.4f}) | off − funnel |")
        print("|---|---|---|---|---|---|")
        for g, a in fa["groups"].items():
            print(f"| {g} | {a['dense_columns']} | {a['valid']['recall@10']:.4f} | {ci(a['valid_vs_funnel']['recall@10'])} | "
                  f"{a['test']['recall@10']:.4f} | {ci(a['test_vs_funnel']['recall@10'])} |")
    lat = j.get("stage_latency")
    if lat:
        print()
        print(f"Ranking stage, one thread, {lat['requests']} test requests: features p50 {lat['features_ms']['p50']:.3f} ms, "
              f"pre-rank {lat['pre_rank_ms']['p50']:.3f} ms, fine-rank {lat['fine_rank_ms']['p50']:.3f} ms, "
              f"total p50 {lat['total_ms']['p50']:.3f} / p99 {lat['total_ms']['p99']:.3f} ms.")


def seeds(paths):
    """One row per run (e.g. the same command with seed=42..45), then the mean and spread."""
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
              f"{ci(f['vs_pool']['recall@10'], with_p=False)} | {name} {ch['recall@10']:.4f} | {ci(ch['funnel_vs_channel']['recall@10'], with_p=False)} | "
              f"{rk} {r['recall@10']:.4f} | {ci(vs_ranker, with_p=False)} |")
        tests.append(f["recall@10"])
        gains.append(f["vs_pool"]["recall@10"]["diff"])
    if len(tests) > 1:
        print(f"\nTest Recall@10 over {len(tests)} runs: mean {statistics.mean(tests):.4f}, sd {statistics.stdev(tests):.4f}, "
              f"min {min(tests):.4f}, max {max(tests):.4f}; gain over the pool: mean {statistics.mean(gains):+.4f}, "
              f"min {min(gains):+.4f}.")
if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--seeds":
        seeds(sys.argv[2:])
        sys.exit(0)
    data = json.load(open(sys.argv[1]))
    headline(data) if "--headline" in sys.argv[2:] else tables(data)
