"""add / rm / extract: file operations on Published, one commit each (extract makes none), blocked while a
Draft exists (seed 003 "File operations blocked while Draft exists"), and never writing out of the Workbench
or into .git."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import Snapshot, check_invariants, git, gitbench


def one_commit(wb: Path, before: Snapshot, op: str, files: list[str]) -> None:
    """Published moved by exactly one commit, carrying the operation's trailers; the folder is clean."""
    head = git(wb, "rev-parse", "main").strip()
    assert git(wb, "rev-parse", "main~1").strip() == before.published
    assert git(wb, "log", "-1", "--format=%(trailers:key=Gitbench-Operation,valueonly)", head).strip() == op
    listed = git(wb, "log", "-1", "--format=%(trailers:key=Gitbench-Files,valueonly)", head).strip().split(", ")
    assert sorted(listed) == sorted(files)
    assert git(wb, "status", "--porcelain") == "", "the checked-out folder disagrees with Published"
    check_invariants(wb, before)


def tree(wb: Path) -> set[str]:
    return set(git(wb, "ls-tree", "-r", "--name-only", "main").split())


def test_add_a_file_inside_the_workbench(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    (workbench / "notes.txt").write_bytes(b"my notes\n")
    res = gitbench(workbench, "add", "notes.txt")
    assert res.returncode == 0, res.stderr
    assert git(workbench, "show", "main:notes.txt") == "my notes\n"
    one_commit(workbench, before, "add", ["notes.txt"])


def test_add_a_file_from_outside_copies_it_into_the_folder_given_by_to(workbench: Path, tmp_path: Path) -> None:
    before = Snapshot.take(workbench)
    outside = tmp_path / "elsewhere" / "data.csv"
    outside.parent.mkdir()
    outside.write_bytes(b"a,b\n1,2\n")
    res = gitbench(workbench, "add", str(outside), "--to", "data")
    assert res.returncode == 0, res.stderr
    assert (workbench / "data/data.csv").read_bytes() == b"a,b\n1,2\n"
    assert outside.read_bytes() == b"a,b\n1,2\n"
    one_commit(workbench, before, "add", ["data/data.csv"])


def test_add_a_folder_adds_every_file_below_it(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    (workbench / "assets/icons").mkdir(parents=True)
    (workbench / "assets/logo.svg").write_text("<svg/>\n")
    (workbench / "assets/icons/a.svg").write_text("<svg id='a'/>\n")
    res = gitbench(workbench, "add", "assets")
    assert res.returncode == 0, res.stderr
    assert {"assets/logo.svg", "assets/icons/a.svg"} <= tree(workbench)
    one_commit(workbench, before, "add", ["assets/icons/a.svg", "assets/logo.svg"])


@pytest.mark.parametrize(("path", "gone"), [("README.md", ["README.md"]), ("docs", ["docs/guide.md"])])
def test_rm_a_file_or_a_folder(workbench: Path, path: str, gone: list[str]) -> None:
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "rm", path)
    assert res.returncode == 0, res.stderr
    assert not (workbench / path).exists()
    assert not set(gone) & tree(workbench)
    one_commit(workbench, before, "rm", gone)


def test_extract_a_file_and_a_folder_and_refuse_to_overwrite_without_force(workbench: Path, tmp_path: Path) -> None:
    before = Snapshot.take(workbench)
    dest = tmp_path / "out"
    dest.mkdir()
    assert gitbench(workbench, "extract", "src/app.py", str(dest)).returncode == 0
    assert gitbench(workbench, "extract", "docs", str(dest / "docs")).returncode == 0
    assert (dest / "app.py").read_text() == "print('hello')\n"
    assert (dest / "docs/guide.md").read_text() == "guide\n"
    assert git(workbench, "rev-parse", "main").strip() == before.published, "extract must not commit"
    check_invariants(workbench, before, published_may_change=False)

    (dest / "app.py").write_text("changed out here\n")
    for args in (("src/app.py", str(dest)), ("docs", str(dest / "docs"))):
        res = gitbench(workbench, "extract", *args, "--json")
        assert res.returncode == 2, res.stdout + res.stderr
        error = json.loads(res.stdout)["error"]
        assert "overwrite" in error["message"] and "--force" in error["actions"][0]["command"]
    assert (dest / "app.py").read_text() == "changed out here\n"

    assert gitbench(workbench, "extract", "src/app.py", str(dest), "--force").returncode == 0
    assert (dest / "app.py").read_text() == "print('hello')\n"
    check_invariants(workbench, before, published_may_change=False)


def test_add_rm_and_extract_are_blocked_while_a_draft_exists(workbench: Path, tmp_path: Path) -> None:
    edit = "import pathlib; pathlib.Path('src/app.py').write_text('print(1)\\n')"
    assert gitbench(workbench, "exec", "--files", "src/**", "--", sys.executable, "-c", edit).returncode == 0
    before = Snapshot.take(workbench)
    (workbench / "notes.txt").write_text("notes\n")
    for args in (("add", "notes.txt"), ("rm", "README.md"), ("extract", "README.md", str(tmp_path / "out.md"))):
        res = gitbench(workbench, *args, "--json")
        assert res.returncode == 4, res.stdout + res.stderr
        error = json.loads(res.stdout)["error"]
        assert error["code"] == "draft-open"
        assert {"gitbench publish", "gitbench discard --yes"} <= {a["command"] for a in error["actions"]}
    assert not (tmp_path / "out.md").exists()
    assert (workbench / "README.md").read_text() == "# project\n"
    check_invariants(workbench, before, published_may_change=False)
    (workbench / "notes.txt").unlink()


def test_rm_of_a_locally_edited_file_is_refused_and_the_edit_kept(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    (workbench / "README.md").write_bytes(b"# project\nmy edit\n")
    res = gitbench(workbench, "rm", "README.md", "--json")
    assert res.returncode == 7, res.stdout + res.stderr
    assert "README.md" in json.loads(res.stdout)["error"]["message"]
    assert (workbench / "README.md").read_bytes() == b"# project\nmy edit\n"
    check_invariants(workbench, before, published_may_change=False, allow_local_edits=True)
    git(workbench, "checkout", "--", "README.md")


@pytest.mark.parametrize(
    "args",
    [
        ("add", "{outside}", "--to", "../escaped"),
        ("add", "{outside}", "--to", ".git/hooks"),
        ("add", ".git/config"),
        ("add", "src/../.git/HEAD"),
        ("add", "."),
        ("rm", "../project"),
        ("rm", ".git/config"),
        ("extract", "../x", "{dest}"),
    ],
    ids=lambda a: " ".join(a).replace("{outside}", "OUT").replace("{dest}", "DEST"),
)
def test_paths_out_of_the_workbench_or_into_git_are_refused(
    workbench: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    outside = tmp_path / "hook.sh"
    outside.write_text("#!/bin/sh\n")
    dest = tmp_path / "dest"
    before = Snapshot.take(workbench)
    gitdir = {p.name: p.read_bytes() for p in (workbench / ".git").iterdir() if p.is_file()}
    res = gitbench(workbench, *(a.format(outside=outside, dest=dest) for a in args), "--json")
    assert res.returncode == 2, res.stdout + res.stderr
    assert json.loads(res.stdout)["error"]["code"] == "usage"
    assert not (tmp_path / "escaped").exists() and not (workbench / ".git/hooks/hook.sh").exists()
    assert not dest.exists()
    assert {p.name: p.read_bytes() for p in (workbench / ".git").iterdir() if p.is_file()} == gitdir
    check_invariants(workbench, before, published_may_change=False)


def test_add_of_an_outside_path_with_dotdot_copies_it_in_and_writes_nothing_outside(workbench: Path) -> None:
    outside = workbench.parent / "x.txt"
    outside.write_text("from next door\n")
    before = Snapshot.take(workbench)
    res = gitbench(workbench / "src", "add", "../../x.txt")
    assert res.returncode == 0, res.stderr
    assert (workbench / "x.txt").read_text() == "from next door\n"
    assert outside.read_text() == "from next door\n"
    one_commit(workbench, before, "add", ["x.txt"])
