"""Opening the Workbench for a command, and the shapes every command shares: the read-only command (open for
reading, call the service, ``--json`` or render) and a result shown either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gitbench import errors
from gitbench.cli import render
from gitbench.services.workbench import Workbench

if TYPE_CHECKING:  # the events module (~2 ms of NamedTuples) loads only for commands that report progress
    from gitbench.events import Progress

T = TypeVar("T")


def users_only(verb: errors.Verb, *args: str, ran: str | None = None) -> None:
    """Refuse a command that moves Published or throws work away when a job's agent runs it (``GITBENCH_JOB`` is
    in its environment: gitbench gives it to every job's command and, through its hooks, to an agent session's
    shell): the user decides those (DESIGN.md: Published moves only with the user's explicit approval). ``ran``:
    what was run, when it is not that command itself (``exec --on-draft publish`` publishes too)."""
    import os

    job = os.environ.get("GITBENCH_JOB")
    if job:
        run = errors.Action("The user runs it in their own terminal", verb, args)
        raise errors.ApprovalRequired(
            f"`{ran or run.command}` was run inside job {job} (by its agent or command): only the user runs "
            + (f"`{run.command}`." if ran else "it.")
            + " Nothing was changed.",
            [run],
            {"job": job, "command": run.command},
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


def shown(data: T, json: bool, show: Callable[[T], Any] | None = None) -> int:
    """A command's answer: ``{"ok": true, "result": ...}`` with ``--json``, else ``show(data)`` (an operation's
    result: its summary, checkpoints and notes); exit 0."""
    if json:
        render.ok_json(data)
    else:
        (show or render.result)(data)  # type: ignore[arg-type]
    return 0


def read_only(query: Callable[[Workbench], T], json: bool, show: Callable[[T], Any]) -> int:
    """The read-only command: open the Workbench for reading (finishing an interrupted operation if it can),
    ask the service, print the answer as JSON or for a person."""
    return shown(query(open_for_reading()), json, show)


def progress(json: bool) -> Progress | None:
    """A job's progress lines (``· text``) for a person; none with ``--json`` (stdout holds only the answer)."""
    return render.progress(json)
