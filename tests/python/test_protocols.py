"""load_dataset splits by every protocol exactly as `cascade prepare` does."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cascade
from conftest import EMBEDDED, run_cli

PROTOCOLS = ["seed-loo", "seed-oof", "time"]


def assert_same_dataset(py, cli):
    assert (py.n_users, py.n_items, py.protocol) == (cli.n_users, cli.n_items, cli.protocol)
    for split in ("train", "valid", "test"):
        for mine, theirs in zip(py.split_arrays(split), cli.split_arrays(split)):
            assert np.array_equal(mine, theirs), split
    for mine, theirs in zip(py.recall_arrays(), cli.recall_arrays()):
        assert np.array_equal(mine, theirs), "recall slice"
    assert list(py.raw_user_ids) == list(cli.raw_user_ids)
    assert list(py.raw_item_ids) == list(cli.raw_item_ids)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_movielens_split_equals_cascade_prepare(tmp_path, protocol):
    run_cli("prepare", "--data", EMBEDDED, "--dataset", "ml-latest", "--protocol", protocol, "--out", tmp_path)
    cli = cascade.load_snapshot(str(tmp_path))
    py = cascade.load_dataset("ml-latest", str(EMBEDDED), protocol=protocol)
    assert_same_dataset(py, cli)
    assert py.content_hash == cli.content_hash


def test_protocols_differ():
    # The comparison above is not vacuous: the three protocols give three different splits.
    tests = [cascade.load_dataset("ml-latest", str(EMBEDDED), protocol=p).split_arrays("test")[1] for p in PROTOCOLS]
    assert not np.array_equal(tests[0], tests[2]) and len(tests[0]) != len(tests[2])
    loo, oof = (cascade.load_dataset("ml-latest", str(EMBEDDED), protocol=p) for p in PROTOCOLS[:2])
    assert len(oof.recall_arrays()[1]) < len(oof.split_arrays("train")[1])  # seed-oof keeps a ranker slice
    assert len(loo.recall_arrays()[1]) == len(loo.split_arrays("train")[1])


def test_csv_split_equals_cascade_prepare(tmp_path):
    path = tmp_path / "log.csv"
    pd.read_csv(EMBEDDED / "ratings.csv").to_csv(path, index=False)
    run_cli("prepare", "--data", path, "--dataset", "csv", "--header", "--columns", "user,item,rating,timestamp",
            "--min-rating", "3.5", "--out", tmp_path / "snap")
    cli = cascade.load_snapshot(str(tmp_path / "snap"))
    py = cascade.load_dataset("csv", str(path), header=True, columns=["user", "item", "rating", "timestamp"],
                              min_rating=3.5)
    assert_same_dataset(py, cli)


def test_dataset_save_is_a_cli_snapshot(tmp_path):
    ds = cascade.load_dataset("ml-latest", str(EMBEDDED), protocol="seed-oof", min_positives=10)
    ds.save(str(tmp_path / "snap"))
    again = cascade.load_snapshot(str(tmp_path / "snap"))
    assert_same_dataset(again, ds)
    assert again.content_hash == ds.content_hash
    assert (tmp_path / "snap" / "dataset.snap").is_file()


def test_prepare_options_are_honoured():
    strict = cascade.load_dataset("ml-latest", str(EMBEDDED), min_positives=50)
    loose = cascade.load_dataset("ml-latest", str(EMBEDDED), min_positives=5)
    assert strict.n_users < loose.n_users
    with pytest.raises(cascade.Error, match="min_positives"):
        cascade.load_dataset("ml-latest", str(EMBEDDED), min_positives=-1)
