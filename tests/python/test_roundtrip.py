"""Round trips between the CLI and Python: models and metrics agree to the last digit."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import cascade
from conftest import EMBEDDED, IALS_PARAMS, THREADS, Workspace, cli_eval, ks_of


def assert_same_per_user(py: cascade.EvalResult, cli: cascade.EvalResult):
    assert np.array_equal(py.users, cli.users)
    assert sorted(cli.per_user) == sorted(py.per_user)
    for metric, values in cli.per_user.items():
        # Exact equality, not approx: the same code on the same data must give the same bits.
        assert np.array_equal(py.per_user[metric], values), metric


@pytest.mark.parametrize("channel", ["ials", "popularity"])
def test_cli_model_evaluates_identically_in_python(cli_workspace, snapshot, channel):
    csv = cli_workspace.per_user_csv(channel)
    model = cascade.Channel.load(str(cli_workspace.models / channel))
    assert model.kind == channel and model.fitted
    py = cascade.evaluate(model, snapshot, split="test", ks=ks_of(csv), threads=THREADS)
    cli = cascade.EvalResult.load_per_user_csv(str(csv))
    assert_same_per_user(py, cli)
    assert len(py.users) == snapshot.n_users  # seed-loo: every user has one test item


@pytest.mark.parametrize("channel", ["ials", "popularity"])
def test_summary_metrics_equal_cli_eval_to_the_last_digit(cli_workspace, snapshot, channel):
    """Acceptance: metrics equal to `cascade eval` to the last digit, coverage included."""
    csv = cli_workspace.per_user_csv(channel)
    model = cascade.Channel.load(str(cli_workspace.models / channel))
    py = cascade.evaluate(model, snapshot, split="test", ks=ks_of(csv), threads=THREADS)
    cli = cli_workspace.summary(channel)  # the run's logged metrics (summary.json)
    compared = [k for k in cli if "@" in k]
    assert {f"coverage@{k}" for k in ks_of(csv)} <= set(compared)
    for metric in compared:
        assert py[metric] == cli[metric], metric
    # The CSV's means are the summary too.
    csv_summary = cascade.EvalResult.load_per_user_csv(str(csv)).summary
    for metric, value in csv_summary.items():
        assert py[metric] == value, metric


def test_valid_split_equals_cli_eval(cli_workspace, snapshot, tmp_path):
    # `cascade eval eval.split=valid` into a fresh run store (the session's stays as it is).
    runs = cli_eval(cli_workspace.workdir, tmp_path / "mlruns", ["ials"], overrides=["eval.split=valid"])
    csv = runs["ials"] / "artifacts" / "per_user.csv"
    cli = cascade.EvalResult.load_per_user_csv(str(csv))
    model = cascade.Channel.load(str(cli_workspace.models / "ials"))
    py = cascade.evaluate(model, snapshot, split="valid", ks=ks_of(csv), threads=THREADS)
    assert_same_per_user(py, cli)
    test = cascade.evaluate(model, snapshot, split="test", ks=ks_of(csv), threads=THREADS)
    assert py["recall@200"] != test["recall@200"]  # a different split was really evaluated


def test_python_model_evaluates_identically_in_cli(cli_workspace, tmp_path):
    """Python fits and saves into a CLI workdir; `cascade eval` reads it and agrees exactly."""
    ws = Workspace(tmp_path)
    shutil.copytree(cli_workspace.data, ws.data)
    ds = cascade.load_snapshot(str(ws.data))
    # Parameters unlike the config's, so the CLI must be reading the Python model.
    model = cascade.Channel("ials", factors=24, iters=4, reg=7.5)
    model.fit(ds, threads=THREADS)
    model.save(str(ws.models / "ials"))

    ws.runs = cli_eval(ws.workdir, ws.mlruns, ["ials"])
    csv = ws.per_user_csv("ials")
    cli = cascade.EvalResult.load_per_user_csv(str(csv))
    py = cascade.evaluate(model, ds, split="test", ks=ks_of(csv), threads=THREADS)
    assert_same_per_user(py, cli)
    for metric, value in ws.summary("ials").items():
        if "@" in metric:
            assert py[metric] == value, metric
    # The CLI logged the Python model's parameters, not the config's.
    assert (ws.runs["ials"] / "params").is_dir()
    assert cascade.Channel.load(str(ws.models / "ials")).params["factors"] == 24


@pytest.mark.parametrize("kind,params", [("ials", IALS_PARAMS), ("popularity", {})])
def test_save_load_round_trip_in_python(snapshot, tmp_path, kind, params):
    model = cascade.Channel(kind, **params)
    model.fit(snapshot, threads=THREADS)
    model.save(str(tmp_path / kind))
    loaded = cascade.Channel.load(str(tmp_path / kind))
    assert loaded.kind == kind
    assert loaded.params == model.params
    users = np.arange(0, snapshot.n_users, 37)
    for u in users[:5]:
        assert np.array_equal(model.score(int(u)), loaded.score(int(u), dataset=snapshot))
    items_a, scores_a = model.recommend(users, k=20, threads=1)
    items_b, scores_b = loaded.recommend(users, k=20, dataset=snapshot, threads=1)
    assert np.array_equal(items_a, items_b)
    assert np.array_equal(scores_a, scores_b)
    if kind == "ials":
        assert np.array_equal(model.item_vectors, loaded.item_vectors)


def test_loaded_channel_needs_the_dataset_for_histories(cli_workspace):
    loaded = cascade.Channel.load(str(cli_workspace.models / "ials"))
    with pytest.raises(cascade.Error, match="dataset"):
        loaded.recommend(0, k=5)


def test_every_path_argument_accepts_pathlib(cli_workspace, tmp_path):
    ds = cascade.load_snapshot(cli_workspace.data)  # a pathlib.Path
    assert cascade.load_dataset("ml-latest-small", EMBEDDED).n_users == ds.n_users
    result = cascade.EvalResult.load_per_user_csv(cli_workspace.per_user_csv("ials"))
    result.save_per_user_csv(tmp_path / "per_user.csv")
    again = cascade.EvalResult.load_per_user_csv(tmp_path / "per_user.csv")
    assert np.array_equal(again.per_user["recall@10"], result.per_user["recall@10"])
