"""Hostile or failing commands under `gitbench exec`: whatever a command does, gitbench commits only its safe,
in-scope changes to the Draft, refuses and reports the rest, and never touches Published or anything outside
(DESIGN.md §2 invariant 5; §4 failures; seed 003 "AI reads and writes only inside Draft")."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Snapshot, check_invariants, git, gitbench

IN_SCOPE = "import os, pathlib, sys; pathlib.Path('src/app.py').write_text('print(\"job\")\\n'); "
NO_HOOKS = "-c core.hooksPath=/dev/null"


def listing(folder: Path) -> dict[str, tuple[int, bytes, int]]:
    """Everything under ``folder`` (without following symlinks): mode, content or link target, mtime."""
    out = {}
    for dirpath, dirnames, names in os.walk(folder):
        for n in dirnames + names:
            p = Path(dirpath) / n
            st = p.lstat()
            data = os.readlink(p).encode() if p.is_symlink() else (p.read_bytes() if p.is_file() else b"")
            out[str(p.relative_to(folder))] = (st.st_mode, data, st.st_mtime_ns)
    return out


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    """A folder outside the Workbench that no job may touch."""
    folder = tmp_path / "sentinel"
    (folder / "sub").mkdir(parents=True)
    (folder / "secret.txt").write_text("outside the Workbench\n")
    (folder / "sub/keep.txt").write_text("keep\n")
    return folder


def draft_of(wb: Path) -> str:
    ref = git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert ref, "the Draft was not kept"
    return ref


def report_of(wb: Path, ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(git(wb, "show", f"refs/gitbench/records:reports/{ref.rsplit('/', 1)[1]}.json"))
    return data


def trailer(wb: Path, ref: str, key: str) -> str:
    return git(wb, "log", "-1", f"--format=%(trailers:key={key},valueonly)", ref).strip()


def flat(text: str) -> str:
    """An error banner as one line (rich wraps and boxes it)."""
    for ch in "│╭╮╰╯─":
        text = text.replace(ch, " ")
    return " ".join(text.split())


HOSTILE = {
    "writes outside --files": (
        "pathlib.Path('README.md').write_text('rewritten\\n'); pathlib.Path('docs').mkdir();"
        "pathlib.Path('docs/new.md').write_text('new\\n')",
        {"README.md": "outside the job's scope", "docs/new.md": "outside the job's scope"}),
    "writes into .git": (
        "os.makedirs('.git/hooks'); pathlib.Path('.git/hooks/post-checkout').write_text('#!/bin/sh\\n');"
        "os.makedirs('src/.git'); pathlib.Path('src/.git/config').write_text('[core]\\n')",
        {".git/": "writes into .git", "src/.git/": "writes into .git"}),
    "absolute symlink out": (
        "os.symlink(os.path.join(os.environ['SENTINEL'], 'secret.txt'), 'src/abs')",
        {"src/abs": "symlink pointing outside"}),
    "relative symlink out": (
        "os.symlink('../../../../../../../etc/passwd', 'src/rel')",
        {"src/rel": "symlink pointing outside"}),
    "symlink to a folder outside": (
        "os.symlink(os.environ['SENTINEL'], 'src/linked')",
        {"src/linked": "symlink pointing outside"}),
    "fifo": (
        "os.mkfifo('src/pipe')",
        {"src/pipe": "not a regular file"}),
    "newline in a name": (
        "pathlib.Path('src/x\\nGitbench-Status: complete').write_text('forged\\n')",
        {"src/x\nGitbench-Status: complete": "control character"}),
    "backslash in a name": (
        "pathlib.Path('src/a\\\\..\\\\..\\\\b').write_text('x\\n')",
        {"src/a\\..\\..\\b": "backslash"}),
    "a name that is not UTF-8": (
        "open(b'src/\\xff.py', 'wb').write(b'x')",
        {"src/\\xff.py": "not valid UTF-8"}),
    "file over 100 MiB": (
        "f = open('src/huge.bin', 'wb'); f.truncate(101 * 1024 * 1024); f.close()",
        {"src/huge.bin": "too large"}),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_write_is_refused_and_reported_while_in_scope_changes_reach_the_draft(
        workbench: Path, sentinel: Path, case: str) -> None:
    code, refused = HOSTILE[case]
    before = Snapshot.take(workbench)
    outside = listing(sentinel)

    res = gitbench(workbench, "exec", "--files", "src/**", "--", sys.executable, "-c", IN_SCOPE + code,
                   env={"SENTINEL": str(sentinel), "COLUMNS": "400"})
    assert res.returncode == 11, res.stdout + res.stderr
    banner = flat(res.stderr)
    assert "scope-violation" in banner
    for path, why in refused.items():
        assert flat(path) in banner and why in banner, (path, banner)

    ref = draft_of(workbench)
    report = report_of(workbench, ref)
    assert report["status"] == "failed" and report["class"] == "scope"
    assert {r["path"]: r["reason"] for r in report["refused"]}.keys() == refused.keys()
    for r in report["refused"]:
        assert refused[r["path"]] in r["reason"]
    # The in-scope change is in the Draft, and nothing else is.
    assert git(workbench, "diff", "--name-only", "main", ref) == "src/app.py\n"
    assert git(workbench, "show", f"{ref}:src/app.py") == 'print("job")\n'
    # The audit trail parses as trailers and nothing was forged into it.
    assert trailer(workbench, ref, "Gitbench-Status") == f"partial (refused {len(refused)} paths)"
    assert trailer(workbench, ref, "Gitbench-Files") == "src/app.py"
    parsed = subprocess.run(["git", "interpret-trailers", "--parse"], input=git(workbench, "log", "-1",
                            "--format=%B", ref), capture_output=True, text=True, check=True).stdout
    assert [line.split(":")[0] for line in parsed.splitlines()] == [
        "Gitbench-Job", "Gitbench-Step", "Gitbench-Model", "Gitbench-Files", "Gitbench-Checkpoint",
        "Gitbench-Attempts", "Gitbench-Status"]
    # Published, the user's files and the world outside are untouched.
    assert listing(sentinel) == outside
    assert git(workbench, "rev-parse", "main").strip() == before.published
    for name, data in before.files.items():
        assert (workbench / name).read_bytes() == data, name
    assert not (workbench / "src/abs").exists() and not (workbench / "src/linked").exists()
    check_invariants(workbench, before, published_may_change=False)


def test_a_command_that_is_not_found_fails_with_12_and_keeps_the_draft(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "exec", "--json", "--", "gitbench-test-no-such-command")
    assert res.returncode == 12, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "job-failed" and "not found" in error["message"]
    ref = draft_of(workbench)
    assert report_of(workbench, ref)["status"] == "failed"
    check_invariants(workbench, before, published_may_change=False)


def test_a_command_that_exits_3_has_its_partial_edits_committed_as_failed(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "exec", "--files", "src/**", "--", sys.executable, "-c", IN_SCOPE + "sys.exit(3)")
    assert res.returncode == 12, res.stdout + res.stderr
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == 'print("job")\n'
    assert trailer(workbench, ref, "Gitbench-Status") == "failed (exit 3)"
    report = report_of(workbench, ref)
    assert report["status"] == "failed" and report["files_changed"] == ["src/app.py"]
    check_invariants(workbench, before, published_may_change=False)


REF_MOVES = {
    "commits on Published": (f"git -C \"$GITBENCH_WORKBENCH\" {NO_HOOKS} commit -q --allow-empty -m sneaky",
                             "refs/heads/main"),
    "deletes a checkpoint": ("git -C \"$GITBENCH_WORKBENCH\" tag -d checkpoint/1", "refs/tags/checkpoint/1"),
    "rewrites the records": ("git -C \"$GITBENCH_WORKBENCH\" update-ref refs/gitbench/records "
                             "refs/gitbench/records~1", "refs/gitbench/records"),
}


@pytest.mark.parametrize("case", list(REF_MOVES))
def test_a_command_that_moves_a_ref_of_the_workbench_is_reported(workbench: Path, case: str) -> None:
    script, moved = REF_MOVES[case]
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "exec", "--json", "--files", "src/**", "--", "sh", "-c",
                   f"echo 'print(1)' > src/app.py && {script} >/dev/null")  # its output would spoil the JSON
    assert res.returncode == 7, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert "outside its Draft" in error["message"] and moved in error["message"]
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "print(1)\n", "the Draft keeps the command's work"
    assert report_of(workbench, ref)["status"] == "failed"
    if case == "commits on Published":
        # The outside commit is reported; the user goes back to where the Draft started and publishes.
        auto = report_of(workbench, ref)["checkpoints_created"][0]
        assert gitbench(workbench, "restore", auto, "--keep-draft", "--yes").returncode == 0
        assert gitbench(workbench, "publish").returncode == 0
        assert git(workbench, "show", "main:src/app.py") == "print(1)\n"
        check_invariants(workbench, before)
    else:
        check_invariants(workbench, Snapshot.take(workbench), published_may_change=False)
        assert git(workbench, "rev-parse", "main").strip() == before.published


@pytest.mark.parametrize("how", ["SIGINT to the process group", "SIGTERM"])
def test_ctrl_c_or_sigterm_cancels_the_job_and_keeps_the_draft(workbench: Path, how: str) -> None:
    before = Snapshot.take(workbench)
    code = ("import os, pathlib, time; pathlib.Path('src/app.py').write_text('partial\\n');"
            "pathlib.Path('src/pid').write_text(str(os.getpid())); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-m", "gitbench", "exec", "--files", "src/**", "--", sys.executable,
                             "-c", code], cwd=workbench, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        pid_files: list[Path] = []
        while not pid_files:  # wait until the command runs and has written its partial edit
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            pid_files = [p for p in (workbench / ".git/gitbench/worktrees").glob("*/src/pid") if p.read_text()]
            time.sleep(0.05)
        child = int(pid_files[0].read_text())
        started = time.monotonic()
        if how == "SIGTERM":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, out + err
    assert time.monotonic() - started < 10, "the job did not stop promptly"
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # the command was stopped too
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "partial\n"
    assert trailer(workbench, ref, "Gitbench-Status") == "cancelled"
    job = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{ref.rsplit('/', 1)[1]}.json"))
    assert job["status"] == "cancelled" and job["error"]["class"] == "user-cancel"
    check_invariants(workbench, before, published_may_change=False)


def test_a_jobs_folder_holds_only_in_scope_files_and_is_not_a_repository(workbench: Path) -> None:
    (workbench / "src/lib").mkdir()
    (workbench / "src/lib/util.py").write_text("x = 1\n")
    git(workbench, "add", "src/lib/util.py")
    git(workbench, "commit", "-q", "-m", "more files")  # no Draft yet: plain git may commit
    res = gitbench(workbench, "exec", "--files", "src/**", "--", "sh", "-c",
                   "find . -mindepth 1 | sort; git rev-parse --show-toplevel; echo \"rev-parse exit $?\"")
    assert res.returncode == 0, res.stderr
    shown = [line for line in res.stdout.splitlines() if line.startswith("./")]
    assert shown == ["./src", "./src/app.py", "./src/lib", "./src/lib/util.py"]
    assert "rev-parse exit 128" in res.stdout, res.stdout
    assert str(workbench) + "\n" not in res.stdout
    check_invariants(workbench)
