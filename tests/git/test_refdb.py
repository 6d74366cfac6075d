"""gitbench/git/refdb.py: the refs under a prefix, from packed-refs and the loose folder, as Git lists them."""

from __future__ import annotations

from pathlib import Path

from gitbench.git import refdb
from tests.conftest import git, make_project


def _repo(tmp_path: Path) -> tuple[Path, str]:
    wd = make_project(tmp_path / "p")
    return wd, git(wd, "rev-parse", "HEAD").strip()


def test_names_under_a_prefix_come_from_packed_and_loose_refs_and_nothing_else(tmp_path: Path) -> None:
    wd, oid = _repo(tmp_path)
    for n in range(5):
        git(wd, "tag", f"checkpoint/{n}")
    git(wd, "tag", "other")
    git(wd, "pack-refs", "--all")
    git(wd, "tag", "checkpoint/9")  # loose
    gitdir = str(wd / ".git")
    expected = git(wd, "for-each-ref", "--format=%(refname)", "refs/tags/checkpoint/").split()
    assert sorted(refdb.names(gitdir, "refs/tags/checkpoint/")) == sorted(expected)
    assert refdb.values(gitdir, "refs/tags/checkpoint/") == {name: oid for name in expected}
    assert refdb.loose_names(gitdir, "refs/tags/checkpoint/") == ["refs/tags/checkpoint/9"]
    assert sorted(refdb.read_packed(refdb.packed_path(gitdir), "refs/tags/checkpoint/")) == expected[:5]


def test_a_loose_ref_wins_over_its_packed_line(tmp_path: Path) -> None:
    wd, old = _repo(tmp_path)
    git(wd, "branch", "gitbench/draft/x")
    git(wd, "pack-refs", "--all")
    (wd / "f").write_text("f\n")
    git(wd, "add", "f")
    git(wd, "commit", "-q", "-m", "f")
    new = git(wd, "rev-parse", "HEAD").strip()
    git(wd, "update-ref", "refs/heads/gitbench/draft/x", new)  # a loose file now, the packed line still says old
    values = refdb.values(str(wd / ".git"), "refs/heads/gitbench/draft/")
    assert values == {"refs/heads/gitbench/draft/x": new} and new != old


def test_a_tail_pattern_selects_names_and_no_packed_refs_is_no_names(tmp_path: Path) -> None:
    wd, _ = _repo(tmp_path)
    for name in ("checkpoint/1", "checkpoint/2", "checkpoint/x"):
        git(wd, "tag", name)
    gitdir = str(wd / ".git")
    assert refdb.packed_names(refdb.packed_path(gitdir), "refs/tags/checkpoint/") == []  # no packed-refs yet
    git(wd, "pack-refs", "--all")
    assert refdb.packed_names(refdb.packed_path(gitdir), "refs/tags/checkpoint/", r"[0-9]+") == [
        "refs/tags/checkpoint/1",
        "refs/tags/checkpoint/2",
    ]
