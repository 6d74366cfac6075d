"""A job that fills the disk, and reads on a disk that cannot be written: the Workbench is never stuck.

Reads (``status``, ``review``, ``log``, ``checkpoints`` and their ``--json``) work on a full disk and on a
read-only ``.git/gitbench``: recovery that needs a write waits for the next command that can write, and the read
says so in one line. A job stopped by a full disk says where the space went and what frees it, keeps its class
(disk-full, exit 13) in its record, and the files it had finished are kept: the next command once space is back
commits them to its Draft.

As root the full disk is a real 4 MiB tmpfs (tests/test_disk_full.py's Disk) and the read-only folder a
read-only bind mount (root ignores permissions); without root, ``chmod -w`` and ``ulimit -f``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git, gitbench, make_project
from tests.test_crash_faults import drafts, rev

READS = [["status"], ["status", "--json"], ["review"], ["review", "--json"], ["log"], ["checkpoints", "--json"]]


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, list[Path]]]:
    """A Workbench, and the folders that are made read-only (undone after the test)."""
    repo = make_project(tmp_path / "wb")
    assert gitbench(repo, "init").returncode == 0
    made: list[Path] = []
    yield repo, made
    for folder in made:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


def make_read_only(folder: Path, made: list[Path]) -> None:
    if os.geteuid() == 0:  # root writes through permissions: a read-only bind mount refuses it (EROFS)
        assert subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
        made.append(folder)
        res = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    else:
        folder.chmod(0o555)
        made.append(folder)


def test_reads_work_on_a_read_only_gitbench_folder_and_say_writes_are_not_possible(
    read_only: tuple[Path, list[Path]],
) -> None:
    repo, made = read_only
    before = rev(repo, "main")
    # A publish killed half way: its recovery needs a write, which the read-only folder refuses.
    (repo / "src/app.py").write_text("print(2)\n")
    assert gitbench(repo, "exec", "--", sys.executable, "-c", "open('docs/guide.md','w').write('new')").returncode == 0
    git(repo, "checkout", "-q", "--", "src/app.py")
    killed = gitbench(repo, "publish", env={"GITBENCH_FAULT": "publish.before-index:kill"})
    assert killed.returncode < 0 and (repo / ".git/gitbench/journal.json").exists()
    make_read_only(repo / ".git/gitbench", made)
    for args in READS:
        res = gitbench(repo, *args)
        said = res.stdout + res.stderr
        assert res.returncode == 0, f"{args}: exit {res.returncode}\n{said}"
        assert "Traceback" not in said
        if args[0] in ("status", "review", "checkpoints"):
            assert "waits to be recovered" in said and "cannot be written" in said, said
        if args[-1] == "--json":
            json.loads(res.stdout)
        if args == ["status"]:
            assert "gitbench cannot write in" in said and "read-only" in said, said
    changed = gitbench(repo, "checkpoint", "-m", "no")
    assert changed.returncode != 0 and "Traceback" not in changed.stderr
    # Writable again: the next command rolls the publish back.
    for folder in made:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True) if os.geteuid() == 0 else folder.chmod(0o755)
    made.clear()
    status_after = gitbench(repo, "status")
    assert status_after.returncode == 0 and "Rolled back an interrupted publish" in status_after.stdout
    assert rev(repo, "main") == before and drafts(repo)
