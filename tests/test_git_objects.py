"""Tree entries as values (gitbench/git/objects.py): a ``Mode`` and an ``Entry`` that the Git layer hands out and
takes back, with Git's own numbers, so they read, compare and write to JSON as the ``(oid, mode)`` pairs that
journals already hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitbench.git.checkout import changes_from_json, changes_to_json
from gitbench.git.objects import Entry, Mode
from gitbench.git.repo import GitRepo
from tests.conftest import git, make_project


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        (0o040000, Mode.TREE),
        (0o100644, Mode.REGULAR),
        (0o100755, Mode.EXECUTABLE),
        (0o120000, Mode.SYMLINK),
        (0o160000, Mode.GITLINK),
        (0o100664, Mode.REGULAR),  # a group-writable file of an old Git: libgit2 and Git read it as a file
        (0o100775, Mode.EXECUTABLE),
    ],
)
def test_a_raw_mode_reads_as_the_kind_git_gives_it(raw: int, mode: Mode) -> None:
    assert Mode.of(raw) is mode and Mode(raw) is mode
    assert f"{Mode.of(raw):o}" == f"{mode.value:o}"  # written as Git writes it (`git update-index --index-info`)


def test_a_number_that_is_no_mode_is_refused() -> None:
    with pytest.raises(ValueError):
        Mode.of(0o070000)


def test_files_executable_or_not_are_one_kind_and_a_change_of_kind_is_not() -> None:
    assert Mode.REGULAR.same_kind(Mode.EXECUTABLE) and Mode.SYMLINK.same_kind(Mode.SYMLINK)
    assert not Mode.REGULAR.same_kind(Mode.SYMLINK) and not Mode.GITLINK.same_kind(Mode.REGULAR)
    assert [m for m in Mode if m.is_file] == [Mode.REGULAR, Mode.EXECUTABLE]
    assert [m for m in Mode if m.is_blob] == [Mode.REGULAR, Mode.EXECUTABLE, Mode.SYMLINK]


def test_an_entry_compares_and_writes_to_json_as_the_pair_a_journal_holds() -> None:
    entry = Entry.file("a" * 40, executable=True)
    assert entry == ("a" * 40, 0o100755) and entry.oid == "a" * 40 and entry.mode is Mode.EXECUTABLE
    assert json.loads(json.dumps(entry)) == ["a" * 40, 0o100755]
    assert Entry.of("a" * 40, 0o100755) == entry and hash(Entry.of("a" * 40, 33261)) == hash(entry)


def test_the_git_layer_hands_out_entries_and_takes_them_back(tmp_path: Path) -> None:
    path = make_project(tmp_path / "p", {"src/a.py": "A = 1\n", "run.sh": "#!/bin/sh\n"})
    os.chmod(path / "run.sh", 0o755)
    os.symlink("src/a.py", path / "link")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "files of every kind")
    repo = GitRepo(str(path))
    tree = repo.commit(str(repo.ref("refs/heads/main"))).tree
    kinds = {p: repo.tree_entry(tree, p) for p in ("src", "src/a.py", "run.sh", "link", "missing")}
    assert {p: e.mode if e else None for p, e in kinds.items()} == {
        "src": Mode.TREE,
        "src/a.py": Mode.REGULAR,
        "run.sh": Mode.EXECUTABLE,
        "link": Mode.SYMLINK,
        "missing": None,
    }
    assert all(type(m) is Mode for _, _, m in repo.walk_tree(tree))
    link = kinds["link"]
    assert link is not None and repo.blob(link.oid) == b"src/a.py"

    # a file that becomes executable is one change; a file that becomes a symlink is a delete and an add
    changes = {
        "run.sh": Entry.file(repo.create_blob(b"#!/bin/sh\n")),
        "src/a.py": Entry(repo.create_blob(b"run.sh"), Mode.SYMLINK),
        "new.txt": Entry.file(repo.create_blob(b"new\n")),
        "link": None,
    }
    after = repo.tree_with_changes(tree, changes)
    diff = repo.diff_trees(tree, after)
    assert [(c.path, c.old is not None, c.new is not None) for c in diff] == [
        ("link", True, False),
        ("new.txt", False, True),
        ("run.sh", True, True),
        ("src/a.py", True, False),
        ("src/a.py", False, True),
    ]
    assert all(type(e) is Entry for c in diff for e in (c.old, c.new) if e is not None)
    assert changes_from_json(json.loads(json.dumps(changes_to_json(diff)))) == diff  # a transaction's file
    assert git(path, "ls-tree", after, "run.sh").split()[0] == "100644"

    out = tmp_path / "out"
    out.mkdir()
    repo.write_entry(str(out / "run.sh"), kinds["run.sh"] or Entry.file(""), as_path="run.sh")
    repo.write_entry(str(out / "link"), link, as_path="link")
    assert os.access(out / "run.sh", os.X_OK) and os.readlink(out / "link") == "src/a.py"
