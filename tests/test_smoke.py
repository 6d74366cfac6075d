"""The shortest end-to-end path through the real CLI: init, exec, review, publish, restore."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import Snapshot, check_invariants, git, gitbench


def test_a_job_publishes_and_a_restore_goes_back(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    edit = "import pathlib; pathlib.Path('src/app.py').write_text('print(\"hi\")\\n')"
    res = gitbench(workbench, "exec", "--files", "src/**", "--", sys.executable, "-c", edit)
    assert res.returncode == 0, res.stderr
    assert "src/app.py" in res.stdout
    check_invariants(workbench, before, published_may_change=False)
    assert (workbench / "src/app.py").read_text() == "print('hello')\n"  # Published untouched by the job

    res = gitbench(workbench, "publish", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["ok"] is True
    assert (workbench / "src/app.py").read_text() == 'print("hi")\n'
    trailers = git(workbench, "log", "-1", "--format=%(trailers:key=Gitbench-Files,valueonly)", "main")
    assert trailers.strip() == "src/app.py"
    check_invariants(workbench, before)

    auto = json.loads(gitbench(workbench, "checkpoints", "--json").stdout)["result"]
    before_job = next(cp for cp in auto if cp["kind"] == "auto")
    res = gitbench(workbench, "restore", before_job["name"], "--yes")
    assert res.returncode == 0, res.stderr
    assert (workbench / "src/app.py").read_text() == "print('hello')\n"
    check_invariants(workbench)
