"""gitbench/tui/flows/, reached as a user reaches them from the error banner: an error's next action (data: a verb
and its arguments, ``tui/actions``) run in the real app, headless, on a real Workbench. What each asks, what each
answer does to the refs, and what the status bar then says."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from gitbench import errors
from gitbench.tui import actions
from gitbench.tui.app import GitbenchApp
from tests.conftest import checkpoint_names, git, run_job
from tests.test_tui import EDIT, drafts_of, drive, press, prompt, rev, settle, text

pytestmark = pytest.mark.filterwarnings("ignore:'click.utils.get_[a-z_]*' is deprecated:DeprecationWarning")


async def act(app: GitbenchApp, pilot: Pilot[None], action: errors.Action) -> None:
    """Press the banner's button for ``action``: the flow it routes to runs."""
    assert actions.route(action) is not None, action
    actions.run(app, action)
    await settle(pilot)


def test_keep_recover_and_publish_without_the_check_asked_again_first(workbench: Path) -> None:
    (workbench / ".gitbench").mkdir(exist_ok=True)
    (workbench / ".gitbench" / "config.toml").write_text('[publish]\ncheck = "false"\n')
    ref, head = run_job(workbench, EDIT)
    label, published = ref.rsplit("/", 1)[1], rev(workbench, "main")

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await act(app, pilot, errors.Action("Keep it", "keep"))
        assert text(app, "#message") == f"Keeping the Draft {label}; you will not be asked for 7 days."
        await act(app, pilot, errors.RECOVER)
        assert text(app, "#message").startswith("Nothing")  # to recover: the Workbench is consistent
        skip = errors.Action("Publish without the check", "publish", ("--no-check",))
        await act(app, pilot, skip)
        question, buttons = prompt(app, "confirm-no-check")
        assert question.startswith("Publish without running the check?") and "the skip is recorded" in question
        assert buttons == ["Publish without the check (p)", "Cancel (c)"]
        await press(pilot, "c")
        assert text(app, "#message") == "Cancelled: nothing was changed; the Draft is as it was."
        assert rev(workbench, "main") == published and drafts_of(workbench) == [ref]
        await act(app, pilot, skip)
        await press(pilot, "p")
        assert text(app, "#message").startswith(f"Published {head[:12]} to main.")

    drive(workbench, scenario)
    assert rev(workbench, "main") == head and drafts_of(workbench) == []
    assert "Gitbench-Check-Result: skipped (--no-check)" in git(workbench, "tag", "-n9", "-l", "checkpoint/*")


def test_go_back_discards_the_draft_then_restores_and_discard_undo_brings_the_draft_back(workbench: Path) -> None:
    first = checkpoint_names(workbench)[0]
    ref, head = run_job(workbench, EDIT)
    label, published = ref.rsplit("/", 1)[1], rev(workbench, "main")
    back = errors.Action("Go back", "discard", ("--yes",), then=errors.Action("", "restore", (first, "--yes")))

    async def scenario(app: GitbenchApp, pilot: Pilot[None]) -> None:
        await act(app, pilot, back)
        question, buttons = prompt(app, "confirm-restore")
        assert question.startswith(f"Go back: discard the Draft (recoverable for 14 days) and restore {first}?")
        await press(pilot, "c")
        assert text(app, "#message") == "Cancelled: nothing was changed."
        assert drafts_of(workbench) == [ref]
        await act(app, pilot, back)
        await press(pilot, "r")  # "Discard and restore (r)"
        assert drafts_of(workbench) == [] and rev(workbench, "main") == rev(workbench, f"{first}^{{commit}}")
        await act(app, pilot, errors.Action("Bring it back", "discard", ("--undo",)))
        assert text(app, "#message").startswith(f"Brought back the Draft {label}.")

    drive(workbench, scenario)
    assert drafts_of(workbench) == [ref] and rev(workbench, ref) == head
    pre_restore = [t for t in git(workbench, "tag", "-n1", "-l", "checkpoint/*").splitlines() if "pre-restore" in t]
    assert [rev(workbench, t.split()[0] + "^{commit}") for t in pre_restore] == [published]
