"""gitbench/services/workbench.py through the real entry point, in-process: which checkout a command works on
when it is started in a linked worktree, and a Published branch deleted outside gitbench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import git, gitbench, nth_checkpoint


def status(cwd: Path) -> Any:
    res = gitbench(cwd, "status", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["result"]


def test_a_command_started_in_another_worktree_works_on_the_checkout_that_shows_published(
    workbench: Path, tmp_path: Path
) -> None:
    side = tmp_path / "side"
    git(workbench, "worktree", "add", "-q", "-b", "side", str(side))
    assert status(side)["workbench"] == str(workbench)  # the main folder has Published checked out
    # The main folder moved to another branch, Published checked out in a linked worktree: that one.
    git(workbench, "checkout", "-q", "-b", "elsewhere")
    shown = tmp_path / "shown"
    git(workbench, "worktree", "add", "-q", str(shown), "main")
    assert status(workbench)["workbench"] == str(shown)
    assert status(side)["workbench"] == str(shown)
    git(workbench, "worktree", "remove", str(shown))
    git(workbench, "worktree", "remove", str(side))
    git(workbench, "checkout", "-q", "main")


def test_published_deleted_outside_gitbench_is_named_with_the_restore_that_brings_it_back(workbench: Path) -> None:
    main = git(workbench, "rev-parse", "main").strip()
    git(workbench, "update-ref", "-d", "refs/heads/main")
    res = gitbench(workbench, "status", "--json")
    assert res.returncode == 15
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "published-missing"
    assert err["message"] == "Published (main) is missing: its branch was deleted outside gitbench."
    newest = nth_checkpoint(workbench, -1)
    assert err["actions"][0]["command"] == f"gitbench restore {newest} --yes"
    res = gitbench(workbench, "restore", newest, "--yes")  # what it says works
    assert res.returncode == 0, res.stderr
    assert git(workbench, "rev-parse", "main").strip() == main
