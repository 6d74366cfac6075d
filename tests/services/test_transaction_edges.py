"""gitbench/services/transaction.py when a move of Published is interrupted at its worst moments, in-process: a
Ctrl-C while files move, another program moving Published just before the ref, an interpreter exit, and the
follow-ups after the commit point. The interruption is made at gitbench's own fault points (the moment is what
cannot be made real); what is checked is the state left behind and what the user is told."""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gitbench import faults
from gitbench.git.repo import GitRepo
from gitbench.services import transaction
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Move, Op
from tests.conftest import git, gitbench
from tests.services.test_remote_edges import DRAFT, commit_on, draft


def at(monkeypatch: pytest.MonkeyPatch, name: str, act: Callable[[], None]) -> None:
    real = faults.point

    def point(where: str) -> None:
        if where == name:
            act()
        real(where)

    monkeypatch.setattr(faults, "point", point)


def state(wb: Path) -> tuple[str, str, str]:
    return (
        git(wb, "rev-parse", "main").strip(),
        git(wb, "status", "--porcelain").strip(),
        (wb / "src" / "app.py").read_text(),
    )


def test_ctrl_c_while_the_files_move_rolls_them_back_and_says_cancelled(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = commit_on(workbench, "main", "src/app.py", "print('changed')\n", "change")
    git(workbench, "update-ref", DRAFT + "fix", head)
    before = state(workbench)

    def interrupt() -> None:
        raise KeyboardInterrupt

    at(monkeypatch, "publish.before-index", interrupt)
    res = gitbench(workbench, "publish", "--json")
    err = json.loads(res.stdout)["error"]
    assert err["message"] == "Publish was cancelled; nothing was changed."
    assert state(workbench) == before and git(workbench, "rev-parse", DRAFT + "fix").strip() == head
    assert not (workbench / ".git" / "gitbench" / "journal.json").exists()


def test_published_moved_by_another_program_just_before_the_ref_is_a_conflict(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = draft(workbench, "fix", "src/fix.txt", "fix\n")
    other = commit_on(workbench, "main", "src/other.txt", "other\n", "outside")
    # Plain Git, without gitbench's hooks (which refuse moving Published while a Draft is open).
    at(
        monkeypatch,
        "publish.before-ref",
        lambda: git(workbench, "-c", "core.hooksPath=/dev/null", "update-ref", "refs/heads/main", other),
    )
    res = gitbench(workbench, "publish", "--json")
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "publish-conflict"
    assert err["message"] == (
        "Published (main) was moved by another program while gitbench was updating it; nothing was changed."
    )
    assert [a.get("command") for a in err["actions"]][0] == "git log main"
    assert git(workbench, "rev-parse", "main").strip() == other  # theirs stays
    assert git(workbench, "rev-parse", DRAFT + "fix").strip() == head
    assert not (workbench / "src" / "fix.txt").exists()  # our files were rolled back
    git(workbench, "reset", "-q", "--hard")  # the other program's files: its to check out


def test_an_interpreter_exit_before_the_ref_rolls_back_and_goes_on_exiting(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = draft(workbench, "fix", "src/fix.txt", "fix\n")
    main = git(workbench, "rev-parse", "main").strip()

    def leave() -> None:
        raise SystemExit(3)

    at(monkeypatch, "publish.before-ref", leave)
    assert gitbench(workbench, "publish").returncode == 3
    assert git(workbench, "rev-parse", "main").strip() == main
    assert not (workbench / "src" / "fix.txt").exists()
    assert git(workbench, "rev-parse", DRAFT + "fix").strip() == head
    monkeypatch.undo()
    assert gitbench(workbench, "publish").returncode == 0  # nothing left in the way
    assert (workbench / "src" / "fix.txt").read_text() == "fix\n"


def test_follow_ups_that_exit_the_interpreter_are_not_turned_into_an_error(workbench: Path) -> None:
    wb = Workbench(str(workbench))
    entry = Move(Op.PUBLISH, wb.new_id(), "a" * 40, "b" * 40)

    def leave() -> None:
        raise SystemExit(0)

    with pytest.raises(SystemExit):
        transaction.finish_after_commit(wb, entry, leave)
    assert transaction.finish_after_commit(wb, entry, lambda: 7) == 7


def test_a_move_without_files_rolls_back_and_forward_only_its_journal(workbench: Path) -> None:
    wb = Workbench(str(workbench))
    main = git(workbench, "rev-parse", "main").strip()
    entry = Move(Op.PUBLISH, wb.new_id(), main, main, False)  # a bare move: Published's ref only
    wb.journal.write(entry)
    assert transaction.roll_forward(wb, entry) == []
    assert wb.journal.read() is not None  # forward leaves the journal to the operation's own end
    assert transaction.roll_back(wb, entry) == []
    assert wb.journal.read() is None and git(workbench, "status", "--porcelain").strip() == ""


@pytest.mark.parametrize("exc", [OSError(errno.EIO, "Input/output error"), SystemExit(3)])
def test_a_failure_right_after_published_moved_leaves_the_move_for_the_next_command_to_finish(
    workbench: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    head = draft(workbench, "fix", "src/fix.txt", "fix\n")
    real = GitRepo.set_ref

    def set_ref(self: GitRepo, name: str, new: str | None, old: str | None, message: str) -> None:
        real(self, name, new, old, message)
        if name == "refs/heads/main":  # libgit2 moved the ref, then failed removing its lock file
            raise exc

    monkeypatch.setattr(GitRepo, "set_ref", set_ref)
    res = gitbench(workbench, "publish", "--json")
    if isinstance(exc, SystemExit):
        assert res.returncode == 3  # an interpreter exit goes on as it is
    else:
        err = json.loads(res.stdout)["error"]
        assert err["code"] == "published-unfinished" and res.returncode == 25
        assert err["details"]["published"] == head and err["details"]["cause"] == "file-io"
    assert git(workbench, "rev-parse", "main").strip() == head
    assert (workbench / ".git" / "gitbench" / "journal.json").exists()
    monkeypatch.undo()
    notes = json.loads(gitbench(workbench, "recover", "--json").stdout)["result"]["notes"]
    assert f"Finished an interrupted publish: Published is at {head[:12]} and its files agree." in notes
    assert git(workbench, "for-each-ref", DRAFT) == "" and (workbench / "src" / "fix.txt").read_text() == "fix\n"
