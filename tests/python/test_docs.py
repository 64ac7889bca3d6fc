"""Runs the walk-through docs/python.md: every ```python block, in order, in one namespace.

The page uses paths relative to the repository root (data/ml-latest-small, configs/ for
build_bundle) and writes under runs/. To keep the checkout clean, the blocks run in a temporary
folder holding symlinks to the root's data/ and configs/. The doc then reads exactly as a user
runs it from the root, with no hidden setup block. The root is found from this file's path.

Lines `# -> text` in a block are the output the page shows for it. The test checks them against
what the block really printed, so the page cannot show stale numbers.

Run as a script, it runs the page the same way and prints each block's output. That is the
command the page cites for its outputs:
    PYTHONPATH=build/release/python /usr/bin/python3 tests/python/test_docs.py
"""
from __future__ import annotations

import contextlib
import io
import os
import pathlib
import re
import sys
import tempfile
from dataclasses import dataclass, field

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "python.md"
LINKED = ("data", "configs")  # what the page's relative paths need from the root

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
SHOWN = re.compile(r"^# -> ?(.*)$", re.M)


@dataclass
class Block:
    line: int  # 1-based line of the block's first code line in the page
    code: str
    shown: list[str] = field(default_factory=list)  # its `# ->` lines
    printed: str | None = None  # what it printed when run (None: not run)


def blocks(text: str) -> list[Block]:
    out = []
    for m in FENCE.finditer(text):
        code = m.group(1)
        out.append(Block(text.count("\n", 0, m.start(1)) + 1, code,
                         [s.rstrip() for s in SHOWN.findall(code)]))
    return out


def run_page(workdir: pathlib.Path, echo: bool = False) -> list[Block]:
    """Runs the page's blocks in `workdir` (made to look like the root), returning them with
    what each printed. Raises the first block's exception, with the page's line numbers."""
    for name in LINKED:
        (workdir / name).symlink_to(ROOT / name, target_is_directory=True)
    page = blocks(DOC.read_text())
    namespace: dict = {"__name__": "__doc_walkthrough__"}
    previous = os.getcwd()
    os.chdir(workdir)
    try:
        for b in page:
            # Padding with newlines makes a traceback's line number the page's.
            code = compile("\n" * (b.line - 1) + b.code, str(DOC), "exec")
            sink = io.StringIO()
            with contextlib.redirect_stdout(sink):
                exec(code, namespace)
            b.printed = sink.getvalue()
            if echo:
                print(f"--- {DOC.name}:{b.line}")
                print(b.printed, end="")
    finally:
        os.chdir(previous)
    return page


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    return run_page(tmp_path_factory.mktemp("doc"))


def test_every_python_fence_is_a_block():
    # A fence the pattern missed (a typo such as ```python3 or an unclosed fence) would
    # silently leave code untested.
    text = DOC.read_text()
    assert len(blocks(text)) == len(re.findall(r"^```python", text, re.M))
    assert len(blocks(text)) >= 10


def test_page_runs(page):
    # The fixture raises the first failing block's exception; here every block has run,
    # including the page's own asserts (a loaded model equals the fitted one, events change
    # the next answer, Ctrl-C interrupts a fit, ...).
    assert len(page) == len(blocks(DOC.read_text()))
    assert all(b.printed is not None for b in page)


NUMBER = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def same_line(shown: str, printed: str) -> bool:
    """Equal text, with decimals equal to 1% or 0.002: libtorch's and the serving GEMM's kernels
    are chosen for the CPU at run time, so a model's last digits may differ on another machine
    while the page still shows what it prints. Integers, ids and titles must match exactly."""
    if NUMBER.sub("#", shown) != NUMBER.sub("#", printed):
        return False
    for a, b in zip(NUMBER.findall(shown), NUMBER.findall(printed)):
        x, y = float(a), float(b)
        if abs(x - y) > max(0.002, 0.01 * max(abs(x), abs(y))):
            return False
    return True


def test_same_line_tolerates_last_digits_only():
    assert same_line("recall@10=0.071310 n=603", "recall@10=0.071311 n=603")
    assert not same_line("recall@10=0.071310 n=603", "recall@10=0.081310 n=603")
    assert not same_line("n=603", "n=604")
    assert not same_line("Aliens (1986)", "Alien (1979)")


def test_shown_output_is_what_the_block_prints(page):
    checked = 0
    for b in page:
        if not b.shown:
            continue
        printed = [s.rstrip() for s in b.printed.splitlines()]
        # A block shows its output from the top; it may leave trailing lines out.
        assert len(printed) >= len(b.shown), f"{DOC.name}:{b.line}: the block printed fewer lines than shown"
        for shown, got in zip(b.shown, printed):
            assert same_line(shown, got), f"{DOC.name}:{b.line}: shown {shown!r}, printed {got!r}"
        checked += 1
    assert checked >= 8


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        run_page(pathlib.Path(tmp), echo=True)
    sys.exit(0)
