# Type stubs for the cascade package: the extension module cascade._cascade as re-exported by
# cascade/__init__.py, plus the methods __init__.py adds in Python (Dataset.from_frame,
# from_arrays, user_ids, item_ids, user_index, item_index, csr; EvalResult.to_frame;
# build_bundle, config_dir, the RankingData subclass). Keep in step with python/src/*.cc and python/cascade/__init__.py.
from __future__ import annotations

import os
from typing import Any, Iterable, Literal, Mapping, Sequence, TypedDict, Union, overload

import numpy as np
import numpy.typing as npt

__version__: str
__all__: list[str]

_Path = Union[str, os.PathLike[str]]
_Param = Union[str, bool, int, float, Sequence[int]]
_Split = Literal["train", "valid", "test"]
_Users = Union[int, np.integer[Any], npt.ArrayLike]

# ---- exceptions -------------------------------------------------------------------------------

class Error(RuntimeError):
    """Any error the Cascade library reports (the message says what to fix)."""

class DataError(Error, ValueError):
    """Bad input data: the attributes file, line (1-based) and field say where."""

    file: str
    line: int
    field: str

class NotSupported(Error, NotImplementedError):
    """An optional ability (item vectors, user vectors) this model lacks."""

# ---- data -------------------------------------------------------------------------------------

class Dataset:
    """A prepared interaction log: filtered, densely re-indexed and split by a protocol
    (seed-loo, seed-oof or time), exactly as `cascade prepare` makes it.

    Dense ids run 0..n_users-1 and 0..n_items-1; user_ids / item_ids map them back."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def protocol(self) -> str:
        """seed-loo, seed-oof or time."""
    @property
    def n_users(self) -> int: ...
    @property
    def n_items(self) -> int: ...
    @property
    def content_hash(self) -> str:
        """Hex digest of the data; every model trained on it records it."""
    @property
    def raw_user_ids(self) -> list[str]:
        """Raw user ids as text, indexed by dense id."""
    @property
    def raw_item_ids(self) -> list[str]:
        """Raw item ids as text, indexed by dense id."""
    @property
    def user_ids(self) -> npt.NDArray[np.object_]:
        """Raw user ids (the objects given to from_arrays/from_frame, else text), by dense id."""
    @property
    def item_ids(self) -> npt.NDArray[np.object_]:
        """Raw item ids (the objects given to from_arrays/from_frame, else text), by dense id."""
    @overload
    def user_index(self, raw: str | bytes | int | np.integer[Any]) -> int:
        """Dense id of a raw user id; -1 when unknown."""
    @overload
    def user_index(self, raw: Iterable[Any]) -> npt.NDArray[np.int64]:
        """Dense ids of raw user ids; -1 where unknown."""
    @overload
    def item_index(self, raw: str | bytes | int | np.integer[Any]) -> int:
        """Dense id of a raw item id; -1 when unknown."""
    @overload
    def item_index(self, raw: Iterable[Any]) -> npt.NDArray[np.int64]:
        """Dense ids of raw item ids; -1 where unknown."""
    def split_arrays(
        self, split: _Split = "train"
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(indptr, indices, values, times) of a split as NumPy copies; rows are users, each in
        time order."""
    def recall_arrays(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """As split_arrays, for the matrix the channels are fitted on (the recall slice under
        seed-oof, train otherwise)."""
    def csr(self, split: Literal["train", "valid", "test", "recall"] = "train") -> Any:
        """A split as a scipy.sparse.csr_matrix of ratings (1 for logs without ratings), users x
        items."""
    def history(self, user: int) -> npt.NDArray[np.int32]:
        """The user's training items (dense ids), oldest first. IndexError when out of range."""
    def item_title(self, item: int) -> str:
        """The item's title ("" without a catalogue)."""
    def save(self, dir: _Path) -> None:
        """Writes the snapshot (dataset.snap, id maps, summary.json) that the CLI loads."""
    @staticmethod
    def from_arrays(
        users: Sequence[Any] | npt.ArrayLike,
        items: Sequence[Any] | npt.ArrayLike,
        ratings: npt.ArrayLike | None = None,
        timestamps: npt.ArrayLike | None = None,
        *,
        name: str = "arrays",
        protocol: str = "seed-loo",
        min_rating: float = 4.0,
        min_positives: int = 5,
        oof_fraction: float = 0.1,
        time_train: float = 0.8,
        time_valid: float = 0.1,
    ) -> Dataset:
        """A Dataset from parallel arrays of raw user and item ids of any hashable type;
        optional ratings (rows below min_rating dropped; None = every row positive) and integer
        timestamps (None = row order is time order). Split by `protocol` as the CLI does."""
    @staticmethod
    def from_frame(
        df: Any,
        *,
        user: str = "user",
        item: str = "item",
        rating: str | None = "auto",
        timestamp: str | None = "auto",
        name: str = "arrays",
        protocol: str = "seed-loo",
        min_rating: float = 4.0,
        min_positives: int = 5,
        oof_fraction: float = 0.1,
        time_train: float = 0.8,
        time_valid: float = 0.1,
    ) -> Dataset:
        """A Dataset from a pandas DataFrame with `user` and `item` columns (raw ids of any
        type) and optional `rating` / `timestamp` ("auto": used when the column exists)."""

def load_dataset(
    name: str,
    path: _Path,
    *,
    protocol: str = "seed-loo",
    min_rating: float = 4.0,
    min_positives: int = 5,
    oof_fraction: float = 0.1,
    time_train: float = 0.8,
    time_valid: float = 0.1,
    sep: str = ",",
    columns: Sequence[str] = ...,
    header: bool = False,
    encoding: str = "",
    skip_bad_rows: bool = False,
) -> Dataset:
    """Loads a log with the CLI's loaders (name: ml-100k, ml-1m, ml-10m, ml-latest,
    ml-latest-small, ml-20m, ml-25m or csv) and prepares it with the CLI's protocol code. Bad
    rows raise DataError naming file, line and field unless skip_bad_rows."""

def load_snapshot(path: _Path) -> Dataset:
    """Loads a snapshot folder (or dataset.snap) written by `cascade prepare` or Dataset.save."""

# ---- recall channels --------------------------------------------------------------------------

class Channel:
    """A recall channel (popularity, content, ials, ease, two_tower, sasrec, ...) by registry
    name with the parameters of its YAML group as keywords, e.g. Channel("ials", factors=64).
    Unknown names or keywords and out-of-range values raise Error at construction."""

    def __init__(self, kind: str, **params: _Param) -> None: ...
    @staticmethod
    def load(dir: _Path) -> Channel:
        """Loads a channel saved by Channel.save or `cascade train` (manifest checked)."""
    @staticmethod
    def kinds() -> list[str]:
        """The registered channel names."""
    @property
    def kind(self) -> str: ...
    @property
    def params(self) -> dict[str, int | float | bool | str]:
        """Every parameter in force, defaults filled in (what the manifest records)."""
    @property
    def fitted(self) -> bool: ...
    @property
    def n_items(self) -> int: ...
    def fit(self, dataset: Dataset, *, threads: int = 0, seed: int = 42) -> None:
        """Trains on the dataset's recall matrix without the GIL; threads=0 uses every core.
        Ctrl-C raises KeyboardInterrupt and leaves the previous state."""
    def save(self, dir: _Path) -> None:
        """Writes manifest.json and the model's arrays (atomically), the CLI's format."""
    @overload
    def recommend(
        self,
        users: int | np.integer[Any],
        k: int = 10,
        *,
        dataset: Dataset | None = None,
        filter_seen: bool = True,
        threads: int = 0,
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """Top-k (items, scores) of one user: 1-D arrays, best first."""
    @overload
    def recommend(
        self,
        users: npt.ArrayLike,
        k: int = 10,
        *,
        dataset: Dataset | None = None,
        filter_seen: bool = True,
        threads: int = 0,
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        """Top-k (items, scores) of each user of a 1-D array of dense ids: len(users) x k arrays,
        padded with -1 / -inf. Pass dataset= after Channel.load."""
    @overload
    def score(
        self, users: int, items: npt.ArrayLike | None = None, *, dataset: Dataset | None = None, threads: int = 0
    ) -> npt.NDArray[np.float32]: ...
    @overload
    def score(
        self, users: npt.ArrayLike, items: npt.ArrayLike | None = None, *, dataset: Dataset | None = None, threads: int = 0
    ) -> npt.NDArray[np.float32]:
        """Scores (unmasked; higher is better) of every item, or only `items`, for one user (1-D)
        or an array of dense user ids (2-D, one row per user)."""
    @property
    def item_vectors(self) -> npt.NDArray[np.float32]:
        """n_items x dim, read-only, viewing the model's memory (no copy). NotSupported for
        channels without vectors."""
    def user_vectors(self, users: npt.ArrayLike, *, dataset: Dataset | None = None) -> npt.NDArray[np.float32]:
        """len(users) x dim (a copy) such that scores = user_vectors @ item_vectors.T."""

def channel_kinds() -> list[str]:
    """Registered recall channel names."""

def ranker_kinds() -> list[str]:
    """Registered ranker names."""

# ---- rankers ----------------------------------------------------------------------------------

class RankingData:
    """What rankers learn from, built as `cascade bundle` builds it on a seed-oof dataset: the
    funnel's recall channels fitted on the recall slice, fusion tuned on validation, every
    user's training pool and the seed-oof examples, through the feature pipeline serving uses."""

    def __init__(
        self,
        dataset: Dataset,
        *,
        funnel: str = "",
        overrides: Iterable[str] = (),
        threads: int = 0,
        channel_cache: _Path = "",
    ) -> None: ...
    @property
    def funnel(self) -> str:
        """The resolved funnel spec."""
    @property
    def channels(self) -> list[str]: ...
    @property
    def features(self) -> list[str]:
        """The feature columns every row carries (dense, then categorical)."""
    def labels(self, part: Literal["fit", "heldout"] = "heldout") -> npt.NDArray[np.float32]:
        """Labels (1 positive, 0 negative) of the fit or held-out rows."""

class Ranker:
    """A ranker (lr, gbdt, deepfm, din, bst, blend) by registry name with the parameters of its
    rank.rankers.<name> YAML entry as keywords, e.g. Ranker("gbdt", rounds=200). A blend's
    members are the RankingData's configured rankers: Ranker("blend", members="gbdt+din")."""

    def __init__(self, kind: str, **params: _Param) -> None: ...
    @staticmethod
    def load(dir: _Path) -> Ranker:
        """Loads a ranker saved by Ranker.save or a bundle's rankers/<name>."""
    @staticmethod
    def kinds() -> list[str]: ...
    @property
    def kind(self) -> str: ...
    @property
    def fitted(self) -> bool: ...
    @property
    def params(self) -> dict[str, int | float | bool | str]: ...
    def fit(self, data: RankingData, *, threads: int = 0, seed: int | None = None) -> None:
        """Trains as `cascade bundle` fits a funnel ranker (seed None: the config's). Releases
        the GIL; Ctrl-C stops it."""
    def score(self, data: RankingData, part: Literal["fit", "heldout"] = "heldout") -> npt.NDArray[np.float32]:
        """Scores of the fit or held-out rows (RankingData.labels order)."""
    def auc(self, data: RankingData) -> float:
        """In-pool AUC on the held-out groups (mean over groups with both labels)."""
    def save(self, dir: _Path) -> None:
        """Writes the bundle's rankers/<name> format."""

# ---- evaluation -------------------------------------------------------------------------------

class EvalResult:
    """What evaluate returns: summary (metric -> mean, plus coverage), per_user (metric -> one
    value per evaluated user, parallel to users), users (dense ids, ascending) and seconds."""

    @property
    def summary(self) -> dict[str, float]: ...
    @property
    def per_user(self) -> dict[str, npt.NDArray[np.float64]]: ...
    @property
    def users(self) -> npt.NDArray[np.int64]: ...
    @property
    def seconds(self) -> float: ...
    def __getitem__(self, metric: str) -> float:
        """A summary value, e.g. result["recall@10"]; KeyError when absent."""
    def keys(self) -> list[str]: ...
    def to_frame(self) -> Any:
        """Per-user values as a pandas DataFrame: a `user` column and one per metric."""
    def save_per_user_csv(self, path: _Path) -> None:
        """The per-user CSV `cascade eval` writes (values read back bit-exact)."""
    @staticmethod
    def load_per_user_csv(path: _Path) -> EvalResult:
        """Reads a per_user.csv of `cascade eval` (summary = per-user means)."""

def evaluate(
    model: Channel,
    dataset: Dataset,
    *,
    split: Literal["test", "valid"] = "test",
    ks: Sequence[int] = (10, 200),
    threads: int = 0,
) -> EvalResult:
    """Evaluates a channel as `cascade eval` does (full catalogue, recall-matrix items masked):
    recall, ndcg, mrr, hitrate and novelty at every k, plus coverage."""

class _Comparison(TypedDict):
    metric: str
    users: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    resamples: int
    confidence: float
    t: float
    t_df: float
    t_p_value: float

def compare(
    a: EvalResult,
    b: EvalResult,
    *,
    metric: str = "recall@10",
    resamples: int = 1000,
    seed: int = 42,
    confidence: float = 0.95,
) -> _Comparison:
    """Paired comparison over the common users, as `cascade compare`: diff = b - a with a
    seeded bootstrap interval and p-value, and a paired t-test."""

# ---- the served funnel ------------------------------------------------------------------------

class Recommender:
    """The served funnel of a bundle through the same code as `cascade serve`. Live events go
    to Redis when redis is "host:port" or "unix:/path", else to an in-process store."""

    def __init__(self, bundle: _Path, *, redis: str = "", key_prefix: str = "cascade:") -> None: ...
    def recommend(
        self, user: str | int, k: int = 10, *, diversity: float | None = None, explain: bool = False
    ) -> dict[str, Any]:
        """The final list for a raw user id, with the fields of GET /recommend/{user}. A bad
        argument raises ValueError (attributes param and status: the route's)."""
    def post_events(self, events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Appends live events {user_id, item_id, rating?, timestamp?}, as POST /events."""
    def similar(self, item: str | int, k: int = 10) -> dict[str, Any]:
        """The k items most similar to a raw item id (GET /similar); KeyError when unknown."""
    def health(self) -> dict[str, Any]:
        """GET /health: status, funnel, the bundle's offline figures, feature store state."""
    @property
    def version(self) -> str: ...
    @property
    def funnel(self) -> str:
        """The bundle's funnel spec, canonical form."""
    @property
    def manifest(self) -> dict[str, Any]: ...
    @property
    def max_k(self) -> int:
        """Largest k a request may ask for (server: 200)."""
    @max_k.setter
    def max_k(self, value: int) -> None: ...

def build_bundle(
    out: _Path,
    dataset: Dataset,
    *,
    funnel: str = "",
    overrides: Iterable[str] = (),
    threads: int = 0,
    lambdas: Iterable[float] | None = None,
    channel_cache: _Path = "",
) -> str:
    """Trains a whole funnel on a seed-oof dataset and writes a bundle, as `cascade bundle`;
    returns its version. funnel: a spec such as "ials+ease > norm(quota=200,pool=100) >
    lr@50 > gbdt@20 > mmr(diversity=0.1)" ("" = the config's)."""

def config_dir() -> str:
    """The configs/ folder build_bundle composes ("" = the CLI's search order)."""

def set_log_level(level: str) -> None:
    """Library log level on stderr: trace, debug, info (the CLI's), warn (default), error, off."""
