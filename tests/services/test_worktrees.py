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


def test_a_drafts_worktree_that_lost_its_git_file_is_linked_again_with_its_files_kept(workbench: Path) -> None:
    from gitbench.services.worktrees import of_draft, prepare
    from tests.conftest import git, run_job

    ref, head = run_job(workbench, "open('src/app.py', 'a').write('# more\\n')")
    wb = Workbench(str(workbench))
    linked = of_draft(wb, ref)
    assert linked is not None and linked.present
    folder = Path(linked.path)
    (folder / ".git").unlink()  # an agent (or a cleaning tool) deleted it
    (folder / "notes.txt").write_text("not committed yet\n")  # the work in the folder
    prepared = prepare(wb, ref, Scope.of(["**"]), False, ())
    assert prepared.linked.path == str(folder) and not prepared.created
    assert prepared.notes == [
        f"The worktree of the Draft {ref.rsplit('/', 1)[-1]} ({folder}) had lost its .git file; it was put back "
        "(its files are as they were)."
    ]
    assert (folder / "notes.txt").read_text() == "not committed yet\n"
    assert (folder / ".git").read_bytes() == linked.git_file()
    # Git sees the folder as the Draft's worktree again: on its branch, the uncommitted file as new
    assert git(folder, "rev-parse", "HEAD").strip() == head
    assert git(folder, "status", "--porcelain").splitlines() == ["?? notes.txt"]
