"""Cascade from Python: the C++ engine's datasets, recall channels, evaluation and served funnel.

    import cascade
    ds = cascade.load_dataset("ml-latest-small", "data/ml-latest-small")
    model = cascade.Channel("ials", factors=64)
    model.fit(ds)
    items, scores = model.recommend(range(ds.n_users), k=10)
    cascade.evaluate(model, ds)["recall@10"]

Everything runs in the same library as the `cascade` CLI and `cascade serve` (no second
implementation): a model trained here loads in the CLI and scores identically, and the reverse.
See docs/python.md.
"""
from __future__ import annotations

import os as _os


def _openblas_coretype() -> str:
    """The kernels OpenBLAS should use here, by the rule of the CLI's main (util/blas_core.h):
    Debian's OpenBLAS 0.3.21 falls back to its SSE3 kernels on CPUs it does not know, which
    halves libtorch's training speed on AVX-512 VMs. "" = leave OpenBLAS's detection alone."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return ""
    flags = set(flags)
    if {"avx2", "fma"} <= flags:
        return "SkylakeX" if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= flags else "Haswell"
    return ""


# OpenBLAS reads the variable once, when it is loaded (by NumPy or by the extension below), so it
# is set before either import; a value the user set is kept. The CLIs this process starts inherit it.
if "OPENBLAS_CORETYPE" not in _os.environ:
    _core = _openblas_coretype()
    if _core:
        _os.environ["OPENBLAS_CORETYPE"] = _core

import numpy as _np  # noqa: E402

from ._cascade import (  # noqa: F401,E402  (re-exported)
    Channel,
    DataError,
    Dataset,
    Error,
    EvalResult,
    NotSupported,
    Ranker,
    Recommender,
    __version__,
    channel_kinds,
    compare,
    evaluate,
    load_dataset,
    load_snapshot,
    ranker_kinds,
    set_log_level,
)
from . import _cascade  # noqa: E402

__all__ = [
    "Channel", "DataError", "Dataset", "Error", "EvalResult", "NotSupported", "Ranker", "RankingData", "Recommender",
    "__version__", "build_bundle", "channel_kinds", "compare", "config_dir", "evaluate",
    "load_dataset", "load_snapshot", "ranker_kinds", "set_log_level",
]


def config_dir() -> str:
    """The configs/ folder build_bundle composes: the installed package's copy, else
    $CASCADE_CONFIG_DIR, ./configs or the source tree's (the CLI's search order)."""
    packaged = _os.path.join(_os.path.dirname(__file__), "configs")
    if _os.path.isdir(packaged) and not _os.environ.get("CASCADE_CONFIG_DIR"):
        return packaged
    return ""


def build_bundle(out, dataset, *, funnel="", overrides=(), threads=0, lambdas=None, channel_cache="",
                 test_sees_valid=False):
    """Trains a whole funnel on a seed-oof dataset and writes a bundle (as `cascade bundle`).

    funnel: a spec such as "ials+ease > norm(quota=200,pool=100) > lr@50 > gbdt@20 >
    mmr(diversity=0.1)" ("" = the config's); overrides: the CLI's key=value overrides of
    configs/config.yaml; test_sees_valid: the offline test requests carry the user's validation
    item as a live event (`--test-sees-valid true`). Returns the bundle version; serve it with
    cascade.Recommender(out)."""
    return _cascade.build_bundle(
        _os.fspath(out), dataset, funnel=funnel, overrides=list(overrides), threads=threads,
        lambdas=None if lambdas is None else [float(x) for x in lambdas],
        config_dir=config_dir(), channel_cache=_os.fspath(channel_cache),
        test_sees_valid=bool(test_sees_valid))


class RankingData(_cascade.RankingData):
    __doc__ = _cascade.RankingData.__doc__

    def __init__(self, dataset, *, funnel="", overrides=(), threads=0, channel_cache=""):
        super().__init__(dataset, funnel=funnel, overrides=list(overrides), threads=threads,
                         config_dir=config_dir(), channel_cache=_os.fspath(channel_cache))


# ---- raw ids of any type ------------------------------------------------------------------

def _factorize(values):
    """(codes int64, uniques list) of any hashable values, first-seen order."""
    try:
        import pandas as pd
        codes, uniques = pd.factorize(_np.asarray(values, dtype=object) if not hasattr(values, "dtype") else values,
                                      use_na_sentinel=True)
        if (codes < 0).any():
            row = int(_np.flatnonzero(codes < 0)[0])
            raise DataError(f"row {row + 1}: missing id (NaN/None)")
        return codes.astype(_np.int64), list(uniques)
    except ImportError:
        index, codes = {}, _np.empty(len(values), dtype=_np.int64)
        for i, v in enumerate(values):
            if v is None:
                raise DataError(f"row {i + 1}: missing id (None)")
            codes[i] = index.setdefault(v, len(index))
        return codes, list(index)


def _id_text(v) -> str:
    # Integers (Python or NumPy) as plain decimals so that numeric ids sort numerically, as the
    # CLI's loaders read them; everything else through str().
    if isinstance(v, (int, _np.integer)) and not isinstance(v, bool):
        return str(int(v))
    return str(v)


def _keys(uniques, what):
    keys = [_id_text(u) for u in uniques]
    if len(set(keys)) != len(keys):
        seen = {}
        for u, k in zip(uniques, keys):
            if k in seen:
                raise DataError(f"{what} ids {seen[k]!r} and {u!r} are the same text {k!r}: ids must differ as text")
            seen[k] = u
    return keys


def _from_arrays(users, items, ratings=None, timestamps=None, *, name="arrays", protocol="seed-loo",
                 min_rating=4.0, min_positives=5, oof_fraction=0.1, time_train=0.8, time_valid=0.1):
    """A Dataset from parallel arrays (one entry per interaction) of raw user and item ids of
    any hashable type (int, str, ...); optional ratings (rows below min_rating are dropped;
    None = every row is a positive) and integer timestamps (None = row order is time order).
    Split by `protocol` with exactly the code the CLI uses; user_ids / item_ids give back the
    original id objects."""
    n = len(users)
    if len(items) != n:
        raise ValueError(f"items has {len(items)} rows but users has {n}")
    ucodes, uuniq = _factorize(users)
    icodes, iuniq = _factorize(items)
    ds = _cascade._dataset_from_codes(
        ucodes, _keys(uuniq, "user"), icodes, _keys(iuniq, "item"),
        None if ratings is None else _np.asarray(ratings, dtype=_np.float32),
        None if timestamps is None else _np.asarray(timestamps, dtype=_np.int64),
        name, protocol, min_rating, min_positives, oof_fraction, time_train, time_valid)
    ds._raw_users = {_id_text(u): u for u in uuniq}
    ds._raw_items = {_id_text(i): i for i in iuniq}
    return ds


def _from_frame(df, *, user="user", item="item", rating="auto", timestamp="auto", **options):
    """A Dataset from a pandas DataFrame: columns `user` and `item` (raw ids of any type),
    optional `rating` and `timestamp` ("auto": used when a column of that name exists; None:
    not used). Other options as Dataset.from_arrays."""
    for col in (user, item):
        if col not in df.columns:
            raise KeyError(f"from_frame: no column {col!r}; columns are {list(df.columns)}")

    def optional(col, default):
        if col == "auto":
            return df[default].to_numpy() if default in df.columns else None
        if col is None:
            return None
        if col not in df.columns:
            raise KeyError(f"from_frame: no column {col!r}; columns are {list(df.columns)}")
        return df[col].to_numpy()

    return _from_arrays(df[user].to_numpy(), df[item].to_numpy(), optional(rating, "rating"),
                        optional(timestamp, "timestamp"), **options)


def _raw_ids(self, which):
    texts = self.raw_user_ids if which == "user" else self.raw_item_ids
    mapping = getattr(self, "_raw_users" if which == "user" else "_raw_items", None)
    out = _np.empty(len(texts), dtype=object)
    out[:] = texts if mapping is None else [mapping[t] for t in texts]
    return out


def _index_of(self, raw, which):
    find = self._find_user if which == "user" else self._find_item
    if isinstance(raw, (str, bytes, int, _np.integer)) or not hasattr(raw, "__iter__"):
        return find(_id_text(raw))
    return _np.fromiter((find(_id_text(r)) for r in raw), dtype=_np.int64)


def _csr(self, split="train"):
    """A split (train, valid, test or "recall": the channels' matrix) as a SciPy CSR matrix of
    ratings (1 for logs without ratings), users x items."""
    import scipy.sparse as sp
    indptr, indices, values, _ = self.recall_arrays() if split == "recall" else self.split_arrays(split)
    return sp.csr_matrix((values, indices, indptr), shape=(self.n_users, self.n_items))


Dataset.from_arrays = staticmethod(_from_arrays)
Dataset.from_frame = staticmethod(_from_frame)
Dataset.user_ids = property(lambda self: _raw_ids(self, "user"),
                            doc="Raw user ids (the objects given to from_arrays/from_frame, else text), by dense id.")
Dataset.item_ids = property(lambda self: _raw_ids(self, "item"),
                            doc="Raw item ids (the objects given to from_arrays/from_frame, else text), by dense id.")
Dataset.user_index = lambda self, raw: _index_of(self, raw, "user")
Dataset.user_index.__doc__ = "Dense id(s) of raw user id(s): an int, or an int64 array for a sequence; -1 when unknown."
Dataset.item_index = lambda self, raw: _index_of(self, raw, "item")
Dataset.item_index.__doc__ = "Dense id(s) of raw item id(s): an int, or an int64 array for a sequence; -1 when unknown."
Dataset.csr = _csr


def _to_frame(self):
    """Per-user values as a pandas DataFrame: a `user` column (dense ids) and one per metric."""
    import pandas as pd
    frame = pd.DataFrame({"user": self.users})
    for name, values in self.per_user.items():
        frame[name] = values
    return frame


EvalResult.to_frame = _to_frame
