"""Checkpoints: Restore (asked first, blocked while a Draft is open), go back after a job, a manual checkpoint;
and the two tools that read or repair: recover, a job's report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitbench.model import CheckpointKind, OperationResult
from gitbench.services.workbench import Workbench
from gitbench.tui import calls
from gitbench.tui.flows.common import done, require_idle

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp


async def restore(app: GitbenchApp, name: str, keep_draft: bool = False) -> None:
    from gitbench.services import drafts
    from gitbench.services import restore as restore_service

    require_idle(app, "restoring")

    def check(wb: Workbench) -> Any:
        cp = wb.checkpoint(name)
        if not keep_draft:
            drafts.require_no_draft(wb, "restore")  # say so before asking, not after
        return cp

    cp = await app.call(check)
    answer = await app.ask_choice(
        f"Restore {cp.name} ({cp.kind}, {cp.message})? A pre-restore checkpoint is taken first.",
        [("restore", "Restore"), ("cancel", "Cancel")],
        "confirm-restore",
    )
    if answer != "restore":
        app.say("Cancelled: nothing was changed.")
        return
    done(app, await app.call(lambda wb: restore_service.restore(wb, name, keep_draft)))


async def discard_then_restore(app: GitbenchApp, name: str) -> None:
    """The failed job's "go back": discard its Draft (recoverable), then restore the checkpoint before it."""
    from gitbench.services import discard as discard_service
    from gitbench.services import restore as restore_service

    require_idle(app, "going back")
    answer = await app.ask_choice(
        f"Go back: discard the Draft (recoverable for 14 days) and restore {name}? A pre-restore checkpoint is "
        "taken first.",
        [("restore", "Discard and restore"), ("cancel", "Cancel")],
        "confirm-restore",
    )
    if answer != "restore":
        app.say("Cancelled: nothing was changed.")
        return
    app.show_result(await app.call(discard_service.discard))
    done(app, await app.call(lambda wb: restore_service.restore(wb, name)))


async def checkpoint(app: GitbenchApp, message: str) -> None:
    """`gitbench checkpoint -m MESSAGE`."""
    from gitbench.services import checkpoints

    require_idle(app, "a checkpoint")

    def take(wb: Workbench) -> OperationResult:
        with wb.changing("checkpoint"):
            cp = checkpoints.create(wb, CheckpointKind.MANUAL, message)
        return OperationResult(
            "checkpoint",
            f"Took {cp.name} of Published {cp.commit[:12]}.",
            checkpoints=[cp.name],
            notes=list(wb.recovered),
        )

    done(app, await app.call(take))


async def recover(app: GitbenchApp) -> None:
    from gitbench.services import recover as recover_service

    require_idle(app, "recovering")
    done(app, await app.call(lambda wb: recover_service.recover(wb, False)))


async def report(app: GitbenchApp, job: str | None) -> None:
    from gitbench.tui.prompts import ReportScreen

    data = await app.call(lambda wb: calls.report(wb, job))
    await app.push_screen_wait(ReportScreen(data))
