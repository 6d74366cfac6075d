"""push, pull, remote setup: a Workbench shared through a Git server (docs/teams.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench.cli.opening import open_workbench, progress, shown, users_only

if TYPE_CHECKING:
    import typer


def push(remote: str | None = None, drafts: bool = False, overwrite_published: bool = False, json: bool = False) -> int:
    """Share Published, checkpoints and records (and Drafts) with a Git server, in one atomic push."""
    from gitbench.services import remote as remote_service

    users_only("push", *((remote,) if remote else ()))
    return shown(remote_service.push(open_workbench(), remote, drafts, overwrite_published, progress(json)), json)


def pull(remote: str | None = None, drafts: bool = False, keep_mine: bool = False, json: bool = False) -> int:
    """Bring a Git server's checkpoints, records and Published (fast-forward) here."""
    from gitbench.services import remote as remote_service

    users_only("pull", *((remote,) if remote else ()))
    return shown(remote_service.pull(open_workbench(), remote, drafts, keep_mine), json)


def setup(remote: str | None = None, json: bool = False) -> int:
    """Write refspecs so plain `git fetch` and `git push` carry Published, checkpoints and records."""
    from gitbench.services import remote as remote_service

    return shown(remote_service.setup(open_workbench(), remote), json)


def declare(app: typer.Typer) -> None:
    """The options and help of the commands the table does not declare (cli/table.py), for typer (imported
    only when one of these commands is parsed)."""
    import typer

    group = typer.Typer(help="Set up a Git remote to carry gitbench's refs.", no_args_is_help=True)

    @group.command("setup", help=setup.__doc__)
    def _setup(
        remote: str = typer.Argument(None, help="The Git remote (default: Published's upstream, else origin)."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return setup(remote, json)

    app.add_typer(group, name="remote")
