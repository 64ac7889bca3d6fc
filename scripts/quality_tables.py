#!/usr/bin/env python3
"""Markdown tables from the JSON of `cascade bench quality` (the README's result tables).

usage: scripts/quality_tables.py OUT.json
"""
import json
import sys


def f4(x):
    return f"{x:.4f}"


def interval(j):
    return f"{j['diff']:+.4f} [{j['ci_low']:+.4f}, {j['ci_high']:+.4f}]"


def main(path):
    with open(path) as fh:
        q = json.load(fh)
    ch = q["channels"]
    pool = next((c["pool_size"] for c in ch.values() if "pool_size" in c), 1000)
    print(f"{q['dataset']} / {q['protocol']}: {q['users']} users, {q['items']} items, "
          f"{q['train_rows']} train rows, {q['test_rows']} test rows\n")
    print(f"| channel | Recall@10 | NDCG@10 | Recall@200 | NDCG@200 | pool recall (R@{pool}) | Coverage@10 | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    rows = [(n, c) for n, c in ch.items()]
    rows += [("parity/" + n, c) for n, c in q.get("parity_channels", {}).items()]
    order = [r for r in rows if r[0] not in ("fusion", "fusion_parity")]
    order = [r for r in order if not r[0].startswith("parity/")] + \
        [r for r in rows if r[0] == "fusion"] + \
        [r for r in order if r[0].startswith("parity/")] + \
        [r for r in rows if r[0] == "fusion_parity"]
    for n, c in order:
        print(f"| {n} | {f4(c['recall@10'])} | {f4(c['ndcg@10'])} | {f4(c['recall@200'])} | "
              f"{f4(c['ndcg@200'])} | {f4(c['pool_recall'])} | {f4(c['coverage@10'])} | {c['fit_seconds']:.1f} |")
    for name in ("fusion", "fusion_parity"):
        if name not in ch:
            continue
        c = ch[name]
        w = ", ".join(f"{k} {v:g}" for k, v in c["weights"].items())
        how = "tuned on validation" if c.get("weights_tuned") else "fixed"
        print(f"\n`{name}`: {c['method']}, {c['quota']} per channel, pool {c['pool_size']}, weights ({how}): {w}.")
        depth = ", ".join(f"{k}: {v:.4f}" for k, v in c["recall_by_depth"].items())
        print(f"Pool recall by pool size: {depth}.\n")
        print(f"| {name} − channel | Recall@200 | pool recall | Recall@10 |")
        print("|---|---|---|---|")
        for n, v in c["vs_channel"].items():
            print(f"| {n} | {interval(v['recall@200'])} | {interval(v['pool_recall'])} | {interval(v['recall@10'])} |")
        if "drop_one" in c:
            print(f"\nDrop-one ablation of `{name}` (run; full − dropped, 95% interval):\n")
            print("| dropped | Recall@200 | loss | pool recall | loss |")
            print("|---|---|---|---|---|")
            for n, a in c["drop_one"].items():
                if "skipped" in a:
                    print(f"| {n} | — | {a['skipped']} | — | — |")
                else:
                    print(f"| {n} | {f4(a['recall@200'])} | {interval(a['loss_recall@200'])} | "
                          f"{f4(a['pool_recall'])} | {interval(a['loss_pool_recall'])} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
