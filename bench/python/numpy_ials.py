"""iALS in NumPy/SciPy, modelled on the CPU `AlternatingLeastSquares` of the `implicit` library.

Why this exists: issue 13 asks to compare Cascade's Python bindings with `implicit`'s Python
API, but `implicit` cannot be installed on these machines (no PyPI, no Debian package). This
module is the same algorithm written from the papers, as a stand-in; results from it must be
reported as "NumPy re-implementation of implicit's CPU ALS", never as `implicit` itself.

Model (Hu, Koren & Volinsky 2008): minimise
    sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2)
over all user-item pairs, p_ui = 1 for observed pairs, 0 otherwise. Confidence:
  * confidence="hkv" (default, the paper's and Cascade's): c_ui = 1 + alpha * r_ui;
  * confidence="implicit" (implicit >= 0.5's): c_ui = alpha * r_ui for observed pairs.
r_ui is binary (the matrix's values are ignored unless use_values=True).

Solver (Takacs, Pilaszy & Tikk 2011; implicit's `least_squares_cg`): alternate a user
half-step and an item half-step per iteration. For a user u the normal equations are
    (YtY + reg I + sum_{i in I(u)} (c_ui - 1) y_i y_i^T) x_u = sum_{i in I(u)} c_ui y_i,
where YtY + reg I is computed once per half-step. They are not solved exactly: `cg_steps`
conjugate-gradient steps start from the current x_u (warm start). A row whose initial
residual has squared norm < 1e-20 is left as it is; a row stops early once it drops below.

Vectorisation: the CG recurrences are per row, but every row takes the same number of steps,
so all rows advance together. A*P for all rows at once is
    P @ (YtY + reg I)  +  W(P) @ Y,   W(P)_ui = (c_ui - 1) * (p_u . y_i) on observed pairs,
i.e. a dense BLAS product, one sampled dense-dense product (the p_u . y_i of the observed
pairs) and one sparse-times-dense product (SciPy). Per-row scalars (alpha_k, beta_k) are
vectors. The sampled product is done one of two ways (sddmm=):
  * "dense": P_block @ Y^T by BLAS for a block of rows, then a flat take of the observed
    entries -- n_rows * n_cols * k flops instead of nnz * k, but BLAS speed;
  * "gather": gather the nnz factor-row pairs (in small chunks into reused buffers) and dot
    them row-wise with einsum -- nnz * k flops, for sparse, large catalogues;
  * "auto" (default): dense when the density is >= DENSE_SDDMM_DENSITY (1%).
Measured on ML-100K seed-loo (938 x 1447, 53,485 rows, 3.9% dense; 64 factors, 15 iterations,
2 threads, shared 2-core machine): dense ~0.5 s, gather ~1.5 s, and a per-row Python loop
(one small CG per row, NumPy within the row) ~1.9 s. Threads: only the dense BLAS products
use more than one core (OpenBLAS); SciPy's sparse product and NumPy's take / einsum run on one.

BLAS threads: see `set_blas_threads`. On Debian's NumPy here (OpenBLAS 0.3.21 pthread through
the libblas.so.3 alternative) both OPENBLAS_NUM_THREADS set before `import numpy` and the
ctypes call `openblas_set_num_threads` work; `threadpoolctl` is used when installed (Debian
package python3-threadpoolctl, not installed here).

Initialisation: implicit draws factors uniform in [0, 1) times 0.01 from a seeded generator
(Cascade does the same, U[0, init_scale)); init="normal" draws N(0, 1) * 0.01 instead.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np
import scipy.sparse as sp

_CG_EPS = 1e-20  # implicit's threshold on the squared residual norm
# "auto" computes sampled products densely above this density (ML-100K seed-loo: 3.9%).
DENSE_SDDMM_DENSITY = 0.01
DENSE_BLOCK_FLOATS = 1 << 20  # scores per row block of the dense way (4 MB of float32)
GATHER_PAIRS = 1024  # observed pairs per gather of the sparse way (two 256 KB buffers at k=64)


def _loaded_libs(prefixes: tuple) -> list:
    """Shared libraries mapped into this process whose file name starts with one of `prefixes`."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if line.rstrip().endswith(".so") or ".so." in line}
    return sorted(p for p in paths if p.startswith("/") and os.path.basename(p).startswith(prefixes))


def set_blas_threads(n: int) -> str:
    """Limits NumPy's BLAS to n threads now; returns how it was done (for the benchmark record).

    Order: threadpoolctl if installed; else openblas_set_num_threads through ctypes on the BLAS
    libraries this process has loaded (Linux /proc/self/maps); else "env" when the environment
    variables (which only take effect if set before NumPy was imported) already say n."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore

        # Keep the object alive: its limits hold until it is garbage-collected or restored.
        set_blas_threads._keep = threadpool_limits(limits=n, user_api="blas")  # type: ignore[attr-defined]
        return "threadpoolctl"
    except ImportError:
        pass
    done = []
    try:
        for path in _loaded_libs(("libopenblas", "libblas")):
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_set_num_threads"):
                lib.openblas_set_num_threads(ctypes.c_int(n))
                done.append(os.path.basename(path))
    except OSError:
        pass
    if done:
        return "ctypes openblas_set_num_threads (" + ", ".join(done) + ")"
    if os.environ.get("OPENBLAS_NUM_THREADS") == str(n) or os.environ.get("OMP_NUM_THREADS") == str(n):
        return "env (set before numpy import)"
    return "unchanged (no way found to set BLAS threads)"


def blas_threads_now() -> int | None:
    """The thread count OpenBLAS reports, if an OpenBLAS is loaded (for the record)."""
    try:
        for path in _loaded_libs(("libopenblas", "libblas")):
            lib = ctypes.CDLL(path)
            if hasattr(lib, "openblas_get_num_threads"):
                return int(lib.openblas_get_num_threads())
    except OSError:
        pass
    return None


class _HalfStep:
    """What one side's half-step needs, built once per fit: the confidence pattern of the rows
    and scratch buffers for the sampled products."""

    def __init__(self, m: sp.csr_matrix, alpha: float, confidence: str, use_values: bool, dtype, sddmm: str):
        m = m.tocsr()
        m.sort_indices()
        self.n_rows, self.n_cols = m.shape
        self.indptr = m.indptr
        self.indices = m.indices
        r = m.data.astype(dtype) if use_values else np.ones(m.nnz, dtype=dtype)
        c = (1 + alpha * r) if confidence == "hkv" else alpha * r
        self.c = c.astype(dtype)  # c_ui on observed pairs
        self.cm1 = (c - 1).astype(dtype)  # c_ui - 1
        self.rows = np.repeat(np.arange(self.n_rows, dtype=np.int64), np.diff(self.indptr))
        density = m.nnz / max(1, self.n_rows * self.n_cols)
        self.sddmm = sddmm if sddmm != "auto" else ("dense" if density >= DENSE_SDDMM_DENSITY else "gather")
        self.out = np.empty(m.nnz, dtype=dtype)
        if self.sddmm == "dense":
            # Row blocks of about DENSE_BLOCK_FLOATS scores; flat position of each observed pair
            # inside its block.
            self.block = max(1, DENSE_BLOCK_FLOATS // max(1, self.n_cols))
            self.flat = (self.rows % self.block) * self.n_cols + self.indices
        else:
            self.chunk = GATHER_PAIRS
            self.buf_p = None

    def sparse(self, data: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n_rows, self.n_cols))

    def sampled_dots(self, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(p_u . y_i) for every observed (u, i), in CSR order. Returns a reused buffer."""
        out = self.out
        if self.sddmm == "dense":
            # All scores of a block of rows by one BLAS product (multi-threaded), then a flat
            # take of the observed ones: more flops than needed, but at a few percent density
            # it beats gathering nnz factor rows (measured on ML-100K).
            yt = y.T
            for b in range(0, self.n_rows, self.block):
                e = min(self.n_rows, b + self.block)
                lo, hi = self.indptr[b], self.indptr[e]
                np.take((p[b:e] @ yt).ravel(), self.flat[lo:hi], out=out[lo:hi])
            return out
        k = p.shape[1]
        if self.buf_p is None or self.buf_p.shape[1] != k or self.buf_p.dtype != p.dtype:
            self.buf_p = np.empty((self.chunk, k), dtype=p.dtype)
            self.buf_y = np.empty((self.chunk, k), dtype=p.dtype)
        # Gathers into preallocated buffers: fresh multi-MB temporaries each call cost more in
        # page faults than the arithmetic.
        for b in range(0, len(out), self.chunk):
            e = min(len(out), b + self.chunk)
            n = e - b
            np.take(p, self.rows[b:e], axis=0, out=self.buf_p[:n])
            np.take(y, self.indices[b:e], axis=0, out=self.buf_y[:n])
            np.einsum("nk,nk->n", self.buf_p[:n], self.buf_y[:n], out=out[b:e])
        return out


def _cg_half_step(h: _HalfStep, x: np.ndarray, y: np.ndarray, reg: float, cg_steps: int) -> None:
    """Updates x (h.n_rows x k) in place with cg_steps warm-started CG steps per row."""
    k = y.shape[1]
    yty = y.T @ y + reg * np.eye(k, dtype=y.dtype)

    # r = b - A x = sum_i (c_ui - (c_ui - 1) x.y_i) y_i - (YtY + reg I) x
    s = h.sampled_dots(x, y)
    r = h.sparse(h.c - h.cm1 * s) @ y
    r -= x @ yty
    p = r.copy()
    rsold = np.einsum("nk,nk->n", r, r)
    active = rsold >= _CG_EPS
    for _ in range(cg_steps):
        if not active.any():
            break
        ap = p @ yty
        ap += h.sparse(h.cm1 * h.sampled_dots(p, y)) @ y
        pap = np.einsum("nk,nk->n", p, ap)
        a = np.zeros_like(rsold)
        np.divide(rsold, pap, out=a, where=active & (pap != 0))
        x += a[:, None] * p
        r -= a[:, None] * ap
        rsnew = np.einsum("nk,nk->n", r, r)
        still = active & (rsnew >= _CG_EPS)
        beta = np.zeros_like(rsold)
        np.divide(rsnew, rsold, out=beta, where=still)
        # Rows that stopped keep their p (never read again: their a stays 0).
        p = np.where(still[:, None], r + beta[:, None] * p, p)
        rsold = np.where(still, rsnew, rsold)
        active = still


class NumpyALS:
    """implicit-style iALS: fit(user_items csr) then recommend(userids, user_items, N)."""

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 15.0,
        alpha: float = 2.0,
        iterations: int = 15,
        cg_steps: int = 3,
        seed: int = 42,
        confidence: str = "hkv",
        init: str = "uniform",
        use_values: bool = False,
        dtype=np.float32,
        sddmm: str = "auto",
    ):
        if confidence not in ("hkv", "implicit"):
            raise ValueError(f"confidence must be 'hkv' or 'implicit', got {confidence!r}")
        if sddmm not in ("auto", "dense", "gather"):
            raise ValueError(f"sddmm must be 'auto', 'dense' or 'gather', got {sddmm!r}")
        if init not in ("uniform", "normal"):
            raise ValueError(f"init must be 'uniform' or 'normal', got {init!r}")
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.seed = seed
        self.confidence = confidence
        self.init = init
        self.use_values = use_values
        self.dtype = dtype
        self.sddmm = sddmm  # sampled products: "dense" (BLAS + take), "gather", "auto" (by density)
        self.user_factors: np.ndarray | None = None
        self.item_factors: np.ndarray | None = None

    def _draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.init == "uniform":
            return rng.random((n, self.factors), dtype=self.dtype) * self.dtype(0.01)
        return rng.standard_normal((n, self.factors), dtype=self.dtype) * self.dtype(0.01)

    def fit(self, user_items: sp.csr_matrix) -> "NumpyALS":
        if not sp.isspmatrix_csr(user_items):
            user_items = sp.csr_matrix(user_items)
        n_users, n_items = user_items.shape
        users = _HalfStep(user_items, self.alpha, self.confidence, self.use_values, self.dtype, self.sddmm)
        items = _HalfStep(user_items.T.tocsr(), self.alpha, self.confidence, self.use_values, self.dtype, self.sddmm)
        self.sddmm_used = (users.sddmm, items.sddmm)
        rng = np.random.default_rng(self.seed)
        x = self._draw(rng, n_users)
        y = self._draw(rng, n_items)
        for _ in range(self.iterations):
            _cg_half_step(users, x, y, self.regularization, self.cg_steps)
            _cg_half_step(items, y, x, self.regularization, self.cg_steps)
        self.user_factors, self.item_factors = x, y
        return self

    def recommend(
        self,
        userids: np.ndarray,
        user_items: sp.csr_matrix,
        N: int = 10,
        filter_already_liked_items: bool = True,
        batch_users: int = 4096,
    ):
        """Top-N items for each user in `userids`, as implicit's batched recommend.

        `user_items` holds one row per entry of `userids` (implicit >= 0.5's contract); a full
        n_users-row matrix is also accepted and indexed by `userids`. Scores are x_u . y_i from
        one matrix product per batch of users; liked items are set to -inf; argpartition picks
        the N best, which are then sorted by descending score. Returns (ids [n, N] int64,
        scores [n, N] float32); a slot with no item left (score -inf) has id -1."""
        if self.user_factors is None:
            raise RuntimeError("recommend before fit")
        userids = np.asarray(userids, dtype=np.int64).ravel()
        n = len(userids)
        n_items = self.item_factors.shape[0]
        N = min(N, n_items)
        if filter_already_liked_items:
            if user_items.shape[0] != n:
                if user_items.shape[0] <= (userids.max() if n else -1):
                    raise ValueError(f"user_items has {user_items.shape[0]} rows; expected {n} (one per userid)")
                user_items = user_items[userids]
            user_items = user_items.tocsr()
        ids = np.empty((n, N), dtype=np.int64)
        scores = np.empty((n, N), dtype=np.float32)
        yt = np.ascontiguousarray(self.item_factors.T)
        for b in range(0, n, batch_users):
            e = min(n, b + batch_users)
            s = self.user_factors[userids[b:e]] @ yt
            if filter_already_liked_items:
                part = user_items[b:e]
                rows = np.repeat(np.arange(e - b), np.diff(part.indptr))
                s[rows, part.indices] = -np.inf
            if N < n_items:
                top = np.argpartition(-s, N - 1, axis=1)[:, :N]
            else:
                top = np.broadcast_to(np.arange(n_items), (e - b, n_items)).copy()
            ts = np.take_along_axis(s, top, axis=1)
            order = np.argsort(-ts, axis=1, kind="stable")
            ids[b:e] = np.take_along_axis(top, order, axis=1)
            scores[b:e] = np.take_along_axis(ts, order, axis=1)
        ids[np.isneginf(scores)] = -1
        return ids, scores


def _self_check() -> None:
    """Checks the batched solver against a per-row transcription of the CG recurrence and the
    exact solution, and recommend against a brute-force sort (python3 numpy_ials.py)."""
    global DENSE_BLOCK_FLOATS, GATHER_PAIRS
    DENSE_BLOCK_FLOATS, GATHER_PAIRS = 100, 7  # several blocks / chunks on a small matrix
    rng = np.random.default_rng(0)
    m = sp.random(50, 40, density=0.1, format="csr", random_state=1, dtype=np.float64)
    m.data[:] = 1.0
    x0, y = rng.random((50, 8)), rng.random((40, 8))
    reg, alpha = 0.5, 2.0
    yty = y.T @ y + reg * np.eye(8)

    def a_times(u, v):  # (YtY + reg I + alpha sum_i y_i y_i^T) v for row u
        yi = y[m.indices[m.indptr[u]:m.indptr[u + 1]]]
        return yty @ v + alpha * yi.T @ (yi @ v)

    ref = x0.copy()
    for u in range(50):
        b = (1 + alpha) * y[m.indices[m.indptr[u]:m.indptr[u + 1]]].sum(axis=0)
        x = ref[u]
        r = b - a_times(u, x)
        p, rs = r.copy(), r @ r
        for _ in range(3):
            if rs < _CG_EPS:
                break
            ap = a_times(u, p)
            step = rs / (p @ ap)
            x += step * p
            r -= step * ap
            rs_new = r @ r
            p, rs = r + rs_new / rs * p, rs_new
    for mode in ("dense", "gather"):
        got = x0.copy()
        _cg_half_step(_HalfStep(m, alpha, "hkv", False, np.float64, mode), got, y, reg, 3)
        assert np.abs(got - ref).max() < 1e-10, (mode, np.abs(got - ref).max())
        exact = x0.copy()
        _cg_half_step(_HalfStep(m, alpha, "hkv", False, np.float64, mode), exact, y, reg, 40)
        for u in range(50):
            b = (1 + alpha) * y[m.indices[m.indptr[u]:m.indptr[u + 1]]].sum(axis=0)
            assert np.abs(a_times(u, exact[u]) - b).max() < 1e-8, (mode, u)
    model = NumpyALS(factors=8, iterations=3, dtype=np.float64).fit(m)
    ids, scores = model.recommend(np.arange(50), m, N=5)
    s = model.user_factors @ model.item_factors.T
    s[m.nonzero()] = -np.inf
    best = np.argsort(-s, axis=1, kind="stable")[:, :5]
    assert np.array_equal(ids, best) and np.allclose(scores, np.take_along_axis(s, best, axis=1), rtol=1e-6)
    sub_ids, _ = model.recommend(np.array([3, 7]), m[[3, 7]], N=5)
    assert np.array_equal(sub_ids, ids[[3, 7]])
    print("numpy_ials self-check passed")


if __name__ == "__main__":
    _self_check()
