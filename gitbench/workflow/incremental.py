"""`workflow status` after a small change, at the cost of the change rather than of the workflow's size.

Every status is written down as a snapshot (``.git/gitbench/workflow/cache/status.snap``): the tree it was made
from, each module's status as the JSON text it is printed as, and an index of which module reads which path.
The next status of another tree diffs the two trees (Git skips every folder whose id is the same), finds the
modules that read a changed path, and resolves those again, then each module downstream whose dependency's
status changed, and nothing else. The scheduler runs again over the modules whose skip reason can change. The
result is the same text as resolving everything from scratch (a property test holds it to that); anything the
snapshot cannot vouch for (another workflow file, engine state or gitbench version) means a full resolve.

The snapshot is only a cache: deleting it, or a torn one, costs the time of one full resolve, nothing else.
"""

from __future__ import annotations

import heapq
import json
import marshal
import sys
import zlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from gitbench.model import to_json
from gitbench.scope import Scope
from gitbench.workflow import resolver, scheduler, spec
from gitbench.workflow.kinds import KINDS, ModuleKind
from gitbench.workflow.resolver import Artifact, ArtifactClass, ModuleState, ModuleStatus, View, meta_path
from gitbench.workflow.state import Claim, Gate, LastRun

FORMAT = 3
BUCKETS = 256
WILD = "*?["


class TreeView(View):
    """A View that looks paths up in a Git tree on demand instead of listing it first: resolving a few modules
    of a large workflow reads a few folders, not the whole tree."""

    def __init__(
        self,
        lookup: Callable[[str], str | None],
        walk: Callable[[Callable[[str], bool]], Iterable[tuple[str, str]]],
        read: Callable[[str], bytes],
    ) -> None:
        super().__init__({}, read)
        self._lookup = lookup
        self._walk = walk
        self._oids: dict[str, str | None] = {}

    def oid(self, path: str) -> str | None:
        if path not in self._oids:
            self._oids[path] = self._lookup(path)
        return self._oids[path]

    def glob(self, pattern: str) -> list[tuple[str, str]]:
        if not any(c in pattern for c in WILD):
            path = pattern.strip("/")
            oid = self.oid(path)
            if oid is not None:
                return [(path, oid)]
            prefix = path + "/"  # a folder: everything below it
            return sorted(
                (p, o)
                for p, o in self._walk(lambda folder: prefix.startswith(folder + "/") or folder.startswith(prefix))
                if p.startswith(prefix)
            )
        scope = Scope((pattern,))
        return sorted((p, o) for p, o in self._walk(scope.may_contain) if scope.allows(p))


@dataclass
class Snapshot:
    head: dict[str, Any]  # base (what else it depends on), tree, banner, draft, job, max_parallel, phase
    index: dict[str, Any]  # ids, states, phases, below, paths, globs, wf_phases, wf_max_parallel
    texts: list[str]  # each module's status, as printed, in the workflow's order
    specs: list[str]  # each module's spec as JSON, in the same order


# -- the printed text ---------------------------------------------------------------------------------------
def module_text(st: ModuleStatus) -> str:
    """The status as ``json.dumps(to_json(st), sort_keys=True, separators=(",", ":"), default=str)`` prints it,
    put together field by field (a full resolve prints thousands; json.dumps is several times slower). Text is
    written with json's own encoder; anything else in a field (a dict, a number, an artifact that is not plain)
    is that field through json.dumps, which writes it as it would inside the whole."""
    enc = resolver.json_text
    parts = []
    for name, key in _STATUS_KEYS:  # every field of ModuleStatus, in sorted order (as sort_keys writes them)
        value = getattr(st, name)
        if value is None:
            parts.append(key + "null")
        elif type(value) is str or type(value) is ModuleState:  # the encoder writes a StrEnum as its text
            parts.append(key + enc(value))
        elif type(value) is list and name == "artifacts" and _PLAIN_ARTIFACTS:
            arts = []
            for a in value:
                if type(a) is not Artifact or type(a.path) is not str or type(a.klass) is not ArtifactClass:
                    break
                if a.reason is None:
                    arts.append(f'{{"klass":{enc(a.klass)},"path":{enc(a.path)},"reason":null}}')
                elif type(a.reason) is str:
                    arts.append(f'{{"klass":{enc(a.klass)},"path":{enc(a.path)},"reason":{enc(a.reason)}}}')
                else:
                    break
            else:
                parts.append(f"{key}[{','.join(arts)}]")
                continue
            parts.append(key + _dumps(to_json(value)))
        elif type(value) is list and all([type(v) is str for v in value]):
            parts.append(f"{key}[{','.join([enc(v) for v in value])}]")
        else:
            parts.append(key + _dumps(to_json(value)))
    return "{" + ",".join(parts) + "}"


_STATUS_KEYS = [(name, f'"{name}":') for name in sorted(f.name for f in fields(ModuleStatus))]
_PLAIN_ARTIFACTS = [f.name for f in fields(Artifact)] == ["path", "klass", "reason"]  # what the shortcut writes


def _dumps(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def document(head: dict[str, Any], texts: list[str]) -> str:
    """The status document, exactly as ``json.dumps(..., sort_keys=True)`` of the whole would print it."""

    def val(key: str) -> str:
        return json.dumps(head[key], sort_keys=True, separators=(",", ":"), default=str)

    return (
        f'{{"banner":{val("banner")},"draft":{val("draft")},"job":{val("job")},'
        f'"max_parallel":{val("max_parallel")},"modules":[{",".join(texts)}],"phase":{val("phase")}}}'
    )


def parse_status(text: str) -> ModuleStatus:
    d = json.loads(text)
    return ModuleStatus(
        id=d["id"],
        state=ModuleState(d["state"]),
        artifacts=[Artifact(a["path"], ArtifactClass(a["klass"]), a["reason"]) for a in d["artifacts"]],
        blocked_by=list(d["blocked_by"]),
        reason=d["reason"],
        fingerprint=d["fingerprint"],
        last_run=d["last_run"],
        skip=d["skip"],
        cause=d.get("cause"),
    )


def parse_spec(text: str) -> spec.ModuleSpec:
    d = json.loads(text)
    for key in ("inputs", "outputs", "needs"):
        d[key] = tuple(d[key])
    d["kind"] = KINDS[d["kind"]]
    return spec.ModuleSpec(**d)


# -- banner and phase from the states alone -----------------------------------------------------------------
def downstream(start: Iterable[str], below: Callable[[str], Iterable[str]]) -> set[str]:
    """``start`` and every module that needs one of them, directly or not."""
    out = set(start)
    stack = list(out)
    while stack:
        for d in below(stack.pop()):
            if d not in out:
                out.add(d)
                stack.append(d)
    return out


def untargeted(skipped: Collection[str], below: Callable[[str], Iterable[str]]) -> set[str]:
    """The modules out of the targets: the skipped optional ones and every module that needs one of them,
    directly or not (it cannot run while they are skipped). A workflow is complete when the rest is."""
    return downstream(skipped, below)


def banner_of(ids: list[str], states: Sequence[str], skipped: Collection[str]) -> str:
    """The status banner; skipped optional modules are no longer targets, so they do not hold it back.
    ``states``: each module's ``ModuleState``, or its text as a snapshot keeps it."""
    failed, complete = ModuleState.FAILED, ModuleState.COMPLETE  # looked up once: a loop over every module
    for mid, state in zip(ids, states, strict=True):
        if state == failed:
            return f"Status: Error · {mid} failed"
    if all(state == complete or mid in skipped for mid, state in zip(ids, states, strict=True)):
        return "Status: complete"
    for mid, state in zip(ids, states, strict=True):
        if state == ModuleState.INTERRUPTED:
            return f"Status: interrupted · {mid} was interrupted: run `gitbench workflow resume`"
    if any(state in (ModuleState.RUNNING, ModuleState.NEEDS_INPUT) for state in states):
        return "Status: running"
    return "Status: ready"


def phase_of(
    wf_phases: list[str], ids: list[str], phases: list[str | None], states: Sequence[str], skipped: Collection[str]
) -> str | None:
    """The first phase with a module still to do: what "Resume Work (<phase>)" names."""
    complete = ModuleState.COMPLETE  # looked up once: a loop over every module
    open_phases = {
        p
        for mid, p, state in zip(ids, phases, states, strict=True)
        if p is not None and state != complete and mid not in skipped
    }
    return next((p for p in wf_phases if p in open_phases), None)


# -- which module reads which path ---------------------------------------------------------------------------
def build_index(wf: spec.Workflow) -> dict[str, Any]:
    pos = {mid: i for i, mid in enumerate(wf.order)}
    below: list[list[int]] = [[] for _ in wf.order]
    paths: dict[str, list[int]] = {}
    globs: dict[str, list[int]] = {}
    for mid in wf.order:
        m = wf.modules[mid]
        i = pos[mid]
        for path in (*m.outputs, meta_path(mid)):
            paths.setdefault(path, []).append(i)
        for pattern in m.inputs:
            if any(c in pattern for c in WILD):
                globs.setdefault(pattern, []).append(i)
            else:
                paths.setdefault(pattern.strip("/"), []).append(i)  # a file, or a folder and all below it
        for need in m.needs:
            below[pos[need]].append(i)
            for path in wf.modules[need].outputs:
                paths.setdefault(path, []).append(i)
    # The path map in buckets by a hash of the path, each stored apart: a status reads only the buckets of the
    # paths that changed, not a map of every path of a large workflow.
    buckets: list[dict[str, tuple[int, ...]]] = [{} for _ in range(BUCKETS)]
    for path, ids in paths.items():
        buckets[_bucket(path)][path] = tuple(ids)
    return {
        "ids": list(wf.order),
        "phases": [wf.modules[m].phase for m in wf.order],
        "below": [tuple(b) for b in below],
        "buckets": [marshal.dumps(b) for b in buckets],
        "globs": sorted((p, tuple(ids)) for p, ids in globs.items()),
        "wf_phases": list(wf.phases),
        "wf_max_parallel": wf.max_parallel,
    }


def _bucket(path: str) -> int:
    return zlib.crc32(path.encode("utf-8", "surrogateescape")) % BUCKETS


def touched(index: dict[str, Any], changed: Iterable[str]) -> set[int]:
    """The modules that read (or write) a changed path."""
    buckets: dict[int, dict[str, tuple[int, ...]]] = {}
    out: set[int] = set()
    scopes = [(ids, Scope((pattern,))) for pattern, ids in index["globs"]]
    for path in changed:
        parts = path.split("/")
        for n in range(1, len(parts) + 1):  # the path itself, and each folder above it
            key = "/".join(parts[:n])
            b = _bucket(key)
            if b not in buckets:
                buckets[b] = marshal.loads(index["buckets"][b])
            out.update(buckets[b].get(key, ()))
        for ids, scope in scopes:
            if scope.allows(path):
                out.update(ids)
    return out


# -- the workflow, compiled once per version of its file ----------------------------------------------------
@dataclass
class Compiled:
    """A parsed workflow with the parts of a snapshot that depend on it alone: each module's spec as text (in
    the workflow's order) and the path index. Kept in the cache by the workflow file's blob id."""

    wf: spec.Workflow
    specs: list[str]
    index: dict[str, Any]


SPEC_FIELDS = tuple(f.name for f in fields(spec.ModuleSpec))


def spec_text(m: spec.ModuleSpec) -> str:
    return json.dumps(to_json(m), separators=(",", ":"), default=str)


def compile_workflow(wf: spec.Workflow) -> Compiled:
    return Compiled(wf, [spec_text(wf.modules[m]) for m in wf.order], build_index(wf))


def dump_compiled(c: Compiled, oid: str, version: str) -> bytes | None:
    """The compiled workflow in marshal's format, or None when a module's settings are not plain data."""
    wf = c.wf
    # marshal writes only plain types: the kind as its text (an enum member is a str subclass)
    rows = tuple(tuple(_plain_field(getattr(m, f)) for f in SPEC_FIELDS) for m in wf.modules.values())
    try:
        return marshal.dumps(
            (FORMAT, sys.implementation.cache_tag, version, oid, SPEC_FIELDS, rows, wf.order, wf.max_parallel)
            + (wf.phases, wf.path, c.specs, c.index)
        )
    except ValueError:  # a setting YAML made into something else than plain data (a date): not cached
        return None


def _plain_field(value: Any) -> Any:
    return str(value) if isinstance(value, ModuleKind) else value


def load_compiled(data: bytes, oid: str, version: str) -> Compiled | None:
    """The compiled workflow of the file with blob id ``oid``, or None for anything else (a miss)."""
    try:
        fmt, tag, ver, coid, names, rows, order, max_parallel, phases, path, specs, index = marshal.loads(data)
        if (fmt, tag, ver, coid, names) != (FORMAT, sys.implementation.cache_tag, version, oid, SPEC_FIELDS):
            return None
        modules: dict[str, spec.ModuleSpec] = {}
        new = object.__new__
        for row in rows:
            m = new(spec.ModuleSpec)
            m.__dict__.update(zip(names, row, strict=True))  # a frozen dataclass: set as its __init__ would
            m.__dict__["kind"] = KINDS[m.kind]
            modules[m.id] = m
        if len(specs) != len(order) or set(order) != modules.keys():
            return None
        wf = spec.Workflow(modules=modules, order=order, max_parallel=max_parallel, phases=phases, path=path)
        return Compiled(wf, specs, index)
    except (ValueError, EOFError, TypeError, AttributeError, KeyError):
        return None


# -- making and reading snapshots ----------------------------------------------------------------------------
def build(
    wf: spec.Workflow, statuses: dict[str, ModuleStatus], head: dict[str, Any], compiled: Compiled | None = None
) -> Snapshot:
    """The snapshot of a full resolve. ``compiled``: the same workflow's parts, made once for its file."""
    if compiled is None:
        compiled = compile_workflow(wf)
    return Snapshot(
        head=head,
        index={**compiled.index, "states": [statuses[m].state.value for m in wf.order]},  # marshal: plain texts
        texts=[module_text(statuses[m]) for m in wf.order],
        specs=compiled.specs,
    )


def dumps(snap: Snapshot) -> bytes:
    """The snapshot in marshal's format: the fastest Python reads back (10,000 modules: ~6 ms). It is tied
    to this Python's version, which the header names: another Python sees a miss."""
    return marshal.dumps((FORMAT, sys.implementation.cache_tag, snap.head, snap.index, snap.texts, snap.specs))


def loads(data: bytes) -> Snapshot | None:
    """A snapshot, or None for anything that is not a whole one of this format (a cache: a miss is fine)."""
    try:
        fmt, tag, head, index, texts, specs = marshal.loads(data)
        if (
            fmt != FORMAT
            or tag != sys.implementation.cache_tag
            or len(texts) != len(index["ids"])
            or len(specs) != len(texts)
            or not isinstance(head, dict)
        ):
            return None
        return Snapshot(head=head, index=index, texts=texts, specs=specs)
    except (ValueError, EOFError, KeyError, IndexError, TypeError, AttributeError):
        return None


# -- the update ----------------------------------------------------------------------------------------------
def update(
    snap: Snapshot,
    changed: list[str],
    view: View,
    head: dict[str, Any],
    running: Mapping[str, Claim],
    last_runs: Mapping[str, LastRun],
    overrides: dict[str, dict[str, Any]],
    skipped: Collection[str],
    gates: Mapping[str, Gate],
    max_parallel: int | None,
    capacity: int | None = None,
) -> Snapshot | None:
    """The snapshot of the tree ``view`` shows, given the paths that changed since ``snap``'s tree; None when a
    full resolve is the better way (the workflow file changed, or most modules are touched)."""
    if spec.PATH in changed:
        return None
    index = snap.index
    ids: list[str] = index["ids"]
    n = len(ids)
    pos = {mid: i for i, mid in enumerate(ids)}
    start = touched(index, changed)
    if len(start) > n // 4 + 16:
        return None
    texts = list(snap.texts)
    states = list(index["states"])
    specs: dict[int, spec.ModuleSpec] = {}
    fresh: dict[int, ModuleStatus] = {}
    old: dict[int, ModuleStatus] = {}

    def spec_at(i: int) -> spec.ModuleSpec:
        if i not in specs:
            specs[i] = parse_spec(snap.specs[i])
        return specs[i]

    def status_at(i: int) -> ModuleStatus:
        if i in fresh:
            return fresh[i]
        if i not in old:
            old[i] = parse_status(snap.texts[i])
        return old[i]

    # Resolve the touched modules, dependencies first; a module downstream is resolved again only when a
    # dependency's status changed (its files did not, or it would be touched itself).
    queue = sorted(start)
    queued = set(queue)
    redone: set[int] = set()
    while queue:
        i = heapq.heappop(queue)
        before = status_at(i)
        st = resolver.resolve_one(
            spec_at(i), view, lambda mid: status_at(pos[mid]), running, last_runs, overrides, skipped
        )
        fresh[i] = st
        redone.add(i)
        states[i] = st.state.value
        if _same(before, st):
            continue
        for j in index["below"][i]:
            if j not in queued:
                queued.add(j)
                heapq.heappush(queue, j)

    # The scheduler again, over every module whose skip reason can have changed: those resolved again, the
    # ready ones (a slot freed or taken earlier in the order moves the others) and the running ones.
    subset = sorted(
        redone | {i for i, s in enumerate(states) if s == ModuleState.READY} | {pos[m] for m in running if m in pos}
    )
    sub_statuses = {}
    for i in subset:
        st = status_at(i)
        st.skip = None
        sub_statuses[ids[i]] = st
    sub_wf = spec.Workflow(
        modules={ids[i]: spec_at(i) for i in subset},
        order=[ids[i] for i in subset],
        max_parallel=int(index["wf_max_parallel"]),
        phases=list(index["wf_phases"]),
    )
    scheduler.schedule(sub_wf, sub_statuses, running, gates, set(skipped), max_parallel, None, capacity)
    for i in subset:
        text = module_text(sub_statuses[ids[i]])
        if text != texts[i]:
            texts[i] = text
    index = {**index, "states": states}
    below = index["below"]
    off = untargeted(skipped, lambda mid: (ids[j] for j in below[pos[mid]]) if mid in pos else ())
    head = {
        **head,
        "banner": banner_of(ids, states, off),
        "phase": phase_of(index["wf_phases"], ids, index["phases"], states, off),
    }
    return Snapshot(head=head, index=index, texts=texts, specs=snap.specs)


def _same(a: ModuleStatus, b: ModuleStatus) -> bool:
    """The same status, the scheduler's skip reason aside (it is decided afterwards)."""
    return (a.state, a.artifacts, a.blocked_by, a.reason, a.fingerprint, a.last_run, a.cause) == (
        b.state,
        b.artifacts,
        b.blocked_by,
        b.reason,
        b.fingerprint,
        b.last_run,
        b.cause,
    )
