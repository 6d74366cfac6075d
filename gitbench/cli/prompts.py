"""The questions the CLI asks at a terminal: the seeds' prompts (an open Draft before a job, a stale Draft)."""

from __future__ import annotations

import os
import sys

from gitbench import errors
from gitbench.cli import render
from gitbench.model import DraftInfo
from gitbench.services.workbench import Workbench


def interactive() -> bool:
    """A person at a terminal (not a script, not CI): only then does a command ask."""
    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def ask(question: str, choices: list[str], default: str) -> str:
    from rich.prompt import Prompt

    return str(Prompt.ask(question, choices=choices, default=default, console=render.console()))


def choose_on_draft(wb: Workbench, on_draft: str | None, json: bool, kind: str = "exec") -> str | None:
    """Before a new job with a Draft open: on a terminal ask (after the stale Draft prompt) Publish / Discard /
    Cancel, or for a Workshop job (``kind="ask"``, v1.5) Continue / Fork / Discard / Cancel; otherwise
    ``--on-draft`` decides, and the job itself refuses with the choices."""
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
            on_draft = choice
    users_only_on_draft(on_draft, kind)
    return on_draft


def users_only_on_draft(on_draft: str | None, kind: str) -> None:
    """``--on-draft publish`` or ``discard`` publishes or discards: refused to a job's agent, as those commands
    are (``opening.users_only``)."""
    if on_draft in ("publish", "discard"):
        from gitbench.cli.opening import users_only

        verb: errors.Verb = "publish" if on_draft == "publish" else "discard"
        users_only(verb, ran=f"gitbench {kind} --on-draft {on_draft}")


def stale_draft_prompt(wb: Workbench, info: DraftInfo | None = None) -> None:
    """On opening the Workbench on a terminal: a Draft idle for 7 days asks Discard / Keep (each one, when
    several are open)."""
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
