"""cascade.compare: the paired bootstrap and t-test of `cascade compare`."""
from __future__ import annotations

import math

import pytest

import cascade
from conftest import run_cli


@pytest.fixture(scope="module")
def results(cli_workspace):
    """The CLI's per-user results of its ials and popularity eval runs."""
    return {ch: cascade.EvalResult.load_per_user_csv(str(cli_workspace.per_user_csv(ch)))
            for ch in ("ials", "popularity")}


def test_a_versus_itself(results):
    r = cascade.compare(results["ials"], results["ials"], metric="recall@10")
    assert r["diff"] == 0 and r["ci_low"] == 0 and r["ci_high"] == 0
    assert r["p_value"] == 1
    assert r["users"] == len(results["ials"].users)


def test_ials_versus_popularity(results):
    r = cascade.compare(results["popularity"], results["ials"], metric="ndcg@10", resamples=500, seed=3)
    assert r["metric"] == "ndcg@10" and r["resamples"] == 500
    assert all(math.isfinite(r[k]) for k in ("diff", "ci_low", "ci_high", "p_value", "t", "t_p_value"))
    assert r["ci_low"] < r["diff"] < r["ci_high"]
    assert r["diff"] == pytest.approx(r["mean_b"] - r["mean_a"], abs=1e-12)
    assert r["mean_a"] == pytest.approx(results["popularity"]["ndcg@10"], abs=1e-12)
    assert 0 <= r["p_value"] <= 1
    # Seeded: the same call gives the same interval.
    assert cascade.compare(results["popularity"], results["ials"], metric="ndcg@10", resamples=500, seed=3) == r


def test_unknown_metric_is_named(results):
    with pytest.raises(cascade.Error, match="recall@11"):
        cascade.compare(results["ials"], results["popularity"], metric="recall@11")


def parse_cli_table(text):
    """{metric: [A, B, B-A, ci_low, ci_high, p_boot, t, p_t]} from `cascade compare`'s table."""
    rows = {}
    for line in text.splitlines():
        parts = line.replace("[", " ").replace("]", " ").replace(",", " ").split()
        if len(parts) == 9 and "@" in parts[0]:
            rows[parts[0]] = [float(x) for x in parts[1:]]
    return rows


def test_equals_the_cli(cli_workspace, results):
    runs = cli_workspace.runs
    out = run_cli("compare", "--mlruns", cli_workspace.mlruns, "--metrics", "recall@10,ndcg@10",
                  runs["popularity"], runs["ials"]).stdout
    table = parse_cli_table(out)
    assert sorted(table) == ["ndcg@10", "recall@10"], out
    for metric, cli in table.items():
        py = cascade.compare(results["popularity"], results["ials"], metric=metric)
        ours = [py["mean_a"], py["mean_b"], py["diff"], py["ci_low"], py["ci_high"], py["p_value"], py["t"],
                py["t_p_value"]]
        # The CLI prints 4 decimals (t: 3): equal up to that rounding.
        tolerances = [5.1e-5] * 6 + [5.1e-4, 5.1e-5]
        for name, mine, theirs, tol in zip(["A", "B", "B-A", "ci_low", "ci_high", "p", "t", "p(t)"], ours, cli,
                                           tolerances):
            assert mine == pytest.approx(theirs, abs=tol), (metric, name, out)
