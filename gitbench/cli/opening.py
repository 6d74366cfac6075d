"""Helpers shared by the command modules: opening the Workbench and the prompts the seeds ask for."""

from __future__ import annotations

from gitbench import errors
from gitbench.cli import render
from gitbench.model import DraftInfo
from gitbench.services.workbench import Workbench


def users_only(command: str) -> None:
    """Refuse a command that moves Published or throws work away when a job's agent runs it (``GITBENCH_JOB`` is
    in its environment: gitbench gives it to every job's command and, through its hooks, to an agent session's
    shell): the user decides those (DESIGN.md: Published moves only with the user's explicit approval)."""
    import os

    job = os.environ.get("GITBENCH_JOB")
    if job:
        raise errors.ApprovalRequired(
            f"`gitbench {command}` was run inside job {job} (by its agent or command): only the user runs it. "
            "Nothing was changed.",
            [errors.Action("The user runs it in their own terminal", f"gitbench {command}")],
            {"job": job, "command": f"gitbench {command}"},
        )


def open_workbench() -> Workbench:
    return Workbench(".")


def open_for_reading() -> Workbench:
    """The Workbench for a read-only command: an interrupted operation is finished first if nobody else holds
    the lock; if that needs a write that cannot be done (a full disk, a read-only ``.git/gitbench``) it waits,
    and the read goes on and says so in one line (on stderr, so ``--json`` stays parseable)."""
    wb = open_workbench()
    wb.recover_if_idle()
    if wb.deferred:
        render.note(wb.deferred)
    return wb


def ask(question: str, choices: list[str], default: str) -> str:
    from rich.prompt import Prompt

    return str(Prompt.ask(question, choices=choices, default=default, console=render.console()))


def choose_on_draft(wb: Workbench, on_draft: str | None, json: bool, kind: str = "exec") -> str | None:
    """Before a new job with a Draft open: on a terminal ask (after the stale Draft prompt) Publish / Discard /
    Cancel, or for a Workshop job (``kind="ask"``, v1.5) Continue / Fork / Discard / Cancel; otherwise
    ``--on-draft`` decides, and the job itself refuses with the choices."""
    from gitbench.cli.app import interactive
    from gitbench.services import drafts

    allowed = ("publish", "discard", "continue", "fork") if kind == "ask" else ("publish", "discard")
    if on_draft not in (None, *allowed):
        raise errors.UsageError(f"--on-draft takes {', '.join(allowed[:-1])} or {allowed[-1]}.")
    if on_draft is None and drafts.only_draft(wb) is not None and interactive() and not json:
        stale_draft_prompt(wb)
        if drafts.only_draft(wb) is not None:
            if kind == "ask":
                choice = ask(
                    "A Draft is open. Continue it (this job's steps go on it), fork a new Draft beside "
                    "it, discard it, or cancel this job?",
                    ["continue", "fork", "discard", "cancel"],
                    "cancel",
                )
            else:
                choice = ask(
                    "A Draft is open. Publish it, discard it, or cancel this job?",
                    ["publish", "discard", "cancel"],
                    "cancel",
                )
            if choice == "cancel":
                raise errors.Cancelled("Cancelled: the job did not run; the Draft is as it was.")
            return choice
    return on_draft


def stale_draft_prompt(wb: Workbench, info: DraftInfo | None = None) -> None:
    """On opening the Workbench on a terminal: a Draft idle for 7 days asks Discard / Keep (each one, when
    several are open)."""
    from gitbench.cli.app import interactive
    from gitbench.services import discard, drafts

    if not interactive():
        return
    refs = [info.ref] if info is not None else wb.draft_refs()
    several = len(wb.draft_refs()) > 1
    for ref in refs:
        try:
            d = info or drafts.info(wb, ref)
        except Exception:  # noqa: BLE001 - a corrupt Draft is reported by the command itself
            continue
        if not d.stale:
            continue
        from gitbench import clock

        which = f" {d.label}" if several else ""
        answer = ask(
            f"A stale Draft{which} was found (last modified {clock.iso(d.last_activity)}). Discard it?",
            ["discard", "keep"],
            "keep",
        )
        if answer == "discard":
            render.result(discard.discard(wb, d.label))
        else:
            drafts.keep(wb, d.label)
            render.out("Kept. You will not be asked again for 7 days.")


def show_status(json: bool) -> None:
    """`gitbench status`. app.main also calls this directly for a bare `status` / `status --json`."""
    from gitbench.services import status as status_service

    wb = open_workbench()
    st = status_service.status(wb)
    if json:
        render.ok_json(st)
        return
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
