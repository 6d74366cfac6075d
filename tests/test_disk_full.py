"""A real full disk: publish, exec, checkpoint and restore on a nearly full tmpfs.

As root, each test mounts a 4 MiB tmpfs, copies a Workbench onto it, and fills the disk with a filler file so
that only a few bytes, or enough for part of the operation, are left. The operation must then stop with
exit 13 and say to free space, leave Published as it was or completely moved, keep the Draft, and keep the
invariants; once the filler is deleted, the next command recovers and the same operation succeeds.

Without root (no mount), the same runs use ``ulimit -f`` instead (writes past the limit fail with EFBIG, which
gitbench treats as a full disk), and the test says so in its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import git, gitbench, make_project, nth_checkpoint
from tests.invariants import Snapshot, check_invariants
from tests.test_crash_faults import drafts, leftovers, rev, sealed

pytestmark = pytest.mark.slow

BIG = 120 * 1024  # two files this size in the Draft: a margin below them fails inside the file moves
# Bytes left free: none (the lock file cannot be written); 64 KiB (publish/restore fail in the first big file,
# exec while exporting the Draft's folder); 300 KiB (publish/restore fail at the index step, where libgit2
# writes each file again as a temporary object; exec at its step commit, which pygit2 reports as written).
MARGINS = [0, 64 * 1024, 300 * 1024]
EDIT = f"""
import os, pathlib
pathlib.Path("data/big1.bin").write_bytes(os.urandom({BIG}))
pathlib.Path("data/big2.bin").write_bytes(os.urandom({BIG}))
os.remove("old/only.md")
pathlib.Path("new").mkdir()
pathlib.Path("new/x.txt").write_text("x\\n")
"""


@dataclass
class Template:
    draft: Path  # a Draft is open (the EDIT job); the first checkpoint is the initial state
    published: Path  # the Draft published; the first checkpoint is the initial state


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    base = tmp_path_factory.mktemp("disk-template")
    with sealed(base / "home"):
        draft = make_project(
            base / "draft",
            {
                "README.md": "# p\n",
                "src/app.py": "print(1)\n",
                "old/only.md": "only\n",
                "data/big1.bin": "1",
                "data/big2.bin": "2",
            },
        )
        (draft / "data/big1.bin").write_bytes(os.urandom(BIG))
        (draft / "data/big2.bin").write_bytes(os.urandom(BIG))
        git(draft, "commit", "-qam", "big files")
        assert gitbench(draft, "init").returncode == 0
        res = gitbench(draft, "exec", "--", sys.executable, "-c", EDIT)
        assert res.returncode == 0, res.stderr
        published = base / "published"
        shutil.copytree(draft, published, symlinks=True)
        assert gitbench(published, "publish").returncode == 0
        yield Template(draft, published)


class Disk:
    """A small real file system (tmpfs, as root) filled to a margin; or ulimit -f where mounting is refused."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"
        self.limit_kb: int | None = None
        root.mkdir(parents=True, exist_ok=True)
        mounted = (
            os.geteuid() == 0
            and subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(root)], capture_output=True
            ).returncode
            == 0
        )
        self.mode = "tmpfs" if mounted else "ulimit"
        if not mounted:
            print(
                f"\nnote: cannot mount a tmpfs here (not root, or mount refused): using `ulimit -f` (EFBIG) "
                f"instead of a real full disk in {root}"
            )

    def unmount(self) -> None:
        if self.mode == "tmpfs":
            subprocess.run(["umount", "-l", str(self.root)], capture_output=True)

    def fill(self, margin: int) -> None:
        """Leave only ``margin`` bytes free."""
        if self.mode == "ulimit":
            self.limit_kb = margin // 1024
            return
        st = os.statvfs(self.root)
        size = st.f_bavail * st.f_frsize - margin
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if size > 0:
                os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
        st = os.statvfs(self.root)
        assert st.f_bavail * st.f_frsize <= margin + 4096, "the disk is not as full as asked"

    def free(self) -> None:
        self.limit_kb = None
        if self.filler.exists():
            self.filler.unlink()

    def run(self, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
        if self.limit_kb is None:
            return gitbench(repo, *args)
        script = f'ulimit -f {self.limit_kb}; exec "$@"'
        return subprocess.run(
            ["bash", "-c", script, "bash", sys.executable, "-m", "gitbench", *args],
            cwd=repo,
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=120,
        )


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    d = Disk(tmp_path / "disk")
    yield d
    d.unmount()


def attempt(disk: Disk, source: Path, args: list[str], margin: int) -> tuple[str, Path, Snapshot]:
    """Copy the Workbench onto the disk, fill it, run the command; check what a full disk may and may not do."""
    disk.free()
    repo = disk.root / "wb"
    if repo.exists():
        shutil.rmtree(repo)
    shutil.copytree(source, repo, symlinks=True)
    before = Snapshot.take(repo)
    disk.fill(margin)
    res = disk.run(repo, *args)
    said = res.stdout + res.stderr
    assert "Traceback" not in said, said
    published = rev(repo, "main")
    # The exit code says what happened to Published: moved, 0 or 25 (published-unfinished); not moved, 0 or 13.
    allowed = (0, 25) if published != rev(source, "main") else (0, 13)
    assert res.returncode in allowed, f"{' '.join(args)} with {margin} bytes free: exit {res.returncode}\n{said}"
    if res.returncode in (13, 25):
        assert "free" in res.stderr.lower() and "space" in res.stderr.lower(), f"no advice to free space:\n{said}"
    for ref, oid in before.drafts.items():  # the Draft is intact, or it was published
        assert drafts(repo).get(ref) == oid or published == oid, f"the Draft was lost:\n{said}"
    if not (repo / ".git/gitbench/journal.json").exists():
        # Rolled back in-process (or finished): the invariants hold even before any space is freed.
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("GIT_OPTIONAL_LOCKS", "0")  # `git status` must not try to refresh the index on a full disk
            check_invariants(repo, before, published_may_change=True)
    where = res.stderr.split("│")[1].strip()[:60] if res.returncode and "│" in res.stderr else ""
    return ("completed" if res.returncode == 0 else f"disk-full ({where})"), repo, before


def recover_and_retry(disk: Disk, repo: Path, before: Snapshot, args: list[str], done: bool) -> None:
    """Free the space: the next command recovers, and the same command now succeeds."""
    disk.free()
    status = gitbench(repo, "status")
    assert status.returncode == 0, status.stderr
    check_invariants(repo, before, published_may_change=True)
    assert not leftovers(repo), leftovers(repo)
    if not done:
        res = gitbench(repo, *args)
        assert res.returncode == 0, f"{' '.join(args)} after freeing space: exit {res.returncode}\n{res.stderr}"
        check_invariants(repo, before, published_may_change=True)


def sweep(disk: Disk, source: Path, args: list[str], new: str | None = None, margins: list[int] = MARGINS) -> list[str]:
    outcomes = []
    for margin in margins:
        outcome, repo, before = attempt(disk, source, args, margin)
        published = rev(repo, "main")
        assert published in (before.published, new), f"Published is {published}: neither old nor new"
        outcomes.append(f"{margin // 1024}k free: {outcome}")
        recover_and_retry(disk, repo, before, args, outcome == "completed" and published == (new or published))
    print(f"\n{disk.mode}: gitbench {args[0]}: " + "; ".join(outcomes))
    assert any("disk-full" in o for o in outcomes), "the disk never filled up"
    return outcomes


def test_publish_on_a_full_disk_stops_with_exit_13_and_succeeds_once_space_is_freed(
    template: Template, disk: Disk
) -> None:
    head = next(iter(drafts(template.draft).values()))
    sweep(disk, template.draft, ["publish"], new=head)
    repo = disk.root / "wb"
    assert rev(repo, "main") == head and not drafts(repo)
    assert not (repo / "old").exists() and (repo / "new/x.txt").exists()


def test_exec_on_a_full_disk_stops_with_exit_13_and_runs_once_space_is_freed(template: Template, disk: Disk) -> None:
    # A job stopped by the full disk keeps its Draft; the retry a user runs (the report says so) discards it.
    edit = "import pathlib; pathlib.Path('src/app.py').write_text('2')"
    sweep(disk, template.published, ["exec", "--on-draft", "discard", "--", sys.executable, "-c", edit])
    repo = disk.root / "wb"
    assert len(drafts(repo)) == 1


def test_checkpoint_on_a_full_disk_stops_with_exit_13_and_is_taken_once_space_is_freed(
    template: Template, disk: Disk
) -> None:
    # 4 KiB free: the lock file fits, the tag object does not (libgit2 then says only "failed to create tag
    # annotation"); 12 KiB: the checkpoint is taken.
    sweep(disk, template.published, ["checkpoint", "-m", "on a full disk"], margins=[0, 4096, 12 * 1024])
    tags = git(disk.root / "wb", "tag", "-n1", "-l", "checkpoint/*")
    assert "on a full disk" in tags


def test_restore_on_a_full_disk_stops_with_exit_13_and_restores_once_space_is_freed(
    template: Template, disk: Disk
) -> None:
    name = nth_checkpoint(template.published, 1)
    first = git(template.published, "rev-parse", name + "^{commit}").strip()
    sweep(disk, template.published, ["restore", name, "--yes"], new=first)
    repo = disk.root / "wb"
    assert rev(repo, "main") == first
    assert (repo / "old/only.md").exists() and not (repo / "new").exists()


def test_a_publish_killed_half_way_rolls_back_on_a_full_disk(template: Template, disk: Disk) -> None:
    """Rolling back costs no space (the old files were kept as hard links), so it works on a full disk."""
    repo = disk.root / "wb"
    shutil.copytree(template.draft, repo, symlinks=True)
    before = Snapshot.take(repo)
    killed = gitbench(repo, "publish", env={"GITBENCH_FAULT": "publish.before-index:kill"})
    assert killed.returncode < 0 and (repo / ".git/gitbench/journal.json").exists()
    # ulimit -f limits each file, not the disk, and the index step has libgit2 write each restored file again
    # as a temporary object: there the limit must let a file of the Workbench through.
    disk.fill(0 if disk.mode == "tmpfs" else 2 * BIG)
    status = disk.run(repo, "status")
    assert status.returncode == 0, status.stderr
    assert "Rolled back an interrupted publish" in status.stdout
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GIT_OPTIONAL_LOCKS", "0")
        check_invariants(repo, before, published_may_change=False)
    assert drafts(repo) == before.drafts
    disk.free()
    assert gitbench(repo, "publish").returncode == 0
    check_invariants(repo, before, published_may_change=True)


def test_a_publish_stopped_after_its_commit_point_waits_for_space_then_finishes(template: Template, disk: Disk) -> None:
    """Published moved, then the disk filled: the publish says it moved Published (25, published-unfinished) and
    to free space; reads go on (the publish waits, and they say so), changes say to free space (13) and lose
    nothing; once space is freed the next command finishes the publish."""
    repo = disk.root / "wb"
    shutil.copytree(template.draft, repo, symlinks=True)
    before = Snapshot.take(repo)
    head = next(iter(before.drafts.values()))
    stopped = gitbench(repo, "publish", env={"GITBENCH_FAULT": "publish.after-ref:enospc"})
    assert stopped.returncode == 25 and "free" in stopped.stderr.lower(), stopped.stderr
    assert "moved Published" in " ".join(stopped.stderr.replace("│", " ").split())
    assert rev(repo, "main") == head
    disk.fill(0)
    # Reads work on the full disk and say in one line that the publish waits for space; a change says to free it.
    for args in (["status"], ["status", "--json"], ["review"], ["checkpoints", "--json"]):
        res = disk.run(repo, *args)
        assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stderr}"
        assert "waits to be recovered, but the disk is full" in res.stdout + res.stderr, res.stdout + res.stderr
    res = disk.run(repo, "publish")
    assert res.returncode == 13, f"publish: exit {res.returncode}\n{res.stderr}"
    assert "free" in res.stderr.lower() and "Traceback" not in res.stderr
    assert rev(repo, "main") == head
    disk.free()
    status = gitbench(repo, "status")
    assert status.returncode == 0 and "Finished an interrupted publish" in status.stdout, status.stdout
    check_invariants(repo, before, published_may_change=True)
    assert not drafts(repo) and rev(repo, "main") == head
