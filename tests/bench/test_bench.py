"""The speed benchmark as a pytest run. Not part of the default suite (pyproject's norecursedirs); run it with

    .venv/bin/python -m pytest tests/bench -s
    GITBENCH_BENCH_SIZES=1000,10000 GITBENCH_BENCH_RUNS=3 .venv/bin/python -m pytest tests/bench -s

It prints the table (see docs/performance.md). Timings are never asserted unless GITBENCH_BENCH_STRICT=1: on a
shared machine they say how fast, not whether gitbench is right. What is asserted is that both sides did the
same work at every size (the harness checks trees, file contents and refs after every publish and restore).
"""

from __future__ import annotations

import os

import pytest

from tests.bench import run

# Read at import: the suite's autouse `hermetic` fixture clears GITBENCH_* variables before each test body.
SIZES = [int(s) for s in os.environ.get("GITBENCH_BENCH_SIZES", "1000,10000,100000").split(",") if s.strip()]
RUNS = int(os.environ["GITBENCH_BENCH_RUNS"]) if os.environ.get("GITBENCH_BENCH_RUNS") else None
STRICT = os.environ.get("GITBENCH_BENCH_STRICT") == "1"
UPDATE_DOC = os.environ.get("GITBENCH_BENCH_UPDATE_DOC") == "1"

pytestmark = pytest.mark.bench


@pytest.mark.timeout(4 * 3600)
def test_every_operation_runs_beside_the_git_cli_at_every_size_and_the_table_is_printed() -> None:
    res, text = run.run(SIZES, RUNS, root=run.ROOT_DEFAULT + "-pytest")
    missed = run.targets_missed(res)
    print("\n" + text + "\n\nTargets missed: " + ("; ".join(missed) if missed else "none"))
    if UPDATE_DOC:
        run.update_doc(text)
    for op in [*run.OPS, "no-scope exec"]:
        for size in SIZES:
            assert res.median("gitbench", op, size) is not None, f"gitbench {op} at {size} files was not measured"
            assert res.median("git", op, size) is not None, f"git {op} at {size} files was not measured"
            assert res.median("in-process", op if op in run.OPS else "status", size) is not None
    assert res.startup["gitbench status"], "start-up was not measured"
    if STRICT:
        assert not missed, "targets missed: " + "; ".join(missed)
