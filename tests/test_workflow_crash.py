"""The workflow engine killed at each state write and in the middle of a module, then `gitbench workflow resume`.

Each case runs `gitbench workflow run` through the real CLI with ``GITBENCH_FAULT="<point>:kill@n"`` (the engine
SIGKILLs itself there: after the job is recorded, after a claim, after a module's step and state are written,
and around the step commit's ref update), or kills the engine from inside a module (the module's command kills
its parent) or from the test while a module sleeps. Then any command recovers, `gitbench workflow resume`
finishes the run, and the test checks what the seed promises: every module has exactly one step on the Draft;
a module that had not started, or whose step commit was written, is never run twice; only the module that was
in flight when the engine died runs again (after what it left running is stopped); nothing is left claimed;
DESIGN.md's invariants hold; and the Draft publishes.

Modules run one at a time here (``max_parallel: 1``) so the module in flight at each point is known; one case
runs two at once. Each module appends its id to a log outside the Workbench: the real count of its runs.

The ``workflow.*`` fault points are visited here, not in tests/test_crash_faults.py (which excludes them).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import git, gitbench
from tests.invariants import Snapshot, check_invariants
from tests.workflow_helpers import draft_ref, line_of, runs, state, steps, workflow_bench

ORDER = ["a", "b", "c", "d"]  # the order one-at-a-time runs them in: dependencies first, then file order


def workflow(parallel: int = 1) -> str:
    # Each module logs its id to $RUNLOG. b kills its engine the first time if $KILL_IN_B is set; c sleeps the
    # first time if $SLOW_C is set (the test kills the engine then). The markers live outside the Workbench, so
    # the second run goes through.
    return f"""\
max_parallel: {parallel}
modules:
  - id: a
    inputs: [src/*.txt]
    outputs: [out/a.txt]
    run: {{command: 'echo a >> "$RUNLOG"; cat src/*.txt > out/a.txt'}}
  - id: b
    needs: [a]
    outputs: [out/b.txt]
    run:
      command: >-
        echo b >> "$RUNLOG";
        if [ -n "$KILL_IN_B" ] && [ ! -e "$KILL_IN_B" ]; then touch "$KILL_IN_B"; kill -9 $PPID; fi;
        tr a-z A-Z < out/a.txt > out/b.txt
  - id: c
    outputs: [out/c.txt]
    run:
      command: >-
        echo c >> "$RUNLOG";
        if [ -n "$SLOW_C" ] && [ ! -e "$SLOW_C" ]; then touch "$SLOW_C"; sleep 3; fi;
        echo c > out/c.txt
  - id: d
    needs: [b, c]
    outputs: [out/d.txt]
    run: {{command: 'echo d >> "$RUNLOG"; cat out/b.txt out/c.txt > out/d.txt'}}
"""


@dataclass
class Case:
    point: str  # a fault point, or "kill-in-b" / "sigkill-in-c" (the engine killed mid-module)
    nth: int = 1
    before: str = ""  # the modules that had started when the engine died (one at a time: known exactly)
    again: str = ""  # the module in flight at the kill: it runs a second time
    settled: str = ""  # a module whose step reached the Draft before the state said so: never rerun
    parallel: int = 1

    @property
    def id(self) -> str:
        return f"{self.point}@{self.nth}" + (f"-j{self.parallel}" if self.parallel != 1 else "")


CASES = [
    Case("workflow.after-job"),
    Case("workflow.after-definition"),  # definition.json written, state.json not yet naming the file run
    Case("workflow.after-claim", 1),  # a claimed, not started
    Case("workflow.after-claim", 3, before="ab"),  # a and b done, c claimed
    Case("workflow.after-finish", 2, before="ab"),  # b's step and state written
    # b's end written (runs.log), its claim not yet dropped (state.json): settled as b's end did, never rerun.
    Case("workflow.after-runs", 2, before="ab"),
    Case("workflow.after-finish", 4, before="abcd"),  # the last module's step written; the job not yet ended
    # b ran and its commit exists (recorded in the state), but the Draft does not point at it yet: resume
    # finishes that move; b is never run again.
    Case("step.before-ref", 2, before="ab", settled="b"),
    # b's step is on the Draft, the state still says b is running: settled from the Draft, never rerun.
    Case("step.after-ref", 2, before="ab", settled="b"),
    Case("step.after-ref", 4, before="abcd", settled="d"),
    # The job record is written when the run ends (not after each module): killed there, every module had
    # finished and been recorded in the state; resume runs nothing again and ends the job.
    Case("records.before-ref", 2, before="abcd"),
    Case("kill-in-b", before="ab", again="b"),
    Case("sigkill-in-c", before="abc", again="c"),
    # Two at once: a and c start side by side; the engine dies claiming c, a may already be running.
    Case("workflow.after-claim", 2, parallel=2),
]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, Path]]:
    """The Workbench before the run, once per max_parallel; each case works on a copy."""
    root = tmp_path_factory.mktemp("templates")
    out = {}
    for parallel in (1, 2):
        out[parallel] = workflow_bench(
            root / f"j{parallel}" / "project", workflow(parallel), {"src/one.txt": "one\n", "src/two.txt": "two\n"}
        )
    yield out


def copy(template: Path, tmp_path: Path) -> Path:
    wb = tmp_path / "project"
    shutil.copytree(template, wb, symlinks=True)
    return wb


def kill_engine_while_c_sleeps(wb: Path, env: dict[str, str], log: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "workflow", "run"],
        cwd=wb,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while "c" not in runs(log):
        assert proc.poll() is None and time.monotonic() < deadline, "c never started"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_resume_after_the_engine_is_killed_runs_each_module_once_and_keeps_every_invariant(
    case: Case, templates: dict[int, Path], tmp_path: Path
) -> None:
    wb = copy(templates[case.parallel], tmp_path)
    log = tmp_path / "runs.log"
    env = {"RUNLOG": str(log)}
    if case.point == "kill-in-b":
        env["KILL_IN_B"] = str(tmp_path / "killed-b")
    if case.point == "sigkill-in-c":
        env["SLOW_C"] = str(tmp_path / "slept-c")
    before = Snapshot.take(wb)

    if case.point == "sigkill-in-c":
        kill_engine_while_c_sleeps(wb, env, log)
    else:
        fault = {} if case.point == "kill-in-b" else {"GITBENCH_FAULT": f"{case.point}:kill@{case.nth}"}
        res = gitbench(wb, "workflow", "run", env={**env, **fault})
        assert res.returncode == -signal.SIGKILL, f"the engine was not killed: {res.stdout}{res.stderr}"
    if case.parallel == 1:
        assert "".join(runs(log)) == case.before

    # The next command recovers; Published never moved.
    res = gitbench(wb, "workflow", "status")
    assert res.returncode == 0, res.stderr
    if case.point == "workflow.after-runs":  # b's end was written: b is complete, not an interrupted claim
        assert "interrupted" not in res.stdout and line_of(res.stdout, "b").split()[1] == "complete", res.stdout
    check_invariants(wb, before, published_may_change=False)

    res = gitbench(wb, "workflow", "resume", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Status: complete" in res.stdout
    for mid in case.again:
        assert f"{mid} was interrupted before it finished; it will run again" in res.stdout
    for mid in case.settled:
        assert re.search(
            rf"{mid} had finished before the interruption \(step [0-9a-f]{{12}}\); it is not run "
            "again",
            res.stdout,
        ), res.stdout

    counts = Counter(runs(log))
    if case.parallel == 1:
        assert counts == {m: 2 if m in case.again else 1 for m in ORDER}, counts
    else:  # a may have started before the engine died: at most once more, never more
        assert counts["c"] == 1 and counts["b"] == 1 and counts["d"] == 1 and counts["a"] in (1, 2), counts

    # Exactly one step per module on the Draft, dependencies first, each naming its module.
    draft = draft_ref(wb)
    trail = steps(wb, draft, before.published)
    names = [s["Gitbench-Step"].split(" ", 1)[1] for s in trail]
    assert sorted(names) == ORDER, names
    assert names.index("a") < names.index("b") < names.index("d") and names.index("c") < names.index("d")
    assert len({s["Gitbench-Job"] for s in trail}) == 1
    assert git(wb, "show", f"{draft}:out/d.txt") == "ONE\nTWO\nc\n"
    engine = state(wb)
    assert engine["running"] == {}
    assert {m: engine["last_run"][m]["status"] for m in ORDER} == dict.fromkeys(ORDER, "complete")
    # each last run counts the runs so far (a settled one too): the next run's id is a new one
    assert all(engine["last_run"][m]["run"].endswith(f".{engine['last_run'][m]['count']}") for m in ORDER), engine
    check_invariants(wb, before, published_may_change=False)

    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    assert (wb / "out/d.txt").read_text() == "ONE\nTWO\nc\n"
    check_invariants(wb, before)


def test_a_crash_and_then_a_deleted_engine_state_lose_no_work(templates: dict[int, Path], tmp_path: Path) -> None:
    wb = copy(templates[1], tmp_path)
    log = tmp_path / "runs.log"
    before = Snapshot.take(wb)
    res = gitbench(wb, "workflow", "run", env={"RUNLOG": str(log), "GITBENCH_FAULT": "workflow.after-claim:kill@3"})
    assert res.returncode == -signal.SIGKILL
    (wb / ".git/gitbench/workflow/engine/state.json").unlink()

    # The engine finds its job again from the open Draft: a and b are complete there.
    res = gitbench(wb, "workflow", "status")
    assert res.returncode == 0, res.stderr
    draft = draft_ref(wb)
    assert f"Draft {draft.rsplit('/', 1)[-1]}" in res.stdout
    assert [line.split()[:2] for line in res.stdout.splitlines()[2:]] == [
        ["a", "complete"],
        ["b", "complete"],
        ["c", "ready"],
        ["d", "blocked"],
    ]
    res = gitbench(wb, "workflow", "resume", env={"RUNLOG": str(log)})
    assert res.returncode == 0 and "Status: complete" in res.stdout, res.stdout + res.stderr
    assert runs(log) == ORDER
    assert draft_ref(wb) == draft
    assert [s["Gitbench-Step"].split(" ", 1)[1] for s in steps(wb, draft, before.published)] == ORDER
    check_invariants(wb, before, published_may_change=False)


def test_every_workflow_fault_point_in_the_engine_is_visited_here() -> None:
    code = subprocess.run(
        ["grep", "-rhoE", r"faults\.point\(\"workflow\.[^\"]+\"", "gitbench/"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
    ).stdout
    named = {m.split('"')[1] for m in code.splitlines()}
    assert named, "no workflow fault points found"
    assert named <= {c.point for c in CASES}, f"workflow fault points never exercised: {sorted(named)}"
    # and the step commit's own points, during a module's commit
    assert {"step.before-ref", "step.after-ref"} <= {c.point for c in CASES}
