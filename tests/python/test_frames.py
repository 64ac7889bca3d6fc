"""Datasets from pandas frames and NumPy arrays: raw ids of any type, the CLI's split."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cascade
from conftest import EMBEDDED

SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def ratings():
    return pd.read_csv(EMBEDDED / "ratings.csv").rename(columns={"userId": "user", "movieId": "item"})


@pytest.fixture(scope="module")
def int_ds(ratings):
    return cascade.Dataset.from_frame(ratings, protocol="seed-loo")


@pytest.fixture(scope="module")
def str_ds(ratings):
    frame = ratings.copy()
    frame["user"] = "u" + frame["user"].astype(str)
    return cascade.Dataset.from_frame(frame, protocol="seed-loo")


def raw_user_key(ds, dense):
    """The numeric MovieLens id behind a dense user id, for both id spellings."""
    raw = ds.user_ids[dense]
    return int(raw[1:]) if isinstance(raw, str) else int(raw)


def rows_by_raw_user(ds, split):
    """{raw numeric user id: the user's items (dense, time order) in split}."""
    indptr, indices = ds.split_arrays(split)[:2]
    return {raw_user_key(ds, u): indices[indptr[u]:indptr[u + 1]].tolist() for u in range(ds.n_users)}


def test_int_frame_matches_the_cli_loader(int_ds, snapshot):
    assert (int_ds.n_users, int_ds.n_items) == (snapshot.n_users, snapshot.n_items)
    for split in SPLITS:
        for mine, cli in zip(int_ds.split_arrays(split), snapshot.split_arrays(split)):
            assert np.array_equal(mine, cli), split
    assert list(int_ds.raw_user_ids) == list(snapshot.raw_user_ids)
    assert list(int_ds.raw_item_ids) == list(snapshot.raw_item_ids)


def test_string_user_ids_give_the_same_split(int_ds, str_ds):
    assert (str_ds.n_users, str_ds.n_items) == (int_ds.n_users, int_ds.n_items)
    for split in SPLITS:
        assert len(str_ds.split_arrays(split)[1]) == len(int_ds.split_arrays(split)[1]), split
    # Dense user ids differ ("u10" sorts before "u2"); each raw user keeps the same items.
    assert np.array_equal(str_ds.item_ids, int_ds.item_ids)
    for split in SPLITS:
        assert rows_by_raw_user(str_ds, split) == rows_by_raw_user(int_ds, split), split


def test_raw_ids_round_trip(str_ds, int_ds):
    users = str_ds.user_ids
    assert all(isinstance(u, str) and u.startswith("u") for u in users)
    assert str_ds.user_index("u1") >= 0 and users[str_ds.user_index("u1")] == "u1"
    assert str_ds.user_index("nobody") == -1
    assert list(str_ds.user_index(["u1", "nobody", users[5]])) == [str_ds.user_index("u1"), -1, 5]
    # Integer ids come back as the integers given.
    assert isinstance(int_ds.user_ids[0], (int, np.integer)) and int_ds.user_index(int(int_ds.user_ids[3])) == 3


@pytest.mark.parametrize("kind", ["popularity", "ials"])
def test_string_ids_evaluate_like_integer_ids(int_ds, str_ds, kind):
    results = []
    for ds in (int_ds, str_ds):
        model = cascade.Channel(kind, **({"factors": 16, "iters": 5} if kind == "ials" else {}))
        model.fit(ds, threads=1)
        results.append((ds, cascade.evaluate(model, ds, ks=[10, 50], threads=1)))
    (ds_a, a), (ds_b, b) = results
    assert len(a.users) == len(b.users) == int_ds.n_users
    assert a["recall@50"] > 0.1  # a real model, not an all-zero comparison
    # Dense user ids differ, so match users by raw id.
    for metric in a.per_user:
        va = {raw_user_key(ds_a, u): v for u, v in zip(a.users, a.per_user[metric])}
        vb = {raw_user_key(ds_b, u): v for u, v in zip(b.users, b.per_user[metric])}
        assert va.keys() == vb.keys()
        if kind == "popularity":
            # Independent of user order: every per-user value is identical, and the means
            # (the same values summed in another order) equal up to rounding.
            assert va == vb, metric
            assert a[metric] == pytest.approx(b[metric], rel=1e-12, abs=1e-15)
        else:
            # iALS sums over users (Y'Y, X'X) in dense order: float rounding may flip a near
            # tie for a user or two, never more.
            differing = sum(va[u] != vb[u] for u in va)
            assert differing <= len(va) // 100, (metric, differing)
            assert a[metric] == pytest.approx(b[metric], abs=0.005), metric


def test_from_arrays_with_optional_columns():
    users = ["a"] * 6 + ["b"] * 6
    items = list(range(6)) * 2
    ds = cascade.Dataset.from_arrays(users, items, protocol="seed-loo")
    assert ds.n_users == 2 and ds.n_items == 6
    assert list(ds.user_ids) == ["a", "b"]
    # Without timestamps row order is time order: the last row of each user is the test item.
    for raw in ("a", "b"):
        u = ds.user_index(raw)
        indptr, indices = ds.split_arrays("test")[:2]
        assert list(ds.item_ids[indices[indptr[u]:indptr[u + 1]]]) == [5]


def test_ratings_below_min_rating_are_dropped():
    users = ["a"] * 7
    items = list(range(7))
    ratings = [5, 5, 5, 5, 5, 5, 1]
    ds = cascade.Dataset.from_arrays(users, items, ratings, protocol="seed-loo")
    assert ds.item_index(6) == -1 and ds.n_items == 6


def test_ids_that_collide_as_text_are_refused():
    with pytest.raises(cascade.DataError, match="same text"):
        cascade.Dataset.from_arrays([1, "1", 2], [1, 2, 3])


def test_missing_id_is_a_data_error():
    with pytest.raises(cascade.DataError, match="row 2"):
        cascade.Dataset.from_arrays(["a", None, "b"], [1, 2, 3])


def test_missing_column_names_it(ratings):
    with pytest.raises(KeyError, match="userId"):
        cascade.Dataset.from_frame(ratings, user="userId")


def test_csr_matches_split_arrays(int_ds):
    m = int_ds.csr("train")
    indptr, indices, values, _ = int_ds.split_arrays("train")
    assert m.shape == (int_ds.n_users, int_ds.n_items)
    assert m.nnz == len(indices)
    assert np.array_equal(m.indptr, indptr)
