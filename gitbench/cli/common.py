"""Helpers shared by the command modules: opening the Workbench and the prompts the seeds ask for."""

from __future__ import annotations

from gitbench.cli import render
from gitbench.services.workbench import Workbench


def open_workbench() -> Workbench:
    return Workbench(".")


def ask(question: str, choices: list[str], default: str) -> str:
    from rich.prompt import Prompt

    return str(Prompt.ask(question, choices=choices, default=default, console=render.console()))


def stale_draft_prompt(wb: Workbench) -> None:
    """On opening the Workbench on a terminal: a Draft idle for 7 days asks Discard / Keep."""
    from gitbench.cli.app import interactive
    from gitbench.services import discard, drafts

    ref = drafts.only_draft(wb)
    if ref is None or not interactive():
        return
    try:
        info = drafts.info(wb, ref)
    except Exception:  # noqa: BLE001 - a corrupt Draft is reported by the command itself
        return
    if not info.stale:
        return
    from gitbench import clock

    answer = ask(f"A stale Draft was found (last modified {clock.iso(info.last_activity)}). Discard it?",
                 ["discard", "keep"], "keep")
    if answer == "discard":
        render.result(discard.discard(wb))
    else:
        drafts.keep(wb, info.label)
        render.out("Kept. You will not be asked again for 7 days.")
