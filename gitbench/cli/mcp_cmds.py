"""mcp: the Workbench as an MCP server over stdio, for agents (gitbench/mcp_server.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def mcp(folder: str | None = None) -> int:
    """Serve the Workbench to an agent over MCP (stdio): status, review, checkpoint, checkpoints, publish,
    discard, restore, why. Publish and restore ask the user to approve."""
    from gitbench.mcp_server import serve

    serve(folder)
    return 0


def declare(app: typer.Typer) -> None:
    """The command's options and help, for typer (imported only when this command is parsed)."""
    import typer

    @app.command("mcp", help=mcp.__doc__)
    def _mcp(
        folder: str = typer.Option(
            None,
            "--workbench",
            help="The project folder (default: the current one, or `gitbench -C DIR`).",
            metavar="DIR",
        ),
    ) -> int:
        return mcp(folder)
