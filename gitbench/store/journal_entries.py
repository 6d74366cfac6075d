"""The entries of the operation journal (store/journal.py): typed records, told apart on disk by their ``"op"``
(the format of every earlier version, so a journal an older gitbench left still recovers):

* ``Move``: Published moving (``publish``, ``restore``, ``fileop`` for add/rm, ``pull``): rolled back if its ref
  had not moved, forward if it had (services/transaction.py).
* ``Discard``: a Draft going to the trash; finished.
* ``JobRun``: a job running under the lock (and its ``end`` if the disk was too full for its record).
* ``Gc``: ``gitbench gc`` part way; nothing to finish.
* ``Attempts``: the jobs of ``gitbench try`` side by side.
* ``Torn``: a journal that cannot be read (a torn write of the journal itself: nothing after it ran) or that
  names an operation this version does not know.

Keys an entry does not know are kept (``extra``) and written back as they were.
"""

# No `from __future__ import annotations` (see model.py): a dataclass field annotated with a string costs
# a pattern match at import and again when its __init__ is made.
import dataclasses
from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import Any

from gitbench.lazy_dataclass import dataclass


class Op(StrEnum):
    """The operation a journal entry belongs to: its ``"op"`` on disk."""

    PUBLISH = "publish"
    RESTORE = "restore"
    FILEOP = "fileop"  # add, rm
    PULL = "pull"
    DISCARD = "discard"
    JOB = "job"
    GC = "gc"
    TRY = "try"
    TORN = "torn"


MOVES = frozenset({Op.PUBLISH, Op.RESTORE, Op.FILEOP, Op.PULL})


@dataclass
class Move:
    """Published moving from ``old`` to ``new`` (its ref is the commit point), and its files if ``files``."""

    op: Op
    id: str
    old: str | None
    new: str
    files: bool = False
    # publish: the Draft published, its head, its job, the check that gated it (``Gate.to_record()``)
    draft: str | None = None
    draft_head: str | None = None
    job: str | None = None
    check: dict[str, Any] | None = None
    # restore: the checkpoint restored, the records' tree to restore with it, the checkpoint taken before
    checkpoint: str | None = None
    records_tree: str | None = None
    pre: str | None = None
    # fileop: "add" or "rm"
    kind: str | None = None
    # set by transaction.move_published before the journal is written: what the move changes and how
    ref: str | None = None
    changes: list[Any] | None = None  # git/checkout.changes_to_json
    hidden: list[str] | None = None  # outside the sparse checkout
    submodules: list[str] | None = None
    submodule_moves: list[list[str | None]] | None = None  # [path, old commit, new commit]
    untouched: list[str] | None = None  # already held their new content: the user's, never rolled back
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.op not in MOVES:
            raise ValueError(f"not a move of Published: {self.op}")


@dataclass
class Discard:
    """A Draft going to the trash ref ``trash``: finished by the next command."""

    id: str
    draft: str
    draft_head: str | None  # None: its ref did not name a readable commit
    trash: str
    rescued: str | None = None  # then: the last good commit its reflog names
    extra: dict[str, Any] = field(default_factory=dict)
    op: Op = field(default=Op.DISCARD, init=False)


@dataclass
class JobRun:
    """A job running under the Workbench lock; ``end`` (``{"status", "error"}``) once it stopped and its record
    could not be written (a full disk)."""

    id: str
    draft: str | None = None
    pid: int | None = None
    end: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    op: Op = field(default=Op.JOB, init=False)


@dataclass
class Gc:
    """A `gitbench gc` under way: nothing to finish or undo (refs go in one transaction, files one by one)."""

    id: str
    time: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    op: Op = field(default=Op.GC, init=False)


@dataclass
class Attempts:
    """The jobs ``gitbench try`` runs side by side (each still running when it was interrupted is)."""

    jobs: list[str]
    pid: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    op: Op = field(default=Op.TRY, init=False)


@dataclass
class Torn:
    """A journal nothing can be done with: unreadable, or of an operation this version does not know."""

    extra: dict[str, Any] = field(default_factory=dict)
    op: Op = field(default=Op.TORN, init=False)


Entry = Move | Discard | JobRun | Gc | Attempts | Torn

_TYPES: dict[Op, type[Discard] | type[JobRun] | type[Gc] | type[Attempts]] = {
    Op.DISCARD: Discard,
    Op.JOB: JobRun,
    Op.GC: Gc,
    Op.TRY: Attempts,
}
# Optional keys written although None (an older gitbench read them with entry["..."]); other optional keys that
# are None are left out, as earlier versions wrote them.
_ALWAYS = {
    Op.PUBLISH: ("draft", "draft_head", "job"),
    Op.RESTORE: ("checkpoint", "records_tree", "pre"),
    Op.FILEOP: ("kind",),
    Op.DISCARD: ("rescued",),
}


def from_json(data: Mapping[str, Any]) -> Entry:
    """The entry a journal's JSON holds (any version's); ``Torn`` if it is not one this version knows."""
    try:
        op = Op(str(data.get("op")))
    except ValueError:
        return Torn(extra=dict(data))
    if op is Op.TORN:
        return Torn(extra={k: v for k, v in data.items() if k != "op"})
    cls: type[Entry] = Move if op in MOVES else _TYPES[op]
    known = {f.name for f in dataclasses.fields(cls) if f.name != "extra" and f.init}
    args = {k: v for k, v in data.items() if k in known}
    extra = {k: v for k, v in data.items() if k not in known and k != "op"}
    try:
        if cls is Move:
            return Move(**{**args, "op": op}, extra=extra)
        return cls(**args, extra=extra)
    except TypeError:  # a field it needs is missing: not an entry we can act on
        return Torn(extra=dict(data))


def to_json(entry: Entry) -> dict[str, Any]:
    """The entry as the journal holds it: ``"op"`` first, then its fields (optional ones that are None left out,
    as every earlier version wrote it), then the keys it did not know."""
    out: dict[str, Any] = {"op": str(entry.op)}
    always = _ALWAYS.get(entry.op, ())
    for f in dataclasses.fields(entry):
        if f.name in ("op", "extra"):
            continue
        value = getattr(entry, f.name)
        if value is None and f.default is None and f.name not in always:
            continue
        out[f.name] = value
    out.update(entry.extra)
    return out
