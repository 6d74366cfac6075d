"""gitbench/services/gc.py through the real entry point, in-process: Git's own gc is never run while a ref
cannot be read (what only it reaches would look unreachable and be deleted)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, gitbench


def test_git_gc_is_not_run_while_a_ref_cannot_be_read_and_the_result_says_why(workbench: Path) -> None:
    loose_before = git(workbench, "count-objects").split()[0]
    broken = workbench / ".git" / "refs" / "heads" / "half-written"
    broken.write_text("not an object id\n")  # a torn write by some other tool
    res = gitbench(workbench, "gc", "--json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)["result"]
    assert result["git_gc"] is False
    assert any(
        note.startswith("Git's gc was not run: refs/heads/half-written cannot be read") for note in result["notes"]
    ), result["notes"]
    assert git(workbench, "count-objects").split()[0] == loose_before  # nothing was packed or pruned
    broken.unlink()
