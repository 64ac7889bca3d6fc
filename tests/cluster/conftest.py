"""Fixtures of the cluster tests (scripts/serve_cluster.sh): two small bundles built once per
session from the embedded dataset (different seeds, so different versions and lists), and
clusters started per test and stopped after it.

Environment: CASCADE_CLUSTER_BUNDLES="OLD NEW" reuses two bundles instead of building them.
"""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cluster_support import CACHE_TTL_MS, CASCADE_BIN, SERVE_CLUSTER, Cluster, build_bundle


@pytest.fixture(scope="session")
def bundles(tmp_path_factory):
    """(old, new): two bundles of the same funnel, seeds 1 and 2."""
    reuse = os.environ.get("CASCADE_CLUSTER_BUNDLES")
    if reuse:
        old, new = reuse.split()
        return Path(old), Path(new)
    d = tmp_path_factory.mktemp("bundles")
    return build_bundle(d / "old", 1), build_bundle(d / "new", 2)


@pytest.fixture
def cluster_factory():
    """Starts clusters with serve_cluster.sh --background and stops them after the test."""
    started = []

    def start(n: int, bundle: Path) -> Cluster:
        # Short path: unix socket names are limited to 107 bytes.
        run_dir = Path(tempfile.mkdtemp(prefix="cascade-cl-"))
        started.append(run_dir)
        subprocess.run(["bash", str(SERVE_CLUSTER), str(n), "--bundle", str(bundle), "--port", "0",
                        "--run-dir", str(run_dir), "--cache-ttl-ms", str(CACHE_TTL_MS),
                        "--background"],
                       check=True, env={**os.environ, "CASCADE_BIN": str(CASCADE_BIN)},
                       stdout=subprocess.DEVNULL, timeout=180)
        env = {}
        for line in (run_dir / "cluster.env").read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value.strip('"')
        return Cluster(run_dir, env)

    yield start
    for run_dir in started:
        subprocess.run(["bash", str(SERVE_CLUSTER), "stop", str(run_dir)], check=False, timeout=60)
        shutil.rmtree(run_dir, ignore_errors=True)
