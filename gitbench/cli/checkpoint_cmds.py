"""checkpoint, checkpoints, restore, log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.opening import open_for_reading, open_workbench, shown, users_only
from gitbench.cli.prompts import ask, interactive

if TYPE_CHECKING:
    import typer


def checkpoint(message: str = "", json: bool = False) -> int:
    """Take a manual checkpoint of Published and the records."""
    from gitbench.model import CheckpointKind, OperationResult
    from gitbench.services import checkpoints

    wb = open_workbench()
    with wb.changing("checkpoint"):
        cp = checkpoints.create(wb, CheckpointKind.MANUAL, message)
    res = OperationResult(
        "checkpoint",
        f"Took {cp.name} of Published {cp.commit[:12]}.",
        checkpoints=[cp.name],
        notes=list(wb.recovered) + wb.left_lock_notes(),
    )
    return shown(res, json)


def checkpoints(every: bool = False, limit: int = 30, json: bool = False) -> int:
    """The checkpoint history, oldest first: kind, date, job, message. The newest 30 (--limit N), and how
    many older ones there are; --all for every one."""
    from gitbench.services import checkpoints as cps

    wb = open_for_reading()
    items, older = cps.history_page(wb, None if every else limit)
    if json:
        render.emit_json({"ok": True, "result": items, "older": older})
    else:
        render.checkpoints(items, older)
    return 0


def restore(name: str, yes: bool = False, keep_draft: bool = False, json: bool = False) -> int:
    """Go back in time: Published and the job records as they were at CHECKPOINT (undoable)."""
    from gitbench.services import restore as restore_service

    users_only("restore", name)
    wb = open_workbench()
    if not yes:
        from gitbench.services import drafts

        cp = wb.checkpoint(name)
        if not keep_draft:
            drafts.require_no_draft(wb, "restore")  # say so before asking, not after
        if not interactive():
            raise errors.UsageError(
                "restore asks for confirmation; pass --yes when not at a terminal.",
                [errors.Action("Restore", "restore", (cp.name, "--yes"))],
            )
        question = f"Restore {cp.name} ({cp.kind}, {cp.message})? A pre-restore checkpoint is taken first."
        if ask(question, ["yes", "no"], "no") != "yes":
            raise errors.Cancelled("Cancelled: nothing was changed.")
    return shown(restore_service.restore(wb, name, keep_draft), json)


def log(limit: int = 50, json: bool = False) -> int:
    """The audit trail: gitbench's step commits and their trailers."""
    from gitbench.services.audit_trail import audit_log

    return shown(audit_log(open_workbench(), limit), json, render.steps)


def declare(app: typer.Typer) -> None:
    """The options and help of the commands the table does not declare (cli/table.py), for typer (imported
    only when one of these commands is parsed)."""
    import typer

    @app.command("restore", help=restore.__doc__)
    def _restore(
        name: str = typer.Argument(
            ...,
            help="The checkpoint: its name (checkpoint/261203-072105-k3mq), a unique beginning of it (261203-0721), "
            "or an older Workbench's checkpoint/3 or 3.",
        ),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        keep_draft: bool = typer.Option(
            False, "--keep-draft", help="Publish conflict only: restore Published to where the Draft started."
        ),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return restore(name, yes, keep_draft, json)
