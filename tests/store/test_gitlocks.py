"""gitbench/store/gitlocks.py against a real repository: which of Git's lock files a killed process left are
found and removed (only those made since the interrupted operation began, or on refs only gitbench writes), and
whether a Git process is at work in a folder."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from gitbench.store import gitlocks
from tests.conftest import make_project


def lock(path: Path, age: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_only_the_locks_made_since_the_operation_began_are_cleared(tmp_path: Path) -> None:
    gitdir = make_project(tmp_path / "p") / ".git"
    since = time.time() - 60
    new = [
        lock(gitdir / "index.lock"),
        lock(gitdir / "refs" / "heads" / "main.lock"),
        lock(gitdir / "refs" / "heads" / "gitbench" / "draft" / "x.lock"),
    ]
    old = lock(gitdir / "packed-refs.lock", age=3600)  # someone else's, from before: left alone
    found = dict(gitlocks.find(str(gitdir), ["refs/heads/main"]))
    assert set(found) == {str(p) for p in [*new, old]} and found[str(old)] >= 3600
    gone = gitlocks.clear_since(str(gitdir), ["refs/heads/main"], since)
    assert sorted(gone) == sorted(str(p) for p in new)
    assert old.exists() and not any(p.exists() for p in new)
    gitlocks.remove([str(gitdir / "index.lock")])  # already gone: no error


def test_locks_on_refs_only_gitbench_writes_are_cleared_whatever_their_age(tmp_path: Path) -> None:
    gitdir = make_project(tmp_path / "p") / ".git"
    mine = [
        lock(gitdir / "refs" / "tags" / "checkpoint" / "a.lock", age=86400),
        lock(gitdir / "refs" / "gitbench" / "records.lock"),
    ]
    theirs = lock(gitdir / "refs" / "heads" / "main.lock", age=86400)
    assert sorted(gitlocks.clear_owned(str(gitdir))) == sorted(str(p) for p in mine)
    assert theirs.exists()
    assert gitlocks.owned(str(gitdir), str(mine[0])) and gitlocks.owned(str(gitdir), str(mine[1]))
    assert gitlocks.owned(str(gitdir), str(gitdir / "logs" / "refs" / "tags" / "checkpoint" / "a.lock"))
    assert not gitlocks.owned(str(gitdir), str(theirs))
    assert not gitlocks.owned(str(gitdir), str(gitdir / "refs" / "heads" / "gitbench" / "draft" / "x.lock"))


def test_a_killed_git_gc_s_locks_anywhere_in_the_repository_are_found_and_cleared(tmp_path: Path) -> None:
    gitdir = make_project(tmp_path / "p") / ".git"
    since = time.time() - 60
    new = [
        lock(gitdir / "HEAD.lock"),
        lock(gitdir / "logs" / "HEAD.lock"),
        lock(gitdir / "objects" / "info" / "commit-graph.lock"),
        lock(gitdir / "refs" / "tags" / "v1.lock"),
    ]
    old = lock(gitdir / "config.lock", age=3600)
    (gitdir / "objects" / "pack" / "odd.lock").mkdir(parents=True)  # a folder named so is not a lock file
    assert sorted(gitlocks.clear_any_since(str(gitdir), since)) == sorted(str(p) for p in new)
    assert old.exists() and not any(p.exists() for p in new)
    assert gitlocks.find_since(str(tmp_path / "no-such-repo"), since) == []


def test_a_git_process_at_work_in_a_folder_is_seen(tmp_path: Path) -> None:
    wd = make_project(tmp_path / "p")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert not gitlocks.git_running(str(wd))
    # `git cat-file --batch` waits on its stdin: a Git process holding on, as `git commit` with its editor open.
    proc = subprocess.Popen(["git", "cat-file", "--batch"], cwd=wd / "src", stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not gitlocks.git_running(str(wd)) and time.monotonic() < deadline:
            time.sleep(0.01)  # the child is forked but may not have exec'd git yet
        assert gitlocks.git_running(str(wd))
        assert not gitlocks.git_running(str(elsewhere), "")
    finally:
        proc.communicate(b"")
    assert not gitlocks.git_running(str(wd))
