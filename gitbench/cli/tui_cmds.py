"""tui: the terminal UI. Textual is imported inside the command only, so no other command pays for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench import errors
from gitbench.cli.opening import open_workbench

if TYPE_CHECKING:
    import typer


def tui() -> int:
    """The terminal UI: Workshop, Review, Draft actions, Checkpoints and the workflow view."""
    import sys

    wb = open_workbench()
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise errors.UsageError(
            "gitbench tui needs a terminal.", [errors.Action("Use the commands instead", "gitbench status")]
        )
    from gitbench.tui import run

    run(wb.root)
    return 0


def declare(app: typer.Typer) -> None:
    """The command's help, for typer (imported only when this command is parsed)."""
    app.command("tui", help=tui.__doc__)(tui)
