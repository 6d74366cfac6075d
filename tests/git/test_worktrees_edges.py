"""gitbench/git/worktrees.py's edges, in-process against real repositories: Git missing from PATH, worktree
entries Git wrote with a relative path, removals that fail part way (a folder that cannot be renamed aside, an
administrative entry already pruned or that cannot be deleted, no shell to delete in the background), indexes
libgit2 cannot read (a split index, none at all), and hidden paths."""

from __future__ import annotations

import errno
import gc
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gitbench import errors
from gitbench.git import worktrees as wt
from tests.conftest import git, make_project


def added(tmp_path: Path, files: dict[str, str] | None = None) -> tuple[Path, str, wt.Linked]:
    project = make_project(tmp_path / "p", files)
    common = str(project / ".git")
    lk = wt.add(common, str(tmp_path / "wt" / "draft"), None, commit=git(project, "rev-parse", "HEAD").strip())
    return project, common, lk


def wait_gone(path: Path) -> None:
    deadline = time.monotonic() + 30
    while path.exists():
        assert time.monotonic() < deadline, f"{path} was never deleted"
        time.sleep(0.02)


def test_with_config_adds_after_the_caller_s_settings_and_ignores_a_garbage_count() -> None:
    caller = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "a.b", "GIT_CONFIG_VALUE_0": "1"}
    env = wt.with_config(caller, [("c.d", "2")])
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_KEY_1"], env["GIT_CONFIG_VALUE_1"]) == ("2", "c.d", "2")
    env = wt.with_config({"GIT_CONFIG_COUNT": "garbage"}, [("c.d", "2")])
    assert (env["GIT_CONFIG_COUNT"], env["GIT_CONFIG_KEY_0"]) == ("1", "c.d")


def test_git_run_without_a_repository_and_a_missing_git_says_to_install_it(tmp_path: Path) -> None:
    assert wt.run(["--version"], cwd=str(tmp_path)).startswith(b"git version ")
    with pytest.raises(errors.UsageError) as info:
        wt.run(["--version"], cwd=str(tmp_path), env={"PATH": str(tmp_path)})  # no `git` there
    assert "Git is not installed" in info.value.message
    assert [a.label for a in info.value.actions] == ["Install Git 2.28 or newer"]


def test_a_worktree_entry_with_a_relative_gitdir_is_found_where_it_is(tmp_path: Path) -> None:
    project, common, lk = added(tmp_path)
    # Git 2.48's `worktree.useRelativePaths` writes the path relative to the administrative folder.
    (Path(lk.admin) / "gitdir").write_text(os.path.relpath(os.path.join(lk.path, ".git"), lk.admin) + "\n")
    [found] = wt.linked(common)
    assert found.path == lk.path and found.present
    assert wt.find(common, path=lk.path) == found


def test_a_worktree_on_a_folder_that_cannot_be_renamed_aside_is_deleted_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, common, lk = added(tmp_path)
    real_rename = os.rename

    def rename(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
        if os.fspath(src) == lk.path:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))  # the folder is on another file system
        real_rename(src, dst, *a, **kw)

    monkeypatch.setattr(os, "rename", rename)
    wt.remove(common, lk)
    monkeypatch.undo()
    assert wt.linked(common) == [] and not Path(lk.admin).exists()
    wait_gone(Path(lk.path))
    assert git(project, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_removing_a_worktree_git_already_pruned_deletes_just_its_folder(tmp_path: Path) -> None:
    project, common, lk = added(tmp_path)
    git(project, "worktree", "remove", "--force", lk.path)  # the admin entry and the folder: gone already
    Path(lk.path).mkdir()
    (Path(lk.path) / "left.txt").write_text("left")
    wt.remove(common, lk)
    wait_gone(Path(lk.path))
    assert wt.linked(common) == []


def test_an_admin_entry_that_cannot_be_deleted_keeps_its_head_so_git_still_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project, common, lk = added(tmp_path)
    real_unlink = os.unlink

    def unlink(path: Any, *a: Any, **kw: Any) -> None:
        if os.fspath(path) == os.path.join(lk.admin, "gitdir"):
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", unlink)
    wt.remove(common, lk)
    monkeypatch.undo()
    assert sorted(os.listdir(lk.admin)) == ["HEAD", "gitdir"]  # never an entry without its HEAD
    git(project, "worktree", "prune")  # Git removes it later: its folder is gone
    assert not Path(lk.admin).exists() and wt.linked(common) == []


def test_an_admin_entry_missing_its_gitdir_file_is_still_removed(tmp_path: Path) -> None:
    project, common, lk = added(tmp_path)
    os.unlink(os.path.join(lk.admin, "gitdir"))
    wt.remove(common, lk)
    assert not Path(lk.admin).exists()
    wait_gone(Path(lk.path))


def test_without_a_shell_a_removed_worktree_is_deleted_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project, common, lk = added(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no `sh` to run `rm` in the background
    wt.remove(common, lk)
    monkeypatch.undo()
    assert list((tmp_path / "wt").iterdir()) == []  # deleted before remove() returned
    assert wt.linked(common) == []


LINKS = {"README.md": "# p\n", "src/app.py": "app\n"}


def with_links(tmp_path: Path) -> wt.Linked:
    project = make_project(tmp_path / "p", LINKS)
    os.symlink("../../outside", project / "src" / "up")
    os.symlink("./app.py", project / "src" / "same")
    os.symlink("/etc/passwd", project / "abs")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "links")
    return wt.add(
        str(project / ".git"), str(tmp_path / "wt" / "d"), None, commit=git(project, "rev-parse", "HEAD").strip()
    )


def test_links_that_lead_out_are_found_from_a_split_index_and_from_links_missing_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lk = with_links(tmp_path)
    wt.in_tree(lk, ["update-index", "--split-index"])  # an index libgit2 cannot read: Git lists it
    os.unlink(os.path.join(lk.path, "src", "up"))  # not on disk: its target is read from its blob
    ignored: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", ignored.append)
    assert sorted(wt.escaping_links(lk)) == [b"abs", b"src/up"]
    gc.collect()
    assert ignored == []  # no "Exception ignored in: ... Index.__del__" printed on the user's terminal
    monkeypatch.undo()
    os.unlink(os.path.join(lk.admin, "index"))  # no index at all: nothing tracked, nothing escapes
    assert wt.escaping_links(lk) == []


@pytest.mark.parametrize(
    ("path", "target", "out"),
    [
        (b"a/b/link", b"./../c//d", False),
        (b"a/link", b"./../../x", True),
        (b"link", b".", False),
        (b"a/link", b"/abs", True),
    ],
)
def test_leaves_ignores_dots_and_empty_parts(path: bytes, target: bytes, out: bool) -> None:
    assert wt.leaves(path, target) is out


def test_hidden_paths_are_kept_out_of_the_folder_and_listed(tmp_path: Path) -> None:
    project, common, lk = added(tmp_path, {"README.md": "# p\n", "src/a.py": "a\n", "src/b.py": "b\n"})
    assert wt.hidden(lk) == []  # nothing hidden yet
    os.unlink(os.path.join(lk.path, "src", "b.py"))  # already out of the folder
    wt.hide(lk, [b"src/a.py", b"src/b.py"])
    assert wt.hidden(lk) == [b"src/a.py", b"src/b.py"]
    assert sorted(os.listdir(os.path.join(lk.path, "src"))) == []
    assert wt.in_tree(lk, ["status", "--porcelain"]) == b""  # skip-worktree: not deletions
    assert wt.index_entries(lk, []) == {}
    assert sorted(wt.index_entries(lk, [b"src/a.py", b"src/b.py"])) == [b"src/a.py", b"src/b.py"]
