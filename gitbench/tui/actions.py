"""An error's next actions as buttons: each Action's command, done in the TUI the way the command would do it.

Actions are what the services offer (`errors.Action`: a label and a CLI command). A command the TUI can do
becomes a button that runs the same flow; anything else (a shell command like `git stash`, a step only the user
can take) is shown as text to run by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from gitbench import errors
from gitbench.tui import flows

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp

Flow = Callable[["GitbenchApp", "re.Match[str]"], Coroutine[Any, Any, None] | None]


def _view(name: str) -> Flow:
    def show(app: GitbenchApp, m: re.Match[str]) -> None:
        app.show_view(name)

    return show


def _again(app: GitbenchApp, m: re.Match[str]) -> Coroutine[Any, Any, None] | None:
    """`gitbench ask|workflow run --on-draft CHOICE ...`: the job again, with that choice."""
    if m["cmd"] == "workflow run":
        return flows.workflow_run(app, None, m["choice"])
    if app.last_ask is not None:
        prompt, files, model = app.last_ask
        return flows.ask(app, prompt, files, model, m["choice"])
    app.show_view("workshop")
    return None


ROUTES: list[tuple[str, Flow]] = [
    (
        r"gitbench discard --yes && gitbench restore (?P<cp>\S+) --yes",
        lambda a, m: flows.discard_then_restore(a, m["cp"]),
    ),
    (r"gitbench publish(?: --draft (?P<label>\S+))? --no-check", lambda a, m: flows.publish(a, m["label"], True)),
    (r"gitbench publish(?: --draft (?P<label>\S+))?", lambda a, m: flows.publish(a, m["label"])),
    (r"gitbench discard --undo", lambda a, m: flows.undo_discard(a)),
    (r"gitbench discard( --yes)?", lambda a, m: flows.discard(a)),
    (r"gitbench keep", lambda a, m: flows.keep(a)),
    (r"gitbench review( --patch)?", _view("review")),
    (r"gitbench checkpoints", _view("checkpoints")),
    (r"gitbench workflow status", _view("workflow")),
    (r"gitbench workflow resume", lambda a, m: flows.workflow_run(a, None)),
    (r"gitbench report(?: (?P<job>\S+))?", lambda a, m: flows.report(a, m["job"])),
    (
        r"gitbench resume(?: (?P<job>[^\s-]\S*))? --model PROVIDER:MODEL",
        lambda a, m: flows.resume_switching_model(a, m["job"]),
    ),
    (r"gitbench resume(?: (?P<job>\S+))?", lambda a, m: flows.resume(a, m["job"], None)),
    (r"gitbench restore (?P<cp>\S+) --keep-draft --yes", lambda a, m: flows.restore(a, m["cp"], keep_draft=True)),
    (r"gitbench restore (?P<cp>\S+)( --yes)?", lambda a, m: flows.restore(a, m["cp"])),
    (r"gitbench recover", lambda a, m: flows.recover(a)),
    (r"gitbench (?P<cmd>ask|workflow run) --on-draft (?P<choice>publish|discard|continue|fork)( \.\.\.)?", _again),
]


def route(action: errors.Action) -> tuple[Flow, re.Match[str]] | None:
    """The flow that does this action in the TUI, or None: it is shown as a command to run by hand."""
    for pattern, flow in ROUTES:
        m = re.fullmatch(pattern, action.command.strip())
        if m:
            return flow, m
    return None


def run(app: GitbenchApp, action: errors.Action) -> None:
    found = route(action)
    if found is None:
        return
    flow, m = found
    coro = flow(app, m)
    if coro is not None:
        app.start(coro, f"action: {action.command}")
