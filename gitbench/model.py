"""Plain data that crosses the layers: what services return and the CLI renders."""

# No `from __future__ import annotations` here (as in events.py): `dataclass` checks each field annotation written
# as a string for ClassVar, InitVar and KW_ONLY with a pattern, at import and again when lazy_dataclass makes an
# `__init__` (~2.5 us a field, 121 fields here); these evaluate as they are.
from dataclasses import field
from enum import StrEnum
from typing import Any

from gitbench.lazy_dataclass import dataclass

DRAFT_PREFIX = "refs/heads/gitbench/draft/"
GONE = ".gone-"  # a removed Draft worktree's folder, renamed aside while it is deleted in the background
TRASH_PREFIX = "refs/gitbench/trash/"
LEFTOVERS_PREFIX = "refs/gitbench/leftovers/"  # what a removed Draft worktree held that was not in the Draft
CHECKPOINT_PREFIX = "refs/tags/checkpoint/"
RECORDS_REF = "refs/gitbench/records"
TRASH_DAYS = 14
REMIND_AFTER = 24 * 3600
STALE_AFTER = 7 * 24 * 3600


class OpenStrEnum(StrEnum):
    """A ``StrEnum`` of a value read from a file another gitbench may have written: a value this version does not
    know (a record written by a newer gitbench on another clone) loads as itself and is written back unchanged,
    rather than refusing the whole record."""

    @classmethod
    def _missing_(cls, value: object) -> "OpenStrEnum | None":
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_, member._value_ = value.upper(), value
        return member


class CheckpointKind(OpenStrEnum):
    """Why a checkpoint was taken, as its tag message says (``Gitbench-Checkpoint-Kind``); a kind this version
    does not know loads as itself."""

    INIT = "init"  # `gitbench init` adopted the repository
    AUTO = "auto"  # before a job
    PUBLISH = "publish"  # a publish (Published as it became)
    MANUAL = "manual"  # `gitbench checkpoint`
    PRE_RESTORE = "pre-restore"  # before a restore (or a pull over a restored Published): the restore's undo
    UNKNOWN = "unknown"  # a tag with no kind in its message, or a lightweight tag: not gitbench's own


class FileChangeStatus(OpenStrEnum):
    """What a change does to a file, as a review lists it (a status libgit2 gives that is none of these, such as
    a copy, is kept as its letter)."""

    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"
    TYPE_CHANGED = "type-changed"


# A file change's one-letter mark in a review's list (anything else: "T")
MARKS = {
    FileChangeStatus.ADDED: "A",
    FileChangeStatus.DELETED: "D",
    FileChangeStatus.MODIFIED: "M",
    FileChangeStatus.RENAMED: "R",
}


class JobStatus(OpenStrEnum):
    """Where a job stands. The values are the strings job records, reports, logs and ``--json`` have always held
    (a ``StrEnum`` compares equal to them and writes them as they are), so old records load unchanged."""

    RUNNING = "running"
    SESSION = "session"  # an agent's session (integrations/) is still open: its steps come as its turns end
    COMPLETE = "complete"  # ran to its end; its Draft holds what it changed
    NO_CHANGES = "no-changes"  # ran to its end and changed nothing: no Draft was kept
    PAUSED = "paused"  # a rate limit or a timeout (model jobs), a workflow waiting for input: resume it later
    FAILED = "failed"
    CANCELLED = "cancelled"  # Ctrl-C or SIGTERM stopped it
    INTERRUPTED = "interrupted"  # its process died; the next command found it still marked running
    PUBLISHED = "published"  # its Draft was published
    DISCARDED = "discarded"  # its Draft was discarded (recoverable)

    @property
    def stopped(self) -> bool:
        """Ended before its work was done, with its Draft kept: ``gitbench resume`` (or a retry) goes on."""
        return self in STOPPED


STOPPED = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED, JobStatus.PAUSED})


def to_json(obj: Any) -> Any:
    """Plain JSON data from dataclasses, lists and dicts (field by field: ``asdict`` deep-copies, ~10× slower)."""
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is not None and not isinstance(obj, type):
        return {k: to_json(getattr(obj, k)) for k in fields}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    return obj


@dataclass
class Checkpoint:
    """A checkpoint: an annotated tag under ``refs/tags/checkpoint/`` and what its message says."""

    name: str  # "checkpoint/261203-072105-k3mq" (an older Workbench's: "checkpoint/3")
    kind: CheckpointKind
    commit: str
    records: str | None
    date: float
    message: str
    job: str | None = None


@dataclass
class FileChange:
    """One file a Draft changes against Published, with its line counts."""

    path: str
    status: FileChangeStatus
    insertions: int = 0
    deletions: int = 0
    binary: bool = False
    old_path: str | None = None


@dataclass
class Review:
    """What a Draft changes against Published (``gitbench review``)."""

    draft: str
    base: str
    head: str
    files: list[FileChange]
    insertions: int
    deletions: int
    patch: str | None = None
    base_is_published: bool = True
    running: str | None = None  # a job whose command is working in the Draft right now
    # what it has changed in its worktree so far; with no job running: what an agent session left there mid-turn
    uncommitted: list[str] = field(default_factory=list)


@dataclass
class Step:
    """One step commit of a Draft, with its audit trailers."""

    commit: str
    subject: str
    date: float
    trailers: dict[str, str]
    branch: str = ""


@dataclass
class DraftInfo:
    """An open Draft as ``status`` and ``drafts`` describe it."""

    label: str
    ref: str
    head: str
    base: str
    created: float
    last_activity: float
    steps: int
    files_changed: int
    job: str | None = None
    reminder: str | None = None
    stale: bool = False
    model: str | None = None
    status: JobStatus | None = None  # its job's
    base_is_published: bool = True  # False: made from an older Published (another Draft was published since)
    tokens: int | None = None
    worktree: str | None = None  # its worktree's folder, when a command has worked in it
    worktree_missing: bool = False  # the worktree's folder was deleted or moved (`gitbench recover` repairs)
    running: str | None = None  # the job whose command is running in it right now


@dataclass
class JobRecord:
    """A job's record (``jobs/<id>.json`` on the records ref)."""

    id: str
    kind: str
    status: JobStatus
    created: float
    updated: float
    draft: str
    base: str
    checkpoint: str | None
    scope: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    message: str = ""
    model: str = "command"
    steps_completed: int = 0
    steps_total: int = 1
    files_changed: list[str] = field(default_factory=list)
    checkpoints_created: list[str] = field(default_factory=list)
    attempts: int = 0
    usage_estimate: int | None = None
    usage_actual: int | None = None
    exit_code: int | None = None
    error: dict[str, Any] | None = None
    refused: list[dict[str, str]] = field(default_factory=list)
    pid: int | None = None
    head: str | None = None  # the Draft's last step commit: a Draft deleted outside gitbench can come back
    models: list[str] = field(default_factory=list)  # every model that ran a step, in order (resume may switch)
    conversation: str | None = None  # Workshop jobs: the conversation and the turn whose prompt this job runs
    turn: int | None = None
    plan: list[list[str]] | None = None  # model jobs: the batches of files, one step each
    next_batch: int = 0  # the first batch not yet done: where resume starts
    skipped: list[dict[str, str]] = field(default_factory=list)  # files not read or not sent, with the reason
    tried_from: str | None = None  # `gitbench try`: the Workshop job this one runs again with another model
    label: str | None = None  # `gitbench try`: the Draft's label (the model's name, or --label)
    finished: float | None = None  # when it stopped running (complete, failed, ...): its duration for compare
    continues: str | None = None  # `ask --on-draft continue`: the open Draft its steps went on
    agent: str | None = None  # a command's program ("aider", "claude", "sed"), behind launchers
    agent_model: str | None = None  # the model the agent said it uses (its flags, environment, config), if any
    worktree: str | None = None  # the Draft worktree the command ran in
    sparse: bool = False  # the worktree checks out only the scope's folders and the top-level files
    timeout: float | None = None  # seconds the command may run
    ok_exit: list[int] = field(default_factory=list)  # non-zero statuses that count as success (--ok-exit)
    check: dict[str, Any] | None = None  # the last publish check of its Draft: command, commit, status, record

    def __post_init__(self) -> None:
        # A record read back from JSON (or made by a caller) holds the status as a plain string.
        if type(self.status) is not JobStatus and isinstance(self.status, str):
            self.status = JobStatus(self.status)

    @property
    def shown_model(self) -> str:
        """Who did the work, as people read it: the agent and its model for a command (``aider:gpt-4o``, ``sed``),
        else the provider:model of a model job."""
        if self.agent and (self.model == "command" or self.model.startswith("command:")):
            return f"{self.agent}:{self.agent_model}" if self.agent_model else self.agent
        return self.model

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "JobRecord":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Published:
    """Published: the main branch's commit and the checkpoint that names it, if one does."""

    branch: str
    ref: str
    commit: str
    subject: str
    date: float
    checkpoint: str | None


@dataclass
class Storage:
    """What the Workbench's ``.git`` takes on disk (``status``; ``gc`` before and after)."""

    git_bytes: int  # the objects, gitbench's folder and Git's other files (loose refs and reflogs left out)
    objects_bytes: int  # packs and loose objects
    packs: int
    loose_objects: int
    gitbench_bytes: int  # .git/gitbench: logs, job folders, local state
    estimate: bool  # loose objects counted from a sample of their folders (status), not one by one


@dataclass
class Status:
    """Everything ``gitbench status`` shows."""

    workbench: str
    bare: bool
    published: Published
    draft: DraftInfo | None
    last_job: JobRecord | None
    reminders: list[str]
    busy: str | None = None
    recovered: list[str] = field(default_factory=list)
    local_changes: list[str] = field(default_factory=list)
    draft_problem: str | None = None  # the open Draft cannot be read: why
    drafts: list[DraftInfo] = field(default_factory=list)  # every open Draft (v1.5: several); draft is the first
    storage: Storage | None = None  # None when it could not be measured
    server: str | None = None  # the Git server this clone shares through, as last seen (no network): docs/teams.md


@dataclass
class OperationResult:
    """What a state-changing command did, for the CLI to render."""

    operation: str
    summary: str
    checkpoints: list[str] = field(default_factory=list)
    published: str | None = None
    draft: str | None = None
    job: JobRecord | None = None
    review: Review | None = None
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
