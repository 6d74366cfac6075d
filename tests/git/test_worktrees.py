"""gitbench/git/worktrees.py in-process, against real repositories made with the git CLI: a removed worktree's
folder goes in the background, and the tracked symlinks that lead out of a new one are found."""

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


def test_a_removed_worktree_is_renamed_aside_at_once_and_deleted_in_the_background(tmp_path: Path) -> None:
    common, lk = added(tmp_path, 3)
    wt.remove(common, lk)
    assert not Path(lk.path).exists() and wt.linked(common) == []
    deadline = time.monotonic() + 30
    while list((tmp_path / "wt").iterdir()):  # the `.gone-` folder, until the background `rm` is done
        assert time.monotonic() < deadline, list((tmp_path / "wt").iterdir())
        time.sleep(0.05)


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
