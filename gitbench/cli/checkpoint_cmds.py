"""checkpoint, checkpoints, restore, log."""

from __future__ import annotations

import typer

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.common import ask, open_for_reading, open_workbench, users_only


def register(app: typer.Typer) -> None:
    @app.command()
    def checkpoint(
        message: str = typer.Option("", "-m", "--message", help="Why this checkpoint."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Take a manual checkpoint of Published and the records."""
        from gitbench.model import OperationResult
        from gitbench.services import checkpoints

        wb = open_workbench()
        with wb.changing("checkpoint"):
            cp = checkpoints.create(wb, "manual", message)
        res = OperationResult(
            "checkpoint",
            f"Took {cp.name} of Published {cp.commit[:12]}.",
            checkpoints=[cp.name],
            notes=list(wb.recovered) + wb.left_lock_notes(),
        )
        render.ok_json(res) if json else render.result(res)

    @app.command()
    def checkpoints(
        every: bool = typer.Option(False, "--all", help="Every checkpoint, not only the newest."),
        limit: int = typer.Option(30, "--limit", "-n", min=1, help="How many of the newest to show."),
        json: bool = typer.Option(False, "--json", help="Print the list as JSON (`older`: how many are not in it)."),
    ) -> None:
        """The checkpoint history, oldest first: kind, date, job, message. The newest 30 (--limit N), and how
        many older ones there are; --all for every one."""
        from gitbench.services import checkpoints as cps

        wb = open_for_reading()
        items, older = cps.history_page(wb, None if every else limit)
        render.emit_json({"ok": True, "result": items, "older": older}) if json else render.checkpoints(items, older)

    @app.command()
    def restore(
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
    ) -> None:
        """Go back in time: Published and the job records as they were at CHECKPOINT (undoable)."""
        from gitbench.cli.app import interactive
        from gitbench.services import restore as restore_service

        users_only(f"restore {name}")
        wb = open_workbench()
        if not yes:
            from gitbench.services import drafts

            cp = wb.checkpoint(name)
            if not keep_draft:
                drafts.require_no_draft(wb, "restore")  # say so before asking, not after
            if not interactive():
                raise errors.UsageError(
                    "restore asks for confirmation; pass --yes when not at a terminal.",
                    [errors.Action("Restore", f"gitbench restore {cp.name} --yes")],
                )
            if (
                ask(
                    f"Restore {cp.name} ({cp.kind}, {cp.message})? A pre-restore checkpoint is taken first.",
                    ["yes", "no"],
                    "no",
                )
                != "yes"
            ):
                raise errors.Cancelled("Cancelled: nothing was changed.")
        res = restore_service.restore(wb, name, keep_draft)
        render.ok_json(res) if json else render.result(res)

    @app.command()
    def log(
        limit: int = typer.Option(50, "-n", help="How many steps to show."),
        json: bool = typer.Option(False, "--json", help="Print the audit trail as JSON."),
    ) -> None:
        """The audit trail: gitbench's step commits and their trailers."""
        from gitbench.services.audit_trail import audit_log

        wb = open_workbench()
        items = audit_log(wb, limit)
        render.ok_json(items) if json else render.steps(items)
