"""Shared fixtures of the Python-bindings suite (issue 13).

The package is whatever `import cascade` finds (PYTHONPATH from scripts/run_python_tests.sh,
or a pip-installed copy); the CLI is $CASCADE_BIN (default <repo>/build/release/cascade).
Expensive things (a CLI-trained workspace, a bundle, a served bundle) are built once per
session, small (embedded dataset, few factors, 2 threads) to keep the suite short.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import cascade

REPO = Path(__file__).resolve().parents[2]
CASCADE_BIN = Path(os.environ.get("CASCADE_BIN", REPO / "build" / "release" / "cascade"))
EMBEDDED = REPO / "data" / "ml-latest-small"
TAG = "ml-latest-small"  # configs/data/ml-latest-small.yaml: tag
THREADS = 2

# Small channels for every CLI run and the Python fits compared with them.
IALS_OVERRIDES = ["recall.channels.ials.factors=16", "recall.channels.ials.iters=5"]
IALS_PARAMS = {"factors": 16, "iters": 5}

# A cheap funnel: two fast channels, small pool, the linear ranker twice (no libtorch, no GBDT).
FUNNEL = "popularity+ials > norm(quota=100,pool=50) > lr@30 > lr@10 > mmr(diversity=0.1)"


def pytest_configure(config):
    cascade.set_log_level("warn")


def run_cli(*args, cwd=REPO, timeout=300, check=True):
    """Runs the CLI (from the repo root, where configs/ and data/ are); output captured."""
    proc = subprocess.run([str(CASCADE_BIN), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"cascade {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def eval_runs(mlruns: Path) -> dict:
    """{run dir: channel} of every `cascade eval` run (those with a per_user.csv)."""
    out = {}
    for csv in Path(mlruns).glob("*/*/artifacts/per_user.csv"):
        run = csv.parent.parent
        out[run] = (run / "params" / "channel").read_text().strip()
    return out


def cli_eval(workdir: Path, mlruns: Path, channels, overrides=()) -> dict:
    """Runs `cascade eval` on the given channels; returns {channel: run dir} of the NEW runs."""
    before = set(eval_runs(mlruns))
    run_cli("eval", "--channels", ",".join(channels), f"workdir={workdir}", f"mlruns={mlruns}",
            f"threads={THREADS}", *overrides)
    new = {ch: run for run, ch in eval_runs(mlruns).items() if run not in before}
    assert sorted(new) == sorted(channels), f"expected one new eval run per channel, got {new}"
    return new


def ks_of(per_user_csv: Path) -> list:
    """The cutoffs the CLI evaluated (eval.ks), read from the per-user CSV's header."""
    header = Path(per_user_csv).read_text().split("\n", 1)[0].split(",")
    return sorted({int(c.split("@")[1]) for c in header if c.startswith("recall@")})


class Workspace:
    """A `cascade train` + `cascade eval` workspace: <workdir>/<tag>/{data,models}, mlruns."""

    def __init__(self, root: Path):
        self.root = root
        self.workdir = root / "work"
        self.mlruns = root / "mlruns"
        self.data = self.workdir / TAG / "data"
        self.models = self.workdir / TAG / "models"
        self.runs = {}  # channel -> eval run dir

    def per_user_csv(self, channel):
        return self.runs[channel] / "artifacts" / "per_user.csv"

    def summary(self, channel):
        return json.loads((self.runs[channel] / "artifacts" / "summary.json").read_text())["metrics"]


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def cli_workspace(tmp_path_factory):
    """ials (small) and popularity trained and evaluated by the CLI on the embedded dataset."""
    ws = Workspace(tmp_path_factory.mktemp("cli"))
    run_cli("train", "--channels", "ials,popularity", f"workdir={ws.workdir}", f"mlruns={ws.mlruns}",
            f"threads={THREADS}", *IALS_OVERRIDES)
    ws.runs = cli_eval(ws.workdir, ws.mlruns, ["ials", "popularity"])
    return ws


@pytest.fixture(scope="session")
def snapshot(cli_workspace):
    """The snapshot the CLI prepared (seed-loo), loaded in Python."""
    return cascade.load_snapshot(str(cli_workspace.data))


@pytest.fixture(scope="session")
def ials(snapshot):
    """A small iALS fitted in Python on the CLI's snapshot (treat as read-only)."""
    m = cascade.Channel("ials", **IALS_PARAMS)
    m.fit(snapshot, threads=THREADS)
    return m


@pytest.fixture(scope="session")
def oof_dataset():
    return cascade.load_dataset("ml-latest-small", str(EMBEDDED), protocol="seed-oof")


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, oof_dataset):
    """One small bundle, built from Python (cascade.build_bundle), served by the tests."""
    out = tmp_path_factory.mktemp("bundle") / "b"
    version = cascade.build_bundle(out, oof_dataset, funnel=FUNNEL, threads=THREADS,
                                   overrides=IALS_OVERRIDES, lambdas=[0.0, 0.1])
    assert isinstance(version, str) and version
    assert (out / "manifest.json").is_file()
    return out


class Server:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=30) as r:
            return json.loads(r.read())

    def post(self, path, body):
        req = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())


@pytest.fixture(scope="session")
def server(bundle_dir, tmp_path_factory):
    """`cascade serve` on the session bundle: loopback, a free port, in-process store."""
    tmp = tmp_path_factory.mktemp("serve")
    ready = tmp / "port"
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen([str(CASCADE_BIN), "serve", "--bundle", str(bundle_dir), "--host", "127.0.0.1",
                             "--port", "0", "--threads", "2", "--ready-file", str(ready)],
                            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("cascade serve did not start:\n" + (tmp / "serve.log").read_text())
            time.sleep(0.05)
        yield Server(int(ready.read_text().strip()))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def python_env():
    """Environment for a child /usr/bin/python3 importing the same cascade package."""
    env = dict(os.environ)
    pkg_parent = str(Path(cascade.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


PYTHON = sys.executable
