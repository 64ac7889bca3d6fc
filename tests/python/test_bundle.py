"""cascade.Recommender answers exactly as `cascade serve` does for the same user, events and time."""
from __future__ import annotations

import pytest

import cascade
from conftest import FUNNEL, run_cli

USERS = ["1", "2", "7", "100", "414", "610"]  # raw MovieLens ids of the embedded log


def without_timings(answer):
    """The /recommend JSON minus its timing fields (latency_ms: per-stage wall time)."""
    if isinstance(answer, dict):
        return {k: without_timings(v) for k, v in answer.items() if k != "latency_ms"}
    if isinstance(answer, list):
        return [without_timings(v) for v in answer]
    return answer


@pytest.fixture(scope="module")
def recommender(bundle_dir):
    return cascade.Recommender(str(bundle_dir))


def test_python_built_bundle_loads(recommender, bundle_dir):
    assert recommender.funnel == "popularity+ials > norm(pool=50,quota=100) > lr@30 > lr@10 > mmr(diversity=0.1)"
    assert recommender.manifest["version"] == recommender.version
    # The CLI verifies and explains the same bundle.
    out = run_cli("serve", "--bundle", bundle_dir, "--explain").stdout
    assert recommender.version in out
    assert recommender.health()["bundle_version"] == recommender.version


def test_timing_fields_are_the_only_ones_dropped(recommender):
    answer = recommender.recommend("1", k=10, explain=True)
    assert set(answer["latency_ms"]) >= {"recall", "total"}
    kept = without_timings(answer)
    assert set(answer) - set(kept) == {"latency_ms"}
    assert len(kept["items"]) == 10 and all("reason" in item for item in kept["items"])


@pytest.mark.parametrize("user", USERS)
def test_recommend_equals_http(recommender, server, user):
    py = recommender.recommend(user, k=10, explain=True)
    http = server.get(f"/recommend/{user}?k=10&explain=true")
    assert without_timings(py) == without_timings(http)
    assert py["user_id"] == user and py["known_user"] and len(py["items"]) == 10


def test_int_and_str_user_ids_agree(recommender):
    assert without_timings(recommender.recommend(7, k=5)) == without_timings(recommender.recommend("7", k=5))


def test_diversity_override_equals_http(recommender, server):
    py = recommender.recommend("2", k=10, diversity=0.7, explain=True)
    http = server.get("/recommend/2?k=10&diversity=0.7&explain=true")
    assert without_timings(py) == without_timings(http)
    assert py["diversity"] == pytest.approx(0.7)


def test_live_event_changes_both_alike(recommender, server):
    user = "610"
    before = without_timings(recommender.recommend(user, k=10, explain=True))
    # The user's current top item, seen now: it must leave the list on both sides. An explicit
    # timestamp (later than the log) makes the request time identical on both sides.
    event = {"user_id": user, "item_id": before["items"][0]["item_id"], "rating": 5.0, "timestamp": 1800000000}
    assert recommender.post_events(event)["accepted"] == 1
    assert server.post("/events", event)["accepted"] == 1

    py = recommender.recommend(user, k=10, explain=True)
    http = server.get(f"/recommend/{user}?k=10&explain=true")
    assert without_timings(py) == without_timings(http)
    assert py["live_events"] == 1
    assert py["history"] == before["history"] + 1
    assert event["item_id"] not in [item["item_id"] for item in py["items"]]


def test_unknown_user_equals_http(recommender, server):
    py = recommender.recommend("999999", k=10, explain=True)
    assert not py["known_user"] and len(py["items"]) == 10  # cold start: still a full list
    assert without_timings(py) == without_timings(server.get("/recommend/999999?k=10&explain=true"))


def test_event_batches_answer_alike(recommender, server):
    events = [{"user_id": "42", "item_id": "1", "rating": 4.5, "timestamp": 1800000100},
              {"user_id": "42", "item_id": "999999999", "timestamp": 1800000200}]  # not in the catalogue
    py = recommender.post_events(events)
    assert py == server.post("/events", events)
    assert (py["accepted"], py["unknown_items"]) == (2, 1)  # accepted, one counted as unknown
    a = recommender.recommend("42", k=10, explain=True)
    assert a["live_events"] == 1  # the unknown item is not part of the history
    assert without_timings(a) == without_timings(server.get("/recommend/42?k=10&explain=true"))


def test_similar_equals_http(recommender, server):
    assert without_timings(recommender.similar("1", k=5)) == without_timings(server.get("/similar/1?k=5"))


def test_build_bundle_rejects_a_seed_loo_dataset(snapshot, tmp_path):
    with pytest.raises(cascade.Error, match="seed-oof"):
        cascade.build_bundle(tmp_path / "b", snapshot, funnel=FUNNEL)
