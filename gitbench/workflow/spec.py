"""The workflow file, ``.gitbench/workflow.yaml``: parsed and checked whole before anything runs.

Every error names the file and the line: YAML syntax errors, unknown keys, missing ids, duplicate ids, unknown
``needs``, cycles, an output claimed by two modules, outputs outside the Workbench. The reference is in
``docs/workflow.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitbench import errors
from gitbench.scope import UnsafePath, check_path

PATH = ".gitbench/workflow.yaml"
TOP_KEYS = {"max_parallel", "phases", "modules"}
MODULE_KEYS = {"id", "version", "phase", "run", "inputs", "outputs", "needs", "optional", "exclusive", "gate",
               "config", "description"}
RUN_KINDS = {"command", "model", "input", "module"}


@dataclass(frozen=True)
class ModuleSpec:
    id: str
    kind: str  # command | model | input | module (a Python module from the gitbench.modules entry points)
    run: dict[str, Any]
    version: str = "1"
    phase: str | None = None
    inputs: tuple[str, ...] = ()
    input_request: str | None = None  # input modules: what the operator must provide
    outputs: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    optional: bool = False
    exclusive: bool = False
    gate: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    line: int = 0


@dataclass
class Workflow:
    modules: dict[str, ModuleSpec]
    order: list[str]  # dependencies first; ties in file order
    max_parallel: int = 2
    phases: list[str] = field(default_factory=list)
    path: str = PATH

    def dependants(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {m: [] for m in self.modules}
        for m in self.modules.values():
            for n in m.needs:
                out[n].append(m.id)
        return out


class _Loader:
    """A SafeLoader that keeps each mapping's line and refuses duplicate keys (YAML would keep the last)."""

    @staticmethod
    def make() -> Any:
        import yaml

        # libyaml's parser when it is there (10× faster on a large file); the constructors are Python either way.
        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[misc, valid-type]
            pass

        def mapping(loader: Any, node: Any, deep: bool = False) -> dict[str, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = loader.construct_object(key_node, deep=True)
                if key in seen:
                    raise _Problem(f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark.line + 1)
                seen[key] = key_node.start_mark.line + 1
            data = dict(loader.construct_mapping(node, deep=deep))
            data["__line__"] = node.start_mark.line + 1
            return data

        Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
        return Loader


class _Problem(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _bad(path: str, message: str, line: int | None) -> errors.UsageError:
    where = f"{path}, line {line}" if line else path
    return errors.UsageError(f"The workflow file is not valid: {where}: {message}. Nothing ran.",
                             [errors.Action(f"Fix {path} (reference: docs/workflow.md)")], {"line": line})


def parse(text: str, path: str = PATH) -> Workflow:
    """A Workflow from the file's text; UsageError naming the line of the first problem."""
    import yaml

    try:
        data = yaml.load(text, Loader=_Loader.make())  # noqa: S506 - a SafeLoader subclass
    except _Problem as exc:
        raise _bad(path, exc.message, exc.line) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        what = getattr(exc, "problem", None) or str(exc)
        raise _bad(path, f"YAML syntax error: {what}", mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict):
        raise _bad(path, "the file must be a mapping with a `modules:` list", 1)
    try:
        return _workflow(data, path)
    except _Problem as exc:
        raise _bad(path, exc.message, exc.line) from exc


def _workflow(data: dict[str, Any], path: str) -> Workflow:
    line = data.get("__line__", 1)
    unknown = sorted(set(data) - TOP_KEYS - {"__line__"})
    if unknown:
        raise _Problem(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(TOP_KEYS))})", line)
    max_parallel = data.get("max_parallel", 2)
    if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
        raise _Problem(f"max_parallel must be a whole number of at least 1, not {max_parallel!r}", line)
    phases = data.get("phases") or []
    if not isinstance(phases, list) or not all(isinstance(p, str) for p in phases):
        raise _Problem("phases must be a list of names", line)
    raw = data.get("modules")
    if not isinstance(raw, list) or not raw:
        raise _Problem("`modules:` must be a non-empty list", line)
    modules: dict[str, ModuleSpec] = {}
    owner: dict[str, str] = {}
    for item in raw:
        m = _module(item, phases, line)
        if m.id in modules:
            raise _Problem(f"duplicate module id {m.id!r} (first on line {modules[m.id].line})", m.line)
        for out in m.outputs:
            if out in owner:
                raise _Problem(f"output {out} of {m.id!r} is already claimed by {owner[out]!r}", m.line)
            owner[out] = m.id
        modules[m.id] = m
    for m in modules.values():
        for n in m.needs:
            if n not in modules:
                raise _Problem(f"module {m.id!r} needs {n!r}, which no module has as its id", m.line)
    return Workflow(modules=modules, order=_order(modules), max_parallel=max_parallel, phases=list(phases),
                    path=path)


def _module(item: Any, phases: list[str], parent_line: int) -> ModuleSpec:
    if not isinstance(item, dict):
        raise _Problem("each module must be a mapping with an `id:`", parent_line)
    line = int(item.get("__line__", parent_line))
    unknown = sorted(set(item) - MODULE_KEYS - {"__line__"})
    if unknown:
        raise _Problem(f"unknown module key {unknown[0]!r} (known: {', '.join(sorted(MODULE_KEYS))})", line)
    mid = item.get("id")
    if not isinstance(mid, str) or not mid.strip() or any(c in mid for c in " /\\:\n\t") or mid.startswith("."):
        raise _Problem(f"module id {mid!r} must be a name without spaces, slashes or colons", line)

    def strings(key: str) -> tuple[str, ...]:
        value = item.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise _Problem(f"{key} of {mid!r} must be a list of strings", line)
        return tuple(value)

    def flag(key: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            raise _Problem(f"{key} of {mid!r} must be true or false", line)
        return value

    inputs_raw = item.get("inputs")
    input_request = None
    inputs: tuple[str, ...]
    if isinstance(inputs_raw, dict):
        extra = set(inputs_raw) - {"input", "__line__"}
        if extra or not isinstance(inputs_raw.get("input"), str):
            raise _Problem(f"inputs of {mid!r}: write a list of paths, or {{input: \"what to provide\"}}", line)
        input_request, inputs = inputs_raw["input"], ()
    else:
        inputs = strings("inputs")
    run = item.get("run")
    if run is None and input_request is not None:
        run = {"input": input_request}
    if not isinstance(run, dict):
        raise _Problem(f"module {mid!r} needs `run:` ({{command: ...}}, {{model: ..., prompt: ...}}, "
                       "{input: ...} or {module: ...})", line)
    run = {k: v for k, v in run.items() if k != "__line__"}
    kinds = [k for k in run if k in RUN_KINDS]
    if len(kinds) != 1:
        raise _Problem(f"run of {mid!r} must have exactly one of command, model, input, module", line)
    kind = kinds[0]
    allowed = {"command": {"command", "timeout"}, "model": {"model", "prompt"}, "input": {"input"},
               "module": {"module"}}[kind]
    extra_keys = sorted(set(run) - allowed)
    if extra_keys:
        raise _Problem(f"run of {mid!r} has an unknown key {extra_keys[0]!r}", line)
    if not all(isinstance(run[k], str) and run[k].strip() for k in allowed & set(run) if k != "timeout"):
        raise _Problem(f"run.{kind} of {mid!r} must be text", line)
    if kind == "model" and not isinstance(run.get("prompt"), str):
        raise _Problem(f"a model module ({mid!r}) needs run.prompt", line)
    if kind == "input" and input_request is None:
        input_request = str(run["input"])
    outputs = strings("outputs")
    for out in outputs:
        if any(c in out for c in "*?["):
            raise _Problem(f"output {out!r} of {mid!r} must be a path, not a pattern", line)
        try:
            if check_path(out) != out.strip("/"):
                raise UnsafePath("not in its simplest form (write it without ./ or //)")
        except UnsafePath as exc:
            raise _Problem(f"output {out!r} of {mid!r} is outside the Workbench or unsafe: {exc}", line) from exc
    for pattern in inputs:
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise _Problem(f"input {pattern!r} of {mid!r} is outside the Workbench", line)
    if not outputs:
        raise _Problem(f"module {mid!r} declares no outputs: the engine could never tell it is complete", line)
    phase = item.get("phase")
    if phase is not None and (not isinstance(phase, str) or (phases and phase not in phases)):
        raise _Problem(f"phase {phase!r} of {mid!r} is not one of the phases {phases}", line)
    config = item.get("config") or {}
    if not isinstance(config, dict):
        raise _Problem(f"config of {mid!r} must be a mapping", line)
    version = item.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise _Problem(f"version of {mid!r} must be a number or text", line)
    return ModuleSpec(id=mid, kind=kind, run=run, version=str(version), phase=phase, inputs=inputs,
                      input_request=input_request, outputs=outputs, needs=strings("needs"),
                      optional=flag("optional"), exclusive=flag("exclusive"), gate=flag("gate"),
                      config=_plain(config), line=line)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _order(modules: dict[str, ModuleSpec]) -> list[str]:
    """Dependencies first (Kahn's algorithm, file order among equals); a cycle is named in full."""
    position = {m: i for i, m in enumerate(modules)}
    waiting = {m: len(set(spec.needs)) for m, spec in modules.items()}
    dependants: dict[str, list[str]] = {m: [] for m in modules}
    for m, spec in modules.items():
        for n in set(spec.needs):
            dependants[n].append(m)
    import heapq

    ready = [(position[m], m) for m, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, m = heapq.heappop(ready)
        order.append(m)
        for d in dependants[m]:
            waiting[d] -= 1
            if waiting[d] == 0:
                heapq.heappush(ready, (position[d], d))
    if len(order) < len(modules):
        left = {m for m in modules if m not in set(order)}
        cycle = _find_cycle(modules, left)
        raise _Problem("the modules depend on each other in a cycle: " + " → ".join(cycle),
                       modules[cycle[0]].line)
    return order


def _find_cycle(modules: dict[str, ModuleSpec], left: set[str]) -> list[str]:
    start = min(left, key=lambda m: modules[m].line)
    path: list[str] = []
    seen: dict[str, int] = {}
    node = start
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = next(n for n in modules[node].needs if n in left)
    return path[seen[node]:] + [node]


def to_json(wf: Workflow) -> dict[str, Any]:
    """The parsed workflow as plain data (the engine caches it by the file's blob id)."""
    from dataclasses import asdict

    return {"modules": [asdict(m) for m in wf.modules.values()], "order": wf.order,
            "max_parallel": wf.max_parallel, "phases": wf.phases, "path": wf.path}


def from_json(data: dict[str, Any]) -> Workflow:
    modules = {}
    for m in data["modules"]:
        for key in ("inputs", "outputs", "needs"):
            m[key] = tuple(m[key])
        modules[m["id"]] = ModuleSpec(**m)
    return Workflow(modules=modules, order=list(data["order"]), max_parallel=int(data["max_parallel"]),
                    phases=list(data["phases"]), path=str(data["path"]))
