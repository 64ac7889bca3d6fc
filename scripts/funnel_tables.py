#!/usr/bin/env python3
"""Markdown tables from `cascade bench funnel --json OUT.json` (README / BENCHMARKS.md)."""
import json
import sys


def ci(d):
    return f"{d['diff']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}], p = {d['p_value']:.3f}"


def main(path):
    j = json.load(open(path))
    pool = j["pool"]
    print(f"{j['dataset']} {j['protocol']}, {j['users']} test users, pool depth {pool['pool_depth']}, "
          f"pool recall {pool['pool_recall']:.4f}\n")
    print("| ranker | Recall@10 | NDCG@10 | Recall@50 | AUC in pool | fit s | ms / user | Recall@10 vs pool |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| pool (fused order) | {pool['recall@10']:.4f} | {pool['ndcg@10']:.4f} | {pool['recall@50']:.4f} | – | – | – | – |")
    for name, r in j["rankers"].items():
        print(f"| {name} | {r['recall@10']:.4f} | {r['ndcg@10']:.4f} | {r['recall@50']:.4f} | "
              f"{r['auc_in_pool']:.4f} | {r['fit_seconds']:.1f} | {r['ms_per_user']:.2f} | {ci(r['vs_pool']['recall@10'])} |")
    print()
    print("| funnel | Recall@10 | NDCG@10 | Recall@10 vs pool | NDCG@10 vs pool |")
    print("|---|---|---|---|---|")
    for key, label in (("funnel", "best on validation"), ("funnel_default", "configured default")):
        if key not in j:
            continue
        f = j[key]
        print(f"| {label}: {f['pre_rank']} → {f['pre_keep']} → {f['fine_rank']} → {f['fine_keep']} | "
              f"{f['recall@10']:.4f} | {f['ndcg@10']:.4f} | {ci(f['vs_pool']['recall@10'])} | {ci(f['vs_pool']['ndcg@10'])} |")
    if "oof_refit" in j:
        o = j["oof_refit"]
        print(f"| oof-refit pool (fused order) | {o['pool']['recall@10']:.4f} | {o['pool']['ndcg@10']:.4f} | – | – |")
        for key in ("funnel", "funnel_default"):
            if key in o:
                f = o[key]
                print(f"| oof-refit: {f['pre_rank']} → {f['fine_rank']} | {f['recall@10']:.4f} | {f['ndcg@10']:.4f} | "
                      f"{ci(f['vs_pool']['recall@10'])} | {ci(f['vs_pool']['ndcg@10'])} |")
    print()
    print("| retention (share of test items still present) | pool | pre-rank | fine-rank | top 10 |")
    print("|---|---|---|---|---|")
    for key in ("funnel", "funnel_default"):
        if key in j:
            r = j[key]["retention"]
            print(f"| {j[key]['pre_rank']} → {j[key]['fine_rank']} | {r['pool']:.4f} | {r['pre_rank']:.4f} | "
                  f"{r['fine_rank']:.4f} | {r['top10']:.4f} |")
    if "ablations" in j:
        print()
        print("| ablation (a vs b, difference a − b) | Recall@10 | NDCG@10 |")
        print("|---|---|---|")
        for name, a in j["ablations"].items():
            print(f"| {name} | {ci(a['recall@10'])} | {ci(a['ndcg@10'])} |")
    if "stage_latency" in j:
        s = j["stage_latency"]
        print()
        print(f"Ranking stage, one thread, {s['requests']} requests ({s['pre_rank']} over the pool, "
              f"{s['fine_rank']} over its top {j['funnel_default']['pre_keep'] if 'funnel_default' in j else '?'}): "
              f"features p50 {s['features_ms']['p50']:.3f} ms, pre-rank {s['pre_rank_ms']['p50']:.3f} ms, "
              f"fine-rank {s['fine_rank_ms']['p50']:.3f} ms, total p50 {s['total_ms']['p50']:.3f} ms / "
              f"p99 {s['total_ms']['p99']:.3f} ms")


if __name__ == "__main__":
    main(sys.argv[1])
