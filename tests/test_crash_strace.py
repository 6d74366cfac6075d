"""Kill `gitbench publish` at each of its mutating system calls, then check that the next command recovers.

strace's ``-e inject=SYSCALL:signal=SIGKILL:when=N`` delivers a SIGKILL on entering the Nth call of SYSCALL
(strace counts each system call separately, per process). A first, uninjected run under ``strace -e trace=``
lists every mutating call publish makes (writes, renames, links, unlinks, mkdir/rmdir, ftruncate, symlinks),
in order; calls that failed (``mkdir`` of an existing folder, libgit2's ``link`` over an existing lock) and
writes to the terminal change nothing and are not visited. Each visited call gets its own run: copy the
template Workbench, kill publish right before that call, run ``gitbench status`` (it finishes or rolls back the
interrupted publish), check DESIGN.md §2, and publish again as a user would. Then the same for a crash during
recovery: publish is killed at a named point, and the `gitbench status` that recovers is itself killed at an
even sample of its mutating calls; the command after it must still converge on the old or the new state.

strace must be installed (.ci/run installs it). Without it, CI fails with a clear message; outside CI the
sweep kills publish at each of its named fault points (GITBENCH_FAULT) instead and says so.

Notes: with strace 6.1, ``--seccomp-bpf`` makes tracing cheap but then ``signal=`` injection is silently not
delivered (``error=`` still is), so the injected runs trace without it; the counting run uses it. The number
of ``mkdir`` calls varies by one between runs (whether the fan-out folder of a new object, named by its hash,
already exists), so a kill aimed at a late mkdir may land on its neighbour, or on none: such a run is counted
as "not-reached" in the summary, not as a violation.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.conftest import copy_workbench, gitbench, without_coverage
from tests.invariants import Snapshot, check_invariants
from tests.test_crash_faults import (
    Templates,
    build_templates,
    checkpoint_commits,
    drafts,
    leftovers,
    print_summary,
    record_run,
    rev,
    sealed,
    summary_file,
)

pytestmark = pytest.mark.slow

STRACE = shutil.which("strace")
MUTATING = [
    "write",
    "pwrite64",
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
    "mkdir",
    "mkdirat",
    "rmdir",
    "ftruncate",
    "symlink",
    "symlinkat",
]
TRACE_SET = ",".join("?" + s for s in MUTATING)  # "?": a name this architecture lacks is not an error
SHARDS = 6
MAX_POINTS = 90  # more than this: visit an even sample along the call sequence, and say how many
# Only gitbench's own process is traced (no -f): the git processes it starts (to remove a Draft's worktree) run
# untraced, and killing gitbench while one of them runs is part of the sweep. strace then prints no pid column.
LINE = re.compile(r"^(?:(\d+)\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+)")
PUBLISH_FAULTS = [
    "publish.journal-written",
    "publish.file-0",
    "publish.file-1",
    "publish.file-3",
    "publish.tmp-written",
    "publish.backup-made",
    "publish.files-done",
    "publish.before-index",
    "publish.before-ref",
    "publish.after-ref",
    "records.before-ref",
    "publish.after-record",
    "checkpoint.before-tag",
    "checkpoint.after-tag",
    "publish.after-checkpoint",
    "publish.after-draft-removed",
]


@dataclass(frozen=True)
class Point:
    """The Nth call of one system call (when=N), with what it did in the uninjected run."""

    syscall: str
    nth: int
    call: str

    @property
    def label(self) -> str:
        return f"{self.syscall}#{self.nth} {self.call[:90]}"


@dataclass
class Sweep:
    templates: Templates
    points: list[Point]
    traced: int
    mutating: int
    mode: str  # "strace" or "fault-points"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def count_calls(
    t: Templates, work: Path, command: str = "publish", first_fault: str | None = None
) -> tuple[list[Point], int]:
    """Run the command once under strace (no injection) and list its mutating calls in order."""
    repo = work / "count"
    copy_workbench(t.draft, repo)
    if first_fault:
        assert gitbench(repo, "publish", env={"GITBENCH_FAULT": first_fault}).returncode == -signal.SIGKILL
    log = work / "count.strace"
    cmd = [
        STRACE or "strace",
        "--seccomp-bpf",
        "-qq",
        "-o",
        str(log),
        "-e",
        f"trace={TRACE_SET}",
        sys.executable,
        "-m",
        "gitbench",
        command,
    ]
    res = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=quiet_env())
    assert res.returncode == 0, f"the uninjected {command} failed: {res.stderr}"
    seen: dict[str, int] = {}
    points, traced, pids = [], 0, set()
    for line in log.read_text().splitlines():
        m = LINE.match(line)
        if not m:
            continue
        pid, name, args, ret = m.groups()
        pids.add(pid or "gitbench")
        traced += 1
        seen[name] = seen.get(name, 0) + 1
        if int(ret) < 0 or (name == "write" and re.match(r"[12],", args)):
            continue  # a failed call changed nothing; a write to the terminal changes no state
        points.append(Point(name, seen[name], f"{name}({args})"))
    # strace counts per process: with one process, "the Nth call" is unambiguous.
    assert len(pids) == 1, f"{command} ran {len(pids)} processes; the when=N scheme assumes one"
    return points, traced


def quiet_env() -> dict[str, str]:
    # No .pyc writes (they would shift the write counts between runs), no coverage data file (.ci/run): the
    # system calls counted and failed are gitbench's own.
    return without_coverage({**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})


def evenly(points: list[Point], limit: int) -> list[Point]:
    if len(points) <= limit:
        return points
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit)]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    if STRACE is None and in_ci():
        pytest.fail(
            "strace is not installed: the crash sweep needs it. Install it (`apt-get install strace`; "
            ".ci/run does this) and run the tests again.",
            pytrace=False,
        )
    base = tmp_path_factory.mktemp("strace-sweep")
    with sealed(base / "home"):
        t = build_templates(base)
        if STRACE is None:
            faults = [Point("fault", 1, p) for p in PUBLISH_FAULTS]
            print(
                "\nstrace is not installed: killing publish at its named fault points instead "
                "(install strace for the system-call sweep)"
            )
            yield Sweep(t, faults, len(faults), len(faults), "fault-points")
            return
        points, traced = count_calls(t, base)
        yield Sweep(t, evenly(points, MAX_POINTS), traced, len(points), "strace")


@pytest.fixture(scope="module")
def strace_summary(tmp_path_factory: pytest.TempPathFactory, sweep: Sweep) -> Iterator[Path]:
    path = summary_file(tmp_path_factory, "crash-strace-summary.jsonl")
    yield path
    print(
        f"\n{sweep.mode}: publish made {sweep.traced} traced calls, {sweep.mutating} of them mutating; "
        f"{len(sweep.points)} of {sweep.mutating} visited"
    )
    print_summary(path, "strace sweep of publish and of its recovery")


def kill_publish(point: Point, repo: Path, command: str = "publish") -> subprocess.CompletedProcess[str]:
    if point.syscall == "fault":
        return gitbench(repo, command, env={"GITBENCH_FAULT": f"{point.call}:kill"})
    cmd = [
        STRACE or "strace",
        "-qq",
        "-o",
        os.devnull,
        "-e",
        f"trace={TRACE_SET}",
        "-e",
        f"inject={point.syscall}:signal=SIGKILL:when={point.nth}",
        sys.executable,
        "-m",
        "gitbench",
        command,
    ]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=quiet_env(), timeout=120)


def git_locks(repo: Path) -> list[str]:
    return [str(p) for p in (repo / ".git").rglob("*.lock")]


def check_point(point: Point, t: Templates, work: Path, first_fault: str | None = None) -> str:
    """One run; returns the outcome, raises AssertionError on a violation.

    With ``first_fault``, publish is first killed at that named point, and the kill hits the *recovery* (the
    `gitbench status` that finishes or rolls back the interrupted publish): a crash during recovery.
    """
    repo = work / "wb"
    if repo.exists():
        shutil.rmtree(repo)
    copy_workbench(t.draft, repo)
    before = Snapshot.take(repo)
    old = rev(repo, "main")
    if first_fault:
        assert gitbench(repo, "publish", env={"GITBENCH_FAULT": first_fault}).returncode == -signal.SIGKILL
    res = kill_publish(point, repo, "status" if first_fault else "publish")
    assert "Traceback" not in res.stderr, res.stderr
    if res.returncode == 0:
        outcome = "not-reached"  # the run made fewer calls than the counting run: nothing was killed
    else:
        assert res.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), f"exit {res.returncode}: {res.stderr}"
        outcome = "killed"
    status = gitbench(repo, "status")
    assert status.returncode == 0, f"status after the kill: exit {status.returncode}\n{status.stderr}"
    published = rev(repo, "main")
    assert published in (old, t.draft_head), f"Published is {published}: neither the old nor the new commit"
    check_invariants(repo, before, published_may_change=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--ignored"], cwd=repo, capture_output=True, text=True
    ).stdout
    assert dirty == "", f"the checked-out files disagree with Published:\n{dirty}"
    assert not leftovers(repo), f"left behind: {leftovers(repo)}"
    assert not git_locks(repo), f"Git lock files left behind: {git_locks(repo)}"
    for name, commit in checkpoint_commits(repo).items():
        if f"refs/tags/{name}" not in before.checkpoints:
            assert commit in (old, published), f"the new {name} tags {commit}, neither old nor new"
    if published == old:
        assert drafts(repo) == before.drafts, "the Draft was lost"
        again = gitbench(repo, "publish")
        assert again.returncode == 0, f"publishing again: exit {again.returncode}\n{again.stderr}"
        assert rev(repo, "main") == t.draft_head
        check_invariants(repo, before, published_may_change=True)
        outcome += "/rolled-back"
    else:
        assert not drafts(repo), "the Draft is still open after it was published"
        outcome += "/rolled-forward"
    return outcome


def sweep_points(
    points: list[Point], sweep: Sweep, summary: Path, tmp_path: Path, first_fault: str | None = None
) -> None:
    """Kill at each point, record every run's outcome in the summary, and fail with every violation found."""
    prefix = f"recovery after {first_fault}: " if first_fault else ""
    run_cases(
        summary,
        [(prefix + p.label, partial(check_point, p, sweep.templates, tmp_path, first_fault)) for p in points],
    )


def run_cases(summary: Path, cases: list[tuple[str, Callable[[], str]]]) -> None:
    """Run each case (its label, and a check returning its outcome), record every outcome in the summary, and
    fail with every violation found."""
    violations = []
    for label, check in cases:
        item: dict[str, object] = {"case": label}
        try:
            item["outcome"] = check()
        except AssertionError as exc:
            item["outcome"] = "violation"
            item["violation"] = str(exc).splitlines()[0][:300]
            violations.append(f"{label}: {exc}")
        record_run(summary, item)
    assert not violations, "\n\n".join(violations)


@pytest.mark.parametrize("shard", range(SHARDS), ids=[f"shard-{i + 1}-of-{SHARDS}" for i in range(SHARDS)])
def test_killing_publish_at_each_mutating_system_call_leaves_published_old_or_new(
    shard: int, sweep: Sweep, strace_summary: Path, tmp_path: Path
) -> None:
    mine = sweep.points[shard::SHARDS]
    assert mine, "the sweep found no mutating system calls in publish"
    sweep_points(mine, sweep, strace_summary, tmp_path)


RECOVERY_SAMPLE = 8  # kills per interrupted state, evenly along the recovery's mutating calls


@pytest.mark.parametrize(
    "first_fault", ["publish.before-index:kill", "publish.after-ref:kill"], ids=["rolled-back", "rolled-forward"]
)
def test_killing_the_recovery_itself_still_converges_on_old_or_new(
    first_fault: str, sweep: Sweep, strace_summary: Path, tmp_path: Path
) -> None:
    """Recovery is idempotent: a crash while the next command rolls an interrupted publish back or forward
    leaves a state the command after it finishes just as well."""
    if sweep.mode != "strace":
        # The named points a recovery passes (rolling forward: the follow-ups; rolling back has none).
        points = [
            Point("fault", 1, p)
            for p in (
                "records.before-ref",
                "checkpoint.before-tag",
                "publish.after-checkpoint",
                "publish.after-draft-removed",
            )
        ]
    else:
        counted, _ = count_calls(sweep.templates, tmp_path / "count", "status", first_fault)
        points = evenly(counted, RECOVERY_SAMPLE)
        print(f"\nrecovery after {first_fault}: {len(points)} of {len(counted)} mutating calls visited")
    sweep_points(points, sweep, strace_summary, tmp_path, first_fault)


def test_the_sweep_covers_the_journal_the_files_the_commit_point_and_the_follow_ups(sweep: Sweep) -> None:
    assert sweep.mode == "strace" or not in_ci()
    if sweep.mode != "strace":
        return
    calls = [p.call for p in sweep.points]

    def visited(*parts: str) -> bool:
        return any(all(part in call for part in parts) for call in calls)

    assert visited("rename(", "journal.json.tmp-"), "the journal write"
    assert visited("link", ".gitbench-tmp") or visited("rename(", ".gitbench-tmp"), "the file moves"
    assert visited("link", "/txn/"), "the backups"
    assert visited("rename(", "refs/heads/main.lock"), "the commit point: the ref of Published"
    assert visited("refs/gitbench/records.lock"), "the job record"
    assert visited("refs/tags/checkpoint/"), "the publish checkpoint"
    assert visited("unlink(", 'journal.json"'), "the journal removed at the end"


# -- failing system calls (a full disk, an I/O error), and a `gitbench checkpoint` killed mid-tag -------------
def run_traced(repo: Path, argv: list[str], inject: str) -> subprocess.CompletedProcess[str]:
    """Run gitbench with one strace injection (``SYSCALL:error=ENOSPC:when=N``, ``…:signal=SIGKILL:when=N``)."""
    cmd = [STRACE or "strace", "-qq", "-o", os.devnull, "-e", f"trace={TRACE_SET}", "-e", f"inject={inject}"]
    cmd += [sys.executable, "-m", "gitbench", *argv]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, env=quiet_env(), timeout=120)


def count_argv(repo: Path, argv: list[str], log: Path) -> list[Point]:
    """The mutating calls of one uninjected run of ``gitbench ARGV`` (as ``count_calls`` lists publish's)."""
    cmd = [STRACE or "strace", "--seccomp-bpf", "-qq", "-o", str(log), "-e", f"trace={TRACE_SET}"]
    res = subprocess.run(
        [*cmd, sys.executable, "-m", "gitbench", *argv],
        cwd=repo,
        capture_output=True,
        text=True,
        env=quiet_env(),
    )
    assert res.returncode == 0, res.stderr
    seen: dict[str, int] = {}
    points = []
    for line in log.read_text().splitlines():
        m = LINE.match(line)
        if not m:
            continue
        _, name, args, ret = m.groups()
        seen[name] = seen.get(name, 0) + 1
        if int(ret) >= 0 and not (name == "write" and re.match(r"[12],", args)):
            points.append(Point(name, seen[name], f"{name}({args})"))
    return points


def exit_code_matches(res: subprocess.CompletedProcess[str], moved: bool, error: str) -> None:
    """The exit code says what happened to Published: moved, 0 (a note says what is left) or 25
    published-unfinished (saying it moved); not moved, 13 for a full disk and 14 (or 13: libgit2 may lose the
    reason) for an I/O error. Never 1, 2, 8, 9 or 70."""
    said = " ".join((res.stdout + res.stderr).replace("│", " ").split())
    if moved:
        assert res.returncode in (0, 25), f"Published moved but the exit is {res.returncode}: {said}"
        if res.returncode == 25:
            assert "moved Published" in said and "next gitbench command finishes" in said, said
    else:
        allowed = (13,) if error == "ENOSPC" else (13, 14)
        assert res.returncode in allowed, f"Published did not move; exit {res.returncode}, not {allowed}: {said}"
    if res.returncode in (13, 25) and error == "ENOSPC":
        assert "free" in said.lower(), f"no advice to free space: {said}"


def error_points(sweep: Sweep, error: str) -> list[Point]:
    """Where a failing call decides the exit code: the journal, the index and every ref (their lock files: made,
    written (41 bytes), renamed or linked, unlinked; a Draft branch's removal), and, for a full disk, an even
    sample of the rest (the files, the objects). An I/O error only at the lock files (where libgit2's text said
    "lock" and gitbench took it for a held lock)."""
    if error == "EIO":
        return [p for p in sweep.points if ".lock" in p.call or p.call.endswith(", 41)")]
    key = [
        p
        for p in sweep.points
        if p.syscall != "rmdir"
        and (any(k in p.call for k in (".lock", "journal", "refs/", "/index")) or p.call.endswith(", 41)"))
    ]
    return key + evenly([p for p in sweep.points if p not in key], 4)


@pytest.mark.parametrize("error", ["ENOSPC", "EIO"])
def test_a_failing_system_call_in_publish_exits_with_what_happened_to_published_and_leaves_no_lock(
    error: str, sweep: Sweep, strace_summary: Path, tmp_path: Path
) -> None:
    if sweep.mode != "strace":
        pytest.skip("needs strace")
    run_cases(
        strace_summary,
        [
            (f"{error} at {p.label}", partial(check_error, p, error, sweep.templates, tmp_path))
            for p in error_points(sweep, error)
        ],
    )


def check_error(point: Point, error: str, t: Templates, work: Path) -> str:
    repo = work / "wb"
    if repo.exists():
        shutil.rmtree(repo)
    copy_workbench(t.draft, repo)
    before = Snapshot.take(repo)
    old = rev(repo, "main")
    res = run_traced(repo, ["publish"], f"{point.syscall}:error={error}:when={point.nth}")
    assert "Traceback" not in res.stderr, res.stderr
    published = rev(repo, "main")
    assert published in (old, t.draft_head), f"Published is {published}: neither the old nor the new commit"
    exit_code_matches(res, published != old, error)
    status = gitbench(repo, "status")
    assert status.returncode == 0, f"status after the failure: exit {status.returncode}\n{status.stderr}"
    assert not git_locks(repo), f"Git lock files left after `gitbench status`: {git_locks(repo)}"
    check_invariants(repo, before, published_may_change=True)
    assert not leftovers(repo), f"left behind: {leftovers(repo)}"
    return f"exit-{res.returncode}/" + ("moved" if published != old else "not-moved")


def test_a_lock_git_could_not_remove_is_reported_and_cleared_by_the_next_status(sweep: Sweep, tmp_path: Path) -> None:
    """libgit2 makes a checkpoint tag by linking its lock file to the tag's name, then unlinking the lock (and
    deletes the Draft's branch the same way round); it ignores a failed unlink. With that unlink and gitbench's
    own retry failing (EIO), the publish happened: it exits 0 and says which lock is left, and the next
    `gitbench status` removes it."""
    if sweep.mode != "strace":
        pytest.skip("needs strace")
    unlinks = [p for p in sweep.points if p.syscall == "unlink" and p.call.endswith('.lock")')]
    assert any("refs/tags/checkpoint/" in p.call for p in unlinks), [p.label for p in sweep.points]
    for point in unlinks:
        repo = tmp_path / f"wb-{point.nth}"
        copy_workbench(sweep.templates.draft, repo)
        res = run_traced(repo, ["publish"], f"unlink:error=EIO:when={point.nth}..{point.nth + 1}")
        said = " ".join((res.stdout + res.stderr).replace("│", " ").split())
        assert res.returncode == 0 and rev(repo, "main") == sweep.templates.draft_head, said
        left = git_locks(repo)
        assert len(left) == 1 and "could not remove its lock file" in said, (left, said)
        assert os.path.relpath(left[0], repo / ".git") in said, said
        status = gitbench(repo, "status")
        assert status.returncode == 0 and not git_locks(repo), (git_locks(repo), status.stdout)
        assert gitbench(repo, "checkpoint", "-m", "after").returncode == 0


def test_killing_checkpoint_at_each_mutating_system_call_leaves_no_lock_after_the_next_status(
    sweep: Sweep, tmp_path: Path
) -> None:
    """`gitbench checkpoint` keeps no journal: killed between making its tag's lock and removing it, it left
    refs/tags/checkpoint/<name>.lock, which the next `status` did not look for. Now any command clears what a
    killed holder of the Workbench lock left, and the next checkpoint works."""
    if sweep.mode != "strace":
        pytest.skip("needs strace")
    count = tmp_path / "count"
    copy_workbench(sweep.templates.clean, count)
    counted = count_argv(count, ["checkpoint", "-m", "counted"], tmp_path / "checkpoint.strace")
    # The tag's lock: written (41 bytes), linked to the tag's name, unlinked; and the stamp written after it.
    points = [p for p in counted if "refs/tags/" in p.call or p.call.endswith(", 41)") or "stamp" in p.call]
    assert any(p.syscall == "link" and "refs/tags/checkpoint/" in p.call for p in points), counted
    violations = []
    for point in points:
        repo = tmp_path / "wb"
        if repo.exists():
            shutil.rmtree(repo)
        copy_workbench(sweep.templates.clean, repo)
        before = Snapshot.take(repo)
        res = run_traced(repo, ["checkpoint", "-m", "killed"], f"{point.syscall}:signal=SIGKILL:when={point.nth}")
        try:
            assert res.returncode in (0, -signal.SIGKILL), f"exit {res.returncode}: {res.stderr}"
            status = gitbench(repo, "status")
            assert status.returncode == 0, status.stderr
            assert not git_locks(repo), f"Git lock files left after `gitbench status`: {git_locks(repo)}"
            check_invariants(repo, before, published_may_change=False)
            assert gitbench(repo, "checkpoint", "-m", "again").returncode == 0
        except AssertionError as exc:
            violations.append(f"{point.label}: {exc}")
    assert not violations, "\n\n".join(violations)
