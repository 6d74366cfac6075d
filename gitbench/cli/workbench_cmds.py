"""init, status, recover, keep, demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.opening import open_workbench, shown
from gitbench.cli.prompts import stale_draft_prompt

if TYPE_CHECKING:
    import typer


def init(path: str = ".", published: str | None = None, json: bool = False) -> int:
    """Adopt (or create) a Git repository as a Workbench; install the hooks; take the first checkpoint."""
    from gitbench.services import init as init_service

    return shown(init_service.init(path, published), json)


def status(json: bool = False) -> int:
    """Published, the open Draft, the last job, and reminders."""
    from gitbench.services import status as status_service

    wb = open_workbench()
    st = status_service.status(wb)
    if json:
        render.ok_json(st)
        return 0
    render.status(st)
    if st.draft is not None:
        # The seed: Review opens automatically when the Workbench is reopened with a Draft in it.
        from gitbench.services import review as review_service

        try:
            rv = review_service.review(wb, info=st.draft)
        except errors.DraftCorrupt as exc:  # status must still work: say what is wrong instead
            render.out(f"reminder: {exc.message}")
        else:
            render.out("")
            render.review(rv, patch=False)
        stale_draft_prompt(wb, st.draft)
    return 0


def recover(force: bool = False, json: bool = False) -> int:
    """Finish or roll back an interrupted operation; clear stale locks and worktrees."""
    from gitbench.services import recover as recover_service

    return shown(recover_service.recover(open_workbench(), force), json)


def keep(draft: str | None = None, json: bool = False) -> int:
    """Keep a stale Draft: no stale-Draft prompt for another 7 days."""
    from gitbench.model import OperationResult
    from gitbench.services import drafts

    wb = open_workbench()
    with wb.changing("keep"):
        ref = drafts.require_draft(wb, draft, ("keep", ()))
        label = ref.rsplit("/", 1)[-1]
        drafts.keep(wb, label)
    return shown(OperationResult("keep", f"Keeping the Draft {label}; you will not be asked for 7 days."), json)


def demo(clean: bool = False) -> int:
    """Run a real job end to end in a throw-away Workbench (offline, no API key)."""
    from gitbench.services import demo as demo_service

    for line in demo_service.run(clean):
        render.out(line)
    return 0


def declare(app: typer.Typer) -> None:
    """The options and help of the commands the table does not declare (cli/table.py), for typer (imported
    only when one of these commands is parsed)."""
    import typer

    @app.command("init", help=init.__doc__)
    def _init(
        path: str = typer.Argument(".", help="The folder or repository to adopt (created if missing)."),
        published: str = typer.Option(None, "--published", help="The branch that holds Published."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return init(path, published, json)

    @app.command("recover", help=recover.__doc__)
    def _recover(
        force: bool = typer.Option(False, "--force", help="Also remove Git lock files younger than 10 s."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return recover(force, json)

    @app.command("demo", help=demo.__doc__)
    def _demo(clean: bool = typer.Option(False, "--clean", help="Delete the demo Workbench at the end.")) -> int:
        return demo(clean)
