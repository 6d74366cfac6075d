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

from gitbench.model import JobStatus
from gitbench.services import drafts, recovery, worktrees
from gitbench.services.workbench import Workbench
from gitbench.store import running
from gitbench.store.journal_entries import JobRun
from tests.conftest import git, gitbench, run_job


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


def test_a_job_whose_command_still_runs_is_not_interrupted_until_its_process_lets_go(workbench: Path) -> None:
    ref, _ = run_job(workbench, "import pathlib; pathlib.Path('src/a.txt').write_text('a')")
    wb = Workbench(str(workbench))
    job = drafts.job_of(wb, ref)
    assert job is not None
    job.status = JobStatus.RUNNING  # its command runs again now, without the Workbench lock, held by this process
    drafts.save_job(wb, job, note="resumed")
    marker = running.Marker(wb.layout.running, job.id)
    marker.start({"job": job.id, "draft": ref})
    wb.journal.write(JobRun(job.id, ref, os.getpid()))
    assert recovery.recover_journal(wb) == []
    stored = drafts.job_record(wb, job.id)
    assert stored is not None and stored.status == JobStatus.RUNNING and wb.journal.read() is None
    marker.abandon()  # its process died: the marker stays, nobody holds it
    label = ref.removeprefix("refs/heads/gitbench/draft/")
    assert recovery.recover_journal(wb) == [
        f"Job {job.id} was interrupted; its Draft {label} and finished steps are kept (`gitbench resume {job.id}`, "
        f"`gitbench review --draft {label}`)."
    ]
    stored = drafts.job_record(wb, job.id)
    assert stored is not None and stored.status == JobStatus.INTERRUPTED
    assert running.markers(wb.layout.running) == {}


def test_a_marker_left_by_a_job_whose_end_was_recorded_changes_nothing(workbench: Path) -> None:
    ref, _ = run_job(workbench, "import pathlib; pathlib.Path('src/a.txt').write_text('a')")
    wb = Workbench(str(workbench))
    job = drafts.job_of(wb, ref)
    assert job is not None and job.status == JobStatus.COMPLETE
    # Killed after its record was written and before its marker went: the marker still says how it ended.
    marker = running.Marker(wb.layout.running, job.id)
    marker.start({"job": job.id, "draft": ref, "end": {"status": "failed", "error": {"class": "disk-full"}}})
    marker.abandon()
    records = wb.records.head()
    assert recovery.recover_journal(wb) == []
    stored = drafts.job_record(wb, job.id)
    assert stored is not None and stored.status == JobStatus.COMPLETE and wb.records.head() == records
    assert running.markers(wb.layout.running) == {}


def test_a_job_stopped_by_a_full_disk_with_nothing_new_in_its_worktree_is_recorded_as_it_ended(
    workbench: Path,
) -> None:
    ref, head = run_job(workbench, "import pathlib; pathlib.Path('src/a.txt').write_text('a')")
    wb = Workbench(str(workbench))
    job = drafts.job_of(wb, ref)
    linked = worktrees.of_draft(wb, ref)
    assert job is not None and job.agent and linked is not None
    job.status = JobStatus.RUNNING  # it ran again; the disk filled before its record could be written
    drafts.save_job(wb, job, note="resumed")
    end = {"status": "failed", "error": {"code": "disk-full", "class": "disk-full", "message": "No space left."}}
    marker = running.Marker(wb.layout.running, job.id)
    marker.start({"job": job.id, "draft": ref, "worktree": linked.path, "command": "other-program", "end": end})
    marker.abandon()
    label = ref.removeprefix("refs/heads/gitbench/draft/")
    assert recovery.recover_journal(wb) == [
        f"Job {job.id} had stopped (disk-full); its record is written now. Its Draft {label} is kept "
        f"(`gitbench review --draft {label}`, `gitbench resume {job.id}`)."
    ]
    stored = drafts.job_record(wb, job.id)
    assert stored is not None and stored.status == JobStatus.FAILED and stored.error == end["error"]
    assert stored.agent == job.agent  # the record's own program stays
    assert git(workbench, "rev-parse", ref).strip() == head  # nothing new: no step
