"""Several gitbench processes at once on one Workbench: they never interleave a state change (DESIGN.md §2.6).

Each round starts seven processes at the same instant (each a process of its own running gitbench's entry point,
a fork of the test's process: they wait for a shared start time, then run the command): jobs with and without
--on-draft publish/discard, publish, restore --yes, checkpoint, discard --yes and a read-only status. With
GITBENCH_LOCK_WAIT=1 the losers must say "busy" and name the holder (exit 8) or meet the state the winner left
(draft-open 4, no-draft 5); never an internal error (70) or a traceback. After each round the invariants hold,
`git fsck` is clean, every checkpoint any process reported exists, and every Draft any job created still exists, is
in the trash, or was published (its step commit is reachable). A last round waits long enough that every process
queues and succeeds.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import CHECKPOINT_NAME, git, gitbench, nth_checkpoint, start_gitbench
from tests.invariants import Snapshot, check_invariants
from tests.test_crash_faults import leftovers, refs

pytestmark = pytest.mark.slow

# Exit codes each command may end with when it loses a race; 0 is always allowed.
ALLOWED = {
    "exec": {4, 8},  # a Draft is open / busy
    "exec-publish": {8},
    "exec-discard": {8},
    "publish": {5, 7, 8},  # no Draft / the documented conflict / busy
    "restore": {4, 8},
    "checkpoint": {8},
    "discard": {5, 8},
    "status": set(),
}
CODES = {4: "draft-open", 5: "no-draft", 7: "conflict", 8: "busy"}
ROUNDS = [
    ["exec-publish", "exec", "publish", "restore", "checkpoint", "discard", "status"],
    ["exec-discard", "exec-publish", "publish", "checkpoint", "restore", "exec", "status"],
    ["discard", "exec", "exec-publish", "publish", "restore", "checkpoint", "status"],
    ["exec-publish", "exec-publish", "exec-discard", "checkpoint", "publish", "discard", "status"],
    # No job: after the Draft is discarded (below), restores race checkpoints and each other.
    ["restore", "restore", "checkpoint", "checkpoint", "publish", "discard", "status"],
]
QUEUED = ["exec-publish", "exec-publish", "exec-discard", "checkpoint", "exec-publish", "status"]
DRAFT = re.compile(r"Draft (\d{8}-\d{6}-[0-9a-f]{4}) created")


@dataclass
class Outcome:
    command: str
    code: int
    stdout: str
    stderr: str


def argv(command: str, tag: str, job_seconds: float, first: str) -> list[str]:
    """The command line of ``command`` (``first``: the Workbench's first checkpoint, which restore goes back to)."""
    job = [
        "--",
        sys.executable,
        "-c",
        f"import pathlib, time; pathlib.Path('jobs').mkdir(exist_ok=True); "
        f"pathlib.Path('jobs/{tag}.txt').write_text('{tag}\\n'); time.sleep({job_seconds})",
    ]
    return {
        "exec": ["exec", *job],
        "exec-publish": ["exec", "--on-draft", "publish", *job],
        "exec-discard": ["exec", "--on-draft", "discard", *job],
        "publish": ["publish"],
        "restore": ["restore", first, "--yes"],
        "checkpoint": ["checkpoint", "-m", f"taken in {tag}"],
        "discard": ["discard", "--yes"],
        "status": ["status"],
    }[command]


def run_round(repo: Path, commands: list[str], wait: float, name: str, job_seconds: float) -> list[Outcome]:
    """Start every command at the same instant; return how each ended."""
    start = time.time() + 1.0
    env = {"GITBENCH_LOCK_WAIT": str(wait)}
    first = nth_checkpoint(repo, 1)
    procs = [
        (c, start_gitbench(repo, *argv(c, f"{name}-{i}", job_seconds, first), env=env, at=start))
        for i, c in enumerate(commands)
    ]
    out = []
    for command, proc in procs:
        res = proc.communicate(timeout=180)
        out.append(Outcome(command, res.returncode, res.stdout, res.stderr))
    return out


def check_outcome(o: Outcome) -> str:
    said = o.stdout + o.stderr
    assert "Traceback" not in said, f"{o.command}: a traceback\n{said}"
    assert o.code == 0 or o.code in ALLOWED[o.command], f"{o.command}: exit {o.code}\n{said}"
    if o.code == 8:
        text = " ".join(o.stderr.replace("│", " ").split())  # the banner wraps lines inside a box
        assert "busy" in text, f"{o.command}: exit 8 without saying busy\n{said}"
        assert re.search(r"`gitbench [a-z -]+` \(pid \d+\)", text), f"{o.command}: busy, holder not named\n{said}"
    return "ok" if o.code == 0 else CODES[o.code]


def draft_kept(repo: Path, label: str) -> bool:
    """The Draft exists, is in the trash, or its work is reachable from Published or a checkpoint."""
    if f"refs/heads/gitbench/draft/{label}" in refs(repo, "refs/heads/gitbench/draft/"):
        return True
    if any(r.endswith("/" + label) for r in refs(repo, "refs/gitbench/trash/")):
        return True
    found = git(repo, "log", "--format=%H", "--branches", "--tags", f"--grep=^Gitbench-Job: {label}$")
    return bool(found.strip())


def check_round(repo: Path, before: Snapshot, outcomes: list[Outcome], seen_drafts: set[str]) -> None:
    # invariants.py counts a Draft as kept when Published contains it; a restore in the same round may move
    # Published back past a Draft published a moment earlier, whose work then lives in the publish checkpoint.
    # So Drafts are checked here, with draft_kept (Published, any checkpoint, the trash, or the ref itself).
    check_invariants(repo, dataclasses.replace(before, drafts={}), published_may_change=True)
    seen_drafts |= {r.rsplit("/", 1)[1] for r in before.drafts}
    assert not leftovers(repo), leftovers(repo)
    assert not list((repo / ".git").rglob("*.lock")), "a Git lock file was left behind"
    tags = set(refs(repo, "refs/tags/checkpoint/"))
    for o in outcomes:
        for name in set(CHECKPOINT_NAME.findall(o.stdout + o.stderr)):
            assert f"refs/tags/{name}" in tags, f"{o.command} reported {name}, which does not exist"
        seen_drafts |= set(DRAFT.findall(o.stdout))
    for label in seen_drafts:
        assert draft_kept(repo, label), f"the Draft {label} was lost"
    assert len(refs(repo, "refs/heads/gitbench/draft/")) <= 1, "more than one Draft (v1 allows one)"


def test_concurrent_commands_never_interleave_and_losers_say_busy(workbench: Path) -> None:
    totals: Counter[str] = Counter()
    seen: set[str] = set()
    lines = []
    for n, commands in enumerate(ROUNDS, 1):
        if "exec" not in " ".join(commands):
            gitbench(workbench, "discard", "--yes")  # exit 0, or 5 when no Draft is open
        before = Snapshot.take(workbench)
        # A job holds the Workbench longer than the others wait: whoever queues behind one is told "busy".
        outcomes = run_round(workbench, commands, wait=1, name=f"round{n}", job_seconds=1.2)
        results = [f"{o.command}={check_outcome(o)}" for o in outcomes]
        totals.update(r.split("=")[1] for r in results)
        lines.append(f"round {n} (lock wait 1 s): " + ", ".join(results))
        check_round(workbench, before, outcomes, seen)
        # Whoever took the lock first got a real answer (done, or the state's refusal), not "busy".
        assert any(o.code != 8 for o in outcomes if o.command != "status"), "nobody got the Workbench"
    print("\n" + "\n".join(lines) + f"\ntotals: {dict(totals)}; Drafts created: {len(seen)}, none lost")
    assert totals["busy"] >= 1, "no process was ever told busy: the rounds did not overlap"


def test_with_a_long_lock_wait_concurrent_commands_queue_and_all_succeed(workbench: Path) -> None:
    seen: set[str] = set()
    before = Snapshot.take(workbench)
    started = time.monotonic()
    outcomes = run_round(workbench, QUEUED, wait=120, name="queued", job_seconds=0.2)
    elapsed = time.monotonic() - started
    for o in outcomes:
        assert o.code == 0, f"{o.command}: exit {o.code}\n{o.stdout}{o.stderr}"
    check_round(workbench, before, outcomes, seen)
    jobs = [o for o in outcomes if o.command.startswith("exec")]
    assert len(seen) == len(jobs), "every job created its own Draft"
    # They ran one after another: the last job's Draft is open, each earlier one was published or discarded.
    assert len(refs(workbench, "refs/heads/gitbench/draft/")) == 1
    published = set(git(workbench, "log", "--format=%(trailers:key=Gitbench-Job,valueonly)", "main").split())
    trashed = {r.rsplit("/", 1)[1] for r in refs(workbench, "refs/gitbench/trash/")}
    assert len((published | trashed) & seen) == len(jobs) - 1, (published, trashed, seen)
    print(f"\nqueued round: {len(outcomes)} processes, all exit 0, in {elapsed:.1f} s")
