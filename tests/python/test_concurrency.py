"""Long calls release the GIL, and Ctrl-C interrupts a long fit cleanly.

The only timing assertions of the suite, made coarse on purpose (a loaded 2-core machine): with
the GIL held, the overlap of two fits would be ~0 and the main thread would stall for a whole
fit, far from the thresholds below.
"""
from __future__ import annotations

import signal
import subprocess
import threading
import time

import numpy as np

import cascade
from conftest import EMBEDDED, PYTHON

# About 1 s per fit on one thread on the embedded dataset.
SLOW_IALS = {"factors": 128, "iters": 20}


def timed_fit(ds, barrier, spans, i):
    model = cascade.Channel("ials", **SLOW_IALS)
    barrier.wait()
    start = time.perf_counter()
    model.fit(ds, threads=1)
    spans[i] = (start, time.perf_counter())


def test_two_threads_fit_concurrently(snapshot):
    spans = [None, None]
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=timed_fit, args=(snapshot, barrier, spans, i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (a0, a1), (b0, b1) = spans
    overlap = min(a1, b1) - max(a0, b0)
    shorter = min(a1 - a0, b1 - b0)
    assert overlap > 0.5 * shorter, f"fits ran {spans}: overlap {overlap:.3f}s of {shorter:.3f}s"


def test_main_thread_runs_while_a_fit_runs(snapshot):
    spans = [None]
    barrier = threading.Barrier(2)
    worker = threading.Thread(target=timed_fit, args=(snapshot, barrier, spans, 0))
    worker.start()
    barrier.wait()
    ticks = []
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    worker.join()
    start, end = spans[0]
    during = [t for t in ticks if start <= t <= end]
    # The longest stretch the main thread could not run while the fit was going on.
    edges = [start] + during + [end]
    longest_stall = max(b - a for a, b in zip(edges, edges[1:]))
    assert len(during) >= 10 and longest_stall < 0.5 * (end - start), \
        f"{len(during)} main-thread ticks in a {end - start:.3f}s fit, longest stall {longest_stall:.3f}s"


CHILD = f"""
import sys, time
import numpy as np
import cascade
cascade.set_log_level("warn")
ds = cascade.load_dataset("ml-latest-small", {str(EMBEDDED)!r})
model = cascade.Channel("ials", factors=256, iters=1000)   # minutes if not interrupted
quick = cascade.Channel("ials", factors=8, iters=2)
quick.fit(ds, threads=1)
before = quick.recommend(np.arange(20), k=5)[0]
t = time.monotonic()
try:
    print("fitting", flush=True)
    model.fit(ds, threads=1)
    print("not interrupted", flush=True)
except KeyboardInterrupt:
    print(f"interrupted {{time.monotonic() - t:.2f}} fitted={{model.fitted}}", flush=True)
# The process is usable afterwards: a new short fit gives the same model as before.
again = cascade.Channel("ials", factors=8, iters=2)
again.fit(ds, threads=1)
print("refit", bool((again.recommend(np.arange(20), k=5)[0] == before).all()), flush=True)
"""


def test_ctrl_c_interrupts_a_long_fit(python_env):
    child = subprocess.Popen([PYTHON, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=python_env)
    try:
        line = child.stdout.readline()
        assert line.strip() == "fitting", line + child.stderr.read()
        time.sleep(1.0)  # well inside the fit (its first iteration has started)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        waited = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    lines = out.splitlines()
    assert child.returncode == 0, out + err
    assert lines[0].startswith("interrupted") and lines[0].endswith("fitted=False"), out + err
    # The interrupt landed in the fit (the parent waited 1 s after "fitting"), not before it.
    assert float(lines[0].split()[1]) > 0.9, out
    assert lines[1] == "refit True", out + err
    # Stopped at the next iteration, not after the 1000 (which take minutes).
    assert waited < 15, f"the child took {waited:.1f}s to stop after SIGINT"


# libtorch's generator and thread pool are process-wide: two neural fits started on two Python
# threads run one after the other (TorchSession's lock), each from its own seed, so each equals
# the same fit made alone.
TINY_SASREC = {"dim": 16, "blocks": 1, "max_len": 10, "epochs": 2, "batch": 256, "loss": "sampled", "negatives": 32}


def test_concurrent_neural_fits_equal_fits_made_alone(snapshot):
    alone = []
    for seed in (1, 2):
        m = cascade.Channel("sasrec", **TINY_SASREC)
        m.fit(snapshot, threads=1, seed=seed)
        alone.append(m.score(np.arange(8)))
    together = [None, None]

    def fit(i, seed):
        m = cascade.Channel("sasrec", **TINY_SASREC)
        m.fit(snapshot, threads=1, seed=seed)
        together[i] = m.score(np.arange(8))

    threads = [threading.Thread(target=fit, args=(i, seed)) for i, seed in enumerate((1, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not np.array_equal(alone[0], alone[1])  # the seeds matter, so the check below can fail
    assert np.array_equal(together[0], alone[0])
    assert np.array_equal(together[1], alone[1])
