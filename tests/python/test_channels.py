"""Channel.recommend / score / vectors: batch equals single, filtering, threads, zero-copy views."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import cascade
from conftest import IALS_PARAMS

N = 64  # users checked one by one


def test_every_registered_channel_and_ranker_is_listed():
    assert {"popularity", "content", "ials", "ease", "two_tower", "sasrec"} <= set(cascade.channel_kinds())
    assert set(cascade.Channel.kinds()) == set(cascade.channel_kinds())
    assert {"lr", "gbdt", "deepfm", "din"} <= set(cascade.ranker_kinds())


def test_params_are_filled_in_with_the_yaml_defaults():
    params = cascade.Channel("ials", factors=32).params
    assert params["factors"] == 32
    assert {"reg", "alpha", "iters"} <= set(params)


def test_batch_rows_equal_single_calls(ials):
    items, scores = ials.recommend(np.arange(N), k=10)
    assert items.shape == (N, 10) and items.dtype == np.int32 and scores.dtype == np.float32
    for u in range(N):
        one_items, one_scores = ials.recommend(u, k=10)
        assert one_items.shape == (10,)
        assert np.array_equal(items[u], one_items)
        assert np.array_equal(scores[u], one_scores)
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first


def test_filter_seen_excludes_the_history(ials, snapshot):
    items, _ = ials.recommend(np.arange(N), k=50, filter_seen=True)
    raw_items, _ = ials.recommend(np.arange(N), k=50, filter_seen=False)
    overlap_unfiltered = 0
    for u in range(N):
        history = set(snapshot.history(u).tolist())
        assert history, u
        assert not history & set(items[u].tolist()), u
        overlap_unfiltered += len(history & set(raw_items[u].tolist()))
    # The unfiltered lists do hold seen items (iALS ranks the training items high), so the
    # check above is not vacuous.
    assert overlap_unfiltered > 0


def test_unfiltered_top_k_is_the_top_of_score(ials):
    for u in (0, 5, 17):
        items, scores = ials.recommend(u, k=10, filter_seen=False)
        s = ials.score(u)
        assert np.array_equal(scores, np.sort(s)[::-1][:10])
        assert np.array_equal(s[items], scores)


def test_threads_do_not_change_the_answer(ials, snapshot):
    users = np.arange(snapshot.n_users)
    a = ials.recommend(users, k=20, threads=1)
    b = ials.recommend(users, k=20, threads=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_user_vectors_times_item_vectors_is_score(ials):
    users = np.array([0, 3, 11, 42])
    uv = ials.user_vectors(users)
    iv = ials.item_vectors
    assert uv.shape == (4, IALS_PARAMS["factors"]) and iv.shape[1] == IALS_PARAMS["factors"]
    for row, u in zip(uv @ iv.T, users):
        np.testing.assert_allclose(row, ials.score(int(u)), rtol=1e-5, atol=1e-5)


def test_item_vectors_are_a_read_only_view_that_outlives_refits(snapshot):
    model = cascade.Channel("ials", **IALS_PARAMS)
    model.fit(snapshot, threads=1)
    view = model.item_vectors
    assert view.shape == (snapshot.n_items, IALS_PARAMS["factors"]) and view.dtype == np.float32
    assert not view.flags.writeable and not view.flags.owndata and view.base is not None
    with pytest.raises(ValueError):
        view[0, 0] = 1.0
    # No copy: a second access views the very same memory.
    again = model.item_vectors
    assert again.ctypes.data == view.ctypes.data and np.shares_memory(view, again)
    kept = view.copy()

    # A refit with another seed replaces the model; the old view keeps the old model alive.
    model.fit(snapshot, threads=1, seed=7)
    fresh = model.item_vectors
    assert not np.array_equal(fresh, kept)
    assert fresh.ctypes.data != view.ctypes.data
    assert np.array_equal(view, kept)
    del model, fresh, again
    gc.collect()
    assert np.array_equal(view, kept)


def test_user_vectors_not_supported_for_popularity(snapshot):
    pop = cascade.Channel("popularity")
    pop.fit(snapshot)
    with pytest.raises(cascade.NotSupported):
        pop.user_vectors([0])


def test_short_lists_are_padded():
    # 2 users, 6 items: with k=10 and the history filtered there are fewer than 10 items.
    users = ["a"] * 6 + ["b"] * 6
    ds = cascade.Dataset.from_arrays(users, list(range(6)) * 2, protocol="seed-loo")
    pop = cascade.Channel("popularity")
    pop.fit(ds)
    items, scores = pop.recommend(0, k=10)
    assert (items[-1], scores[-1]) == (-1, -np.inf)
    assert np.all(items[items >= 0] < ds.n_items)


def test_batch_score_rows_equal_single_calls_and_item_subsets(ials):
    users = np.arange(20)
    full = ials.score(users)
    assert full.shape == (20, ials.n_items) and full.dtype == np.float32
    for u in users:
        assert np.array_equal(full[u], ials.score(int(u)))
    items = np.array([5, 0, 17, 3])
    sub = ials.score(users, items)
    assert sub.shape == (20, 4)
    assert np.array_equal(sub, full[:, items])
    with pytest.raises(IndexError):
        ials.score(0, [ials.n_items])
