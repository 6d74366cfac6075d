"""exec, review, publish (gated on the check), discard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.opening import open_workbench, progress, read_only, shown, users_only
from gitbench.cli.prompts import ask, choose_on_draft, interactive
from gitbench.model import OperationResult
from gitbench.services.workbench import Workbench

if TYPE_CHECKING:
    import typer


def exec(
    command: list[str],
    files: list[str] | None = None,
    message: str = "",
    on_draft: str | None = None,
    timeout: str | None = None,
    ok_exit: list[str] | None = None,
    sparse: bool = False,
    json: bool = False,
) -> int:
    """Run CMD as a job in a new Draft's worktree; its commits and changes become the Draft's steps."""
    import sys

    from gitbench.services import commands

    limit = commands.parse_timeout(timeout)
    accepted = commands.parse_ok_exit(list(ok_exit or []))
    if sparse and not files:
        raise errors.UsageError(
            "--sparse checks out the folders of --files: name them, e.g. "
            "`gitbench exec --sparse --files 'src/**' -- CMD`."
        )
    wb = open_workbench()
    choice = choose_on_draft(wb, on_draft, json)
    res = commands.run_exec(
        wb,
        list(command or []),
        list(files or []),
        message,
        choice,
        progress(json),
        command_stdout=sys.stderr.fileno() if json else None,
        timeout=limit,
        ok_exit=accepted,
        sparse=sparse,
    )
    return shown(res, json)


def review(patch: bool = False, draft: str | None = None, json: bool = False) -> int:
    """What the Draft changes against Published: files, diffstat, diff."""
    from gitbench.services import review as review_service

    return read_only(
        lambda wb: review_service.review(wb, patch, label=draft), json, lambda rv: render.review(rv, patch)
    )


def publish(
    draft: str | None = None,
    check: str | None = None,
    no_check: bool = False,
    remote: str | None = None,
    no_remote: bool = False,
    json: bool = False,
) -> int:
    """Apply the Draft to Published atomically, take a publish checkpoint, remove the Draft."""
    from gitbench.services import publish as publish_service

    users_only("publish" + (f" --draft {draft}" if draft else ""))
    if check is not None and no_check:
        raise errors.UsageError("--check and --no-check contradict each other: give one of them.")
    wb = open_workbench()
    try:
        res = publish_service.publish(
            wb, draft, check=check, no_check=no_check, progress=progress(json), remote="" if no_remote else remote
        )
    except errors.PublishConflict as exc:
        if json or not interactive():
            raise
        res = _resolve_conflict(wb, exc, draft, check, no_check)
    return shown(res, json)


def _resolve_conflict(
    wb: Workbench, exc: errors.PublishConflict, label: str | None, check: str | None, no_check: bool
) -> OperationResult:
    """The seed's prompt on a publish conflict: Discard the Draft, or Restore Published from a checkpoint."""
    from gitbench.services import discard as discard_service
    from gitbench.services import publish as publish_service
    from gitbench.services import restore as restore_service

    render.error(exc, False)
    restore_cmd = next((a.command for a in exc.actions if "--keep-draft" in a.command), None)
    choices = ["discard", "restore", "cancel"] if restore_cmd else ["discard", "cancel"]
    answer = ask(
        "Discard the Draft"
        + (", restore Published to where the Draft started," if restore_cmd else "")
        + " or cancel?",
        choices,
        "cancel",
    )
    if answer == "discard":
        return discard_service.discard(wb, label)
    if answer == "restore" and restore_cmd:
        name = restore_cmd.split()[2]
        first = restore_service.restore(wb, name, keep_draft=True)
        render.result(first)
        return publish_service.publish(wb, label, check=check, no_check=no_check, progress=progress(False))
    raise errors.Cancelled("Cancelled: nothing was changed; the Draft is as it was.")


def discard(yes: bool = False, draft: str | None = None, undo: bool = False, json: bool = False) -> int:
    """Remove the Draft (kept recoverable for 14 days); Published is untouched."""
    from gitbench.services import discard as discard_service
    from gitbench.services import drafts

    users_only("discard" + (" --undo" if undo else f" --draft {draft}" if draft else ""))
    wb = open_workbench()
    if undo:
        return shown(discard_service.undo(wb), json)
    if not yes:
        ref = drafts.require_draft(wb, draft)
        if not interactive():
            raise errors.UsageError(
                "discard asks for confirmation; pass --yes when not at a terminal.",
                [errors.Action("Discard", "gitbench discard --yes" + (f" --draft {draft}" if draft else ""))],
            )
        answer = ask(f"Discard the Draft {ref.rsplit('/', 1)[-1]}? (recoverable for 14 days)", ["yes", "no"], "no")
        if answer != "yes":
            raise errors.Cancelled("Cancelled: the Draft is as it was.")
    return shown(discard_service.discard(wb, draft), json)


def declare(app: typer.Typer) -> None:
    """The commands' options and help, for typer (imported only when one of these commands is parsed)."""
    import typer

    @app.command("exec", help=exec.__doc__, context_settings={"allow_interspersed_args": False})
    def _exec(
        command: list[str] = typer.Argument(None, help="The command to run, after `--`."),
        files: list[str] = typer.Option(None, "--files", "-f", help="Glob of files the job may change (repeatable)."),
        message: str = typer.Option("", "-m", "--message", help="The step's commit subject."),
        on_draft: str = typer.Option(None, "--on-draft", help="If a Draft is open: publish or discard it first."),
        timeout: str = typer.Option(
            None, "--timeout", help="Stop the command (and all it started) after this long: 90, 90s, 15m, 2h."
        ),
        ok_exit: list[str] = typer.Option(
            None, "--ok-exit", help="An exit status that means success for this command (repeatable, or 1,2)."
        ),
        sparse: bool = typer.Option(
            False,
            "--sparse",
            help="Check out only the --files folders (and the top-level "
            "files) in the Draft's worktree: faster in big repositories; the command "
            "does not see the other files.",
        ),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return exec(command, files, message, on_draft, timeout, ok_exit, sparse, json)

    @app.command("review", help=review.__doc__)
    def _review(
        patch: bool = typer.Option(False, "--patch", "-p", help="Show the full diff."),
        draft: str = typer.Option(None, "--draft", help="Which Draft, when several are open (`gitbench drafts`)."),
        json: bool = typer.Option(False, "--json", help="Print the review as JSON."),
    ) -> int:
        return review(patch, draft, json)

    @app.command("publish", help=publish.__doc__)
    def _publish(
        draft: str = typer.Option(None, "--draft", help="Which Draft, when several are open (`gitbench drafts`)."),
        check: str = typer.Option(
            None,
            "--check",
            help="Run this shell command in a clean worktree of the Draft first; publish only if it passes "
            "(instead of [publish] check).",
        ),
        no_check: bool = typer.Option(
            False, "--no-check", help="Skip the configured check ([publish] check); recorded in the audit."
        ),
        remote: str = typer.Option(
            None,
            "--remote",
            metavar="[REMOTE]",
            help="Publish to this Git remote's Published first, as a compare-and-swap (refused if it moved), then "
            "here; alone: the usual remote ([publish] remote, the branch's upstream, origin).",
        ),
        no_remote: bool = typer.Option(
            False, "--no-remote", help="Publish here only, even if [publish] remote is set."
        ),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return publish(draft, check, no_check, remote, no_remote, json)

    @app.command("discard", help=discard.__doc__)
    def _discard(
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        draft: str = typer.Option(None, "--draft", help="Which Draft, when several are open (`gitbench drafts`)."),
        undo: bool = typer.Option(False, "--undo", help="Bring back the last discarded Draft."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return discard(yes, draft, undo, json)
