"""tui: the terminal UI. Textual is imported inside the command only, so no other command pays for it."""

from __future__ import annotations

import typer

from gitbench import errors
from gitbench.cli.common import open_workbench


def register(app: typer.Typer) -> None:
    @app.command()
    def tui() -> None:
        """The terminal UI: Workshop, Review, Draft actions, Checkpoints and the workflow view."""
        import sys

        wb = open_workbench()
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise errors.UsageError(
                "gitbench tui needs a terminal.", [errors.Action("Use the commands instead", "status")]
            )
        from gitbench.tui import run

        run(wb.root)
