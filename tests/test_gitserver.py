"""The Git server the team tests run against (tests/gitserver.py), proven with plain git on both flavours
(`git daemon` and `git http-backend`): what a push does there, and what is left after a refused, killed or cut
push. gitbench's own push and pull are tested against the same fixture in tests/test_teams.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git
from tests.gitserver import FLAVOURS, Flavour, GitServer, group_alive


def seeded_clone(server: GitServer, path: Path, name: str = "a") -> Path:
    """A clone of the server; the first one also pushes an initial `main`."""
    git(path.parent, "clone", "-q", server.url, str(path))
    if "refs/heads/main" not in server.refs():
        (path / "README.md").write_text("# project\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
        git(path, "push", "-q", "origin", "main")
    git(path, "config", "user.name", name)
    return path


def commit(repo: Path, name: str, text: str, branch: str | None = None) -> str:
    if branch:
        git(repo, "checkout", "-q", "-B", branch)
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{name}: {text.strip()[:20]}")
    return git(repo, "rev-parse", "HEAD").strip()


def push(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "push", "--porcelain", "origin", *args], cwd=repo, capture_output=True, text=True)


def test_clone_push_and_fetch_travel_through_the_server(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    b = seeded_clone(git_server, tmp_path / "b")
    assert git(b, "rev-parse", "HEAD").strip() == git_server.refs()["refs/heads/main"]
    new = commit(b, "b.txt", "from b\n")
    git(b, "tag", "-a", "-m", "why", "checkpoint/1")
    git(b, "update-ref", "refs/gitbench/records", new)
    assert push(b, "main", "refs/tags/checkpoint/1", "refs/gitbench/records").returncode == 0
    refs = git_server.refs()
    assert refs["refs/heads/main"] == new
    assert refs["refs/gitbench/records"] == new
    assert refs["refs/tags/checkpoint/1"] == git(b, "rev-parse", "checkpoint/1").strip()
    everything = ("+refs/heads/*:refs/remotes/origin/*", "+refs/gitbench/*:refs/gitbench/*", "refs/tags/*:refs/tags/*")
    git(a, "fetch", "-q", "origin", *everything)
    git(a, "merge", "-q", "--ff-only", "origin/main")
    assert (a / "b.txt").read_text() == "from b\n"
    assert git(a, "rev-parse", "refs/gitbench/records").strip() == new
    # The server's log of committed updates saw each ref move once, from nothing or from the old main.
    moved = {ref: (old, new_) for old, new_, ref in git_server.updates()}
    assert moved["refs/heads/main"][1] == new
    assert moved["refs/gitbench/records"] == ("0" * 40, new)


def test_large_fetch_and_push_bodies_are_streamed(git_server: GitServer, tmp_path: Path) -> None:
    """Over HTTP, git gzips a long fetch request and sends a push larger than http.postBuffer chunked: both
    reach http-backend whole."""
    a = seeded_clone(git_server, tmp_path / "a")
    main = git(a, "rev-parse", "main").strip()
    branches = "".join(f"create refs/heads/topic/branch-number-{i:03d} {main}\n" for i in range(60))
    subprocess.run(["git", "update-ref", "--stdin"], cwd=a, input=branches, text=True, check=True)
    (a / "big.bin").write_bytes(os.urandom(1_500_000))
    big = commit(a, "small.txt", "x\n")
    assert push(a, "--all").returncode == 0
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", "--mirror", git_server.url, str(b))
    assert git(b, "rev-parse", "refs/heads/main").strip() == big
    assert len(git(b, "for-each-ref", "refs/heads/topic/").splitlines()) == 60
    if git_server.flavour == "http":
        log = git_server.log()
        assert "Transfer-Encoding: chunked" in log
        assert "Content-Encoding: gzip" in log


def test_an_atomic_push_with_one_refused_ref_applies_nothing(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    before = git_server.refs()
    commit(a, "a.txt", "a\n")
    git(a, "tag", "-a", "-m", "why", "checkpoint/1")
    git(a, "branch", "forbidden")
    git_server.reject("refs/heads/forbidden")
    res = push(a, "--atomic", "main", "refs/tags/checkpoint/1", "forbidden")
    assert res.returncode != 0
    assert "atomic" in res.stdout + res.stderr
    assert git_server.refs() == before
    # Without --atomic the server applies the refs it accepts, one by one.
    res = push(a, "main", "refs/tags/checkpoint/1", "forbidden")
    assert res.returncode != 0
    refs = git_server.refs()
    assert refs["refs/heads/main"] == git(a, "rev-parse", "main").strip()
    assert "refs/tags/checkpoint/1" in refs and "refs/heads/forbidden" not in refs


def test_an_atomic_push_with_a_non_fast_forward_applies_nothing(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    b = seeded_clone(git_server, tmp_path / "b")
    commit(b, "b.txt", "b\n")
    assert push(b, "main").returncode == 0
    before = git_server.refs()
    commit(a, "a.txt", "a\n")
    git(a, "tag", "-a", "-m", "why", "checkpoint/a")
    res = push(a, "--atomic", "main", "refs/tags/checkpoint/a")
    assert res.returncode != 0
    assert git_server.refs() == before


def test_a_server_without_atomic_refuses_atomic_pushes(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    git_server.set_atomic(False)
    before = git_server.refs()
    commit(a, "a.txt", "a\n")
    res = push(a, "--atomic", "main")
    assert res.returncode != 0
    assert "does not support --atomic" in res.stderr
    assert git_server.refs() == before
    assert push(a, "main").returncode == 0
    git_server.set_atomic(True)
    commit(a, "a.txt", "again\n")
    assert push(a, "--atomic", "main").returncode == 0


def test_a_lease_on_a_ref_that_moved_is_refused(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    b = seeded_clone(git_server, tmp_path / "b")
    seen = git(a, "rev-parse", "main").strip()
    theirs = commit(b, "b.txt", "b\n")
    assert push(b, "main").returncode == 0
    commit(a, "a.txt", "a\n")
    res = push(a, f"--force-with-lease=refs/heads/main:{seen}", "main:main")
    assert res.returncode != 0
    assert "stale info" in res.stdout + res.stderr
    assert git_server.refs()["refs/heads/main"] == theirs


def test_the_server_checks_a_lease_when_it_updates_not_only_when_it_advertises(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Two clones push at once, each leasing the main it saw: the server's own compare-and-swap refuses the
    slower one even though the advertisement it was sent still matched its lease."""
    a = seeded_clone(git_server, tmp_path / "a")
    b = seeded_clone(git_server, tmp_path / "b")
    seen = git(a, "rev-parse", "main").strip()
    commit(a, "a.txt", "a\n")
    theirs = commit(b, "b.txt", "b\n")
    git_server.pause("pre-receive")
    slow = subprocess.Popen(
        ["git", "push", "--porcelain", f"--force-with-lease=refs/heads/main:{seen}", "origin", "main:main"],
        cwd=a,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    git_server.wait_paused()
    assert push(b, f"--force-with-lease=refs/heads/main:{seen}", "main:main").returncode == 0
    git_server.release()
    out, err = slow.communicate(timeout=30)
    assert slow.returncode != 0, out + err
    assert git_server.refs()["refs/heads/main"] == theirs


def test_a_server_killed_before_any_ref_moved_applied_nothing(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    before = git_server.refs()
    new = commit(a, "a.txt", "a\n")
    git(a, "tag", "-a", "-m", "why", "checkpoint/1")
    git_server.pause("pre-receive")
    proc = subprocess.Popen(
        ["git", "push", "origin", "main", "refs/tags/checkpoint/1"], cwd=a, stderr=subprocess.PIPE, text=True
    )
    git_server.wait_paused()
    git_server.kill()
    assert proc.communicate(timeout=30) and proc.returncode != 0
    assert git_server.refs() == before
    # Back up on the same port: the same push goes through.
    git_server.start()
    assert push(a, "main", "refs/tags/checkpoint/1").returncode == 0
    assert git_server.refs()["refs/heads/main"] == new


def test_a_server_killed_midway_through_a_non_atomic_push_applied_part_of_it(
    git_server: GitServer, tmp_path: Path
) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    git_server.set_atomic(False)
    commit(a, "a.txt", "a\n")
    for i in range(3):
        git(a, "tag", "-a", "-m", "why", f"checkpoint/{i}")
    git_server.pause("committed", count=1)
    proc = subprocess.Popen(["git", "push", "origin", "main", "--tags"], cwd=a, stderr=subprocess.PIPE, text=True)
    git_server.wait_paused()
    git_server.kill()
    assert proc.communicate(timeout=30) and proc.returncode != 0
    wanted = {"refs/heads/main", *(f"refs/tags/checkpoint/{i}" for i in range(3))}
    applied = wanted & {ref for ref, oid in git_server.refs().items() if oid == git(a, "rev-parse", ref).strip()}
    assert len(applied) == 1, applied
    git_server.start()
    assert push(a, "main", "--tags").returncode == 0
    refs = git_server.refs()
    assert all(refs[ref] == git(a, "rev-parse", ref).strip() for ref in wanted)


def test_an_atomic_push_the_server_applied_before_it_died_reports_failure(
    git_server: GitServer, tmp_path: Path
) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    new = commit(a, "a.txt", "a\n")
    git(a, "tag", "-a", "-m", "why", "checkpoint/1")
    git_server.pause("committed", count=1)
    proc = subprocess.Popen(
        ["git", "push", "--atomic", "origin", "main", "refs/tags/checkpoint/1"], cwd=a, stderr=subprocess.PIPE
    )
    git_server.wait_paused()
    git_server.kill()
    assert proc.communicate(timeout=30) and proc.returncode != 0
    # The client heard nothing, but the server has the whole push.
    refs = git_server.refs()
    assert refs["refs/heads/main"] == new
    assert refs["refs/tags/checkpoint/1"] == git(a, "rev-parse", "checkpoint/1").strip()
    git_server.start()
    res = push(a, "--atomic", "main", "refs/tags/checkpoint/1")
    assert res.returncode == 0 and "[up to date]" in res.stdout


def test_a_network_cut_mid_pack_applies_nothing(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    before = git_server.refs()
    (a / "big.bin").write_bytes(os.urandom(2_000_000))
    new = commit(a, "a.txt", "a\n")
    git(a, "tag", "-a", "-m", "why", "checkpoint/1")
    git_server.cut_after(600_000)
    res = push(a, "--atomic", "main", "refs/tags/checkpoint/1")
    assert res.returncode != 0
    assert git_server.proxy.cuts == 1
    assert git_server.refs() == before
    assert not git_server.has_object(new)
    # The network is back: the same push goes through.
    assert push(a, "--atomic", "main", "refs/tags/checkpoint/1").returncode == 0
    assert git_server.refs()["refs/heads/main"] == new


def test_a_network_cut_after_the_server_applied_a_push_reports_failure(git_server: GitServer, tmp_path: Path) -> None:
    a = seeded_clone(git_server, tmp_path / "a")
    new = commit(a, "a.txt", "a\n")
    git_server.pause("committed", count=1)
    proc = subprocess.Popen(["git", "push", "--atomic", "origin", "main"], cwd=a, stderr=subprocess.PIPE)
    git_server.wait_paused()
    git_server.cut_now()
    git_server.release()
    assert proc.communicate(timeout=30) and proc.returncode != 0
    assert git_server.refs()["refs/heads/main"] == new


def test_a_clone_of_a_server_whose_head_names_a_missing_branch_has_no_branch(
    git_server: GitServer, tmp_path: Path
) -> None:
    """The case `gitbench init` must handle in a fresh clone: the server's HEAD names `trunk`, which does not
    exist there; git clones the other branches as remote-tracking ones and leaves HEAD unborn."""
    seeded_clone(git_server, tmp_path / "a")
    git_server.set_head("refs/heads/trunk")
    res = subprocess.run(
        ["git", "clone", git_server.url, str(tmp_path / "b")], cwd=tmp_path, capture_output=True, text=True
    )
    assert res.returncode == 0
    assert "remote HEAD refers to nonexistent ref" in res.stderr
    b = tmp_path / "b"
    assert git(b, "for-each-ref", "--format=%(refname)", "refs/heads/") == ""
    assert git(b, "rev-parse", "origin/main").strip() == git_server.refs()["refs/heads/main"]


def test_no_server_process_outlives_its_server(tmp_path: Path) -> None:
    for flavour in FLAVOURS:
        server = GitServer(tmp_path / flavour, flavour)
        server.start()
        a = seeded_clone(server, tmp_path / f"{flavour}-a")
        commit(a, "a.txt", "a\n")
        server.pause("pre-receive")
        proc = subprocess.Popen(["git", "push", "origin", "main"], cwd=a, stderr=subprocess.DEVNULL)
        server.wait_paused()  # receive-pack and its hook are running now
        pgid = server.pgid
        assert pgid is not None and len(group_alive(pgid)) >= 2
        server.close()
        assert proc.communicate(timeout=30) and proc.returncode != 0
        assert group_alive(pgid) == []


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_stopped_server_refuses_connections(tmp_path: Path, flavour: Flavour) -> None:
    server = GitServer(tmp_path / "server", flavour)
    try:
        server.start()
        seeded_clone(server, tmp_path / "a")
        server.kill()
        res = subprocess.run(["git", "ls-remote", server.url], capture_output=True, text=True, timeout=30)
        assert res.returncode != 0
        server.start()
        assert "refs/heads/main" in git(tmp_path, "ls-remote", server.url)
    finally:
        server.close()
