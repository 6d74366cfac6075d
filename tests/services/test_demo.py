"""gitbench/services/demo.py: `gitbench demo` builds a throw-away Workbench and walks a real job, a model job on
the demo's own model (127.0.0.1), publish and restore through it, offline. It runs a job under the process
supervisor (which makes its process the subreaper of every orphan), so it runs in a subprocess here."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import git, gitbench_subprocess


def _demo_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("gitbench-demo-*"))


def test_the_demo_publishes_a_command_job_and_a_model_job_and_leaves_a_workbench_git_can_read(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    res = gitbench_subprocess(tmp_path, "demo", env={"TMPDIR": str(tmp)})
    assert res.returncode == 0, res.stderr
    [folder] = _demo_folders(tmp)
    # The walk-through's story, in order: the restore goes back to before the job, its undo forward again.
    restored = re.findall(r"src/greet.py now starts with: (.*)", res.stdout)
    assert restored == ["def greet(name):", "def greet(name: str) -> str:"]
    assert "one retried after a 429" in res.stdout
    assert f"(The demo Workbench stays in {folder}; delete it when you are done.)" in res.stdout
    # What it says is what Git has: both jobs published to main with their trailers, and the job's record.
    assert (folder / "src" / "CHANGES.md").read_text() == "- greet and shout have type hints and docstrings\n"
    assert git(folder, "show", "main:src/greet.py").startswith('"""')  # the model's module docstring
    trailers = git(folder, "log", "--format=%(trailers:key=Gitbench-Job,valueonly)", "main").split()
    job_id = re.search(r"git show refs/gitbench/records:jobs/(\S+)\.json", res.stdout)
    assert job_id is not None and job_id.group(1) in trailers and len(set(trailers)) == 2
    assert '"status"' in git(folder, "show", f"refs/gitbench/records:jobs/{job_id.group(1)}.json")


def test_the_demo_with_clean_removes_its_workbench(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    res = gitbench_subprocess(tmp_path, "demo", "--clean", env={"TMPDIR": str(tmp)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.rstrip().endswith("Removed the demo Workbench.")
    assert _demo_folders(tmp) == []
