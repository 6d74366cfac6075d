"""The engine's persisted state: ``.git/gitbench/workflow/engine/state.json``, written atomically.

It holds what the files cannot tell: the running set (claimed modules, with the process and job that claimed
them), gates and approvals, skipped optional modules, runtime overrides (``--set``), the last run of every
module, the workflow job in progress, and the workflow definition it runs (the file's blob id and the resolved
definition). Deleting it loses no work: the artifacts and their metadata say what
is complete, and the Draft's step commits say which runs finished.

Claims, gates and last runs are dataclasses here; on disk each is the JSON object it always was (a field with
nothing in it is left out, a key this version does not know is kept), so a state written by an older gitbench
loads, and one written now reads the same.
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from gitbench.model import OpenStrEnum
from gitbench.store import atomic
from gitbench.store.layout import Layout


class ClaimStatus(OpenStrEnum):
    RUNNING = "running"  # a process of ours runs the module
    NEEDS_INPUT = "needs-input"  # an input module waits for the operator: no process holds it
    INTERRUPTED = "interrupted"  # (never saved) the claim's process is gone: a resume settles it


class RunStatus(OpenStrEnum):
    """How one run of a module ended: what a runner returns and a last run records."""

    COMPLETE = "complete"  # its outputs are written: its step is committed
    FAILED = "failed"
    NEEDS_INPUT = "needs-input"  # an input module (or a Python module) waits for the operator
    LOST = "lost"  # (a last run only) it failed with its cluster's worker or scheduler: it runs again


_R = TypeVar("_R", bound="_Record")


@dataclass
class _Record:
    """A JSON object with known fields: ``from_json`` keeps the keys it does not know in ``extra``, ``to_json``
    writes them back, and leaves out the optional fields that hold None (as the dicts before left them out)."""

    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, kw_only=True)

    _ALWAYS: ClassVar[frozenset[str]] = frozenset()  # written even when None

    @classmethod
    def from_json(cls: type[_R], data: dict[str, Any]) -> _R:
        names = {f.name for f in dataclasses.fields(cls) if f.name != "extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        return cls(**known, extra=extra)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.extra)
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is not None or f.name in self._ALWAYS:
                out[f.name] = value
        return out


@dataclass
class Claim(_Record):
    """A module in the running set: which process runs it (pid and its start time: a later process with the same
    pid is not it), since when, for which job and run, on inputs of which fingerprint."""

    status: ClaimStatus = ClaimStatus.RUNNING
    pid: int | None = None
    started: int | None = None
    since: float | None = None
    job: str | None = None
    run: str | None = None
    fingerprint: str | None = None
    commit: str | None = None  # its step commit, noted before the Draft moves to it (a resume finishes the move)
    parent: str | None = None  # the Draft's head that commit was made on

    _ALWAYS: ClassVar[frozenset[str]] = frozenset({"pid", "started", "since", "job", "run", "fingerprint"})

    def __post_init__(self) -> None:
        self.status = ClaimStatus(self.status)  # as JSON loads it: its text


@dataclass
class Gate(_Record):
    """A module's manual gate: set in the file or at runtime (``required``; None: as the file says), approved or
    not, and for which inputs (an approval is of what the module would run on then: new inputs need a new one)."""

    required: bool | None = None
    approved: bool = False
    fingerprint: str | None = None
    inputs: dict[str, str | None] | None = None

    def __post_init__(self) -> None:
        self.approved = bool(self.approved)


@dataclass
class LastRun(_Record):
    """How a module's last run ended: complete, failed (with its error) or needs-input; when, how long it took,
    which run and job, its step commit, and how many runs it has had (the next run's id counts on). Never
    changed once made (a new run replaces it): its JSON is made once."""

    status: RunStatus | None = None
    error: str | None = None
    finished: float | None = None
    since: float | None = None
    seconds: float | None = None
    run: str | None = None
    fingerprint: str | None = None
    commit: str | None = None
    count: int | None = None
    job: str | None = None
    lost: bool | None = None  # failed because a cluster's worker or scheduler was lost: the next run runs it again

    _ALWAYS: ClassVar[frozenset[str]] = frozenset({"error"})

    def __post_init__(self) -> None:
        if self.status is not None:
            self.status = _RUN_STATUS.get(self.status) or RunStatus(self.status)  # as JSON loads it: its text

    @cached_property
    def json(self) -> dict[str, Any]:
        """``to_json()``, once: a last run does not change (a new one replaces it), and a status of thousands of
        modules, and every save of the state, read it."""
        return self.to_json()


_RUN_STATUS = {s.value: s for s in RunStatus}  # a state of thousands of last runs loads without an enum call each


@dataclass
class EngineState:
    running: dict[str, Claim] = field(default_factory=dict)
    gates: dict[str, Gate] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_run: dict[str, LastRun] = field(default_factory=dict)
    job: str | None = None
    # The workflow definition as run: {"path", "blob": the Git blob id of the file, "definition": the resolved
    # modules (defaults filled in), order, max_parallel, phases}. Set when a run starts.
    workflow: dict[str, Any] | None = None
    # The cluster a run sends command and model modules to, while it runs: {"address", "capacity": its worker
    # threads}, so that a status names the cluster's limit in skip reasons. None for a local run (not written).
    executor: dict[str, Any] | None = None


def path(gitdir: str) -> str:
    return Layout(gitdir).workflow_state


def _records(cls: type[_R], data: Any) -> dict[str, _R]:
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise TypeError("not a mapping of objects")
    return {k: cls.from_json(v) for k, v in data.items()}


def load(gitdir: str) -> EngineState:
    data = atomic.read_json(path(gitdir))
    if not isinstance(data, dict):
        return EngineState()
    known = {k: v for k, v in data.items() if k in EngineState.__dataclass_fields__}
    try:
        known["running"] = _records(Claim, known.get("running", {}))
        known["gates"] = _records(Gate, known.get("gates", {}))
        known["last_run"] = _records(LastRun, known.get("last_run", {}))
        return EngineState(**known)
    except TypeError:
        return EngineState()  # a state from another version: rebuilt from the artifacts


def save(gitdir: str, state: EngineState) -> None:
    """Written at every claim and every finish, fsynced, renamed into place: one line of JSON, the text
    ``json.dumps(..., sort_keys=True, separators=(",", ":"))`` makes of the whole state. Put together from parts
    so that what does not change between saves is neither encoded nor copied again: each last run's text is made
    once (``_member``), all of them joined once for as long as none changes (``_last_runs``), and the workflow's
    definition encoded once a run; a save of a state of thousands of modules encodes only its few small parts
    (encoding it whole at every claim and finish made a long run quadratic) and makes one copy of the rest."""
    head = []  # "key":value, in the order sort_keys writes the keys
    if state.executor is not None:
        head.append('"executor":' + _dumps(state.executor))
    head.append('"gates":' + _dumps({k: g.to_json() for k, g in state.gates.items()}))
    head.append('"job":' + _dumps(state.job))
    tail = [
        '"overrides":' + _dumps(state.overrides),
        '"running":' + _dumps({k: c.to_json() for k, c in state.running.items()}),
        '"skipped":' + _dumps(state.skipped),
    ]
    global _encoded
    if state.workflow is None:
        workflow = b"null"
    else:  # the definition changes once a run at most: encoded once, not at every save
        if _encoded is None or _encoded[0] is not state.workflow:
            _encoded = (state.workflow, _dumps(state.workflow).encode())
        workflow = _encoded[1]
    text = b"".join(
        [
            ("{" + ",".join(head) + ',"last_run":{').encode(),
            _last_runs(state.last_run),
            ("}," + ",".join(tail) + ',"workflow":').encode(),
            workflow,
            b"}\n",
        ]
    )
    os.makedirs(os.path.dirname(path(gitdir)), exist_ok=True)
    atomic.write_bytes(path(gitdir), text)


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _last_runs(runs: dict[str, LastRun]) -> bytes:
    """The members of the state's last runs, keys sorted, as the file has them: joined again only when a last
    run was added, replaced or removed (once a finish; a claim's save changes none). Only the members whose run
    is new are encoded; finding them, sorting the keys and joining are loops in C (a Python loop over every last
    run at every finish made a long run quadratic in the interpreter)."""
    global _joined
    keys, values = list(runs), list(runs.values())
    if _joined is not None:
        old_keys, old_values, old_text = _joined
        n = len(old_keys)
        if keys[:n] == old_keys:  # none removed: replaced in place, or added at the end
            if len(keys) == n and all(map(operator.is_, values, old_values)):
                return old_text
            fresh = [*itertools.compress(keys, map(operator.is_not, values, old_values)), *keys[n:]]
        else:
            fresh = keys
    else:
        fresh = keys
    for key in fresh:
        _member(key, runs[key])
    text = ",".join(map(_texts.__getitem__, sorted(keys))).encode()
    _joined = (keys, values, text)
    return text


def _member(key: str, record: LastRun) -> str:
    """``"key":{...}`` in the state's last runs, encoded once per last run (one never changes: a new run
    replaces it), not at every save."""
    made = _members.get(key)
    if made is None or made[0] is not record:
        made = _members[key] = (record, _dumps(key) + ":" + _dumps(record.json))
        _texts[key] = made[1]
    return made[1]


_encoded: tuple[dict[str, Any], bytes] | None = None
_joined: tuple[list[str], list[LastRun], bytes] | None = None
_members: dict[str, tuple[LastRun, str]] = {}
_texts: dict[str, str] = {}  # key → its member's text, as _members has it
