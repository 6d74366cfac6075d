"""init, status, recover, keep, demo."""

from __future__ import annotations

import typer

from gitbench.cli import render
from gitbench.cli.common import open_workbench, show_status


def register(app: typer.Typer) -> None:
    @app.callback()
    def _root(
        directory: str = typer.Option(None, "-C", help="Run as if gitbench was started in this folder."),
        debug: bool = typer.Option(
            False,
            "--debug",
            help="Debug logging: prompt and answer excerpts go to the "
            "logs in .git/gitbench/logs (keys are still redacted).",
        ),
    ) -> None:
        if debug:
            import os

            os.environ["GITBENCH_DEBUG"] = "1"
        if directory:
            import os

            try:
                os.chdir(directory)
            except OSError as exc:
                from gitbench import errors

                raise errors.UsageError(f"Cannot enter {directory}: {exc.strerror}.") from exc

    @app.command()
    def init(
        path: str = typer.Argument(".", help="The folder or repository to adopt (created if missing)."),
        published: str = typer.Option(None, "--published", help="The branch that holds Published."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Adopt (or create) a Git repository as a Workbench; install the hooks; take the first checkpoint."""
        from gitbench.services import init as init_service

        res = init_service.init(path, published)
        render.ok_json(res) if json else render.result(res)

    @app.command()
    def status(json: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
        """Published, the open Draft, the last job, and reminders."""
        show_status(json)  # also run by app.main without typer: see there

    @app.command()
    def recover(
        force: bool = typer.Option(False, "--force", help="Also remove Git lock files younger than 10 s."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Finish or roll back an interrupted operation; clear stale locks and worktrees."""
        from gitbench.services import recover as recover_service

        res = recover_service.recover(open_workbench(), force)
        render.ok_json(res) if json else render.result(res)

    @app.command()
    def keep(
        draft: str = typer.Option(None, "--draft", help="Which Draft, when several are open."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Keep a stale Draft: no stale-Draft prompt for another 7 days."""
        from gitbench.model import OperationResult
        from gitbench.services import drafts

        wb = open_workbench()
        with wb.changing("keep"):
            ref = drafts.require_draft(wb, draft)
            label = ref.rsplit("/", 1)[-1]
            drafts.keep(wb, label)
        res = OperationResult("keep", f"Keeping the Draft {label}; you will not be asked for 7 days.")
        render.ok_json(res) if json else render.result(res)

    @app.command()
    def demo(
        clean: bool = typer.Option(False, "--clean", help="Delete the demo Workbench at the end."),
    ) -> None:
        """Run a real job end to end in a throw-away Workbench (offline, no API key)."""
        from gitbench.services import demo as demo_service

        for line in demo_service.run(clean):
            render.out(line)
