"""iALS from Python: Cascade's bindings vs an implicit-style NumPy iALS, on ML-100K seed-loo.

Issue 13's acceptance compares `import cascade` with the `implicit` library's Python API. The
`implicit` package cannot be installed on these machines, so the other side is
numpy_ials.NumpyALS, the same algorithm as implicit's CPU AlternatingLeastSquares written in
NumPy/SciPy (see that file). Report it as such.

    /usr/bin/python3 bench/python/ials_vs_implicit.py --data ../shared/data/ml-100k \
        --impl numpy,cascade --runs 3 --threads 2

Prints one JSON object: machine, settings, split, and per implementation
{fit_s, fit_runs_s, recommend_all_s, recommend_runs_s, recall@10, ndcg@10, ...}; *_s are
medians of --runs runs, each a fresh model; run r uses seed --seed + r on both sides, and the
quality figures are means over those seeds (with each run's value and the spread), because one
random start moves Recall@10 by about ±0.005 on 938 users. "recommend all" = the top-10 of
every user of the split, training items masked, from Python, as one batched call.
Recall@10 / NDCG@10 are computed here from the returned lists (evaluate_topk: full catalogue,
training items masked, one test item per user) so both sides are scored by the same code.
"""
from __future__ import annotations

import argparse
import os
import sys


def _parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="../shared/data/ml-100k", help="ML-100K folder (u.data)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--impl", default="numpy", help="comma list of: numpy, cascade")
    ap.add_argument("--split", choices=["python", "cascade"], default=None,
                    help="who builds seed-loo: this folder's ml100k_seed_loo (python) or the bindings "
                         "(cascade); default cascade when --impl has cascade, else python")
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--reg", type=float, default=15.0)
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--iters", type=int, default=15)
    ap.add_argument("--cg-steps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--confidence", choices=["hkv", "implicit"], default="hkv",
                    help="NumPy side: c = 1 + alpha r (hkv, as Cascade) or c = alpha r (implicit >= 0.5)")
    ap.add_argument("--sddmm", choices=["auto", "dense", "gather"], default="auto",
                    help="NumPy side: how the sampled products x_u.y_i are computed (see numpy_ials.py)")
    ap.add_argument("--init", choices=["uniform", "normal"], default="uniform",
                    help="NumPy side: initial factors U[0,1)*0.01 (implicit, Cascade) or N(0,1)*0.01")
    return ap.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # OpenBLAS reads these once, when NumPy loads it; set_blas_threads() below also sets the
    # count at run time (threadpoolctl or ctypes), which is what actually counts here.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ml100k_seed_loo import evaluate_topk, load_seed_loo  # noqa: E402
from numpy_ials import NumpyALS, blas_threads_now, set_blas_threads  # noqa: E402


def machine_info() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
    }


def test_items_from_csr(test: sp.csr_matrix) -> np.ndarray:
    """One held-out item per user from a test CSR (-1 for a user without one)."""
    test = test.tocsr()
    n = np.diff(test.indptr)
    if (n > 1).any():
        raise ValueError("test split has more than one item for some user; seed-loo has one")
    out = np.full(test.shape[0], -1, dtype=np.int64)
    out[n == 1] = test.indices[test.indptr[:-1][n == 1]]
    return out


def _median_record(fit_runs, rec_runs, run_metrics, extra) -> dict:
    """Times: medians over the runs. Quality: run r uses seed + r (both sides draw their own
    random start), so the metrics are means over seeds, with each run's value and the spread."""
    out = {
        "fit_s": statistics.median(fit_runs),
        "fit_runs_s": fit_runs,
        "recommend_all_s": statistics.median(rec_runs),
        "recommend_runs_s": rec_runs,
    }
    for name in run_metrics[0]:
        values = [m[name] for m in run_metrics]
        if isinstance(values[0], float):
            out[name] = statistics.fmean(values)
            out[name + "_runs"] = values
            out[name + "_sd"] = statistics.pstdev(values)
        else:
            out[name] = values[0]
    out.update(extra)
    return out


def run_numpy(train_csr: sp.csr_matrix, test_item: np.ndarray, a) -> dict:
    """The implicit-style NumPy iALS: fit on train_csr, recommend for every user, score."""
    fit_runs, rec_runs, metrics = [], [], []
    users = np.arange(train_csr.shape[0])
    for r in range(a.runs):
        model = NumpyALS(factors=a.factors, regularization=a.reg, alpha=a.alpha, iterations=a.iters,
                         cg_steps=a.cg_steps, seed=a.seed + r, confidence=a.confidence, init=a.init,
                         sddmm=a.sddmm)
        t0 = time.perf_counter()
        model.fit(train_csr)
        fit_runs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ids, _scores = model.recommend(users, train_csr, N=a.k, filter_already_liked_items=True)
        rec_runs.append(time.perf_counter() - t0)
        metrics.append(evaluate_topk(ids, test_item, a.k))
    return _median_record(fit_runs, rec_runs, metrics, {
        "what": "NumPy/SciPy re-implementation of implicit's CPU AlternatingLeastSquares (implicit not installable here)",
        "confidence": "1 + alpha*r" if a.confidence == "hkv" else "alpha*r",
        "init": a.init,
        "sddmm": "/".join(model.sddmm_used),  # users / items half-step
        "dtype": "float32",
    })


# =====================================================================================
# run_cascade: Cascade's Python bindings (issue 13). Written against the PLANNED binding API
#   cascade.load_dataset(name, dir, protocol=) -> ds; ds.n_users; ds.train_csr() -> scipy CSR
#   cascade.Channel('ials', factors=, reg=, alpha=, iters=, cg_steps=)
#   m.fit(ds, threads=); m.recommend(users, k=, dataset=, filter_seen=, threads=) -> (items, scores)
#   cascade.evaluate(m, ds, split='test', ks=[10]) -> {'recall@10': ...}
# The import is guarded so --impl numpy runs without the bindings.
# =====================================================================================
def load_cascade_split(data_dir: str):
    """Cascade's own seed-loo split via the bindings: (ds, train_csr, test_item).

    ASSUMPTION beyond the planned API: ds.csr("test") exists (same shape as train_csr) so
    the NumPy side can be scored on exactly Cascade's test items."""
    import cascade  # noqa: F401  (ImportError when the bindings are not built)

    ds = cascade.load_dataset("ml-100k", data_dir, protocol="seed-loo")
    return ds, ds.csr("train"), test_items_from_csr(ds.csr("test"))


def run_cascade(train_csr: sp.csr_matrix, test_item: np.ndarray, a, ds=None) -> dict:
    """Cascade's iALS channel through `import cascade`: fit, recommend-all, score."""
    import cascade

    if ds is None:
        ds = cascade.load_dataset("ml-100k", a.data, protocol="seed-loo")
    ds_train = ds.csr("train")
    if ds_train.shape != train_csr.shape or ds_train.nnz != train_csr.nnz:
        raise RuntimeError(f"Cascade's seed-loo train {ds_train.shape}/{ds_train.nnz} differs from the "
                           f"split scored here {train_csr.shape}/{train_csr.nnz}")
    users = np.arange(ds.n_users)
    fit_runs, rec_runs, metrics, cascade_recall = [], [], [], []
    for r in range(a.runs):
        m = cascade.Channel("ials", factors=a.factors, reg=a.reg, alpha=a.alpha, iters=a.iters,
                            cg_steps=a.cg_steps)
        t0 = time.perf_counter()
        m.fit(ds, threads=a.threads, seed=a.seed + r)
        fit_runs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        items, _scores = m.recommend(users, k=a.k, dataset=ds, filter_seen=True, threads=a.threads)
        rec_runs.append(time.perf_counter() - t0)
        metrics.append(evaluate_topk(np.asarray(items, dtype=np.int64), test_item, a.k))
        cascade_recall.append(cascade.evaluate(m, ds, split="test", ks=[a.k])[f"recall@{a.k}"])
    return _median_record(fit_runs, rec_runs, metrics, {
        "what": "Cascade iALS channel through the pybind11 bindings",
        # cross-check of the harness's scoring: cascade.evaluate's value per run
        f"cascade_evaluate_recall@{a.k}_runs": cascade_recall,
        "cascade_version": getattr(cascade, "__version__", None),
    })


def main(a) -> int:
    impls = [s.strip() for s in a.impl.split(",") if s.strip()]
    unknown = set(impls) - {"numpy", "cascade"}
    if unknown:
        raise SystemExit(f"--impl: unknown {sorted(unknown)} (expected numpy, cascade)")
    split_src = a.split or ("cascade" if "cascade" in impls else "python")
    if "cascade" in impls or split_src == "cascade":
        try:
            import cascade  # noqa: F401
        except ImportError as e:
            raise SystemExit(f"--impl cascade / --split cascade need the Python bindings (`import cascade`: {e}); "
                             "build them or run --impl numpy --split python")
    blas_method = set_blas_threads(a.threads)

    ds = None
    if split_src == "cascade":
        ds, train, test_item = load_cascade_split(a.data)
    else:
        s = load_seed_loo(a.data)
        train, test_item = s.train, s.test_item

    out = {
        "benchmark": "ials_vs_implicit",
        "machine": machine_info(),
        "settings": {
            "dataset": "ml-100k", "protocol": "seed-loo", "data": a.data, "split_source": split_src,
            "factors": a.factors, "reg": a.reg, "alpha": a.alpha, "iters": a.iters, "cg_steps": a.cg_steps,
            "seed": a.seed, "k": a.k, "threads": a.threads, "runs": a.runs,
            "blas_threads_set_by": blas_method, "blas_threads_reported": blas_threads_now(),
        },
        "split": {"n_users": int(train.shape[0]), "n_items": int(train.shape[1]), "train_rows": int(train.nnz),
                  "test_users": int((test_item >= 0).sum())},
        "results": {},
    }
    for impl in impls:
        if impl == "numpy":
            out["results"]["numpy"] = run_numpy(train, test_item, a)
        else:
            out["results"]["cascade"] = run_cascade(train, test_item, a, ds)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
