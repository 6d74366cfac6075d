"""push, pull, remote setup: a Workbench shared through a Git server (docs/teams.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench.cli.opening import open_workbench, progress, shown, users_only

if TYPE_CHECKING:
    import typer


def push(remote: str | None = None, drafts: bool = False, overwrite_published: bool = False, json: bool = False) -> int:
    """Share Published, checkpoints and records (and Drafts) with a Git server, in one atomic push."""
    from gitbench.services import remote as remote_service

    users_only("push" + (f" {remote}" if remote else ""))
    return shown(remote_service.push(open_workbench(), remote, drafts, overwrite_published, progress(json)), json)


def pull(remote: str | None = None, drafts: bool = False, keep_mine: bool = False, json: bool = False) -> int:
    """Bring a Git server's checkpoints, records and Published (fast-forward) here."""
    from gitbench.services import remote as remote_service

    users_only("pull" + (f" {remote}" if remote else ""))
    return shown(remote_service.pull(open_workbench(), remote, drafts, keep_mine), json)


def setup(remote: str | None = None, json: bool = False) -> int:
    """Write refspecs so plain `git fetch` and `git push` carry Published, checkpoints and records."""
    from gitbench.services import remote as remote_service

    return shown(remote_service.setup(open_workbench(), remote), json)


def declare(app: typer.Typer) -> None:
    """The commands' options and help, for typer (imported only when one of these commands is parsed)."""
    import typer

    @app.command("push", help=push.__doc__)
    def _push(
        remote: str = typer.Argument(None, help="The Git remote (default: Published's upstream, else origin)."),
        drafts: bool = typer.Option(
            False, "--drafts", help="Push the open Drafts too (and remove shared ones gone here)."
        ),
        overwrite_published: bool = typer.Option(
            False,
            "--overwrite-published",
            help="Put your Published over the server's when it is not ahead of it (after a restore); still refused "
            "if the server moved since you last saw it.",
        ),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return push(remote, drafts, overwrite_published, json)

    @app.command("pull", help=pull.__doc__)
    def _pull(
        remote: str = typer.Argument(None, help="The Git remote (default: Published's upstream, else origin)."),
        drafts: bool = typer.Option(False, "--drafts", help="Bring teammates' shared Drafts too."),
        keep_mine: bool = typer.Option(
            False,
            "--keep-mine",
            help="When both Published moved on: take the server's, and keep yours as a Draft on top (nothing lost).",
        ),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return pull(remote, drafts, keep_mine, json)

    group = typer.Typer(help="Set up a Git remote to carry gitbench's refs.", no_args_is_help=True)

    @group.command("setup", help=setup.__doc__)
    def _setup(
        remote: str = typer.Argument(None, help="The Git remote (default: Published's upstream, else origin)."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return setup(remote, json)

    app.add_typer(group, name="remote")
