"""gitbench/services/recover.py through the real entry point, in-process: `gitbench recover` clears what killed
processes left (old job folders, a half-written journal) and says so, and leaves a fresh Git lock unless forced."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import gitbench


def notes(wb: Path, *args: str) -> list[str]:
    res = gitbench(wb, "recover", *args, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    return list(json.loads(res.stdout)["result"]["notes"])


def test_recover_removes_what_killed_processes_left_and_leaves_a_fresh_git_lock_unless_forced(
    workbench: Path,
) -> None:
    state = workbench / ".git" / "gitbench"
    old_job = state / "worktrees" / "20250101-000000-dead"  # a job folder from before Draft worktrees
    old_job.mkdir(parents=True)
    (old_job / "f").write_text("x")
    half = state / "journal.json.tmp-4242"
    half.write_text('{"op": "pub')
    lock = workbench / ".git" / "index.lock"
    lock.write_text("")  # just made: a Git process may be using it
    said = notes(workbench)
    assert "Removed the folder of a Draft that no longer exists: 20250101-000000-dead" in said
    assert "Removed a half-written journal of a killed process: journal.json.tmp-4242" in said
    assert (
        "Left a fresh Git lock (a Git process may be using it; `gitbench recover --force` removes it): index.lock"
    ) in said
    assert not old_job.exists() and not half.exists() and lock.exists()
    assert "Removed a stale Git lock: index.lock" in notes(workbench, "--force")
    assert not lock.exists()
