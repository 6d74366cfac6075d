"""What an operation reports while it runs, as data: the core never prints, it sends events.

A service that reports progress takes a ``Progress`` (a callable of one ``Event``) and calls it as it goes; the
front ends decide what each event looks like: the CLI prints ``describe(event)`` after a ``·``, the TUI shows it in
the running job's log (and the workflow engine's module states, which it also gets as ``on_module``, as a progress
bar). ``describe`` gives the English sentence both show today; a front end that wants something else matches on
the event's type.

Events are ``NamedTuple``s, not dataclasses: a publish or an exec imports this module, and twenty-one frozen
dataclasses cost ~14 ms of CPU to create at import (four times as much as named tuples), against a start-up
target of 1.3× ``import pygit2``. The one thing lost: two events of different types with equal fields compare
equal, as tuples do; match on the type (``match event: case CheckEnded(...)``), never compare events.
"""

# No `from __future__ import annotations` here: typing.NamedTuple makes each annotation written as a string
# a ForwardRef, compiling it (~5 us a field, at every start); these evaluate as they are.
from collections.abc import Callable
from typing import NamedTuple


class Note(NamedTuple):
    """A note the operation also returns in its result (a worktree set up differently, a claim let go of)."""

    text: str


class CheckpointTaken(NamedTuple):
    """A job began: its checkpoint taken and its Draft made (for an ``agent`` session), or, ``continued_by``,
    a job continues the Draft."""

    checkpoint: str | None
    draft: str
    continued_by: str | None = None
    agent: str | None = None


class DraftMade(NamedTuple):
    """An attempt's Draft made from a checkpoint (or a commit) for a model (`gitbench try`)."""

    source: str
    model: str


class Continuing(NamedTuple):
    """A workflow job goes on in its Draft."""

    job: str
    draft: str


class Resuming(NamedTuple):
    """A stopped Workshop job goes on at a step."""

    job: str
    step: int
    total: int
    model: str


class SettingUp(NamedTuple):
    """A job's worktree is being set up (``[job] setup``)."""

    command: str


class Running(NamedTuple):
    """A job's command starts in its worktree."""

    command: str
    cwd: str


class RunningAgain(NamedTuple):
    """A stopped job's command runs again in its worktree."""

    job: str


class BatchSent(NamedTuple):
    """One batch of files sent to a model."""

    step: int
    total: int
    files: int
    model: str


class Retrying(NamedTuple):
    """A provider call failed in a way worth retrying; the next try comes after ``wait`` seconds."""

    model: str
    reason: object
    wait: object
    attempt: int
    attempts: int


class BatchDone(NamedTuple):
    """A batch's edits are in the Draft."""

    step: int
    total: int
    changed: int
    refused: int = 0


class CheckRunning(NamedTuple):
    """The check runs in a clean worktree of ``commit`` (of the Draft ``draft``, when named)."""

    command: str | None
    commit: str
    draft: str | None = None


class CheckSkipped(NamedTuple):
    """The check was skipped (``--no-check``): recorded."""

    command: str


class CheckEnded(NamedTuple):
    """The check ended: ``result`` is its outcome as recorded (passed, failed, timed out ...)."""

    result: str


class Pushing(NamedTuple):
    """A push to a Git server begins."""

    remote: str
    url: str | None


class PublishingToRemote(NamedTuple):
    """A publish moves the server's Published first, as a compare-and-swap."""

    remote: str
    url: str


class Stopping(NamedTuple):
    """Ctrl-C or SIGTERM during several attempts: each stops once its request in flight is answered, or at once
    when its model calls run on an executor (``executor``: its address), their tasks cancelled."""

    reason: str
    executor: str | None = None


class ModuleRunning(NamedTuple):
    """A workflow module started."""

    module: str
    kind: str


class ModuleNeedsInput(NamedTuple):
    """A workflow module waits for input (an operator's file, a gate)."""

    module: str
    request: str


class ModuleEnded(NamedTuple):
    """A workflow module's run ended with ``status`` (and an error, if any)."""

    module: str
    status: str
    error: str | None = None


class Attempt(NamedTuple):
    """An event of one of several attempts run at once (`gitbench try`), named by its Draft's label."""

    label: str
    event: "Event"  # defined below, as the union of every event (this one too)


Event = (
    Note
    | CheckpointTaken
    | DraftMade
    | Continuing
    | Resuming
    | SettingUp
    | Running
    | RunningAgain
    | BatchSent
    | Retrying
    | BatchDone
    | CheckRunning
    | CheckSkipped
    | CheckEnded
    | Pushing
    | PublishingToRemote
    | Stopping
    | ModuleRunning
    | ModuleNeedsInput
    | ModuleEnded
    | Attempt
)

Progress = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The ``Progress`` of a caller that shows none (``--json``, tests)."""


def describe(event: Event) -> str:
    """The event as the one English sentence the CLI prints (after ``·``) and the TUI logs."""
    match event:
        case Note(text):
            return text
        case CheckpointTaken(checkpoint, draft, None, agent):
            return f"Checkpoint {checkpoint} taken; Draft {draft} created" + (f" for {agent}." if agent else ".")
        case CheckpointTaken(checkpoint, draft, job):
            return f"Checkpoint {checkpoint} taken; job {job} continues the Draft {draft}."
        case DraftMade(source, model):
            return f"Draft created from {source} for {model}."
        case Continuing(job, draft):
            return f"Continuing workflow job {job} in Draft {draft}."
        case Resuming(job, step, total, model):
            return f"Resuming job {job} at step {step}/{total} with {model}."
        case SettingUp(command):
            return f"Setting up the worktree: {command}"
        case Running(command, cwd):
            return f"Running {command} in {cwd}"
        case RunningAgain(job):
            return f"Running job {job}'s command again in its worktree."
        case BatchSent(step, total, files, model):
            return f"Batch {step}/{total}: {files} file(s) to {model}"
        case Retrying(model, reason, wait, attempt, attempts):
            return f"{model}: {reason}; retrying in {wait} s (attempt {attempt} of {attempts})"
        case BatchDone(step, total, changed, refused):
            return f"Batch {step}/{total} done: {changed} file(s) changed" + (
                f", {refused} edit(s) refused" if refused else ""
            )
        case CheckRunning(command, commit, None):
            return f"running the check `{command}` in a clean worktree of {commit[:12]}"
        case CheckRunning(command, commit, draft):
            return f"Running the check `{command}` in a clean worktree of the Draft {draft} ({commit[:12]}) …"
        case CheckSkipped(command):
            return f"The check `{command}` was skipped (--no-check); that is recorded."
        case CheckEnded(result):
            return f"The check {result}."
        case Pushing(remote, url):
            return f"Pushing to {remote} ({url}) …"
        case PublishingToRemote(remote, url):
            return f"Publishing to {remote}'s Published ({url}) first, as a compare-and-swap …"
        case Stopping(reason, None):
            return (
                f"{reason}: stopping every attempt once its request in flight is answered (again to stop at once; "
                "the next gitbench command then marks them interrupted)."
            )
        case Stopping(reason, executor):
            return f"{reason}: stopping every attempt now, its model call on {executor} cancelled."
        case ModuleRunning(module, kind):
            return f"{module}: running ({kind})"
        case ModuleNeedsInput(module, request):
            return f"{module}: needs input: {request}"
        case ModuleEnded(module, status, error):
            return f"{module}: {status}" + (f": {error}" if error else "")
        case Attempt(label, inner):
            return f"{label}: {describe(inner)}"
    raise AssertionError(f"an event describe() does not know: {event!r}")  # pragma: no cover
