"""exec, review, publish (gated on the check), discard. Their options are declared in cli/table.py."""

from __future__ import annotations

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.opening import open_workbench, progress, read_only, shown, users_only
from gitbench.cli.prompts import ask, choose_on_draft, interactive
from gitbench.model import OperationResult
from gitbench.services.workbench import Workbench


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

    users_only("publish", *(("--draft", draft) if draft else ()))
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
    return shown(_left(wb, res), json)


def _left(wb: Workbench, res: OperationResult) -> OperationResult:
    """Run in the Draft's worktree, which publish and discard remove: the shell's folder is gone. Say where to go."""
    import os

    # The folder it was started in, not the current one: a removed worktree's folder is renamed aside at once and
    # deleted in the background, so the shell may still be in it, under that other name.
    if wb.opened_in is not None and not os.path.isdir(wb.opened_in):
        res.notes.append(f"You ran this in the Draft's worktree, which is removed now: `cd {wb.root}` (your project).")
    return res


def _resolve_conflict(
    wb: Workbench, exc: errors.PublishConflict, label: str | None, check: str | None, no_check: bool
) -> OperationResult:
    """The seed's prompt on a publish conflict: Discard the Draft, or Restore Published from a checkpoint."""
    from gitbench.services import discard as discard_service
    from gitbench.services import publish as publish_service
    from gitbench.services import restore as restore_service

    render.error(exc, False)
    where = exc.restore_point()
    choices = ["discard", "restore", "cancel"] if where else ["discard", "cancel"]
    answer = ask(
        "Discard the Draft" + (", restore Published to where the Draft started," if where else "") + " or cancel?",
        choices,
        "cancel",
    )
    if answer == "discard":
        return discard_service.discard(wb, label)
    if answer == "restore" and where:
        first = restore_service.restore(wb, where, keep_draft=True)
        render.result(first)
        return publish_service.publish(wb, label, check=check, no_check=no_check, progress=progress(False))
    raise errors.Cancelled("Cancelled: nothing was changed; the Draft is as it was.")


def discard(yes: bool = False, draft: str | None = None, undo: bool = False, json: bool = False) -> int:
    """Remove the Draft (kept recoverable for 14 days); Published is untouched."""
    from gitbench.services import discard as discard_service
    from gitbench.services import drafts

    users_only("discard", *(("--undo",) if undo else ("--draft", draft) if draft else ()))
    wb = open_workbench()
    if undo:
        return shown(discard_service.undo(wb), json)
    if not yes:
        ref = drafts.require_draft(wb, draft, ("discard", ("--yes",)))
        if not interactive():
            raise errors.UsageError(
                "discard asks for confirmation; pass --yes when not at a terminal.",
                [errors.Action("Discard", "discard", ("--yes", *(("--draft", draft) if draft else ())))],
            )
        answer = ask(f"Discard the Draft {ref.rsplit('/', 1)[-1]}? (recoverable for 14 days)", ["yes", "no"], "no")
        if answer != "yes":
            raise errors.Cancelled("Cancelled: the Draft is as it was.")
    return shown(_left(wb, discard_service.discard(wb, draft)), json)
