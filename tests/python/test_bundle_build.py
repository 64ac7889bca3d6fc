"""cascade.build_bundle builds what `cascade bundle` builds: same funnel, same answers."""
from __future__ import annotations

import pytest

import cascade
from conftest import EMBEDDED, THREADS, run_cli

# Tiny: one channel, the linear ranker, no diversity vectors; a few seconds per build.
TINY = "popularity > norm(quota=50,pool=20) > lr@10 > lr@5 > mmr(diversity=0,vectors=none)"


def strip(answer):
    """A /recommend answer minus what differs between two builds or two calls."""
    return {k: v for k, v in answer.items() if k not in ("latency_ms", "bundle_version")}


@pytest.fixture(scope="module")
def two_bundles(tmp_path_factory, oof_dataset):
    tmp = tmp_path_factory.mktemp("tiny_bundles")
    run_cli("bundle", "--data", EMBEDDED, "--dataset", "ml-latest", "--protocol", "seed-oof", "--out",
            tmp / "cli", "--threads", THREADS, "--funnel", TINY, f"workdir={tmp / 'work'}",
            f"mlruns={tmp / 'mlruns'}", "--lambdas", "0")  # overrides first: --lambdas takes many values
    cascade.build_bundle(tmp / "py", oof_dataset, funnel=TINY, threads=THREADS, lambdas=[0.0])
    return cascade.Recommender(str(tmp / "cli")), cascade.Recommender(str(tmp / "py"))


def test_same_funnel_and_offline_figures(two_bundles):
    cli, py = two_bundles
    assert cli.funnel == py.funnel
    assert cli.version != py.version  # two builds, so the comparison below is not of one bundle
    assert cli.health()["offline"] == py.health()["offline"]


@pytest.mark.parametrize("user", ["1", "5", "99", "610"])
def test_same_recommendations(two_bundles, user):
    cli, py = two_bundles
    a = cli.recommend(user, k=5, explain=True)
    assert len(a["items"]) == 5
    assert strip(a) == strip(py.recommend(user, k=5, explain=True))


def test_test_sees_valid_reaches_the_build(tmp_path, oof_dataset):
    """The flag changes the offline test figures as the CLI's does, and says so in the manifest."""
    run_cli("bundle", "--data", EMBEDDED, "--dataset", "ml-latest", "--protocol", "seed-oof", "--out",
            tmp_path / "cli", "--threads", THREADS, "--funnel", TINY, f"workdir={tmp_path / 'work'}",
            f"mlruns={tmp_path / 'mlruns'}", "--test-sees-valid", "true", "--lambdas", "0")
    cascade.build_bundle(tmp_path / "py", oof_dataset, funnel=TINY, threads=THREADS, lambdas=[0.0],
                         test_sees_valid=True)
    cli = cascade.Recommender(str(tmp_path / "cli")).manifest["offline"]
    py = cascade.Recommender(str(tmp_path / "py")).manifest["offline"]
    assert py["test_history"] == cli["test_history"] == "training rows + the validation item as a live event"
    for split in ("valid", "test"):  # the figures, not the timings
        assert {k: v for k, v in py[split].items() if k != "latency_ms"} == \
            {k: v for k, v in cli[split].items() if k != "latency_ms"}
