"""The benchmark's cycle as in-process service calls: the work without interpreter start-up, imports or output.

    python -m tests.bench.inproc WORKBENCH CYCLES     # prints {"operation": [seconds, ...], ...} as JSON

Run by tests/bench/run.py in a child process with the benchmark's sealed environment. Each call opens the
Workbench afresh (as each CLI command does); imports happen once, before the first timed call.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

from gitbench.services import checkpoints, commands, discard, publish, restore, status
from gitbench.services.workbench import Workbench
from tests.bench import repogen
from tests.bench.run import WRITE10


def _time(out: dict[str, list[float]], op: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = fn()
    out.setdefault(op, []).append(time.perf_counter() - start)
    return value


def _checkpoint(path: str) -> None:
    wb = Workbench(path)
    with wb.changing("checkpoint"):
        checkpoints.create(wb, "manual", "bench")


def cycles(path: str, n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    status.status(Workbench(path))  # warm-up: lazy imports inside the services
    for i in range(n):
        token = f"inproc-{i}-{time.time_ns()}"
        _time(
            out,
            "draft",
            lambda: commands.run_exec(Workbench(path), ["true"], [repogen.STEP_GLOB], "bench draft", sparse=True),
        )
        wb = Workbench(path)
        if wb.draft_refs():  # a job that changed nothing removes its own Draft; an older gitbench kept it
            discard.discard(wb)
        argv = ["sh", "-c", WRITE10, "sh", token]
        res = _time(
            out,
            "step",
            lambda: commands.run_exec(Workbench(path), argv, [repogen.STEP_GLOB], "bench step", sparse=True),  # noqa: B023 - called at once
        )
        target = res.checkpoints[0]
        _time(out, "publish", lambda: publish.publish(Workbench(path)))
        _time(out, "checkpoint", lambda: _checkpoint(path))
        _time(out, "restore", lambda: restore.restore(Workbench(path), target))  # noqa: B023 - called at once
        _time(out, "status", lambda: status.status(Workbench(path)))
    return out


if __name__ == "__main__":
    print(json.dumps(cycles(sys.argv[1], int(sys.argv[2]))))
