"""gitbench/git/checkout.py in-process: the crash-safe mover of the checked-out files, against real repositories
made with the git CLI. What it refuses to touch (the user's files, a symlinked folder), what it writes (what
`git checkout` would), and how it goes back (rollback) or forward (finish) after a crash half way."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.git.checkout import FileMover, changes_from_json, changes_to_json
from gitbench.git.repo import GitRepo, TreeChange
from tests.conftest import git, make_project


@pytest.fixture
def wd(tmp_path: Path) -> Path:
    return make_project(tmp_path / "p", {"README.md": "# p\n", "a/one.txt": "one\n", "gone.txt": "bye\n"})


def commit_tree(wd: Path, edit: dict[str, str | None], symlinks: dict[str, str] | None = None) -> str:
    """A commit on a side branch with ``edit`` applied (None: deleted), leaving main and the folder as they were;
    returns its tree."""
    git(wd, "checkout", "-q", "-b", "side")
    for path, text in edit.items():
        if text is None:
            git(wd, "rm", "-q", "-r", path)
        else:
            (wd / path).parent.mkdir(parents=True, exist_ok=True)
            (wd / path).write_text(text)
    for path, target in (symlinks or {}).items():
        (wd / path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, wd / path)
    git(wd, "add", "-A")
    git(wd, "commit", "-q", "-m", "side")
    tree = git(wd, "rev-parse", "HEAD^{tree}").strip()
    git(wd, "checkout", "-q", "main")
    git(wd, "branch", "-q", "-D", "side")
    return tree


def changes(repo: GitRepo, new_tree: str) -> list[TreeChange]:
    return repo.diff_trees(repo.commit(repo.resolve("main") or "").tree, new_tree)


def mover(repo: GitRepo, tmp: Path) -> FileMover:
    return FileMover(repo, str(tmp / "txn"), "test")


def test_a_move_writes_files_symlinks_and_gitattributes_as_git_checkout_would_and_removes_emptied_folders(
    wd: Path, tmp_path: Path
) -> None:
    tree = commit_tree(
        wd,
        {".gitattributes": "*.txt eol=crlf\n", "b/new.txt": "new\n", "a/one.txt": None},
        symlinks={"link": "README.md"},
    )
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    assert changes_from_json(changes_to_json(todo)) == todo  # the journal's form reads back the same
    m = mover(repo, tmp_path)
    (wd / ".link.gitbench-tmp").write_text("a temp file a crash left")
    assert m.check(todo) == []
    m.apply(todo)
    assert (wd / "b" / "new.txt").read_bytes() == b"new\r\n"  # the new .gitattributes applied to it
    assert os.readlink(wd / "link") == "README.md"
    assert not (wd / "a").exists() and not (wd / ".link.gitbench-tmp").exists()
    assert all(m.matches(c.path, c.new) for c in todo)
    m.discard_backups()
    assert not (tmp_path / "txn").exists()


def test_check_names_every_path_whose_state_would_be_lost_or_escaped(wd: Path, tmp_path: Path) -> None:
    tree = commit_tree(
        wd,
        {"x/file.txt": "x\n", "y/file.txt": "y\n", "z/file.txt": "z\n", "README.md": "# new\n", "gone.txt": None},
    )
    repo = GitRepo(str(wd))
    (wd / "x").write_text("a file where a folder is needed")
    (wd / "elsewhere").mkdir()
    os.symlink(wd / "elsewhere", wd / "y")  # a planted symlink: writing through it would escape
    (wd / "z" / "file.txt").mkdir(parents=True)
    (wd / "z" / "file.txt" / "keep").write_text("the user's")
    git(wd, "add", "README.md")  # nothing staged yet: the same content
    (wd / "README.md").write_text("# new\n")
    git(wd, "add", "README.md")  # staged equal to the new content: fine
    (wd / "gone.txt").write_text("edited by hand\n")
    blocked = {b.path: b.reason for b in mover(repo, tmp_path).check(changes(repo, tree))}
    assert blocked == {
        "x/file.txt": "x is a file where a folder is needed",
        "y/file.txt": "folder y is a symlink",
        "z/file.txt": "a folder with files is in the way",
        "gone.txt": "edited since it was published",
    }
    assert not (wd / "elsewhere" / "file.txt").exists()


def test_a_file_deleted_in_the_same_move_may_become_a_folder_and_an_empty_folder_may_become_a_file(
    wd: Path, tmp_path: Path
) -> None:
    tree = commit_tree(wd, {"gone.txt": None, "gone.txt/inside.txt": "in\n", "empty": "now a file\n"})
    repo = GitRepo(str(wd))
    (wd / "empty").mkdir()
    todo = changes(repo, tree)
    m = mover(repo, tmp_path)
    assert m.check(todo) == []
    m.apply(todo)
    assert (wd / "gone.txt" / "inside.txt").read_text() == "in\n" and (wd / "empty").read_text() == "now a file\n"


def test_a_symlink_where_a_file_was_is_not_that_file_and_a_file_is_not_that_symlink(wd: Path, tmp_path: Path) -> None:
    tree = commit_tree(wd, {}, symlinks={"ln": "README.md"})
    repo = GitRepo(str(wd))
    [change] = changes(repo, tree)
    m = mover(repo, tmp_path)
    (wd / "ln").write_text("README.md")
    assert not m.matches("ln", change.new)  # a regular file is not the symlink, whatever it holds
    os.unlink(wd / "ln")
    os.symlink("elsewhere", wd / "ln")
    assert not m.matches("ln", change.new)
    assert not m.matches("README.md", repo.tree_entry(tree, "ln"))  # the symlink's entry on a regular file
    os.unlink(wd / "ln")
    os.mkdir(wd / "ln")
    assert not m.matches("ln", repo.tree_entry(tree, "README.md"))  # a folder is not a file


def test_rollback_puts_back_what_was_ours_and_leaves_what_the_user_edited(wd: Path, tmp_path: Path) -> None:
    tree = commit_tree(wd, {"README.md": "# new\n", "added.txt": "added\n", "a/one.txt": "ONE\n", "gone.txt": None})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    m = mover(repo, tmp_path)
    m.apply(todo)
    m.discard_backups()  # no backups left (a crash before they were made): rollback writes the old content
    (wd / "a" / "one.txt").write_text("the user's edit after the move\n")
    assert sorted(m.rollback(todo)) == ["a/one.txt"]
    assert (wd / "README.md").read_text() == "# p\n" and (wd / "gone.txt").read_text() == "bye\n"
    assert not (wd / "added.txt").exists()
    assert (wd / "a" / "one.txt").read_text() == "the user's edit after the move\n"  # never overwritten


def test_rollback_leaves_a_path_whose_folder_became_a_symlink(wd: Path, tmp_path: Path) -> None:
    tree = commit_tree(wd, {"a/one.txt": "ONE\n"})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    m = mover(repo, tmp_path)
    m.apply(todo)
    m.discard_backups()
    os.rename(wd / "a", wd / "a-moved")
    os.symlink(wd / "a-moved", wd / "a")
    assert m.rollback(todo) == ["a/one.txt"]
    assert (wd / "a-moved" / "one.txt").read_text() == "ONE\n"  # nothing written through the symlink


def test_finish_rolls_forward_what_is_still_old_and_leaves_the_user_s_edits(wd: Path, tmp_path: Path) -> None:
    tree = commit_tree(wd, {"README.md": "# new\n", "gone.txt": None, "a/one.txt": "ONE\n", "b.txt": "b\n"})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    m = mover(repo, tmp_path)
    # A crash half way: gone.txt's backup made, README.md's temp file written, nothing renamed yet.
    os.makedirs(tmp_path / "txn")
    number = [c.path for c in todo].index("gone.txt")
    os.link(wd / "gone.txt", tmp_path / "txn" / str(number))
    (wd / ".README.md.gitbench-tmp").write_text("# half")
    (wd / "a" / "one.txt").write_text("the user's edit\n")
    assert m.finish(todo) == ["a/one.txt"]
    assert (wd / "README.md").read_text() == "# new\n" and not (wd / ".README.md.gitbench-tmp").exists()
    assert not (wd / "gone.txt").exists() and (wd / "b.txt").read_text() == "b\n"
    assert (wd / "a" / "one.txt").read_text() == "the user's edit\n"


def test_an_executable_bit_the_entry_does_not_have_is_a_difference(wd: Path, tmp_path: Path) -> None:
    repo = GitRepo(str(wd))
    entry = repo.tree_entry(repo.commit(repo.resolve("main") or "").tree, "README.md")
    m = mover(repo, tmp_path)
    assert m.matches("README.md", entry)
    os.chmod(wd / "README.md", 0o755)
    assert not m.matches("README.md", entry)


def test_finish_refuses_to_write_through_a_folder_that_became_a_symlink(wd: Path, tmp_path: Path) -> None:
    tree = commit_tree(wd, {"a/one.txt": "ONE\n"})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    (tmp_path / "outside").mkdir()
    os.rename(wd / "a", tmp_path / "a-moved")
    os.symlink(tmp_path / "outside", wd / "a")
    with pytest.raises(errors.LocalChanges, match="Cannot write a/one.txt: a folder on its path is a symlink"):
        mover(repo, tmp_path).finish(todo)
    assert list((tmp_path / "outside").iterdir()) == []  # nothing written outside the Workbench


def test_a_folder_of_the_user_s_where_a_deleted_file_was_is_in_the_way_never_moved_away(
    wd: Path, tmp_path: Path
) -> None:
    tree = commit_tree(wd, {"gone.txt": None})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    os.unlink(wd / "gone.txt")
    (wd / "gone.txt").mkdir()
    (wd / "gone.txt" / "mine.txt").write_text("the user's\n")
    m = mover(repo, tmp_path)
    assert [(b.path, b.reason) for b in m.check(todo)] == [("gone.txt", "a folder with files is in the way")]
    (wd / "gone.txt" / "mine.txt").unlink()  # an empty folder: nothing to lose, the deletion goes ahead
    assert m.check(todo) == []


@pytest.fixture
def other_fs(tmp_path: Path) -> Iterator[Path]:
    """A folder on another file system than tmp_path (/dev/shm is a tmpfs): renames and hard links into it
    fail with EXDEV, as for a Workbench whose .git is on another disk."""
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system")
    folder = Path(tempfile.mkdtemp(dir="/dev/shm"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_journal_on_another_file_system_still_moves_the_files_without_backups(
    wd: Path, tmp_path: Path, other_fs: Path
) -> None:
    tree = commit_tree(wd, {"gone.txt": None, "README.md": "# new\n"})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    m = FileMover(repo, str(other_fs / "txn"), "test")
    assert m.check(todo) == []
    m.apply(todo)
    assert not (wd / "gone.txt").exists() and (wd / "README.md").read_text() == "# new\n"
    assert list((other_fs / "txn").iterdir()) == []  # no backup could be linked or renamed there
    assert all(m.matches(c.path, c.new) for c in todo)


def test_an_io_error_while_backing_a_file_up_stops_the_move_and_leaves_the_file(
    wd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = commit_tree(wd, {"README.md": "# new\n", "gone.txt": None})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    m = mover(repo, tmp_path)

    def fails(*_: object, **__: object) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "rename", fails)
    with pytest.raises(OSError, match="Input/output error"):
        m.apply([c for c in todo if c.path == "gone.txt"])
    monkeypatch.setattr(os, "link", fails)
    with pytest.raises(OSError, match="Input/output error"):
        m.apply([c for c in todo if c.path == "README.md"])
    monkeypatch.undo()
    assert (wd / "gone.txt").read_text() == "bye\n" and (wd / "README.md").read_text() == "# p\n"
    assert m.rollback(todo) == [] and git(wd, "status", "--porcelain") == ""


def test_a_symlink_planted_while_the_folder_is_made_stops_the_write(
    wd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = commit_tree(wd, {"new/deep/file.txt": "x\n"})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    (tmp_path / "outside").mkdir()
    real_makedirs = os.makedirs

    def makedirs(name: str, *a: object, **kw: object) -> None:
        if name == str(wd / "new" / "deep"):
            os.symlink(tmp_path / "outside", wd / "new")  # another process wins the race
        real_makedirs(name, *a, **kw)  # type: ignore[arg-type]

    m = mover(repo, tmp_path)
    assert m.check(todo) == []
    monkeypatch.setattr(os, "makedirs", makedirs)
    with pytest.raises(errors.LocalChanges, match="Cannot write new/deep/file.txt: a folder on its path is a symlink"):
        m.apply(todo)
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "outside").rglob("*")] == ["deep"]  # the folder, never the file


def test_rollback_writes_back_a_changed_file_that_is_gone(wd: Path, tmp_path: Path) -> None:
    tree = commit_tree(wd, {"README.md": "# new\n"})
    repo = GitRepo(str(wd))
    todo = changes(repo, tree)
    m = mover(repo, tmp_path)
    m.apply(todo)
    m.discard_backups()  # a crash: no backup left
    (wd / "README.md").unlink()
    assert m.rollback(todo) == []
    assert (wd / "README.md").read_text() == "# p\n"
