"""gitbench/git/worktrees.py in-process against real repositories: a sparse Draft worktree's cone is the one
`git sparse-checkout set --cone` writes, it checks out just that cone, and half-deleted worktree folders are
swept."""

from __future__ import annotations

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
