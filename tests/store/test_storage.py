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
