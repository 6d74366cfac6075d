"""mcp: the Workbench as an MCP server over stdio, for agents (gitbench/mcp_server.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def mcp(
        folder: str = typer.Option(
            None,
            "--workbench",
            help="The project folder (default: the current one, or `gitbench -C DIR`).",
            metavar="DIR",
        ),
    ) -> None:
        """Serve the Workbench to an agent over MCP (stdio): status, review, checkpoint, checkpoints, publish,
        discard, restore, why. Publish and restore ask the user to approve."""
        from gitbench.mcp_server import serve

        serve(folder)
