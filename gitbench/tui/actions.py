"""An error's next actions as buttons: each Action's gitbench command, done in the TUI the way the command would
do it.

Actions are what the services offer (`errors.Action`: a label, and a gitbench verb with its arguments, or text to
run by hand). An action the TUI can do becomes a button that runs the same flow, found by its verb and its
arguments (never by reading the command's text); anything else (a shell command like `git stash`, a step only the
user can take, a gitbench command with a shape no flow does) is shown as text to run by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from gitbench import errors
from gitbench.tui import flows

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp

Flow = Callable[["GitbenchApp"], Coroutine[Any, Any, None] | None]

# The values a job's choice of what to do with the open Draft can take (`--on-draft`).
_ON_DRAFT = ("publish", "discard", "continue", "fork")


def _view(name: str) -> Flow:
    def show(app: GitbenchApp) -> None:
        app.show_view(name)

    return show


def _again(verb: errors.Verb, choice: str) -> Flow:
    """`gitbench ask|workflow run --on-draft CHOICE ...`: the job again, with that choice."""

    def again(app: GitbenchApp) -> Coroutine[Any, Any, None] | None:
        if verb == "workflow run":
            return flows.workflow_run(app, None, choice)
        if app.last_ask is not None:
            prompt, files, model = app.last_ask
            return flows.ask(app, prompt, files, model, choice)
        app.show_view("workshop")
        return None

    return again


def _draft(args: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]] | None:
    """``--draft LABEL`` at the start of ``args`` taken off: (the label or None, the rest); None if malformed."""
    if args[:1] != ("--draft",):
        return None, args
    if len(args) < 2 or args[1].startswith("-"):
        return None
    return args[1], args[2:]


def _job(args: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """An optional job id at the start of ``args``: (the id or None, the rest)."""
    if args and not args[0].startswith("-"):
        return args[0], args[1:]
    return None, args


def _route(verb: errors.Verb, args: tuple[str, ...]) -> Flow | None:
    """The flow for one gitbench command, or None if the TUI has none for it (shown to run by hand)."""
    if verb == "publish":
        drafted = _draft(args)
        if drafted is None or drafted[1] not in ((), ("--no-check",)):
            return None
        label, rest = drafted
        no_check = rest == ("--no-check",)
        return lambda app: flows.publish(app, label, True) if no_check else flows.publish(app, label)
    if verb == "discard":
        if args == ("--undo",):
            return lambda app: flows.undo_discard(app)
        return (lambda app: flows.discard(app)) if args in ((), ("--yes",)) else None
    if verb == "restore":
        if len(args) < 1 or args[0].startswith("-"):
            return None
        name, rest = args[0], args[1:]
        if rest == ("--keep-draft", "--yes"):
            return lambda app: flows.restore(app, name, keep_draft=True)
        return (lambda app: flows.restore(app, name)) if rest in ((), ("--yes",)) else None
    if verb in ("report", "resume"):
        job, rest = _job(args)
        if verb == "report":
            return (lambda app: flows.report(app, job)) if rest == () else None
        if rest == ("--model", "PROVIDER:MODEL"):
            return lambda app: flows.resume_switching_model(app, job)
        return (lambda app: flows.resume(app, job, None)) if rest == () else None
    if verb in ("ask", "workflow run"):
        if len(args) >= 2 and args[0] == "--on-draft" and args[1] in _ON_DRAFT and args[2:] in ((), ("...",)):
            return _again(verb, args[1])
        return None
    if verb == "review":
        return _view("review") if args in ((), ("--patch",)) else None
    if args:
        return None
    simple: dict[str, Flow] = {
        "keep": lambda app: flows.keep(app),
        "checkpoints": _view("checkpoints"),
        "workflow status": _view("workflow"),
        "workflow resume": lambda app: flows.workflow_run(app, None),
        "recover": lambda app: flows.recover(app),
    }
    return simple.get(verb)


def route(action: errors.Action) -> Flow | None:
    """The flow that does this action in the TUI, or None: it is shown as a command to run by hand."""
    if action.verb is None:
        return None
    if action.then is not None:
        # "Go back": discard the Draft, then restore the checkpoint taken before the job.
        then = action.then
        if (
            action.verb == "discard"
            and action.args == ("--yes",)
            and then.then is None
            and then.verb == "restore"
            and len(then.args) == 2
            and then.args[1] == "--yes"
        ):
            name = then.args[0]
            return lambda app: flows.discard_then_restore(app, name)
        return None
    return _route(action.verb, action.args)


def run(app: GitbenchApp, action: errors.Action) -> None:
    flow = route(action)
    if flow is None:
        return
    coro = flow(app)
    if coro is not None:
        app.start(coro, f"action: {action.command}")
