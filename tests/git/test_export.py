"""gitbench/git/export.py in-process against real repositories: a module's folder holds exactly the in-scope
files of a tree, and what a command did in it is captured with every unsafe change refused and reported,
never committed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitbench.git.export import capture, export, read_paths
from gitbench.git.objects import Mode
from gitbench.git.repo import GitRepo
from gitbench.scope import Scope
from tests.conftest import git, make_project


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    files = {"README.md": "# p\n", "src/app.py": "app\n", "src/lib/util.py": "util\n", "docs/guide.md": "guide\n"}
    return GitRepo(str(make_project(tmp_path / "p", files)))


def tree(repo: GitRepo) -> str:
    return repo.commit(repo.resolve("main") or "").tree


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_scope_of_plain_paths_exports_just_those_files_and_folders(repo: GitRepo, tmp_path: Path) -> None:
    folder = tmp_path / "module"
    folder.mkdir()
    (folder / "stale.txt").write_text("from a run before")  # the folder is made afresh
    scope = Scope.of(["src/lib", "README.md", "src/lib/util.py", "no/such/file"])
    snap = export(repo, tree(repo), str(folder), scope)
    assert files(folder) == ["README.md", "src/lib/util.py"] == sorted(snap)
    assert (folder / "src" / "lib" / "util.py").read_text() == "util\n"


def test_a_glob_scope_exports_the_files_it_allows(repo: GitRepo, tmp_path: Path) -> None:
    folder = tmp_path / "module"
    export(repo, tree(repo), str(folder), Scope.of(["src/**/*.py"]))
    assert files(folder) == ["src/app.py", "src/lib/util.py"]


def test_what_a_command_did_is_captured_and_every_unsafe_change_is_refused(repo: GitRepo, tmp_path: Path) -> None:
    folder = tmp_path / "module"
    snap = export(repo, tree(repo), str(folder), Scope.of(["src/**", "README.md"]))
    (folder / "src" / "app.py").write_text("app, changed\n")
    (folder / "README.md").unlink()
    (folder / "src" / "new.py").write_text("new\n")
    os.symlink("app.py", folder / "src" / "link.py")  # inside: kept as a symlink
    os.symlink("/etc", folder / "src" / "etc")  # a folder symlink out of the Workbench: judged as a file
    os.symlink("../../outside", folder / "src" / "up.py")
    os.mkfifo(folder / "src" / "pipe")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    (folder / "docs").mkdir()
    (folder / "docs" / "new.md").write_text("outside the scope\n")
    (folder / "src" / "back\\slash.py").write_text("x")
    os.mkdir(os.fsencode(folder / "src") + b"/bad-\xff-name")
    (Path(os.fsdecode(os.fsencode(folder / "src") + b"/bad-\xff-name")) / "f.py").write_text("x")

    cap = capture(repo, str(folder), snap, Scope.of(["src/**", "README.md"]))
    assert sorted(cap.changes) == ["README.md", "src/app.py", "src/link.py", "src/new.py"]
    assert cap.changes["README.md"] is None
    assert git(repo.workdir or "", "cat-file", "-p", cap.changes["src/app.py"].oid) == "app, changed\n"  # type: ignore[union-attr]
    link = cap.changes["src/link.py"]
    assert link is not None and link.mode == Mode.SYMLINK
    refused = dict(cap.refused)
    assert refused[".git/"] == "writes into .git"
    assert refused["src/etc"] == "symlink pointing outside the Workbench (/etc)"
    assert refused["src/up.py"] == "symlink pointing outside the Workbench (../../outside)"
    assert refused["src/pipe"] == "not a regular file (a pipe, socket or device)"
    assert refused["docs/new.md"] == "outside the job's scope (--files)"
    assert refused["src/back\\slash.py"] == "path contains a backslash"
    assert refused["src/bad-\\xff-name/f.py"] == "the file name is not valid UTF-8"
    assert len(refused) == 7


def test_read_paths_reads_the_files_named_with_the_same_checks(repo: GitRepo, tmp_path: Path) -> None:
    root = Path(repo.workdir or "")
    os.mkfifo(root / "pipe")
    cap = read_paths(repo, str(root), ["src/app.py", "gone.txt", "README.md/inside", "../up", "pipe"])
    assert sorted(cap.changes) == ["README.md/inside", "gone.txt", "src/app.py"]
    assert cap.changes["gone.txt"] is None and cap.changes["README.md/inside"] is None  # a file where a folder is
    assert cap.changes["src/app.py"] == repo.tree_entry(tree(repo), "src/app.py")
    assert dict(cap.refused) == {
        "../up": "path climbs out with '..'",
        "pipe": "not a regular file (a pipe, socket or device)",
    }
