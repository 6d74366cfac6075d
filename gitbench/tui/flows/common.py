"""What every flow shares: one thing at a time, the overview, and showing what a change did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench import errors
from gitbench.model import OperationResult
from gitbench.tui import calls

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp

DRAFT_CHOICES = [("publish", "Publish it"), ("discard", "Discard it"), ("cancel", "Cancel this job")]
CANCEL = "cancel"


def require_idle(app: GitbenchApp, doing: str) -> None:
    """One thing at a time: the running job holds the Workbench until it ends."""
    if app.running is not None:
        raise errors.Busy(
            f"A job is running in this window ({app.running.what}): {doing} waits until it ends, "
            "or cancel the job with ctrl+c."
        )


async def refresh(app: GitbenchApp) -> None:
    app.apply_overview(await app.call(calls.overview))


def done(app: GitbenchApp, res: OperationResult) -> None:
    """A state change finished: say what it did, and show everything as it now is."""
    app.show_result(res)
    app.after_change()


async def which_draft(app: GitbenchApp, doing: str) -> str | None:
    """The Draft to act on, as the CLI's ``--draft``: None for the only one (the service finds it); with several
    open, the one the user picks (CANCEL if none). gitbench never guesses which Draft to publish or discard."""
    labels = await app.call(calls.draft_labels)
    if len(labels) <= 1:
        return None
    return await app.ask_choice(
        f"{len(labels)} Drafts are open: which one do you want to {doing}?",
        [*((label, label) for label in labels), (CANCEL, "Cancel")],
        "which-draft",
    )
