"""Cascade's seed-loo split of MovieLens-100K, in pure NumPy/SciPy.

For standalone checks of the NumPy iALS (numpy_ials.py) without the `cascade` bindings.
It follows ../shared/docs/SYSTEM.md "Protocols" and src/data/prepare.cc:

1. keep ratings >= 4 as positives; drop users with fewer than 5 positives;
2. dense ids in ascending numeric raw-id order: users = kept users, items = every item in
   a kept positive (no item filter);
3. per user, order positives by timestamp, ties in file order (a later row counts as later);
   last -> test, second-to-last -> validation, the rest -> train.

Evaluation (`evaluate_topk`): the model's top-K over the full catalogue with the user's
TRAINING items masked (the validation item is not masked); one held-out item per user, so
Recall@K = HitRate@K and NDCG@K = 1 / log2(rank + 1) for rank <= K (rank from 1).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class SeedLooSplit:
    train: sp.csr_matrix  # n_users x n_items, binary (1.0) values, float32
    valid_item: np.ndarray  # [n_users] dense item id, -1 = none
    test_item: np.ndarray  # [n_users] dense item id, -1 = none
    user_ids: np.ndarray  # dense -> raw user id
    item_ids: np.ndarray  # dense -> raw item id
    train_sequences: list | None = None  # per user: training item ids in time order

    @property
    def n_users(self) -> int:
        return self.train.shape[0]

    @property
    def n_items(self) -> int:
        return self.train.shape[1]


def load_seed_loo(folder: str, min_rating: float = 4.0, min_positives: int = 5) -> SeedLooSplit:
    """Reads `folder`/u.data (tab separated: user item rating timestamp) and splits it."""
    raw = np.loadtxt(os.path.join(folder, "u.data"), dtype=np.int64, delimiter="\t", ndmin=2)
    user, item, rating, ts = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
    row = np.arange(len(raw))

    pos = rating >= min_rating
    user, item, ts, row = user[pos], item[pos], ts[pos], row[pos]
    users, counts = np.unique(user, return_counts=True)
    keep = np.isin(user, users[counts >= min_positives])
    user, item, ts, row = user[keep], item[keep], ts[keep], row[keep]

    # np.unique sorts numerically: dense ids in ascending raw-id order.
    user_ids, u = np.unique(user, return_inverse=True)
    item_ids, i = np.unique(item, return_inverse=True)
    n_users, n_items = len(user_ids), len(item_ids)

    # Sort by (user, timestamp, file row): lexsort's last key is the primary one.
    order = np.lexsort((row, ts, u))
    u, i = u[order], i[order]
    starts = np.searchsorted(u, np.arange(n_users + 1))
    last = starts[1:] - 1
    test_item = i[last].astype(np.int64)
    valid_item = i[last - 1].astype(np.int64)
    in_train = np.ones(len(u), dtype=bool)
    in_train[last] = False
    in_train[last - 1] = False
    train = sp.csr_matrix(
        (np.ones(in_train.sum(), dtype=np.float32), (u[in_train], i[in_train])), shape=(n_users, n_items)
    )
    train.sum_duplicates()  # ML-100K has no repeated (user, item) pair; stay binary if one did
    train.data[:] = 1.0
    sequences = [i[starts[k] : last[k] - 1] for k in range(n_users)]
    return SeedLooSplit(train, valid_item, test_item, user_ids, item_ids, sequences)


def evaluate_topk(top_items: np.ndarray, heldout_item: np.ndarray, k: int = 10) -> dict:
    """Recall@k and NDCG@k of per-user ranked lists `top_items` [n_users, >=k] (dense ids,
    training items already masked) against one held-out item per user (-1 = user skipped)."""
    users = np.flatnonzero(heldout_item >= 0)
    lists = top_items[users, :k]
    hit = lists == heldout_item[users, None]
    found = hit.any(axis=1)
    rank = np.argmax(hit, axis=1) + 1  # 1-based; only read where found
    ndcg = np.where(found, 1.0 / np.log2(rank + 1.0), 0.0)
    return {
        f"recall@{k}": float(found.mean()) if len(users) else 0.0,
        f"ndcg@{k}": float(ndcg.mean()) if len(users) else 0.0,
        "n_eval_users": int(len(users)),
    }


if __name__ == "__main__":
    import sys

    s = load_seed_loo(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ml-100k")
    print(f"{s.n_users} users, {s.n_items} items, {s.train.nnz} training rows, {(s.test_item >= 0).sum()} test rows")
