"""gitbench/services/worktrees.py in-process: which folders a sparse Draft worktree needs for a scope, and where
Draft worktrees may go (never inside the Workbench)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitbench import errors
from gitbench.scope import Scope
from gitbench.services.workbench import Workbench
from gitbench.services.worktrees import home, sparse_dirs


@pytest.mark.parametrize(
    ("patterns", "dirs"),
    [
        (["src/**"], ["src"]),
        (["src/app/*.py", "docs/guide.md", "lib/"], ["src/app", "docs/guide.md", "lib"]),
        (["src/a[bc]/x.py", "tools/gen?.sh"], ["src", "tools"]),
        (["*.py"], None),  # a top-level glob can reach every folder
        (["src/**", "**/*.md"], None),
    ],
)
def test_a_sparse_worktree_checks_out_the_folders_the_scope_can_reach(patterns: list[str], dirs: list[str]) -> None:
    assert sparse_dirs(Scope.of(patterns)) == dirs


def test_everything_in_scope_needs_the_whole_checkout() -> None:
    assert sparse_dirs(Scope.of(["**"])) is None


@pytest.mark.parametrize("inside", [".git/gitbench/worktrees", "build/drafts"])
def test_draft_worktrees_cannot_go_inside_the_workbench(workbench: Path, inside: str) -> None:
    wb = Workbench(str(workbench))
    with pytest.raises(errors.UsageError) as info:
        home(wb, str(workbench / inside))
    assert info.value.message.startswith(f"Draft worktrees cannot go in {workbench / inside}")
    assert "GITBENCH_WORKTREES" in info.value.actions[0].label
    assert home(wb, str(workbench.parent / "elsewhere")).startswith(str(workbench.parent / "elsewhere") + "/")
