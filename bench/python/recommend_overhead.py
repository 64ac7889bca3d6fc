"""The cost of one Channel.recommend(user, k=10) call from Python (issue 13: the binding's
overhead over the C++ call; aim < 20 µs).

    PYTHONPATH=build/release/python /usr/bin/python3 bench/python/recommend_overhead.py \
        [DATA_DIR] [--dataset ml-latest-small] [--repeats 7]

Channels as bench/channel_recommend_bench.cc fits them, the C++ side that Google Benchmark
times: ials (factors 64, registry defaults otherwise) and popularity, fitted once on the
seed-loo training split with seed 42 and one thread. Users go round-robin, one per call, and the
history is masked, as there. For reference it also times `ds.n_users`, a trivial bound
attribute: the fixed cost of any call into the module. It also times `next(users)`, the
round-robin step that is part of each timed recommend statement.

timeit with the garbage collector off: each repeat runs enough loops to last at least
--min-seconds, and the figures are the median over --repeats repeats, in µs per call (every
repeat listed too). Prints one JSON object; overhead = python_recommend_us - the C++ time.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import timeit
from pathlib import Path

import cascade

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", default=str(ROOT / "data" / "ml-latest-small"),
                    help="dataset folder (default: the embedded data/ml-latest-small)")
    ap.add_argument("--dataset", default="ml-latest-small", help="loader name (ml-100k, ml-latest-small, ...)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--factors", type=int, default=64, help="ials factors (the C++ bench: 64)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-seconds", type=float, default=0.2, help="least time of one repeat")
    return ap.parse_args(argv)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def time_us(stmt: str, env: dict, repeats: int, min_seconds: float) -> tuple[float, list[float], int]:
    """(median µs per call, every repeat's µs per call, loops per repeat)."""
    timer = timeit.Timer(stmt, globals=env)
    loops = 1
    while timer.timeit(loops) < min_seconds:  # as Timer.autorange, to a chosen duration
        loops *= 2
    runs = [t / loops * 1e6 for t in timer.repeat(repeat=repeats, number=loops)]
    runs = [round(r, 4) for r in runs]
    return statistics.median(runs), runs, loops


def main(argv=None):
    args = parse_args(argv)
    ds = cascade.load_dataset(args.dataset, args.data)
    channels = {
        "ials": cascade.Channel("ials", factors=args.factors, threads=1),
        "popularity": cascade.Channel("popularity"),
    }
    for ch in channels.values():
        ch.fit(ds, threads=1, seed=42)

    recommend, runs, loops = {}, {}, {}
    for name, ch in channels.items():
        env = {"ch": ch, "users": itertools.cycle(range(ds.n_users)), "k": args.k}
        recommend[name], runs[name], loops[name] = time_us(
            "ch.recommend(next(users), k=k)", env, args.repeats, args.min_seconds)
    attr, runs["attr"], loops["attr"] = time_us("ds.n_users", {"ds": ds}, args.repeats, args.min_seconds)
    step, runs["next_user"], loops["next_user"] = time_us(
        "next(users)", {"users": itertools.cycle(range(ds.n_users))}, args.repeats, args.min_seconds)

    out = {
        "machine": {"cores": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version(),
                    "cascade": cascade.__version__},
        "settings": {"data": args.data, "dataset": args.dataset, "protocol": ds.protocol,
                     "n_users": ds.n_users, "n_items": ds.n_items, "k": args.k, "ials_factors": args.factors,
                     "fit_threads": 1, "seed": 42, "users": "round-robin", "repeats": args.repeats,
                     "loops": loops, "timer": "timeit, gc off, median of repeats"},
        "python_recommend_us": recommend,
        "python_attr_us": attr,
        "python_next_user_us": step,
        "repeats_us": runs,
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
