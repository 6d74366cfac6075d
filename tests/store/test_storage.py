"""gitbench/store/storage.py: the disk a Workbench's .git takes, as the file system counts it."""

from __future__ import annotations

from pathlib import Path

from gitbench.store import storage
from tests.conftest import git, make_project


def test_exact_measure_counts_loose_objects_and_packs_as_git_does(tmp_path: Path) -> None:
    wd = make_project(tmp_path / "p")
    gitdir = str(wd / ".git")
    loose = storage.measure(gitdir, exact=True)
    counted = dict(line.split(": ") for line in git(wd, "count-objects", "-v").splitlines())
    assert loose.loose_objects == int(counted["count"])
    assert loose.packs == 0 and not loose.estimate
    assert loose.git_bytes >= loose.objects_bytes > 0
    git(wd, "gc", "-q")
    packed = storage.measure(gitdir, exact=True)
    assert packed.packs == 1 and packed.loose_objects == 0


def test_human_sizes() -> None:
    assert [storage.human(n) for n in (0, 999, 1000, 12_345, 4_500_000, 1_200_000_000, 5 * 10**12)] == [
        "0 B",
        "999 B",
        "1.0 kB",
        "12.3 kB",
        "4.5 MB",
        "1.2 GB",
        "5000.0 GB",
    ]


def test_a_large_store_is_estimated_from_a_sample_and_files_of_writes_under_way_are_not_objects(
    tmp_path: Path,
) -> None:
    # A .git folder as the file system holds it: 20 loose objects in each of the 256 folders, no pack folder
    # (a store that was never packed), and a temporary object file of a write under way.
    gitdir = tmp_path / "git"
    for n in range(256):
        folder = gitdir / "objects" / f"{n:02x}"
        folder.mkdir(parents=True)
        for i in range(20):
            (folder / f"{i:038x}").write_bytes(b"x")
    (gitdir / "objects" / "00" / "tmp_obj_AbCdEf").write_bytes(b"half")
    (gitdir / "refs" / "heads").mkdir(parents=True)
    (gitdir / "refs" / "heads" / "main").write_text("0" * 40 + "\n")
    estimated = storage.measure(str(gitdir))
    exact = storage.measure(str(gitdir), exact=True)
    assert exact.loose_objects == 256 * 20 and exact.packs == 0 and not exact.estimate
    assert estimated.estimate and abs(estimated.loose_objects - exact.loose_objects) <= 256
    assert estimated.objects_bytes > 0 and exact.git_bytes >= exact.objects_bytes
