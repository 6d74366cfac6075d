"""gitbench/git/worktrees.py in-process against real repositories: a sparse Draft worktree's cone is the one
`git sparse-checkout set --cone` writes, it checks out just that cone, half-deleted worktree folders are
swept, a removed worktree's folder goes in the background, and the tracked symlinks that lead out of a new one
are found."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitbench.git import worktrees as wt
from tests.conftest import git, make_project

FILES = {
    "README.md": "# p\n",
    "src/app.py": "app\n",
    "src/lib/util.py": "util\n",
    "src/lib/deep/x.py": "x\n",
    "docs/guide.md": "guide\n",
    "we ird/[x]/f.txt": "odd\n",
}


@pytest.mark.parametrize(
    "dirs",
    [["src/lib"], ["docs", "src/lib/deep"], ["src", "src/lib"], ["we ird/[x]"], []],
)
def test_the_cone_is_the_one_git_sparse_checkout_writes(tmp_path: Path, dirs: list[str]) -> None:
    wd = make_project(tmp_path / "p", FILES)
    git(wd, "sparse-checkout", "set", "--cone", "--skip-checks", *dirs)
    assert wt.cone(dirs) == (wd / ".git" / "info" / "sparse-checkout").read_text()


def test_a_sparse_worktree_checks_out_its_cone_and_every_top_level_file(tmp_path: Path) -> None:
    wd = make_project(tmp_path / "p", FILES)
    git(wd, "branch", "draft")
    lk = wt.add(str(wd / ".git"), str(tmp_path / "wts" / "draft"), "refs/heads/draft", sparse_dirs=["src/lib"])
    assert lk.sparse and lk.branch == "refs/heads/draft"
    shown = sorted(str(p.relative_to(lk.path)) for p in Path(lk.path).rglob("*") if p.is_file() and ".git" != p.name)
    assert shown == ["README.md", "src/app.py", "src/lib/deep/x.py", "src/lib/util.py"]
    assert git(lk.path, "status", "--porcelain") == ""  # the rest is skipped, not deleted
    git(wd, "branch", "odd")
    odd = wt.add(str(wd / ".git"), str(tmp_path / "wts" / "odd"), "refs/heads/odd", sparse_dirs=["we ird/[x]"])
    assert (Path(odd.path) / "we ird" / "[x]" / "f.txt").read_text() == "odd\n"  # a name with glob characters
    assert not (Path(odd.path) / "src").exists()


def test_half_deleted_worktree_folders_are_swept_and_nothing_else(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".gone-20260101-000000-abcd" / "deep").mkdir(parents=True)
    (home / "a-draft").mkdir()
    assert wt.sweep(str(home)) == [".gone-20260101-000000-abcd"]
    deadline = time.monotonic() + 10
    while (home / ".gone-20260101-000000-abcd").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # deleted by a process of its own, which outlives the command
    assert sorted(p.name for p in home.iterdir()) == ["a-draft"]
    assert wt.sweep(str(tmp_path / "no-such-home")) == []


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
