"""The guard of a running command's refs (store/refguard.py): what it captures costs the loose refs, not the
number of checkpoints, and what it reports is every ref whose value changed, by name, however Git stored it."""

from __future__ import annotations

import os
from pathlib import Path

from gitbench.git.repo import GitRepo
from gitbench.store import refguard
from tests.conftest import git, make_project

PREFIX = "refs/tags/checkpoint/"
NAMED = ["refs/heads/main"]


def repo_with_tags(tmp_path: Path, count: int, packed: bool) -> tuple[Path, GitRepo]:
    path = make_project(tmp_path / "r", {"a.txt": "a\n"})
    for i in range(count):
        git(path, "tag", "-a", "-m", f"n{i}", f"checkpoint/{i:03d}")
    if packed:
        git(path, "pack-refs", "--all")
    return path, GitRepo(str(path))


def test_a_packed_namespace_is_captured_by_identity_and_a_hard_link(tmp_path: Path) -> None:
    path, repo = repo_with_tags(tmp_path, 200, packed=True)
    kept = str(tmp_path / "kept.packed-refs")
    before = refguard.capture(repo, NAMED, PREFIX, kept)
    assert set(before) == {"refs/heads/main", refguard.PACKED_KEY}  # no entry per checkpoint
    assert os.path.samefile(kept, path / ".git/packed-refs")
    assert refguard.moved(repo, before, PREFIX, kept) == []


def test_packing_or_unpacking_moves_nothing_but_a_deleted_moved_or_new_tag_is_named(tmp_path: Path) -> None:
    path, repo = repo_with_tags(tmp_path, 5, packed=False)
    kept = str(tmp_path / "kept.packed-refs")
    before = refguard.capture(repo, NAMED, PREFIX, kept)
    assert refguard.PACKED_KEY in before and before["refs/tags/checkpoint/000"] is not None
    git(path, "pack-refs", "--all")  # as `git gc` does: the same values, stored elsewhere
    assert refguard.moved(repo, before, PREFIX, kept) == []

    before = refguard.capture(repo, NAMED, PREFIX, kept)
    old = git(path, "rev-parse", "refs/tags/checkpoint/001").strip()
    git(path, "tag", "-d", "checkpoint/001")  # rewrites packed-refs
    git(path, "tag", "-f", "-a", "-m", "moved", "checkpoint/002")  # a loose file over a packed line
    git(path, "tag", "-a", "-m", "new", "checkpoint/999")
    git(path, "commit", "-q", "--allow-empty", "-m", "main moves")
    moved = refguard.moved(repo, before, PREFIX, kept)
    assert [m[0] for m in moved] == [
        "refs/heads/main",
        "refs/tags/checkpoint/001",
        "refs/tags/checkpoint/002",
        "refs/tags/checkpoint/999",
    ]
    assert moved[1] == ("refs/tags/checkpoint/001", old, None)
    assert moved[3][1] is None


def test_a_repository_without_packed_refs_then_with_one(tmp_path: Path) -> None:
    path, repo = repo_with_tags(tmp_path, 3, packed=False)
    kept = str(tmp_path / "kept.packed-refs")
    before = refguard.capture(repo, NAMED, PREFIX, kept)
    assert before[refguard.PACKED_KEY] is None and not os.path.exists(kept)
    git(path, "pack-refs", "--all")
    git(path, "tag", "-d", "checkpoint/000")
    assert [m[0] for m in refguard.moved(repo, before, PREFIX, kept)] == ["refs/tags/checkpoint/000"]


def test_a_guard_from_before_with_every_checkpoint_by_value_still_compares(tmp_path: Path) -> None:
    """A marker written by an older gitbench (a job running across the upgrade) holds every tag by value."""
    path, repo = repo_with_tags(tmp_path, 3, packed=True)
    before = {n: repo.ref_raw(n) for n in [*NAMED, *repo.refs(PREFIX)]}
    assert refguard.moved(repo, before, PREFIX, str(tmp_path / "none")) == []
    git(path, "tag", "-d", "checkpoint/002")
    assert [m[0] for m in refguard.moved(repo, before, PREFIX, str(tmp_path / "none"))] == ["refs/tags/checkpoint/002"]
