"""Every error a gitbench user can meet.

Each class carries a stable ``code`` (for ``--json`` and scripts), an ``exit_code`` (documented in
``docs/errors.md``) and the recovery ``actions`` the user can take next. The CLI renders them as a banner;
nothing below the CLI prints.

Hierarchy::

    GitbenchError
    ├── UsageError               bad input (exit 2)
    ├── NotAWorkbench            the folder is not a Git repository / not adopted (3)
    ├── DraftError
    │   ├── DraftOpen            a Draft exists where none may (4)
    │   ├── NoDraft              the command needs a Draft and there is none (5)
    │   └── DraftCorrupt         the Draft cannot be read (6)
    ├── ConflictError
    │   ├── PublishConflict      Published changed outside gitbench (7)
    │   └── LocalChanges         checked-out files in the way (7)
    ├── Busy                     another gitbench process holds the Workbench (8)
    ├── GitLocked                a Git lock file (index.lock, ref.lock) is in the way (8)
    ├── CheckpointError
    │   ├── CheckpointFailed     a checkpoint could not be taken; nothing ran (9)
    │   └── CheckpointNotFound   (10)
    ├── ScopeViolation           a job touched paths outside its scope (11)
    ├── JobFailed                the job's command failed (12)
    ├── DiskFull                 no space left; writes halted (13)
    ├── FileIOError              a file could not be read or written (14)
    ├── PublishedMissing         the Published branch was deleted outside gitbench (15)
    ├── CheckFailed              the publish check failed or ran out of time; nothing was published (16)
    ├── ApprovalRequired         an agent (MCP) asked to move Published and the user could not be asked (17)
    ├── RemoteError              the Git server could not be reached, or refused for another reason (18)
    ├── RemoteMoved              Published on the server moved since this clone last saw it (19)
    ├── PublishedUnfinished      Published moved, but the operation's follow-ups could not all be done (25)
    ├── InputTimeout             `module-runner --wait S`: the module's input did not come in time (26)
    ├── ExecutorUnavailable      the Dask scheduler a run names cannot be reached; nothing ran (27)
    ├── ProviderError            a model provider failed (after its retries)
    │   ├── ModelError           the model answered with an error or with output gitbench cannot use (20)
    │   ├── ModelUnavailable     the model or its server is not there, or refused the key (21)
    │   ├── RateLimited          the provider kept answering 429 (22)
    │   ├── ModelTimeout         the provider did not answer in time (23)
    │   └── NetworkError         the connection failed or was cut (24)
    ├── Cancelled                Ctrl-C / SIGTERM (130)
    │   └── ApprovalDeclined     the user said no when an agent (MCP) asked to move Published (130)
    └── InternalError            a bug in gitbench (70)
"""

# No `from __future__ import annotations` (see model.py): a dataclass field annotated with a string costs
# a pattern match at import and again when its __init__ is made.
import errno
import os
from dataclasses import field
from typing import Any, Literal

from gitbench.lazy_dataclass import dataclass

# Every gitbench command an action can name: the TUI routes an action by it, the CLI prints it as
# ``gitbench VERB ARGS``. A sub-command is its path, words separated by one space.
Verb = Literal[
    "add",
    "agent install",
    "agent run",
    "agent uninstall",
    "ask",
    "checkpoint",
    "checkpoints",
    "discard",
    "drafts",
    "exec",
    "export agent-trace",
    "extract",
    "gc",
    "init",
    "jobs",
    "keep",
    "models",
    "publish",
    "pull",
    "push",
    "rebase",
    "recover",
    "report",
    "restore",
    "resume",
    "review",
    "status",
    "try",
    "why",
    "workflow approve",
    "workflow resume",
    "workflow run",
    "workflow status",
]


class Placeholder(str):
    """An argument the user fills in, shown as written and never shell-quoted: ``"..."``, ``'GLOB'``.

    (Placeholders made of plain letters, such as ``LABEL`` or ``PROVIDER:MODEL``, need no marking: quoting leaves
    them as they are.)"""

    __slots__ = ()


@dataclass(frozen=True)
class Action:
    """A next step offered to the user, as data: each front end renders it its own way.

    * a gitbench command: ``verb`` and its ``args`` (``Action("Restore", "restore", (name, "--yes"))``); the CLI
      prints it as ``gitbench restore NAME --yes`` (each argument shell-quoted where needed), the TUI routes it
      by its verb to the flow that does the same thing;
    * anything else the user does by hand (a Git or shell command, a file to edit): ``verb`` None and the text to
      show in ``text`` (``Action("Set your edits aside", text="git stash")``);
    * a step with no command at all ("Free some disk space"): the label alone.

    ``then`` chains a second step run only if the first succeeds (rendered ``A && B``)."""

    label: str
    verb: Verb | None = None
    args: tuple[str, ...] = ()
    text: str = ""
    then: "Action | None" = None

    @property
    def command(self) -> str:
        """The command a user types in a shell to do this, or "" if there is none."""
        if self.verb is None:
            first = self.text
        else:
            import shlex  # only where an action is shown: not at every command's start

            words = ["gitbench", *self.verb.split(" "), *self.args]
            first = " ".join(w if isinstance(w, Placeholder) else shlex.quote(w) for w in words)
        if self.then is None:
            return first
        return f"{first} && {self.then.command}" if first else self.then.command

    def to_dict(self) -> dict[str, Any]:
        """The action for ``--json``, job reports and MCP: its label, ``command`` as a shell reads it, and the
        same as data: the gitbench ``verb`` (None for a step that is not a gitbench command) with its ``args``,
        and ``then``, the chained step (None when there is none), so a script need not parse the command."""
        return {
            "label": self.label,
            "command": self.command,
            "verb": self.verb,
            "args": list(self.args),
            "then": self.then.to_dict() if self.then is not None else None,
        }


PUBLISH = Action("Publish the Draft", "publish")
# A command that asks for confirmation is offered with --yes: off a terminal (a script, an agent) it asks nothing
# and refuses without it, and whoever runs an offered action has chosen it (as `restore NAME --yes`).
DISCARD = Action("Discard the Draft (recoverable with `gitbench discard --undo`)", "discard", ("--yes",))
REVIEW = Action("Review the Draft", "review")
RECOVER = Action("Finish or roll back the interrupted operation", "recover")
CHECKPOINTS = Action("List checkpoints to restore", "checkpoints")
CANCEL = Action("Cancel: leave everything as it is")


@dataclass
class GitbenchError(Exception):
    """Base of every error a user can meet."""

    message: str
    actions: list[Action] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    code = "error"
    exit_code = 1

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "exit_code": self.exit_code,
            "message": self.message,
            "actions": [a.to_dict() for a in self.actions],
            "details": self.details,
        }


class UsageError(GitbenchError):
    code = "usage"
    exit_code = 2


class NotAWorkbench(GitbenchError):
    code = "not-a-workbench"
    exit_code = 3


class DraftError(GitbenchError):
    code = "draft"
    exit_code = 4


class DraftOpen(DraftError):
    code = "draft-open"
    exit_code = 4


class NoDraft(DraftError):
    code = "no-draft"
    exit_code = 5


class DraftAmbiguous(DraftError):
    code = "draft-ambiguous"
    exit_code = 4


class DraftCorrupt(DraftError):
    code = "draft-corrupt"
    exit_code = 6


class ConflictError(GitbenchError):
    code = "conflict"
    exit_code = 7


class PublishConflict(ConflictError):
    code = "publish-conflict"
    exit_code = 7

    def restore_point(self) -> str | None:
        """The checkpoint where the Draft started, if an action offers to restore Published to it while keeping
        the Draft (``gitbench restore NAME --keep-draft``): what the CLI's and TUI's prompts offer."""
        return next(
            (a.args[0] for a in self.actions if a.verb == "restore" and a.args and "--keep-draft" in a.args), None
        )


class LocalChanges(ConflictError):
    code = "local-changes"
    exit_code = 7


class Busy(GitbenchError):
    code = "busy"
    exit_code = 8


class GitLocked(GitbenchError):
    code = "git-locked"
    exit_code = 8


class CheckpointError(GitbenchError):
    code = "checkpoint"
    exit_code = 9


class CheckpointFailed(CheckpointError):
    code = "checkpoint-failed"
    exit_code = 9


class CheckpointNotFound(CheckpointError):
    code = "checkpoint-not-found"
    exit_code = 10


class ScopeViolation(GitbenchError):
    code = "scope-violation"
    exit_code = 11


class JobFailed(GitbenchError):
    code = "job-failed"
    exit_code = 12


class DiskFull(GitbenchError):
    code = "disk-full"
    exit_code = 13


class FileIOError(GitbenchError):
    code = "file-io"
    exit_code = 14


class PublishedMissing(GitbenchError):
    code = "published-missing"
    exit_code = 15


class CheckFailed(GitbenchError):
    """The check that gates a publish (``[publish] check``, ``--check``) failed, could not run, or ran past its
    time limit: Published was not moved and the Draft is kept."""

    code = "check-failed"
    exit_code = 16


class ApprovalRequired(GitbenchError):
    """Published moves only with the user's explicit approval; an agent's client (MCP) could not ask the user, so
    the user runs the command themselves (the actions name it)."""

    code = "approval-required"
    exit_code = 17


class RemoteError(GitbenchError):
    """The Git server could not be reached (network, authentication, no such repository), or refused a push for
    a reason other than a moved Published."""

    code = "remote"
    exit_code = 18


class RemoteMoved(ConflictError):
    """Published on the server is not where this clone last saw it (a teammate published): nothing of ours was
    put over it."""

    code = "remote-moved"
    exit_code = 19


class PublishedUnfinished(GitbenchError):
    """Published moved (the operation happened: its commit point passed), but a follow-up could not be done (a
    full disk, a file error, a lock): the checkpoint, the records, the Draft's removal or the journal's. The next
    gitbench command finishes them. The message names what happened to Published and what is left."""

    code = "published-unfinished"
    exit_code = 25


class InputTimeout(GitbenchError):
    """`module-runner --wait S`: the module still waits for the operator's input when the S seconds are up."""

    code = "input-timeout"
    exit_code = 26


class ExecutorUnavailable(GitbenchError):
    """The executor a workflow run names (``--executor dask://HOST:PORT``) cannot be reached: nothing ran."""

    code = "executor-unavailable"
    exit_code = 27


class ProviderError(GitbenchError):
    code = "provider"
    exit_code = 20
    klass = "model"  # the failure class named in job reports and logs


class ModelError(ProviderError):
    code = "model-error"
    exit_code = 20
    klass = "model"


class ModelUnavailable(ProviderError):
    code = "model-unavailable"
    exit_code = 21
    klass = "model-unavailable"


class RateLimited(ProviderError):
    code = "rate-limit"
    exit_code = 22
    klass = "rate-limit"


class ModelTimeout(ProviderError):
    code = "timeout"
    exit_code = 23
    klass = "timeout"


class NetworkError(ProviderError):
    code = "network"
    exit_code = 24
    klass = "network"


class Cancelled(GitbenchError):
    code = "cancelled"
    exit_code = 130


class ApprovalDeclined(Cancelled):
    """The user declined (or dismissed) the approval an agent's client (MCP) asked for: nothing was changed."""

    code = "approval-declined"
    exit_code = 130


class InternalError(GitbenchError):
    code = "internal"
    exit_code = 70


ALL_ERRORS: tuple[type[GitbenchError], ...] = (
    UsageError,
    NotAWorkbench,
    DraftOpen,
    NoDraft,
    DraftCorrupt,
    PublishConflict,
    LocalChanges,
    Busy,
    GitLocked,
    CheckpointFailed,
    CheckpointNotFound,
    ScopeViolation,
    JobFailed,
    DiskFull,
    FileIOError,
    PublishedMissing,
    CheckFailed,
    ApprovalRequired,
    PublishedUnfinished,
    InputTimeout,
    ExecutorUnavailable,
    ModelError,
    ModelUnavailable,
    RateLimited,
    ModelTimeout,
    NetworkError,
    Cancelled,
    ApprovalDeclined,
    InternalError,
)


# A full disk, a quota, a file size limit: each stops writes the same way, and frees the same way.
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


def is_disk_full(exc: BaseException) -> bool:
    """A full disk, however it surfaced: the system's error (an OSError) or ours (DiskFull)."""
    return isinstance(exc, DiskFull) or (isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS)


def says_disk_full(text: str) -> bool:
    """Does Git's or libgit2's error text name a full disk? They quote the system's words ("No space left on
    device"), or Git says it its own way (write_or_die: "write error. Out of diskspace")."""
    return "Out of diskspace" in text or any(os.strerror(e) in text for e in DISK_FULL_ERRNOS)


def file_error(exc: OSError, what: str) -> GitbenchError:
    """An OSError met while ``what``: a full disk (or quota, or file size limit) says so; anything else is a file
    error to look at."""
    if is_disk_full(exc):
        return disk_full(what)
    return FileIOError(f"File error while {what}: {exc}", [RECOVER])


def disk_full(what: str) -> DiskFull:
    return DiskFull(
        f"No space left on the device while {what}. Writes were halted: Published never holds a half-done "
        "write, the Draft keeps every finished step, and the next gitbench command finishes or rolls back "
        "whatever was under way.",
        [Action("Free some disk space, then run the command again"), RECOVER],
    )
