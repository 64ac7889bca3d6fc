"""cascade.__version__ is the CLI's version."""
from __future__ import annotations

import re

import cascade
from conftest import run_cli


def test_version_matches_the_cli():
    out = run_cli("--version").stdout.strip()
    assert re.fullmatch(r"cascade \d+\.\d+\.\d+\S*", out), out
    assert out.split()[-1] == cascade.__version__


def test_docstrings_are_visible():
    # help() shows them: the main entry points document themselves.
    for obj in (cascade, cascade.Channel, cascade.Channel.fit, cascade.Channel.recommend, cascade.evaluate,
                cascade.compare, cascade.Recommender, cascade.Recommender.recommend, cascade.load_dataset,
                cascade.build_bundle, cascade.Dataset.from_frame):
        assert obj.__doc__ and len(obj.__doc__.strip()) > 20, obj
