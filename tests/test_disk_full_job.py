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
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import git, gitbench, make_project
from tests.provider_server import ProviderServer
from tests.test_crash_faults import drafts, rev
from tests.test_disk_full import Disk
from tests.test_provider_faults import error_of, open_bench

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


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    d = Disk(tmp_path / "disk")
    yield d
    d.unmount()


FILL = """
import pathlib
pathlib.Path("src/done.py").write_text("finished = True\\n")
pathlib.Path("docs/notes.md").write_text("written before the disk filled\\n")
with open("src/huge.bin", "wb") as fh:
    try:
        while True:
            fh.write(b"x" * 65536)
            fh.flush()
    except OSError as exc:
        print("the disk is full:", exc)
"""


def test_a_job_that_fills_the_disk_never_leaves_the_workbench_stuck(
    disk: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    if disk.mode != "tmpfs":
        pytest.skip("needs a real full disk (a tmpfs, as root): `ulimit -f` stops the job, not the disk")
    # The Workbench and the Drafts' worktrees (the job's folder) on the same small disk.
    monkeypatch.setenv("XDG_STATE_HOME", str(disk.root / "state"))
    repo = make_project(disk.root / "wb")
    assert gitbench(repo, "init").returncode == 0
    published = rev(repo, "main")

    res = gitbench(repo, "exec", "--json", "--", sys.executable, "-c", FILL)
    assert res.returncode == 13, res.stdout + res.stderr
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "disk-full" and "Traceback" not in res.stderr
    # The message names gitbench's own space and the job's folder, and the command that frees it.
    assert "gitbench's own files take" in err["message"] and ".git/gitbench" in err["message"], err["message"]
    assert "most of it src/huge.bin" in err["message"], err["message"]
    rm = next(a["command"] for a in err["actions"] if a["command"].startswith("rm "))
    (label,) = (r.rsplit("/", 1)[-1] for r in drafts(repo))
    job = label

    # Reads work on the full disk: the job's recovery waits, and they say so in one line.
    assert os.statvfs(disk.root).f_bavail == 0
    for args in READS:
        read = gitbench(repo, *args)
        said = read.stdout + read.stderr
        assert read.returncode == 0, f"{args}: exit {read.returncode}\n{said}"
        assert "Traceback" not in said
        if args[0] != "log":
            assert "waits to be recovered, but the disk is full" in said, said
        if args[-1] == "--json":
            json.loads(read.stdout)
        if args == ["status"]:
            assert "Where the space went" in said and rm in said, said
    assert rev(repo, "main") == published

    # Free the space as the message said: the next command records the job as it ended, with its finished files.
    path = shlex.split(rm)[1]
    assert path.endswith("src/huge.bin")
    os.remove(path)
    status = gitbench(repo, "status")
    assert status.returncode == 0, status.stderr
    assert f"Job {job} had stopped (disk-full)" in status.stdout, status.stdout
    record = json.loads(git(repo, "show", f"refs/gitbench/records:jobs/{job}.json"))
    assert record["status"] == "failed" and record["error"]["class"] == "disk-full", record
    assert record["error"]["code"] == "disk-full"
    draft = f"refs/heads/gitbench/draft/{label}"
    assert git(repo, "show", f"{draft}:src/done.py") == "finished = True\n"
    assert git(repo, "show", f"{draft}:docs/notes.md") == "written before the disk filled\n"
    assert "Gitbench-Status: disk-full" in git(repo, "log", "-1", "--format=%(trailers)", draft)
    assert rev(repo, "main") == published
    assert not (repo / ".git/gitbench/running" / f"{job}.json").exists()


def test_a_model_job_whose_record_did_not_fit_on_the_full_disk_is_recorded_disk_full_once_space_is_back(
    tmp_path: Path, provider: ProviderServer
) -> None:
    """The disk fills before batch 2 and the job's record does not fit either: the next command records the job
    as it ended (failed, disk-full), not as interrupted/internal, and resume finishes it."""
    with open_bench(tmp_path / "wb", provider) as b:
        before = b.published()
        # Records writes: the auto-checkpoint's, the job's start, batch 1's, then the failed job's (the 4th).
        res, data = b.ask(env={"GITBENCH_FAULT": "ask.before-step:enospc@2,records.before-ref:enospc@4"})
        err = error_of(res, data, 13)
        assert err["details"]["report_stored"] is False, err
        assert "records it as it ended (disk-full)" in err["details"]["notes"][-1], err
        status = b.run("status")
        assert status.returncode == 0 and "had stopped (disk-full)" in status.stdout, status.stdout
        report = b.report()
        assert report["status"] == "failed" and report["class"] == "disk-full", report
        assert [s["Gitbench-Step"] for s in b.steps()] == ["1/2 batch"]
        assert b.published() == before
        res, _ = b.resume()
        assert res.returncode == 0, res.stderr
        assert b.report()["status"] == "complete"
