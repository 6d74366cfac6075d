"""The engine's persisted state, in ``.git/gitbench/workflow/engine/``: what the files cannot tell.

- ``state.json``: the running set (claimed modules, with the process and job that claimed them), gates and
  approvals, skipped optional modules, runtime overrides (``--set``), the workflow job in progress, and which
  workflow file it runs (its path and blob id). Small: rewritten whole (fsynced, renamed) at each claim.
- ``runs.log``: the last run of every module, one JSON line ``[module, last run]`` appended (and fsynced) as each
  run ends; the last line of a module is its last run. Rewritten whole, atomically, only when it has grown to
  twice the lines it needs. A line cut short by a crash is not read, and goes at the next write.
- ``definition.json``: the resolved workflow definition the runs go by, written when it changes.

A run of N modules so writes O(N) bytes, not the whole state at every claim and finish (N² bytes: 1.3 GB for
1,000 trivial modules when the last runs and the definition were in ``state.json``). A run's end is written to
``runs.log`` before ``state.json`` drops its claim: a crash between the two leaves a claim whose run has a last
run, and ``load`` settles it as the run's end did. ``load`` reads runs.log but parses it only when the last
runs are first looked at, and leaves definition.json to the run that needs it: a status its caches answer pays
for neither (10,000 modules: ~0.1 s and ~20 ms).

Deleting them loses no work: the artifacts and their metadata say what is complete, and the Draft's step
commits say which runs finished. Claims, gates and last runs are dataclasses here; on disk each is the JSON
object it always was (a field with nothing in it is left out, a key this version does not know is kept), so a
state written by an older gitbench (its last runs and definition inside ``state.json``) loads, and is written
in these files at the next save.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import operator
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

from gitbench import faults
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
    LOST = "lost"  # (a last run only) it failed for a reason outside it (its cluster, its provider): it runs again


_R = TypeVar("_R", bound="_Record")


def _names(cls: type[Any]) -> frozenset[str]:
    """A record's field names (but ``extra``): asked once a class, not for each of thousands of records."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = frozenset(f.name for f in dataclasses.fields(cls) if f.name != "extra")
    return names


_NAMES: dict[type[Any], frozenset[str]] = {}


@dataclass
class _Record:
    """A JSON object with known fields: ``from_json`` keeps the keys it does not know in ``extra``, ``to_json``
    writes them back, and leaves out the optional fields that hold None (as the dicts before left them out)."""

    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False, kw_only=True)

    _ALWAYS: ClassVar[frozenset[str]] = frozenset()  # written even when None

    @classmethod
    def from_json(cls: type[_R], data: dict[str, Any]) -> _R:
        names = _names(cls)
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
    # failed because its model provider was unavailable, rate-limited, timed out or unreachable: the next run
    # runs it again
    transient: bool | None = None
    recipe: str | None = None  # what the module did (``spec.recipe``): once it changes, a failure is not its own

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
    job: str | None = None
    # The workflow file run: {"path", "blob": the Git blob id of the file}; as a run starts it sets "definition"
    # too (the resolved modules, defaults filled in, order, max_parallel, phases), saved in definition.json. A
    # loaded state has the path and blob only (definition.json is read by ``holds_definition``).
    workflow: dict[str, Any] | None = None
    # The cluster a run sends command and model modules to, while it runs: {"address", "capacity": its worker
    # threads}, so that a status names the cluster's limit in skip reasons. None for a local run (not written).
    executor: dict[str, Any] | None = None
    # What the files hold, as this state last read or wrote them (None: not known, a save writes all of it).
    disk: _Disk | None = field(default=None, repr=False, compare=False)
    _runs: dict[str, LastRun] = field(default_factory=dict, repr=False)  # ``last_run``

    @property
    def last_run(self) -> dict[str, LastRun]:
        """Every module's last run. runs.log is parsed at the first look: a status its caches answer, a gate or a
        skip need none (10,000 last runs take ~0.1 s to make)."""
        if self.disk is not None and self.disk.pending is not None:
            self._runs, whole = _parse_runs(self.disk.pending)
            self.disk.pending = None
            if whole:
                self.disk.keys, self.disk.values = list(self._runs), list(self._runs.values())
        return self._runs

    @last_run.setter
    def last_run(self, runs: dict[str, LastRun]) -> None:
        if self.disk is not None:
            self.disk.pending = None
        self._runs = runs


# state.json's keys (an older gitbench's has "last_run" too)
_SAVED = ("running", "gates", "skipped", "overrides", "job", "workflow", "executor")


@dataclass
class _Disk:
    """What the state's files hold, as far as this process knows: what a save need not write again."""

    state: bytes = b""  # state.json
    keys: list[str] | None = None  # the modules in runs.log, in the order of the mapping (None: not all there)
    values: list[LastRun] = field(default_factory=list)  # their last runs (compared by identity)
    size: int = 0  # runs.log's bytes, up to its last whole line
    inode: int = 0  # and its inode (a file written whole since is another)
    lines: int = 0
    runs: hashlib._Hash | None = None  # a sha1 of runs.log's bytes (its whole lines)
    pending: bytes | None = None  # runs.log's whole lines, read but not parsed yet (``EngineState.last_run``)
    definition: dict[str, Any] | None = None  # the workflow (with its definition) last written to definition.json

    def identity(self) -> bytes:
        """What changes whenever the state's files do (for a cache of what is made from them)."""
        return self.state + b"\0" + (self.runs.digest() if self.runs is not None else b"")


def path(gitdir: str) -> str:
    return Layout(gitdir).workflow_state


def identity(state: EngineState) -> bytes:
    """Bytes that change whenever the files ``state`` was loaded from (or saved to) do."""
    return state.disk.identity() if state.disk is not None else b""


def _records(cls: type[_R], data: Any) -> dict[str, _R]:
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise TypeError("not a mapping of objects")
    return {k: cls.from_json(v) for k, v in data.items()}


def load(gitdir: str) -> EngineState:
    """The state as its files hold it. runs.log is read (its digest is part of ``identity``) but parsed only when
    the last runs are first looked at; definition.json is not read (``holds_definition``)."""
    layout = Layout(gitdir)
    disk = _Disk()
    raw = atomic.read_bytes(layout.workflow_state)
    state, readable = _parse_state(raw)
    disk.state = raw if readable else b""  # a state of another shape is written again at the next save
    try:
        with open(layout.workflow_runs, "rb") as fh:
            data = fh.read()
            disk.inode = os.fstat(fh.fileno()).st_ino
    except (FileNotFoundError, NotADirectoryError):
        data = b""
    data = data[: data.rfind(b"\n") + 1]  # a line cut short by a crash is not read
    disk.size, disk.lines, disk.runs = len(data), data.count(b"\n"), hashlib.sha1(data)
    if state._runs:  # an older gitbench kept the last runs in state.json: runs.log is written whole at the next save
        state._runs = _newer(state._runs, _parse_runs(data)[0])
    else:
        disk.pending = data
    state.disk = disk
    _settle_ended(state)
    return state


def holds_definition(gitdir: str, workflow: dict[str, Any]) -> bool:
    """Does definition.json hold the definition of ``workflow`` (its path and blob)?"""
    try:
        data = json.loads(atomic.read_bytes(Layout(gitdir).workflow_definition) or b"null")
    except ValueError:
        return False
    return isinstance(data, dict) and "definition" in data and _ref(data) == _ref(workflow)


def _parse_state(raw: bytes) -> tuple[EngineState, bool]:
    """state.json's text as a state (its last runs too, if an older gitbench wrote them there), and whether it
    was one: of another shape (from another version), a fresh state, rebuilt from the artifacts."""
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return EngineState(), False
    if not isinstance(data, dict):
        return EngineState(), False
    known = {k: v for k, v in data.items() if k in _SAVED or k == "last_run"}
    try:
        known["running"] = _records(Claim, known.get("running", {}))
        known["gates"] = _records(Gate, known.get("gates", {}))
        runs = _records(LastRun, known.pop("last_run", {}))
        return EngineState(**known, _runs=runs), True
    except TypeError:
        return EngineState(), False


def _parse_runs(data: bytes) -> tuple[dict[str, LastRun], bool]:
    """runs.log's whole lines as last runs (a module's last line wins), and whether every line was read (a line
    that is not ``[module, {...}]`` is left out: then the next save writes the file again, without it)."""
    runs: dict[str, LastRun] = {}
    whole = True
    try:
        pairs = json.loads(b"[" + data[:-1].replace(b"\n", b",") + b"]") if data else []
        if len(pairs) != data.count(b"\n"):  # two broken lines that make one value when joined
            raise ValueError(data)
    except ValueError:
        pairs = []
        for line in data.splitlines():
            try:
                pairs.append(json.loads(line))
            except ValueError:
                whole = False
    for pair in pairs:
        try:
            key, record = pair
            if not isinstance(key, str) or not isinstance(record, dict):
                raise TypeError(key)
            runs[key] = LastRun.from_json(record)
        except (TypeError, ValueError):
            whole = False
    return runs, whole


def _settle_ended(state: EngineState) -> None:
    """A claim whose run has its last run ended: the engine died between writing the run's end (runs.log) and
    dropping the claim (state.json). Settled as the end did it: the claim goes, or waits for input. (Only a
    state with claims parses its last runs for this.)"""
    for mid, claim in list(state.running.items()):
        last = state.last_run.get(mid)
        if last is None or claim.run is None or last.run != claim.run:
            continue
        if last.status == RunStatus.NEEDS_INPUT:
            state.running[mid] = dataclasses.replace(claim, status=ClaimStatus.NEEDS_INPUT)
        else:
            del state.running[mid]


def save(gitdir: str, state: EngineState, runs: bool = True) -> None:
    """Written at every claim and every finish. In this order, each durable before the next: the definition if
    it changed, the runs that ended since the last save (appended to runs.log), then state.json if it changed
    (fsynced, renamed into place). What did not change is neither encoded nor written again: a save of a state
    of thousands of modules writes a few hundred bytes, not all of them (that made a long run quadratic).
    ``runs`` False: the caller changed no last run since the last save (a claim), so none is looked for."""
    layout = Layout(gitdir)
    disk = state.disk if state.disk is not None else _Disk()
    os.makedirs(os.path.dirname(layout.workflow_state), exist_ok=True)
    wf = state.workflow
    ref = wf
    if wf is not None and "definition" in wf:
        ref = _ref(wf)
        if disk.definition is not wf:  # set when a run starts with a file definition.json does not hold
            atomic.write_bytes(layout.workflow_definition, (_dumps(wf) + "\n").encode())
            disk.definition = wf
            faults.point("workflow.after-definition")  # its definition written, state.json not yet naming it
    # the last runs, unless they were never looked at (then nothing changed them)
    if (runs or disk.keys is None) and disk.pending is None and _save_runs(layout.workflow_runs, state._runs, disk):
        faults.point("workflow.after-runs")  # a run's end written, its claim still in state.json
    small: dict[str, Any] = {
        "gates": {k: g.to_json() for k, g in state.gates.items()},
        "job": state.job,
        "overrides": state.overrides,
        "running": {k: c.to_json() for k, c in state.running.items()},
        "skipped": state.skipped,
        "workflow": ref,
    }
    if state.executor is not None:
        small["executor"] = state.executor
    raw = (_dumps(small) + "\n").encode()
    if raw != disk.state:
        atomic.write_bytes(layout.workflow_state, raw)
        disk.state = raw
    state.disk = disk


def _save_runs(file: str, runs: dict[str, LastRun], disk: _Disk) -> bool:
    """The last runs new since the last save, appended to runs.log (fsynced); the whole file written again
    (atomically) when it is not what this state last read or wrote, a last run was removed, or half its lines
    are outdated. False: nothing written. Finding the new runs is a loop in C: a Python loop over every module
    at every save made a long run quadratic in the interpreter."""
    keys, values = list(runs), list(runs.values())
    old = disk.keys
    fresh: list[str] = []
    whole = old is None or keys[: len(old)] != old
    if not whole:
        assert old is not None
        n = len(old)
        if len(keys) == n and all(map(operator.is_, values, disk.values)):
            return False
        fresh = [*itertools.compress(keys, map(operator.is_not, values, disk.values)), *keys[n:]]
        whole = disk.lines + len(fresh) > 2 * len(keys) + 64 or _stat(file) != (disk.size, disk.inode)
    if whole:
        data = b"".join(_line(k, runs[k]) for k in keys)
        if not data and _stat(file) is None:
            disk.keys, disk.values = keys, values
            return False  # no last run, and no file to empty
        atomic.write_bytes(file, data)
        disk.size, disk.lines, disk.runs = len(data), len(keys), hashlib.sha1(data)
        disk.inode = (_stat(file) or (0, 0))[1]
    else:
        data = b"".join(_line(k, runs[k]) for k in fresh)
        atomic.append_bytes(file, data)
        disk.size, disk.lines = disk.size + len(data), disk.lines + len(fresh)
        assert disk.runs is not None  # read or written whole before: the size matched
        disk.runs.update(data)
    disk.keys, disk.values = keys, values
    return True


def _ref(workflow: dict[str, Any]) -> dict[str, Any]:
    """Which workflow file a definition is of (its path and blob), as state.json names it: all but the definition."""
    return {k: v for k, v in workflow.items() if k != "definition"}


def _stat(file: str) -> tuple[int, int] | None:
    """The file's size and inode (None: there is none)."""
    try:
        st = os.stat(file)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_ino


def _newer(old: dict[str, LastRun], new: dict[str, LastRun]) -> dict[str, LastRun]:
    """An older gitbench's last runs (in state.json) and runs.log's: for each module the one of more runs (an
    older gitbench may have run it again since this one wrote runs.log; runs.log's if they are as many)."""
    out = dict(old)
    for mid, run in new.items():
        kept = out.get(mid)
        if kept is None or (run.count or 0) >= (kept.count or 0):
            out[mid] = run
    return out


def _line(key: str, record: LastRun) -> bytes:
    return (_dumps([key, record.json]) + "\n").encode()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
