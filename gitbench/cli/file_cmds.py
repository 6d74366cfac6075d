"""add, rm, extract: file operations on Published (blocked while a Draft is open)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench.cli.opening import open_workbench, shown

if TYPE_CHECKING:
    import typer


def add(paths: list[str], to: str = "", json: bool = False) -> int:
    """Put files on Published (one commit); outside files are copied in."""
    from gitbench.services import fileops

    return shown(fileops.add(open_workbench(), paths, to), json)


def rm(paths: list[str], json: bool = False) -> int:
    """Remove files from Published (one commit)."""
    from gitbench.services import fileops

    return shown(fileops.rm(open_workbench(), paths), json)


def extract(path: str, dest: str, force: bool = False, json: bool = False) -> int:
    """Copy a file or folder of Published out of the Workbench."""
    from gitbench.services import fileops

    return shown(fileops.extract(open_workbench(), path, dest, force), json)


def declare(app: typer.Typer) -> None:
    """The commands' options and help, for typer (imported only when one of these commands is parsed)."""
    import typer

    @app.command("add", help=add.__doc__)
    def _add(
        paths: list[str] = typer.Argument(..., help="Files or folders, in the Workbench or outside it."),
        to: str = typer.Option("", "--to", help="Folder in the Workbench for files from outside."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return add(paths, to, json)

    @app.command("rm", help=rm.__doc__)
    def _rm(
        paths: list[str] = typer.Argument(..., help="Paths on Published."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return rm(paths, json)

    @app.command("extract", help=extract.__doc__)
    def _extract(
        path: str = typer.Argument(..., help="A file or folder on Published."),
        dest: str = typer.Argument(..., help="Where to copy it."),
        force: bool = typer.Option(False, "--force", help="Overwrite files at DEST."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return extract(path, dest, force, json)
