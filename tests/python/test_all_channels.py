"""Every registered channel trains from Python, reloads bit-identically and scores identically in the CLI."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import cascade
from conftest import THREADS, Workspace, cli_eval, ks_of

# Tiny settings: seconds, not minutes (quality is not the point here).
TINY = {
    "popularity": {},
    "content": {},
    "ials": {"factors": 8, "iters": 3},
    "ease": {"tune": False, "lambda": 200},
    "two_tower": {"epochs": 1, "dim": 16, "eval_every": 0},
    "sasrec": {"epochs": 1, "dim": 8, "blocks": 1, "max_len": 5, "batch": 1024, "windows": 1, "eval_every": 0},
    "transition": {},
}
# Channels the default config does not list: configured for `cascade eval` by an override.
NOT_CONFIGURED = ["+recall.channels.transition.window=10"]
USERS = np.arange(0, 600, 50)


def test_the_table_covers_every_registered_channel():
    assert set(TINY) == set(cascade.channel_kinds())


@pytest.fixture(scope="module")
def fitted(cli_workspace, tmp_path_factory):
    """Each channel fitted in Python on a copy of the CLI's snapshot, saved as the CLI's models,
    then evaluated by `cascade eval`. The neural fits run one after another (libtorch's state is
    process-wide)."""
    ws = Workspace(tmp_path_factory.mktemp("all_channels"))
    shutil.copytree(cli_workspace.data, ws.data)
    ds = cascade.load_snapshot(str(ws.data))
    models = {}
    for kind, params in TINY.items():
        model = cascade.Channel(kind, **params)
        model.fit(ds, threads=THREADS)
        model.save(str(ws.models / kind))
        models[kind] = model
    ws.runs = cli_eval(ws.workdir, ws.mlruns, list(TINY), overrides=NOT_CONFIGURED)
    return ws, ds, models


@pytest.mark.parametrize("kind", list(TINY))
def test_reload_is_bit_identical(fitted, kind):
    ws, ds, models = fitted
    model = models[kind]
    loaded = cascade.Channel.load(str(ws.models / kind))
    assert loaded.kind == kind and loaded.params == model.params
    for u in USERS:
        assert np.array_equal(model.score(int(u)), loaded.score(int(u), dataset=ds)), u
    a = model.recommend(USERS, k=10)
    b = loaded.recommend(USERS, k=10, dataset=ds)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("kind", list(TINY))
def test_cli_eval_equals_python_evaluate(fitted, kind):
    ws, ds, models = fitted
    csv = ws.per_user_csv(kind)
    cli = cascade.EvalResult.load_per_user_csv(str(csv))
    py = cascade.evaluate(models[kind], ds, split="test", ks=ks_of(csv), threads=THREADS)
    assert np.array_equal(py.users, cli.users)
    for metric, values in cli.per_user.items():
        assert np.array_equal(py.per_user[metric], values), metric
    for metric, value in ws.summary(kind).items():
        if "@" in metric:
            assert py[metric] == value, metric


@pytest.mark.parametrize("kind", ["ials", "two_tower", "sasrec"])
def test_vector_channels_expose_item_vectors(fitted, kind):
    _, ds, models = fitted
    vectors = models[kind].item_vectors
    assert vectors.shape[0] == ds.n_items and not vectors.flags.writeable
    assert np.isfinite(vectors).all()
