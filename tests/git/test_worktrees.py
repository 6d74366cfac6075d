"""gitbench/git/worktrees.py in-process, against real repositories made with the git CLI: removing a worktree
leaves no trace for Git, and its folder goes, at once when it is small, in the background when it is not."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gitbench.git import worktrees as wt
from tests.conftest import git, make_project


def added(tmp_path: Path, files: int) -> tuple[str, wt.Linked]:
    project = make_project(tmp_path / "p", {f"src/f{i:04}.txt": f"{i}\n" for i in range(files)})
    common = str(project / ".git")
    lk = wt.add(common, str(tmp_path / "wt" / "draft"), None, commit=git(project, "rev-parse", "HEAD").strip())
    return common, lk


def test_a_small_worktree_is_gone_when_remove_returns_and_git_no_longer_lists_it(tmp_path: Path) -> None:
    common, lk = added(tmp_path, 3)
    assert (Path(lk.path) / "src" / "f0002.txt").read_text() == "2\n"
    wt.remove(common, lk)
    assert list((tmp_path / "wt").iterdir()) == []  # nothing left to delete, nothing renamed aside
    assert wt.linked(common) == []
    assert str(tmp_path / "wt") not in git(tmp_path / "p", "worktree", "list")


def test_a_big_worktree_is_renamed_aside_at_once_and_deleted_in_the_background(tmp_path: Path) -> None:
    common, lk = added(tmp_path, wt.SMALL + 50)
    wt.remove(common, lk)
    assert not Path(lk.path).exists() and wt.linked(common) == []
    deadline = time.monotonic() + 30
    while list((tmp_path / "wt").iterdir()):  # the `.gone-` folder, until the background `rm` is done
        assert time.monotonic() < deadline, list((tmp_path / "wt").iterdir())
        time.sleep(0.05)


def test_entries_are_counted_up_to_one_past_the_limit(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"d{i}").mkdir()
        (tmp_path / f"d{i}" / "f").write_text("x")
    assert wt._entries(str(tmp_path), 100) == 10
    assert 3 < wt._entries(str(tmp_path), 3) <= 10


def linked_with_links(tmp_path: Path, files: int) -> wt.Linked:
    project = make_project(tmp_path / "p", {f"src/f{i:04}.txt": f"{i}\n" for i in range(files)})
    root = bytes(project)
    os.symlink(b"../README.md", root + b"/src/inside")  # stays in the worktree
    os.symlink(b"/etc/passwd", root + b"/abs")
    os.symlink(b"../../outside", root + b"/src/up")
    os.symlink(b"../../outside", root + b"/src/n\xe9-utf8")  # a name that is not UTF-8
    (project / "README.md").write_text("readme\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "links")
    return wt.add(
        str(project / ".git"), str(tmp_path / "wt" / "d"), None, commit=git(project, "rev-parse", "HEAD").strip()
    )


def test_symlinks_that_lead_out_are_found_in_a_small_index_read_here_and_in_a_big_one_git_lists(
    tmp_path: Path,
) -> None:
    small = linked_with_links(tmp_path / "small", 3)
    big = linked_with_links(tmp_path / "big", wt.SMALL_INDEX + 10)
    assert sorted(wt.escaping_links(small)) == sorted(wt.escaping_links(big)) == [b"abs", b"src/n\xe9-utf8", b"src/up"]
