"""Serving past one process (issue 14, part 4): replicas of `cascade serve` behind HAProxy
sharing one Redis, started by scripts/serve_cluster.sh; rolling reload by
scripts/cluster_reload.sh."""
import os
import signal
import subprocess
import time

from cluster_support import (CACHE_TTL_MS, CASCADE_BIN, CLUSTER_RELOAD, Load, bundle_users, http_json)


def recommend(port: int, user: str, k: int = 10) -> dict:
    status, body = http_json(port, "GET", f"/recommend/{user}?k={k}")
    assert status == 200, body
    return body


def test_event_posted_through_one_replica_changes_the_others_next_list_within_the_ttl(
        bundles, cluster_factory):
    cl = cluster_factory(2, bundles[0])
    a, b = cl.replica_ports
    user = bundle_users(bundles[0], 5)[4]
    before = recommend(b, user)  # B now holds the user's history in its cache
    assert before["live_events"] == 0
    top = before["items"][0]["item_id"]

    status, answer = http_json(a, "POST", "/events", {"user_id": int(user), "item_id": int(top)})
    assert status == 200 and answer["accepted"] == 1, answer
    posted = time.monotonic()
    # A's write reached Redis before A answered, and B's cached copy (read before the post) is
    # older than the TTL once this much has passed: B's next request must read Redis again.
    time.sleep(CACHE_TTL_MS / 1000 + 0.02)
    after = recommend(b, user)
    assert after["live_events"] == 1, after
    assert after["history"] == before["history"] + 1
    ids = [it["item_id"] for it in after["items"]]
    assert top not in ids, "the item just consumed is still recommended by replica B"
    # The same through HAProxy, from either replica.
    via_lb = [recommend(cl.port, user) for _ in range(2)]
    assert [d["live_events"] for d in via_lb] == [1, 1]
    print(f"\nevent through replica A seen by replica B {time.monotonic() - posted:.3f} s after the "
          f"post (cache TTL {CACHE_TTL_MS} ms)")


def test_a_replica_killed_under_load_costs_no_request_once_haproxy_marked_it_down(
        bundles, cluster_factory):
    cl = cluster_factory(2, bundles[0])
    users = bundle_users(bundles[0], 200)
    load = Load(cl.port, users, threads=4).start()
    time.sleep(1.5)
    killed = time.monotonic()
    os.kill(cl.replica_pid(2), signal.SIGKILL)
    down = None
    while time.monotonic() - killed < 20:
        if cl.server_status("r2").startswith("DOWN"):
            down = time.monotonic()
            break
        time.sleep(0.01)
    assert down is not None, "HAProxy never marked the killed replica down"
    time.sleep(2.0)
    outcomes = load.stop()

    in_window = [o for o in outcomes if o.end >= killed and o.start < down]
    failed_in_window = [o for o in in_window if not o.ok]
    after = [o for o in outcomes if o.start >= down]
    failed_after = [o for o in after if not o.ok]
    before = [o for o in outcomes if o.end < killed]
    print(f"\nkill -9 of r2 -> HAProxy marked it DOWN after {down - killed:.3f} s; "
          f"requests: {len(before)} before the kill (failed {sum(not o.ok for o in before)}), "
          f"{len(in_window)} inside the detection window (failed {len(failed_in_window)}), "
          f"{len(after)} after (failed {len(failed_after)})")
    for o in failed_in_window:
        print(f"  failed inside the window at +{o.start - killed:.3f} s: status {o.status} {o.error}")
    assert all(o.ok for o in before)
    assert len(after) >= 20, "too little load after the replica was marked down to show anything"
    assert failed_after == [], [(o.status, o.error) for o in failed_after[:5]]
    # The surviving replica answers everything with the bundle it had.
    assert {o.version for o in after} == {recommend(cl.replica_ports[0], users[0])["bundle_version"]}


def test_a_rolling_reload_under_load_fails_no_request_and_answers_each_with_one_version(
        bundles, cluster_factory):
    old_bundle, new_bundle = bundles
    cl = cluster_factory(2, old_bundle)
    users = bundle_users(old_bundle, 40)
    # Each user's list under the old bundle, from every replica (no events are posted here, so a
    # (bundle, user) pair has exactly one list).
    expected = {}
    for port in cl.replica_ports:
        for u in users:
            d = recommend(port, u)
            expected.setdefault(d["bundle_version"], {}).setdefault(u, set()).add(
                tuple(it["item_id"] for it in d["items"]))
    assert len(expected) == 1
    old_version = next(iter(expected))

    load = Load(cl.port, users, threads=4).start()
    time.sleep(1.0)
    started = time.monotonic()
    reload = subprocess.run(["bash", str(CLUSTER_RELOAD), str(cl.run_dir), str(new_bundle)],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "CASCADE_BIN": str(CASCADE_BIN)})
    assert reload.returncode == 0, reload.stderr
    reloaded = time.monotonic()
    print("\n" + reload.stderr.strip())
    new_version = reload.stdout.strip().splitlines()[-1]
    time.sleep(1.0)
    outcomes = load.stop()

    for port in cl.replica_ports:
        assert http_json(port, "GET", "/ready")[1]["bundle_version"] == new_version
        for u in users:
            d = recommend(port, u)
            assert d["bundle_version"] == new_version
            expected.setdefault(new_version, {}).setdefault(u, set()).add(
                tuple(it["item_id"] for it in d["items"]))
    assert new_version != old_version
    # Each bundle gives a user one list, the same on every replica ...
    for v in (old_version, new_version):
        assert all(len(lists) == 1 for lists in expected[v].values()), v
    # ... and the two bundles differ for some users, so a mixed answer would show.
    differ = [u for u in users if expected[old_version][u] != expected[new_version][u]]
    assert len(differ) >= len(users) // 4, f"only {len(differ)} users' lists differ"

    failed = [o for o in outcomes if not o.ok]
    versions = {}
    for o in outcomes:
        versions[o.version] = versions.get(o.version, 0) + 1
    print(f"\nrolling reload {old_version} -> {new_version} under load: {len(outcomes)} requests, "
          f"{len(failed)} failed; answers per version {versions}; the reload took "
          f"{reloaded - started:.1f} s; lists differ between the bundles for {len(differ)} of "
          f"{len(users)} users")
    assert failed == [], [(o.status, o.error) for o in failed[:5]]
    assert set(versions) == {old_version, new_version}
    # Every answer is one bundle's list for that user: its version field and its items agree.
    mixed = [o for o in outcomes if o.items not in expected[o.version][o.user]]
    assert mixed == [], [(o.user, o.version, o.items) for o in mixed[:3]]
    # Once the reload script returned, only the new version is served.
    late = [o for o in outcomes if o.start > reloaded]
    assert late and all(o.version == new_version for o in late)
