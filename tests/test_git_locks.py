"""Lock files in the way: Git's own (a running or crashed Git left ``index.lock`` or ``<ref>.lock``) and
gitbench's (another gitbench process changing the Workbench). Each fails clearly, loses nothing, and the
offered recovery works (DESIGN.md §2 invariant 6, §7 "libgit2 never waits on a held lock")."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import Snapshot, check_invariants, git, gitbench, run_job

EDIT = "import pathlib; pathlib.Path('src/app.py').write_text('print(\"job\")\\n')"


def nothing_lost(wb: Path, before: Snapshot, ref: str, head: str) -> None:
    assert git(wb, "rev-parse", ref).strip() == head, "the Draft changed"
    assert git(wb, "rev-parse", "main").strip() == before.published, "Published changed"
    for name, data in before.files.items():
        assert (wb / name).read_bytes() == data, name


def plant(path: Path, age: float) -> None:
    path.write_bytes(b"")
    then = time.time() - age
    os.utime(path, (then, then))


@pytest.mark.parametrize("lock", ["index.lock", "refs/heads/main.lock"])
def test_a_stale_git_lock_blocks_publish_until_recover_removes_it(workbench: Path, lock: str) -> None:
    ref, head = run_job(workbench, EDIT)
    before = Snapshot.take(workbench)
    path = workbench / ".git" / lock
    plant(path, 3600)

    res = gitbench(workbench, "publish", "--json")
    assert res.returncode == 8, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "git-locked"
    assert os.path.basename(lock) in error["message"]
    assert "gitbench recover" in [a["command"] for a in error["actions"]]
    assert path.exists(), "gitbench must not remove a Git lock on its own in the middle of a command"
    nothing_lost(workbench, before, ref, head)

    res = gitbench(workbench, "recover", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not path.exists(), "recover leaves a lock that is an hour old"
    assert any(os.path.basename(lock) in n for n in json.loads(res.stdout)["result"]["notes"])
    nothing_lost(workbench, before, ref, head)
    check_invariants(workbench, before, published_may_change=False)

    res = gitbench(workbench, "publish")
    assert res.returncode == 0, res.stderr
    assert git(workbench, "rev-parse", "main").strip() == head
    check_invariants(workbench, before)


def test_a_fresh_git_lock_is_left_by_recover_and_removed_by_recover_force(workbench: Path) -> None:
    ref, head = run_job(workbench, EDIT)
    before = Snapshot.take(workbench)
    path = workbench / ".git" / "index.lock"
    plant(path, 0)

    res = gitbench(workbench, "publish", "--json")
    assert res.returncode == 8 and json.loads(res.stdout)["error"]["code"] == "git-locked", res.stdout
    res = gitbench(workbench, "recover", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert path.exists(), "a fresh lock may belong to a running Git process"
    assert any("fresh" in n and "index.lock" in n for n in json.loads(res.stdout)["result"]["notes"])
    nothing_lost(workbench, before, ref, head)

    res = gitbench(workbench, "recover", "--force")
    assert res.returncode == 0, res.stderr
    assert not path.exists()
    nothing_lost(workbench, before, ref, head)
    check_invariants(workbench, before, published_may_change=False)
    assert gitbench(workbench, "publish").returncode == 0
    check_invariants(workbench, before)


def test_state_changes_while_another_process_holds_the_workbench_fail_busy_naming_it(workbench: Path) -> None:
    ref, head = run_job(workbench, EDIT)
    before = Snapshot.take(workbench)
    fd = os.open(workbench / ".git/gitbench/lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "operation": "publish"}).encode())
        for args in (("publish", "--json"), ("discard", "--yes", "--json")):
            started = time.monotonic()
            res = gitbench(workbench, *args, env={"GITBENCH_LOCK_WAIT": "1"})
            took = time.monotonic() - started
            assert res.returncode == 8, res.stdout + res.stderr
            error = json.loads(res.stdout)["error"]
            assert error["code"] == "busy"
            assert "gitbench publish" in error["message"] and str(os.getpid()) in error["message"]
            assert 1.0 <= took < 10, f"{args[0]} waited {took:.1f} s with GITBENCH_LOCK_WAIT=1"
            nothing_lost(workbench, before, ref, head)
        status = gitbench(workbench, "status", "--json")  # reading is never blocked, and shows the holder
        assert status.returncode == 0, status.stderr
        assert str(os.getpid()) in json.loads(status.stdout)["result"]["busy"]
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    check_invariants(workbench, before, published_may_change=False)
    assert gitbench(workbench, "publish").returncode == 0
    check_invariants(workbench, before)
