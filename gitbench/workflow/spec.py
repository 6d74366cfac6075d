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
from gitbench.workflow import order
from gitbench.workflow.kinds import KINDS, ModuleKind

PATH = ".gitbench/workflow.yaml"
TOP_KEYS = {"max_parallel", "phases", "modules"}
MODULE_KEYS = {
    "id",
    "version",
    "phase",
    "run",
    "inputs",
    "outputs",
    "needs",
    "optional",
    "exclusive",
    "gate",
    "config",
    "description",
}
RUN_KINDS = set(KINDS)
LINE, KEYS = "__line__", "__keys__"  # what the loader adds to each mapping: its line, and each key's line
RESERVED = (".gitbench/meta/", PATH)  # the engine's own files: no module may write them


@dataclass(frozen=True)
class ModuleSpec:
    id: str
    kind: ModuleKind
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
    """A SafeLoader that keeps the line of each mapping and of each of its keys, and refuses duplicate keys
    (YAML would keep the last) and keys that are lists or mappings."""

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
                if not isinstance(key, str | int | float | bool | None):
                    raise _Problem("a key must be a name, not a list or a mapping", key_node.start_mark.line + 1)
                if key in seen:
                    raise _Problem(f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark.line + 1)
                seen[key] = key_node.start_mark.line + 1
            data = dict(loader.construct_mapping(node, deep=deep))
            data[LINE] = node.start_mark.line + 1
            data[KEYS] = seen
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
    return errors.UsageError(
        f"The workflow file is not valid: {where}: {message}. Nothing ran.",
        [errors.Action(f"Fix {path} (reference: docs/workflow.md)")],
        {"line": line},
    )


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
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None and (mark is None or start.line != mark.line):
            what += f" ({context} on line {start.line + 1})"  # where the unclosed thing began
        raise _bad(path, f"YAML syntax error: {what}", mark.line + 1 if mark else None) from exc
    except RecursionError as exc:
        raise _bad(path, "it is nested too deeply to read", None) from exc
    if not isinstance(data, dict):
        raise _bad(path, "the file must be a mapping with a `modules:` list", 1)
    try:
        return _workflow(data, path)
    except _Problem as exc:
        raise _bad(path, exc.message, exc.line) from exc
    except RecursionError as exc:
        raise _bad(path, "it is nested too deeply to read", None) from exc


def _at(data: dict[str, Any], key: str) -> int:
    """The line of ``key`` in a mapping from the loader (the mapping's own line if the key is not there)."""
    line: int = data.get(KEYS, {}).get(key) or data.get(LINE, 1)
    return line


def _unknown(data: dict[str, Any], known: set[str]) -> Any:
    """The first key (in file order) that is not one of ``known``, or None."""
    return next((k for k in data if k not in known and k not in (LINE, KEYS)), None)


def _workflow(data: dict[str, Any], path: str) -> Workflow:
    unknown = _unknown(data, TOP_KEYS)
    if unknown is not None:
        raise _Problem(f"unknown key {unknown!r} (known: {', '.join(sorted(TOP_KEYS))})", _at(data, unknown))
    max_parallel = data.get("max_parallel", 2)
    if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
        raise _Problem(
            f"max_parallel must be a whole number of at least 1, not {max_parallel!r}", _at(data, "max_parallel")
        )
    phases = data.get("phases") or []
    if not isinstance(phases, list) or not all(isinstance(p, str) for p in phases):
        raise _Problem("phases must be a list of names", _at(data, "phases"))
    raw = data.get("modules")
    if not isinstance(raw, list) or not raw:
        raise _Problem("`modules:` must be a non-empty list", _at(data, "modules"))
    modules: dict[str, ModuleSpec] = {}
    owner: dict[str, str] = {}
    folders: dict[str, str] = {}  # every folder an output is in → a module that writes there
    lines: dict[str, dict[str, Any]] = {}  # module id → its mapping, for the line of a key
    for item in raw:
        m = _module(item, phases, _at(data, "modules"))
        lines.setdefault(m.id, item)
        if m.id in modules:
            raise _Problem(f"duplicate module id {m.id!r} (first on line {modules[m.id].line})", _at(item, "id"))
        for out in m.outputs:
            if out in owner:
                raise _Problem(f"output {out} of {m.id!r} is already claimed by {owner[out]!r}", _at(item, "outputs"))
            if out in folders:  # one module's file would be another's folder
                raise _Problem(
                    f"output {out} of {m.id!r} is a folder that {folders[out]!r} writes into", _at(item, "outputs")
                )
            parts = out.split("/")
            for i in range(1, len(parts)):
                folder = "/".join(parts[:i])
                if folder in owner:
                    raise _Problem(
                        f"output {out} of {m.id!r} is inside {folder}, an output of {owner[folder]!r}",
                        _at(item, "outputs"),
                    )
                folders.setdefault(folder, m.id)
            owner[out] = m.id
        modules[m.id] = m
    for m in modules.values():
        for n in m.needs:
            if n not in modules:
                raise _Problem(f"module {m.id!r} needs {n!r}, which no module has as its id", _at(lines[m.id], "needs"))
    return Workflow(modules=modules, order=_order(modules), max_parallel=max_parallel, phases=list(phases), path=path)


def _module(item: Any, phases: list[str], parent_line: int) -> ModuleSpec:
    if not isinstance(item, dict):
        raise _Problem("each module must be a mapping with an `id:`", parent_line)
    line = int(item.get(LINE, parent_line))

    def at(key: str) -> int:
        return _at(item, key)

    unknown = _unknown(item, MODULE_KEYS)
    if unknown is not None:
        raise _Problem(f"unknown module key {unknown!r} (known: {', '.join(sorted(MODULE_KEYS))})", at(unknown))
    mid = item.get("id")
    if mid is None:
        raise _Problem("a module needs an `id:`", line)
    if not isinstance(mid, str) or not mid.strip() or any(c in mid for c in " /\\:\n\t") or mid.startswith("."):
        raise _Problem(f"module id {mid!r} must be a name without spaces, slashes or colons", at("id"))

    def strings(key: str) -> tuple[str, ...]:
        value = item.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise _Problem(f"{key} of {mid!r} must be a list of strings", at(key))
        return tuple(value)

    def flag(key: str) -> bool:
        value = item.get(key, False)
        if not isinstance(value, bool):
            raise _Problem(f"{key} of {mid!r} must be true or false", at(key))
        return value

    inputs_raw = item.get("inputs")
    input_request = None
    inputs: tuple[str, ...]
    if isinstance(inputs_raw, dict):
        extra = set(inputs_raw) - {"input", LINE, KEYS}
        if extra or not isinstance(inputs_raw.get("input"), str):
            raise _Problem(f'inputs of {mid!r}: write a list of paths, or {{input: "what to provide"}}', at("inputs"))
        input_request, inputs = inputs_raw["input"], ()
    else:
        inputs = strings("inputs")
    run = item.get("run")
    if run is None and input_request is not None:
        run = {"input": input_request}
    if not isinstance(run, dict):
        raise _Problem(
            f"module {mid!r} needs `run:` ({{command: ...}}, {{model: ..., prompt: ...}}, "
            "{input: ...} or {module: ...})",
            at("run"),
        )
    run_line = at("run")
    run = {k: v for k, v in run.items() if k not in (LINE, KEYS)}
    kinds = [k for k in run if k in RUN_KINDS]
    if len(kinds) != 1:
        raise _Problem(f"run of {mid!r} must have exactly one of command, model, input, module", run_line)
    kind = kinds[0]
    allowed = {
        "command": {"command", "timeout"},
        "model": {"model", "prompt"},
        "input": {"input"},
        "module": {"module"},
    }[kind]
    extra_key = next((k for k in run if k not in allowed), None)
    if extra_key is not None:
        raise _Problem(f"run of {mid!r} has an unknown key {extra_key!r}", run_line)
    if not all(isinstance(run[k], str) and run[k].strip() for k in allowed & set(run) if k != "timeout"):
        raise _Problem(f"run.{kind} of {mid!r} must be text", run_line)
    timeout = run.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
        raise _Problem(f"run.timeout of {mid!r} must be a number of seconds, not {timeout!r}", run_line)
    if kind == "model" and not isinstance(run.get("prompt"), str):
        raise _Problem(f"a model module ({mid!r}) needs run.prompt", run_line)
    if kind == "input" and input_request is None:
        input_request = str(run["input"])
    outputs = strings("outputs")
    for out in outputs:
        if any(c in out for c in "*?["):
            raise _Problem(f"output {out!r} of {mid!r} must be a path, not a pattern", at("outputs"))
        try:
            if check_path(out) != out:
                raise UnsafePath("not in its simplest form (write a file's path, without ./, // or a final /)")
        except UnsafePath as exc:
            raise _Problem(
                f"output {out!r} of {mid!r} is outside the Workbench or unsafe: {exc}", at("outputs")
            ) from exc
        if out.startswith(RESERVED[0]) or any(r.startswith(out + "/") or r == out for r in RESERVED):
            raise _Problem(
                f"output {out!r} of {mid!r} is one of the engine's own files (the workflow file and {RESERVED[0]})",
                at("outputs"),
            )
    for pattern in inputs:
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise _Problem(f"input {pattern!r} of {mid!r} is outside the Workbench", at("inputs"))
    if not outputs:
        raise _Problem(f"module {mid!r} declares no outputs: the engine could never tell it is complete", line)
    phase = item.get("phase")
    if phase is not None and (not isinstance(phase, str) or (phases and phase not in phases)):
        raise _Problem(f"phase {phase!r} of {mid!r} is not one of the phases {phases}", at("phase"))
    config = item.get("config") or {}
    if not isinstance(config, dict):
        raise _Problem(f"config of {mid!r} must be a mapping", at("config"))
    version = item.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise _Problem(f"version of {mid!r} must be a number or text", at("version"))
    return ModuleSpec(
        id=mid,
        kind=KINDS[kind],
        run=run,
        version=str(version),
        phase=phase,
        inputs=inputs,
        input_request=input_request,
        outputs=outputs,
        needs=strings("needs"),
        optional=flag("optional"),
        exclusive=flag("exclusive"),
        gate=flag("gate"),
        config=_plain(config),
        line=line,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in (LINE, KEYS)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _order(modules: dict[str, ModuleSpec]) -> list[str]:
    """Dependencies first (file order among equals); a cycle is named in full (gitbench/workflow/order.py)."""
    try:
        return order.dependencies_first({m: spec.needs for m, spec in modules.items()})
    except order.Cycle as exc:
        cycle = exc.cycle
        raise _Problem(
            "the modules depend on each other in a cycle: " + " → ".join(cycle), modules[cycle[0]].line
        ) from None


def to_json(wf: Workflow) -> dict[str, Any]:
    """The parsed workflow as plain data (the engine caches it by the file's blob id)."""
    from dataclasses import asdict

    return {
        "modules": [asdict(m) for m in wf.modules.values()],
        "order": wf.order,
        "max_parallel": wf.max_parallel,
        "phases": wf.phases,
        "path": wf.path,
    }


def from_json(data: dict[str, Any]) -> Workflow:
    modules = {}
    for m in data["modules"]:
        for key in ("inputs", "outputs", "needs"):
            m[key] = tuple(m[key])
        m["kind"] = KINDS[m["kind"]]
        modules[m["id"]] = ModuleSpec(**m)
    return Workflow(
        modules=modules,
        order=list(data["order"]),
        max_parallel=int(data["max_parallel"]),
        phases=list(data["phases"]),
        path=str(data["path"]),
    )
