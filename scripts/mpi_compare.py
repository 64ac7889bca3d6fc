#!/usr/bin/env python3
"""Compares a training / evaluation run under MPI with the same run in one process.

    mpi_compare.py factors ONE_MODEL_DIR MPI_MODEL_DIR TOL
        max |difference| of the iALS user and item factors (user_factors.f32,
        item_factors.f32); fails when it exceeds TOL or the shapes differ.
    mpi_compare.py eval ONE_MLRUNS MPI_MLRUNS
        both run stores must hold the same runs (by name), every logged metric but the wall
        times equal, and the per-user CSVs (artifacts/per_user.csv) byte-identical.
"""
import pathlib
import sys

import numpy as np


def factors(one: str, mpi: str, tol: float) -> None:
    worst = 0.0
    for name in ("user_factors.f32", "item_factors.f32"):
        a = np.fromfile(pathlib.Path(one) / name, dtype="<f4")
        b = np.fromfile(pathlib.Path(mpi) / name, dtype="<f4")
        if a.shape != b.shape:
            sys.exit(f"{name}: {a.size} values in one process, {b.size} under MPI")
        if a.size == 0 or not np.isfinite(a).all():
            sys.exit(f"{name}: empty or non-finite factors")
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
        print(f"[mpi] {name}: {a.size} values, max abs difference {diff:.3g}")
        worst = max(worst, diff)
    if worst > tol:
        sys.exit(f"[mpi] FAIL: factors differ by {worst:.3g} > {tol}")


def runs_by_name(store: str) -> dict:
    # MLflow file store: <experiment>/<run>/tags/mlflow.runName
    out = {}
    for tag in pathlib.Path(store).glob("*/*/tags/mlflow.runName"):
        name = tag.read_text().strip()
        if name in out:
            sys.exit(f"{store}: two runs named {name}")
        out[name] = tag.parent.parent
    return out


def metrics(run: pathlib.Path) -> dict:
    # metrics/<name> holds lines "timestamp value step"; wall times differ by design.
    return {f.name: f.read_text().split()[1] for f in (run / "metrics").iterdir()
            if not f.name.endswith("_seconds")}


def evals(one: str, mpi: str) -> None:
    ra, rb = runs_by_name(one), runs_by_name(mpi)
    if set(ra) != set(rb) or "eval/ials" not in ra:
        sys.exit(f"[mpi] FAIL: runs differ: one process {sorted(ra)}, MPI {sorted(rb)}")
    for name in sorted(ra):
        a, b = ra[name], rb[name]
        ma, mb = metrics(a), metrics(b)
        if ma != mb or not ma:
            diff = {k: (ma.get(k), mb.get(k)) for k in set(ma) | set(mb) if ma.get(k) != mb.get(k)}
            sys.exit(f"[mpi] FAIL: {name}: logged metrics differ (one, mpi): {diff}")
        line = f"[mpi] {name}: {len(ma)} metrics identical"
        csv_a, csv_b = a / "artifacts" / "per_user.csv", b / "artifacts" / "per_user.csv"
        if csv_a.exists() or csv_b.exists():
            if not (csv_a.exists() and csv_b.exists()) or csv_a.read_bytes() != csv_b.read_bytes():
                sys.exit(f"[mpi] FAIL: {name}: per_user.csv differs between one process and MPI")
            users = csv_a.read_bytes().count(b"\n") - 1
            line += f", per_user.csv identical ({users} users)"
        cov = next((k for k in ("coverage_at_10", "valid.coverage_at_10") if k in ma), None)
        if cov:
            line += f", {cov} {ma[cov]}"
        print(line)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "factors":
        factors(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif len(sys.argv) == 4 and sys.argv[1] == "eval":
        evals(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
