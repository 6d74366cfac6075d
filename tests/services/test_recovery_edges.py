"""gitbench/services/recovery.py: the Git lock files a killed or stuck holder of the Workbench lock left, when a Git
process still runs in the repository, when one cannot be removed or is already gone; and an operation journal that
cannot be read. ``recover_journal`` is called as the Workbench calls it when it takes its lock."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitbench.services import recovery
from gitbench.services.workbench import Workbench
from tests.conftest import gitbench


@pytest.fixture
def git_in_repo(workbench: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Git process running in the repository (one that may hold a lock: `git commit` with its editor open)."""
    with subprocess.Popen(["git", "cat-file", "--batch"], cwd=workbench, stdin=subprocess.PIPE) as proc:
        yield proc
        if proc.poll() is None:
            proc.kill()


def lock(wb: Path, rel: str) -> str:
    path = wb / ".git" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return str(path)


def test_a_killed_holder_s_locks_are_left_while_a_git_process_runs_then_removed_with_its_temp_files(
    workbench: Path, git_in_repo: subprocess.Popen[bytes]
) -> None:
    wb = Workbench(str(workbench))
    record = {"operation": "publish", "pid": 4242424, "since": time.time() - 5}
    index = lock(workbench, "index.lock")
    temp = os.path.join(wb.layout.root, "state.json.tmp-4242424")  # its atomic write, half done
    Path(temp).write_text("{")
    notes = recovery.recover_journal(wb, record)
    assert notes == [
        "Left Git lock files that `gitbench publish` (pid 4242424) may have left, for a Git process runs in this "
        "repository now: index.lock (`gitbench recover` removes them once it ends)."
    ]
    assert os.path.exists(index) and not os.path.exists(temp)
    git_in_repo.kill()
    git_in_repo.wait()
    assert recovery.recover_journal(wb, record) == [
        "Removed Git lock files that `gitbench publish` (pid 4242424) left: index.lock."
    ]
    assert not os.path.exists(index)


def test_locks_that_cannot_be_removed_are_named_for_the_next_command_and_gone_ones_are_not_mentioned(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = Workbench(str(workbench))
    stuck = lock(workbench, "refs/heads/main.lock")
    gone = lock(workbench, "HEAD.lock")
    real = os.unlink

    def unlink(path: str | os.PathLike[str], *args: object, **kwargs: object) -> None:
        if str(path) == stuck:
            raise OSError(errno.EIO, "Input/output error")
        if str(path) == gone:  # removed by someone else between the listing and now
            real(path)
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        real(path)

    monkeypatch.setattr(os, "unlink", unlink)
    notes = recovery.recover_journal(wb, {"since": time.time() - 5})  # who and which pid: not known
    assert notes == [
        "Could not remove Git lock files that `gitbench ?` (pid ?) left: refs/heads/main.lock (the next command "
        "tries again)."
    ]
    assert (stuck, "Input/output error") in wb.git.left_locks and os.path.exists(stuck)
    monkeypatch.undo()
    os.unlink(stuck)


def test_an_unreadable_journal_is_removed_and_said_so(workbench: Path) -> None:
    journal = workbench / ".git" / "gitbench" / "journal.json"
    journal.write_text('{"op": "pub')  # torn while it was written: nothing ran after it
    res = gitbench(workbench, "checkpoint", "-m", "after", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert (
        "Removed an unreadable operation journal (nothing had been changed after it)."
        in json.loads(res.stdout)["result"]["notes"]
    )
    assert not journal.exists()
