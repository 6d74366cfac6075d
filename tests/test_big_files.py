"""A big tracked file costs little memory (issue 14): gitbench streams it (hashes it from disk, writes it to the
checked-out folder a chunk at a time) instead of reading it whole into Python, where libgit2 and Python would hold
about three copies at once.

The cheap check in the suite: a 30 MB file (random, so compression does not shrink it) published and restored,
each command's peak RSS measured against `gitbench status` in the same Workbench, as a fraction of the file's size.
The 200 MB benchmark beside the git CLI is tests/bench/bigfile.py (docs/performance.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import check_invariants, git, gitbench, make_project, nth_checkpoint

SIZE = 30 * 1024 * 1024
MAX_RATIO = 0.5  # peak RSS over the baseline, as a fraction of the file's size (before the fix: about 3)

PEAK = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
    "sys.stderr.buffer.write(p.stderr)\n"
    "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
)


def peak(wb: Path, *args: str) -> int:
    """The peak RSS (bytes) of one `gitbench` command and every process it waited for."""
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, sys.executable, "-m", "gitbench", *args],
        cwd=wb,
        capture_output=True,
        text=True,
        timeout=300,
    )
    code, rss = proc.stdout.split()
    assert code == "0", proc.stderr
    return int(rss)


@pytest.mark.slow  # ~18 s on 2 busy cores: a job, a publish and two restores of 30 MB
def test_publishing_and_restoring_a_big_file_costs_well_under_its_size_in_memory(tmp_path: Path) -> None:
    wb = make_project(tmp_path / "p")
    assert gitbench(wb, "init").returncode == 0  # set-up: only the commands measured by `peak` need a Python start
    baseline = peak(wb, "status")

    # A job adds the big file; publishing it writes it into the checked-out folder.
    code = f"import os; os.makedirs('data'); open('data/big.bin','wb').write(os.urandom({SIZE}))"
    job = gitbench(wb, "exec", "--files", "data/**", "--", sys.executable, "-c", code)
    assert job.returncode == 0, job.stderr
    published = peak(wb, "publish")
    assert (wb / "data" / "big.bin").stat().st_size == SIZE
    big = git(wb, "rev-parse", "main:data/big.bin").strip()
    assert git(wb, "hash-object", "data/big.bin").strip() == big

    # Restoring to before it removes it; restoring back to after it writes it again.
    after = nth_checkpoint(wb, -1)
    assert peak(wb, "restore", nth_checkpoint(wb, 1), "--yes") > 0
    assert not (wb / "data" / "big.bin").exists()
    restored = peak(wb, "restore", after, "--yes")
    assert git(wb, "hash-object", "data/big.bin").strip() == big
    assert git(wb, "status", "--porcelain", "--untracked-files=no") == ""

    for what, rss in (("publish", published), ("restore", restored)):
        ratio = (rss - baseline) / SIZE
        assert ratio <= MAX_RATIO, f"{what} peaked at {rss >> 20} MiB, {ratio:.2f}x the file over `status`"
    check_invariants(wb)
