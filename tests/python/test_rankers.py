"""cascade.Ranker over RankingData: a blend fits its configured members and round-trips."""
from __future__ import annotations

import numpy as np
import pytest

import cascade
from conftest import EMBEDDED, FUNNEL, IALS_OVERRIDES, THREADS


@pytest.fixture(scope="module")
def ranking_data():
    ds = cascade.load_dataset("ml-latest", str(EMBEDDED), protocol="seed-oof")
    return cascade.RankingData(ds, funnel=FUNNEL, overrides=IALS_OVERRIDES, threads=THREADS)


def test_blend_fits_its_members_and_round_trips(ranking_data, tmp_path):
    lr = cascade.Ranker("lr")
    lr.fit(ranking_data, threads=THREADS)
    blend = cascade.Ranker("blend", members="lr+gbdt", weights="3/1")
    blend.fit(ranking_data, threads=THREADS)
    assert blend.params["members"] == "lr+gbdt" and blend.params["weights"] == "3/1"
    scores = blend.score(ranking_data)
    assert scores.shape == ranking_data.labels().shape and np.isfinite(scores).all()
    # Not one member's scores: the blend orders the held-out rows otherwise than LR alone.
    assert not np.array_equal(np.argsort(scores), np.argsort(lr.score(ranking_data)))
    assert 0.5 < blend.auc(ranking_data) <= 1.0
    blend.save(tmp_path / "blend")
    assert sorted(p.name for p in (tmp_path / "blend" / "members").iterdir()) == ["0-lr", "1-gbdt"]
    loaded = cascade.Ranker.load(tmp_path / "blend")
    assert loaded.kind == "blend"
    assert np.array_equal(loaded.score(ranking_data), scores)


def test_blend_refuses_an_unconfigured_member(ranking_data):
    with pytest.raises(cascade.Error, match="'nope' is not configured"):
        cascade.Ranker("blend", members="lr+nope").fit(ranking_data, threads=THREADS)
    # The configured `blend` is a blend itself: refused by name, before any fitting.
    with pytest.raises(cascade.Error, match="members names 'blend', itself a blend"):
        cascade.Ranker("blend", members="lr+blend").fit(ranking_data, threads=THREADS)
    with pytest.raises(cascade.Error, match="member rankers"):
        cascade.Ranker("blend").fit(ranking_data, threads=THREADS)
