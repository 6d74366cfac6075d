"""The resolver: what each artifact and each module is, from the files alone.

Artifacts (each declared output) are ``ready``, ``missing``, ``invalid`` (its metadata does not match the
contract: no metadata, not a JSON object, another module's id, no version), ``outdated`` (the module's version
or the fingerprint of its inputs changed, here or upstream) or ``error`` (the metadata cannot be read or does not
parse: a corrupted file; the reason names the file and the parse problem). Modules are ``complete`` (every
artifact ready), ``running`` / ``needs-input`` (claimed by the engine), ``interrupted`` (claimed by a process
that is gone: ``gitbench workflow resume`` settles it), ``blocked`` (a
dependency is not complete: ``Blocked by: X`` names the root cause), ``failed`` (its last run failed and nothing
changed since), ``pending`` (an input is missing) or ``ready``.

Metadata lives next to the files it describes, versioned with them: ``.gitbench/meta/<module-id>.json`` holds
the module id, its version, the fingerprint of its inputs and the object id of each output it wrote. A
fingerprint is a hash of the module's id, version and config and of the Git object ids of its inputs (the files
its ``inputs`` patterns match, and its dependencies' outputs): content hashes Git already has, so nothing is
re-read to know whether it changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gitbench.scope import Scope
from gitbench.workflow.spec import ModuleSpec, Workflow, recipe
from gitbench.workflow.state import Claim, ClaimStatus, LastRun, RunStatus

META_DIR = ".gitbench/meta"


class ArtifactClass(StrEnum):
    """What an artifact is (the module docstring says when). The values are the texts a status has always
    printed: a ``StrEnum`` compares equal to them and is written as them."""

    READY = "ready"
    MISSING = "missing"
    INVALID = "invalid"
    OUTDATED = "outdated"
    ERROR = "error"


class ModuleState(StrEnum):
    """Where a module stands (the module docstring says when), as a status prints it."""

    PENDING = "pending"
    BLOCKED = "blocked"
    READY = "ready"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    NEEDS_INPUT = "needs-input"
    FAILED = "failed"
    COMPLETE = "complete"


NOT_UP_TO_DATE = frozenset({ArtifactClass.OUTDATED, ArtifactClass.MISSING, ArtifactClass.INVALID, ArtifactClass.ERROR})
STALE = frozenset({ArtifactClass.OUTDATED, ArtifactClass.INVALID, ArtifactClass.ERROR})  # what invalidation hears of

# The members resolve_one uses for every module of a status, as module globals: on Python 3.11 an enum member's
# lookup on its class costs ~9x a global's, ~5 ms of a 10,000-module status.
_M_READY, _M_COMPLETE, _M_BLOCKED = ModuleState.READY, ModuleState.COMPLETE, ModuleState.BLOCKED
_A_READY, _A_MISSING, _A_OUTDATED = ArtifactClass.READY, ArtifactClass.MISSING, ArtifactClass.OUTDATED
_A_BAD = (ArtifactClass.INVALID, ArtifactClass.ERROR)


def meta_path(module_id: str) -> str:
    return f"{META_DIR}/{module_id}.json"


@dataclass
class Artifact:
    path: str
    klass: ArtifactClass
    reason: str | None = None


@dataclass
class ModuleStatus:
    id: str
    state: ModuleState
    artifacts: list[Artifact] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    reason: str | None = None
    fingerprint: str = ""
    last_run: dict[str, Any] | None = None
    skip: str | None = None  # the scheduler's reason for not running it now
    # Why it is outdated, at the root: {"files": the changed input files, "module": the first module they reach}
    # (itself, or the upstream module its dependency's cause names). None when it is not outdated.
    cause: dict[str, Any] | None = None


class View:
    """The files the resolver looks at: path → object id, and reading an object. Built over a Git tree."""

    def __init__(
        self, listing: dict[str, str], read: Callable[[str], bytes], meta_cache: dict[str, Any] | None = None
    ) -> None:
        self.files = listing
        self._read = read
        self._sorted: list[str] | None = None
        # metadata blob id → its parsed content: a blob id names its content, so the cache is never stale
        self.meta_cache: dict[str, Any] = meta_cache if meta_cache is not None else {}
        self.meta_cache_changed = False

    def oid(self, path: str) -> str | None:
        return self.files.get(path)

    def read(self, oid: str) -> bytes:
        return self._read(oid)

    def glob(self, pattern: str) -> list[tuple[str, str]]:
        if not any(c in pattern for c in "*?["):
            path = pattern.strip("/")
            if path in self.files:
                return [(path, self.files[path])]
            prefix = path + "/"  # a folder: everything below it
            return [(p, o) for p, o in self.files.items() if p.startswith(prefix)]
        scope = Scope((pattern,))
        if self._sorted is None:
            self._sorted = sorted(self.files)
        return [(p, self.files[p]) for p in self._sorted if scope.allows(p)]


json_text: Callable[[str], str] = json.encoder.encode_basestring_ascii  # a text as json.dumps writes it


def fingerprint(module: ModuleSpec, inputs: list[tuple[str, str | None]], overrides: dict[str, Any]) -> str:
    """A hash of what a module's outputs are made from: its id, version and settings, and its inputs' ids."""
    if not module.config and not overrides and type(module.id) is str and type(module.version) is str:
        head = f"[{json_text(module.id)}, {json_text(module.version)}, {{}}]"  # what json.dumps writes, 5× sooner
    else:
        head = json.dumps([module.id, module.version, {**module.config, **overrides}], sort_keys=True, default=str)
    if len(inputs) > 1:
        inputs = sorted(inputs, key=lambda i: (i[0], i[1] or ""))
    body = "".join([f"{p}\0{o}\n" for p, o in inputs])
    return hashlib.sha1((head + "\n" + body).encode()).hexdigest()


def _meta(view: View, module: ModuleSpec) -> tuple[dict[str, Any] | None, str | None, ArtifactClass]:
    """(metadata, problem, class of the problem). A missing file is (None, reason, INVALID); no problem is
    (metadata, None, READY)."""
    oid = view.oid(meta_path(module.id))
    if oid is None:
        return None, f"InvalidMetadata: no metadata file {meta_path(module.id)}", ArtifactClass.INVALID
    data = view.meta_cache.get(oid)
    if data is None:
        try:
            raw = view.read(oid)
        except Exception as exc:  # noqa: BLE001 - KeyError, OSError, a corrupt object (GitError): unreadable
            return (
                None,
                f"the metadata {meta_path(module.id)} cannot be read ({type(exc).__name__}: {exc})",
                ArtifactClass.ERROR,
            )
        try:
            data = json.loads(raw)
        except ValueError as exc:  # a corrupted (truncated, overwritten) file: the file and the parse problem
            return None, f"the metadata {meta_path(module.id)} cannot be parsed: {exc}", ArtifactClass.ERROR
        if isinstance(data, dict):
            view.meta_cache[oid] = {k: data.get(k) for k in ("module", "version", "fingerprint") if k in data}
            view.meta_cache_changed = True
    if not isinstance(data, dict):
        return None, f"InvalidMetadata: {meta_path(module.id)} is not a JSON object", ArtifactClass.INVALID
    if data.get("module") != module.id:
        return (
            None,
            (f"InvalidMetadata: {meta_path(module.id)} names module {data.get('module')!r}, not {module.id!r}"),
            ArtifactClass.INVALID,
        )
    if "version" not in data:
        return None, f"InvalidMetadata: {meta_path(module.id)} has no version", ArtifactClass.INVALID
    return data, None, ArtifactClass.READY


def resolve(
    wf: Workflow,
    view: View,
    running: Mapping[str, Claim],
    last_runs: Mapping[str, LastRun],
    overrides: dict[str, dict[str, Any]],
    skipped: set[str],
    previous: dict[str, ModuleStatus] | None = None,
    dirty: set[str] | None = None,
) -> dict[str, ModuleStatus]:
    """Every module's status, dependencies first.

    With ``previous`` and ``dirty``: only the dirty modules are resolved again (a module whose files changed,
    and everything downstream of it); the others keep their previous status. A run uses this after each
    module, so a workflow of n modules is not resolved n times over.
    """
    if previous is not None and dirty is not None and previous.keys() == wf.modules.keys():
        # a copy of the previous statuses (in the workflow's order), the dirty ones resolved again in that order:
        # not a loop over every module after each one that finishes
        out = dict(previous)
        place = wf.place
        for mid in sorted([m for m in dirty if m in place], key=place.__getitem__):
            out[mid] = resolve_one(wf.modules[mid], view, out.__getitem__, running, last_runs, overrides, skipped)
        return out
    out = {}
    for mid in wf.order:
        if previous is not None and dirty is not None and mid not in dirty and mid in previous:
            out[mid] = previous[mid]
            continue
        out[mid] = resolve_one(wf.modules[mid], view, out.__getitem__, running, last_runs, overrides, skipped)
    return out


def module_inputs(
    m: ModuleSpec, view: View, needs: dict[str, ModuleStatus]
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """(path, object id) of what the module is made from: the files its ``inputs`` match and its dependencies'
    outputs; and the plain input paths that are missing."""
    inputs: list[tuple[str, str | None]] = []
    missing_inputs = []
    for pattern in m.inputs:
        found = view.glob(pattern)
        if not found and not any(c in pattern for c in "*?["):
            missing_inputs.append(pattern)
        inputs.extend(found)
    if inputs:  # its own outputs and metadata are what it makes, not what it is made from (else it never settles)
        own = {*m.outputs, meta_path(m.id)}
        inputs = [i for i in inputs if i[0] not in own]
    for need_status in needs.values():  # a dependency's artifacts are its declared outputs, in their order
        inputs.extend((a.path, view.oid(a.path)) for a in need_status.artifacts)
    return inputs, missing_inputs


def _changed_inputs(view: View, m: ModuleSpec, inputs: list[tuple[str, str | None]]) -> list[str] | None:
    """The input files that differ from those the metadata says its outputs were made from (added, changed,
    gone); None when the metadata does not list them. Read only for a module whose fingerprint does not match."""
    oid = view.oid(meta_path(m.id))
    try:
        before = json.loads(view.read(oid)).get("inputs") if oid else None
    except Exception:  # noqa: BLE001 - it parsed a moment ago (cached); unreadable now: nothing to tell
        return None
    if not isinstance(before, dict):
        return None
    now = dict(inputs)
    return sorted(p for p in {*before, *now} if before.get(p) != now.get(p))


def cause_text(cause: dict[str, Any]) -> str:
    """The root cause in a few words: ``in.txt changed, an input of a``."""
    if cause.get("files"):
        return f"{', '.join(cause['files'])} changed, an input of {cause['module']}"
    return f"{cause['module']}: {cause.get('what') or 'its inputs changed'}"


def resolve_one(
    m: ModuleSpec,
    view: View,
    dep: Callable[[str], ModuleStatus],
    running: Mapping[str, Claim],
    last_runs: Mapping[str, LastRun],
    overrides: dict[str, dict[str, Any]],
    skipped: Collection[str],
) -> ModuleStatus:
    """One module's status, from its files, its dependencies' statuses (``dep``) and the engine's state.

    What it reads is exactly: the files its ``inputs`` match, its dependencies' outputs, its own outputs and
    metadata, and ``dep`` of its ``needs`` (the status snapshot relies on this list to know what to redo)."""
    mid = m.id
    needs = {n: dep(n) for n in m.needs}
    inputs, missing_inputs = module_inputs(m, view, needs)
    fp = fingerprint(m, inputs, overrides.get(mid, {}))
    last = last_runs.get(mid)
    st = ModuleStatus(id=mid, state=_M_READY, fingerprint=fp, last_run=last.json if last is not None else None)
    meta, problem, problem_class = _meta(view, m)
    stale_up = [
        n for n, s in needs.items() if s.state != _M_COMPLETE and any(a.klass in NOT_UP_TO_DATE for a in s.artifacts)
    ]
    for path in m.outputs:
        oid = view.oid(path)
        if oid is None:
            st.artifacts.append(Artifact(path, _A_MISSING, "file not found"))
        elif meta is None:
            st.artifacts.append(Artifact(path, problem_class, problem))
        elif str(meta.get("version")) != m.version:
            what = f"module version changed ({meta.get('version')} → {m.version})"
            st.cause = st.cause or {"files": [], "module": mid, "what": what}
            st.artifacts.append(Artifact(path, _A_OUTDATED, what))
        elif meta.get("fingerprint") != fp:
            if st.cause is None:
                changed = _changed_inputs(view, m, inputs)
                if changed:
                    what = f"inputs changed: {', '.join(changed)}"
                else:  # the same inputs (or, from an older gitbench, unknown ones): its settings changed
                    what = "settings changed" if changed is not None else "inputs or settings changed"
                st.cause = {"files": changed or [], "module": mid, "what": what}
            st.artifacts.append(Artifact(path, _A_OUTDATED, f"{st.cause['what']} (fingerprint mismatch)"))
        elif stale_up:
            up = needs[stale_up[0]]
            if st.cause is None and up.cause is not None:
                st.cause = up.cause
            why = f"upstream {stale_up[0]} is not up to date"
            if st.cause is not None:
                why += ": " + cause_text(st.cause)
            st.artifacts.append(Artifact(path, _A_OUTDATED, why))
        else:
            st.artifacts.append(Artifact(path, _A_READY))
    bad = [a for a in st.artifacts if a.klass in _A_BAD]
    if bad:
        st.reason = bad[0].reason
    if all(a.klass == _A_READY for a in st.artifacts):
        st.state = _M_COMPLETE
    elif mid in running:
        claim = running[mid]
        if claim.status == ClaimStatus.INTERRUPTED:  # its process is gone (the engine marks such claims)
            st.state = ModuleState.INTERRUPTED
            st.reason = f"its run was interrupted (process {claim.pid} is gone): run `gitbench workflow resume`"
        else:
            st.state = ModuleState.NEEDS_INPUT if claim.status == ClaimStatus.NEEDS_INPUT else ModuleState.RUNNING
    elif mid in skipped:
        st.state = ModuleState.PENDING
        st.reason = "skipped (optional)"
    else:
        blockers: list[str] = []
        for need, d in needs.items():
            if d.state == _M_COMPLETE:
                continue
            for b in d.blocked_by if d.state == _M_BLOCKED else [need]:
                if b not in blockers:
                    blockers.append(b)
        if blockers:
            st.state, st.blocked_by = _M_BLOCKED, blockers
        elif (
            last is not None
            and last.status == RunStatus.FAILED
            and last.fingerprint == fp
            and (last.recipe is None or last.recipe == recipe(m))  # a changed command (prompt...) may do better
        ):
            st.state = ModuleState.FAILED
            st.reason = str(last.error or "its last run failed")
        elif missing_inputs:
            st.state = ModuleState.PENDING
            st.reason = "input missing: " + ", ".join(missing_inputs)
    return st
