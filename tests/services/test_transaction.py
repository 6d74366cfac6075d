"""gitbench/services/transaction.py in-process: what a user is told when a move of Published changes
submodules, and when its bookkeeping fails after the commit point (Published moved; the next command finishes)."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.services.transaction import hidden_note, unfinished
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Move, Op

NEW = "b" * 40


def move(**fields: object) -> Move:
    return Move(Op.PUBLISH, "20260101-000000-abcd", "a" * 40, NEW, True, **fields)  # type: ignore[arg-type]


def test_each_submodule_change_is_named_with_the_git_command_that_checks_it_out(workbench: Path) -> None:
    wb = Workbench(str(workbench))
    entry = move(submodule_moves=[["lib", "1" * 40, "2" * 40], ["new", None, "3" * 40], ["old", "4" * 40, None]])
    changed, added, removed = hidden_note(wb, entry, "The publish changes")
    assert changed.startswith("The publish points the submodule lib at commit 222222222222 (it was 111111111111).")
    assert changed.endswith("To check that commit out in it: git submodule update lib")
    assert "adds the submodule new (commit 333333333333)" in added and "git submodule update --init new" in added
    assert "removes the submodule old." in removed and "delete it yourself when you no longer need it (old/)" in removed
    assert all("its folder was not touched" in note for note in (changed, added, removed))
    assert hidden_note(wb, move(), "The publish changes") == []


@pytest.mark.parametrize(
    ("exc", "cause", "first_action"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk-full", "Free some disk space, then"),
        (KeyboardInterrupt(), "cancelled", "Finish it now"),
        (errors.GitLocked("Git is locked while writing the records."), "git-locked", "Finish it now"),
        (OSError(errno.EIO, "Input/output error"), "file-io", "Finish it now"),
    ],
)
def test_a_failure_after_published_moved_says_it_moved_names_the_cause_and_that_recover_finishes(
    exc: BaseException, cause: str, first_action: str
) -> None:
    err = unfinished(move(), exc)
    assert err.code == "published-unfinished" and err.exit_code == 25
    assert err.message.startswith(f"Publish moved Published to {NEW[:12]} (its files agree with it), but could not")
    assert err.message.endswith("The next gitbench command finishes it.")
    assert err.details == {"published": NEW, "operation": "publish", "cause": cause}
    assert err.actions[0].label == first_action and err.actions[0].command == "gitbench recover"
