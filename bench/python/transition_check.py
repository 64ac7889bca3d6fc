"""An independent item-transition check on ML-100K seed-loo, in NumPy (issue 16).

The issue quotes an outside check: a first-order transition model ("b followed a" counted in the
training sequences, scored from the user's last five items) at Recall@10 0.134-0.139 and
Recall@200 0.80. This script re-implements that model from the split alone (ml100k_seed_loo.py,
the same protocol as Cascade's) so Cascade's `transition` channel can be compared with something
that shares none of its code:

    W[a, b] = sum over training sequences of lag_decay^(lag-1) for b at `lag` <= max_lag after a
    score(b) = sum_j recency^j * W'[h_j, b]  over the newest `window` history items h_0, h_1, ...
    W' = W (counts) or W / rowsum (P(next | a)); items nothing leads to are ordered by popularity
    (a 1e-9 tie-break), then by id.

Validation: history = the training sequence, target = the validation item. Test: the same
history, or with --test-sees-valid the validation item appended (as a served request that saw
it). The full catalogue is ranked with the history masked. Every variant is printed; the one
with the best validation Recall@200 is marked, and its test figures are the ones to quote.

    /usr/bin/python3 bench/python/transition_check.py --data ../shared/data/ml-100k [--test-sees-valid]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ml100k_seed_loo import load_seed_loo  # noqa: E402


def transitions(sequences, n_items: int, max_lag: int, lag_decay: float) -> np.ndarray:
    w = np.zeros((n_items, n_items))
    for seq in sequences:
        for lag in range(1, max_lag + 1):
            if len(seq) > lag:
                np.add.at(w, (seq[:-lag], seq[lag:]), lag_decay ** (lag - 1))
    return w


def ranks(scores: np.ndarray, target: int) -> int:
    """0-based rank of `target`, ties broken by the smaller id (as Cascade's top_n)."""
    t = scores[target]
    return int((scores > t).sum() + (scores[:target] == t).sum())


def evaluate(w, histories, targets, window, recency, popularity):
    """Recall@10/@200 of ranking the catalogue from each history, the history itself masked."""
    hits10 = hits200 = 0
    tie = 1e-9 * popularity / max(popularity.max(), 1.0)
    for hist, target in zip(histories, targets):
        recent = hist[::-1][:window]
        s = (recency ** np.arange(len(recent))) @ w[recent] + tie
        s[hist] = -np.inf
        r = ranks(s, target)
        hits10 += r < 10
        hits200 += r < 200
    n = len(targets)
    return {"recall@10": hits10 / n, "recall@200": hits200 / n}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/ml-100k")
    ap.add_argument("--test-sees-valid", action="store_true")
    args = ap.parse_args(argv)
    s = load_seed_loo(args.data)
    seqs = s.train_sequences
    popularity = np.asarray(s.train.sum(axis=0)).ravel()
    users = [u for u in range(s.n_users) if s.test_item[u] >= 0]
    v_hist = [seqs[u] for u in users]
    t_hist = [np.append(seqs[u], s.valid_item[u]) for u in users] if args.test_sees_valid else v_hist
    v_target = [s.valid_item[u] for u in users]
    t_target = [s.test_item[u] for u in users]

    rows = []
    for max_lag, lag_decay in ((1, 1.0), (3, 1.0), (5, 1.0), (5, 0.7), (10, 1.0)):
        counts = transitions(seqs, s.n_items, max_lag, lag_decay)
        for norm in ("counts", "rownorm"):
            w = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12) if norm == "rownorm" else counts
            for window, recency in ((1, 1.0), (5, 1.0), (10, 0.8), (20, 0.9), (50, 0.95)):
                row = {"max_lag": max_lag, "lag_decay": lag_decay, "weights": norm, "window": window,
                       "recency": recency,
                       "valid": evaluate(w, v_hist, v_target, window, recency, popularity),
                       "test": evaluate(w, t_hist, t_target, window, recency, popularity)}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr)
    best = max(rows, key=lambda r: (r["valid"]["recall@200"], r["valid"]["recall@10"]))
    plain = next(r for r in rows if (r["max_lag"], r["weights"], r["window"]) == (1, "counts", 5))
    print(json.dumps({
        "dataset": "ml-100k seed-loo", "users": len(users), "items": s.n_items,
        "test_history": "training rows + the validation item" if args.test_sees_valid else "training rows",
        "the issue's model (lag 1, counts, last five items)": plain,
        "chosen on validation Recall@200": best,
        "variants": rows,
    }, indent=1))


if __name__ == "__main__":
    main()
