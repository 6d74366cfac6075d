"""The workflow file, ``.gitbench/workflow.yaml``: parsed and checked whole before anything runs.

Every error names the file and the line: YAML syntax errors, unknown keys, missing ids, duplicate ids, unknown
``needs``, cycles, an output claimed by two modules, outputs outside the Workbench. The reference is in
``docs/workflow.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from gitbench import errors, schema
from gitbench.scope import UnsafePath, check_path
from gitbench.workflow import order
from gitbench.workflow.kinds import KINDS, ModuleKind

PATH = ".gitbench/workflow.yaml"
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

    @cached_property
    def place(self) -> dict[str, int]:
        """Each module's place in ``order``."""
        return {m: i for i, m in enumerate(self.order)}

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
        # A run reads the file in Published: a fix left in the folder is not read (the same error again).
        [errors.Action(f"Fix {path} (reference: docs/workflow.md), then put it on Published", "add", (path,))],
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


def _checked(file_schema: schema.Map, data: dict[str, Any], **context: Any) -> dict[str, Any]:
    try:
        return schema.validate(file_schema, data, context, line=_at, hidden=(LINE, KEYS))
    except schema.Problem as exc:
        raise _Problem(exc.message, exc.line or 1) from None


def _escaped(value: Any) -> str:
    return repr(value).replace("{", "{{").replace("}", "}}")


def _strings(value: Any) -> tuple[str, ...]:
    """A list of non-empty strings (one string is a list of one; nothing is an empty list)."""
    value = value or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise schema.Invalid("{name} of {mid!r} must be a list of strings")
    return tuple(value)


def _inputs(value: Any) -> tuple[str, ...] | str:
    """Paths a module reads, or (``{input: "what to provide"}``, an input module) the text of the request."""
    if isinstance(value, dict):
        if set(value) - {"input", LINE, KEYS} or not isinstance(value.get("input"), str):
            raise schema.Invalid('inputs of {mid!r}: write a list of paths, or {{input: "what to provide"}}')
        request: str = value["input"]
        return request
    inputs = _strings(value)
    for pattern in inputs:
        if pattern.startswith("/") or ".." in pattern.split("/"):
            raise schema.Invalid(f"input {_escaped(pattern)} of {{mid!r}} is outside the Workbench")
    return inputs


def _run(value: Any) -> dict[str, Any] | None:
    """``run:`` with exactly one kind (command, model, input, module) and that kind's keys."""
    if value is None:
        return None  # an input module may leave it out
    if not isinstance(value, dict):
        raise schema.Invalid(_NO_RUN)
    run = {k: v for k, v in value.items() if k not in (LINE, KEYS)}
    kinds = [k for k in run if k in RUN_KINDS]
    if len(kinds) != 1:
        raise schema.Invalid("run of {mid!r} must have exactly one of command, model, input, module")
    kind = kinds[0]
    allowed = {
        "command": {"command", "timeout"},
        "model": {"model", "prompt"},
        "input": {"input"},
        "module": {"module"},
    }[kind]
    extra_key = next((k for k in run if k not in allowed), None)
    if extra_key is not None:
        raise schema.Invalid(f"run of {{mid!r}} has an unknown key {_escaped(extra_key)}")
    if not all(isinstance(run[k], str) and run[k].strip() for k in allowed & set(run) if k != "timeout"):
        raise schema.Invalid(f"run.{kind} of {{mid!r}} must be text")
    timeout = run.get("timeout")
    if timeout is not None and (not schema.is_number(timeout) or timeout <= 0):
        raise schema.Invalid("run.timeout of {mid!r} must be a number of seconds, not {value[timeout]!r}")
    if kind == "model" and not isinstance(run.get("prompt"), str):
        raise schema.Invalid("a model module ({mid!r}) needs run.prompt")
    return run


def _outputs(value: Any) -> tuple[str, ...]:
    """Paths in the Workbench, in their simplest form, none of them the engine's own files."""
    outputs = _strings(value)
    for out in outputs:
        name = _escaped(out)
        if any(c in out for c in "*?["):
            raise schema.Invalid(f"output {name} of {{mid!r}} must be a path, not a pattern")
        try:
            if check_path(out) != out:
                raise UnsafePath("not in its simplest form (write a file's path, without ./, // or a final /)")
        except UnsafePath as exc:
            raise schema.Invalid(
                f"output {name} of {{mid!r}} is outside the Workbench or unsafe: " + str(exc).replace("{", "{{")
            ) from exc
        if out.startswith(RESERVED[0]) or any(r.startswith(out + "/") or r == out for r in RESERVED):
            raise schema.Invalid(
                f"output {name} of {{mid!r}} is one of the engine's own files (the workflow file and {RESERVED[0]})"
            )
    return outputs


def _module_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c in value for c in " /\\:\n\t") or value.startswith("."):
        raise schema.Invalid("module id {value!r} must be a name without spaces, slashes or colons")
    return value


_NO_RUN = (
    "module {mid!r} needs `run:` ({{command: ...}}, {{model: ..., prompt: ...}}, {{input: ...}} or {{module: ...}})"
)
_FLAG = schema.check(schema.is_flag, "{name} of {mid!r} must be true or false")
# The keys of the file and of a module, each with its check, in the order they are checked.
WORKFLOW = schema.Map(
    keys=(
        schema.Key(
            "max_parallel",
            schema.check(
                lambda v: schema.is_whole(v) and v >= 1,
                "max_parallel must be a whole number of at least 1, not {value!r}",
            ),
            default=2,
        ),
        schema.Key(
            "phases",
            schema.chain(
                lambda v: v or [],
                schema.check(
                    lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v),
                    "phases must be a list of names",
                ),
            ),
            default=[],
        ),
        schema.Key(
            "modules",
            schema.check(lambda v: isinstance(v, list) and bool(v), "`modules:` must be a non-empty list"),
            required="`modules:` must be a non-empty list",
        ),
    ),
    unknown="unknown key {name!r} (known: {known})",
)
MODULE = schema.Map(
    keys=(
        schema.Key("id", _module_id, required="a module needs an `id:`"),
        schema.Key("inputs", _inputs, default=()),
        schema.Key("run", _run),
        schema.Key("outputs", _outputs, default=()),
        schema.Key("phase"),
        schema.Key(
            "config",
            schema.chain(
                schema.check(lambda v: not v or isinstance(v, dict), "config of {mid!r} must be a mapping"),
                lambda v: v or {},
            ),
            default={},
        ),
        schema.Key(
            "version",
            schema.chain(
                schema.check(
                    lambda v: not isinstance(v, bool) and isinstance(v, int | str),
                    "version of {mid!r} must be a number or text",
                ),
                str,
            ),
            default="1",
        ),
        schema.Key("needs", _strings, default=()),
        schema.Key("optional", _FLAG, default=False),
        schema.Key("exclusive", _FLAG, default=False),
        schema.Key("gate", _FLAG, default=False),
        schema.Key("description"),
    ),
    unknown="unknown module key {name!r} (known: {known})",
)
TOP_KEYS = set(WORKFLOW.by_name)
MODULE_KEYS = set(MODULE.by_name)


def _workflow(data: dict[str, Any], path: str) -> Workflow:
    checked = _checked(WORKFLOW, data)
    max_parallel, phases, raw = checked["max_parallel"], checked["phases"], checked["modules"]
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
    checked = _checked(MODULE, item, mid=item.get("id"))
    mid: str = checked["id"]
    inputs: tuple[str, ...] = checked["inputs"]
    input_request: str | None = None
    if isinstance(checked["inputs"], str):
        inputs, input_request = (), checked["inputs"]
    run = checked.get("run")
    if run is None:
        if input_request is None:
            raise _Problem(_NO_RUN.format(mid=mid), _at(item, "run"))
        run = {"input": input_request}
    kind = next(k for k in run if k in RUN_KINDS)
    if kind == "input" and input_request is None:
        input_request = str(run["input"])
    if not checked["outputs"]:
        raise _Problem(f"module {mid!r} declares no outputs: the engine could never tell it is complete", line)
    phase = checked.get("phase")
    if phase is not None and (not isinstance(phase, str) or (phases and phase not in phases)):
        raise _Problem(f"phase {phase!r} of {mid!r} is not one of the phases {phases}", _at(item, "phase"))
    return ModuleSpec(
        id=mid,
        kind=KINDS[kind],
        run=run,
        version=checked["version"],
        phase=phase,
        inputs=inputs,
        input_request=input_request,
        outputs=checked["outputs"],
        needs=checked["needs"],
        optional=checked["optional"],
        exclusive=checked["exclusive"],
        gate=checked["gate"],
        config=_plain(checked["config"]),
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


def recipe(m: ModuleSpec) -> str:
    """A hash of what a module does: its kind, its run (command, prompt, model...), what it reads and writes and
    needs. Not its place in the file, phase or gate; its version and settings are in its fingerprint."""
    import hashlib
    import json

    what = [str(m.kind), m.run, m.inputs, m.outputs, m.needs, m.input_request]
    return hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def to_json(wf: Workflow) -> dict[str, Any]:
    """The parsed workflow as plain data: the resolved definition the engine records in its state."""
    from dataclasses import asdict

    return {
        "modules": [asdict(m) for m in wf.modules.values()],
        "order": wf.order,
        "max_parallel": wf.max_parallel,
        "phases": wf.phases,
        "path": wf.path,
    }
