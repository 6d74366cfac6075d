"""add, rm, extract: file operations on Published (blocked while a Draft is open)."""

from __future__ import annotations

import typer

from gitbench.cli import render
from gitbench.cli.common import open_workbench


def register(app: typer.Typer) -> None:
    @app.command()
    def add(
        paths: list[str] = typer.Argument(..., help="Files or folders, in the Workbench or outside it."),
        to: str = typer.Option("", "--to", help="Folder in the Workbench for files from outside."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Put files on Published (one commit); outside files are copied in."""
        from gitbench.services import fileops

        res = fileops.add(open_workbench(), paths, to)
        render.ok_json(res) if json else render.result(res)

    @app.command()
    def rm(
        paths: list[str] = typer.Argument(..., help="Paths on Published."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Remove files from Published (one commit)."""
        from gitbench.services import fileops

        res = fileops.rm(open_workbench(), paths)
        render.ok_json(res) if json else render.result(res)

    @app.command()
    def extract(
        path: str = typer.Argument(..., help="A file or folder on Published."),
        dest: str = typer.Argument(..., help="Where to copy it."),
        force: bool = typer.Option(False, "--force", help="Overwrite files at DEST."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Copy a file or folder of Published out of the Workbench."""
        from gitbench.services import fileops

        res = fileops.extract(open_workbench(), path, dest, force)
        render.ok_json(res) if json else render.result(res)
