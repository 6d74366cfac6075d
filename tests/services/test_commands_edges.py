"""gitbench/services/commands.py: the option parsers, where a command starts when the user is in a subfolder, and
``keep_finished`` (recovery's way to make a full-disk job's written files a step) when there is nothing to keep, the
worktree is not the job's, or the disk is still full. Jobs are real `gitbench exec` runs."""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.services import capture, commands, drafts, worktrees
from gitbench.services.workbench import Workbench
from tests.conftest import git, gitbench, run_job


def test_ok_exit_skips_empty_items_and_timeout_refuses_what_is_no_duration() -> None:
    assert commands.parse_ok_exit(["1,,3", " 2 ", ","]) == [1, 2, 3]
    with pytest.raises(errors.UsageError, match=r"not '0'"):
        commands.parse_ok_exit(["0"])
    assert commands.parse_timeout("15m") == 900 and commands.parse_timeout(None) is None
    for bad in ("soon", "0", "-5s", "m"):
        with pytest.raises(errors.UsageError) as caught:
            commands.parse_timeout(bad)
        assert caught.value.message == f"--timeout takes a duration such as 90, 90s, 15m or 2h, not {bad!r}."


def test_exec_from_a_subfolder_starts_there_in_the_worktree_or_at_its_top_if_the_draft_has_no_such_folder(
    workbench: Path,
) -> None:
    code = "import pathlib; pathlib.Path('made.txt').write_text('x')"  # where the command starts
    res = gitbench(workbench / "src", "exec", "--files", "**", "--", sys.executable, "-c", code)
    assert res.returncode == 0, res.stderr
    [ref] = git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()
    assert git(workbench, "ls-tree", "-r", "--name-only", ref).split().count("src/made.txt") == 1
    assert gitbench(workbench, "discard", "--yes").returncode == 0
    (workbench / "empty").mkdir()  # not in Git: no such folder in the Draft's worktree
    res = gitbench(workbench / "empty", "exec", "--files", "**", "--", sys.executable, "-c", code)
    assert res.returncode == 0, res.stderr
    [ref] = git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()
    names = git(workbench, "ls-tree", "-r", "--name-only", ref).split()
    assert "made.txt" in names and "src/made.txt" not in names and "empty/made.txt" not in names


def test_a_folder_that_is_gone_starts_the_command_at_the_worktree_top(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb = Workbench(str(workbench))

    def gone() -> str:
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(os, "getcwd", gone)  # the user's folder was removed under the shell
    assert commands._cwd(wb, "/the/worktree") == "/the/worktree"


def test_keep_finished_keeps_nothing_from_another_folder_or_an_unchanged_worktree_and_says_a_full_disk(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref, head = run_job(workbench, "import pathlib; pathlib.Path('src/a.txt').write_text('a')")
    wb = Workbench(str(workbench))
    job = drafts.job_of(wb, ref)
    assert job is not None and job.head == head
    linked = worktrees.of_draft(wb, ref)
    assert linked is not None
    assert commands.keep_finished(wb, job, str(workbench)) == []  # not the Draft's worktree
    steps = job.steps_completed
    assert commands.keep_finished(wb, job, linked.path) == []  # nothing written since its last step
    assert job.head == head and job.steps_completed == steps and git(workbench, "rev-parse", ref).strip() == head
    Path(linked.path, "src", "b.txt").write_text("b")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(capture, "capture", full)
    with pytest.raises(errors.GitbenchError) as caught:
        commands.keep_finished(wb, job, linked.path)
    assert caught.value.code == "disk-full" and "committing what the job had written" in caught.value.message
    monkeypatch.undo()
    assert commands.keep_finished(wb, job, linked.path) == ["src/b.txt"]
    assert job.head == git(workbench, "rev-parse", ref).strip() != head


def test_a_job_without_a_command_cannot_be_run_again(workbench: Path) -> None:
    ref, _ = run_job(workbench, "import pathlib; pathlib.Path('src/a.txt').write_text('a')")
    wb = Workbench(str(workbench))
    job = drafts.job_of(wb, ref)
    assert job is not None
    before = drafts.job_record(wb, job.id)
    job.command = []
    with pytest.raises(errors.UsageError) as caught:
        commands.resume_exec(wb, job, lambda event: None)
    assert caught.value.message == f"Job {job.id} has no command to run again."
    assert [a.verb for a in caught.value.actions] == ["review", "discard"]
    assert drafts.job_record(wb, job.id) == before  # nothing recorded, nothing run


def test_a_command_that_changes_nothing_and_leaves_a_process_running_has_it_stopped_and_said(
    workbench: Path,
) -> None:
    pidfile = workbench.parent / "left.pid"
    code = (
        "import subprocess, sys, pathlib; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=False); "
        f"pathlib.Path({str(pidfile)!r}).write_text(str(p.pid))"
    )
    res = gitbench(workbench, "exec", "--json", "--", sys.executable, "-c", code)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)["result"]
    assert "The command left 1 process(es) running when it ended; they were stopped." in out["notes"]
    pid = int(pidfile.read_text())
    assert not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    main = git(workbench, "rev-parse", "main").strip()
    for ref in git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split():
        assert git(workbench, "rev-parse", ref).strip() == main  # nothing changed: no step


def test_a_worktree_that_cannot_be_made_fails_the_job_with_the_reason_and_keeps_nothing_half_made(
    workbench: Path,
) -> None:
    blocker = workbench.parent / "not-a-folder"
    blocker.write_text("a file where the worktrees' folder should be\n")
    code = "import pathlib; pathlib.Path('src/a.txt').write_text('a')"
    res = gitbench(
        workbench, "exec", "--json", "--", sys.executable, "-c", code, env={"GITBENCH_WORKTREES": str(blocker)}
    )
    assert res.returncode != 0
    err = json.loads(res.stdout)["error"]
    assert "making the Draft's worktree in " + str(blocker) in err["message"], err
    assert blocker.read_text().startswith("a file")
    wb = Workbench(str(workbench))
    jobs = [drafts.job_record(wb, p.removesuffix(".json")) for p in wb.records.list("jobs")]
    assert [j.status for j in jobs if j is not None] == ["failed"]  # recorded as failed, not left running
