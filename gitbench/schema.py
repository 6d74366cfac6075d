"""Declarative checks for the files people write: ``.gitbench/workflow.yaml`` and the ``config.toml`` files.

After pre-commit's ``cfgv``: a ``Map`` lists its ``Key``\\ s, each with the check of its value and its default, and
``validate`` walks a mapping against it, naming the first problem by its key path and, where the loader kept it
(the workflow file's YAML loader does; ``tomllib`` keeps none), its line. We write the ~100 lines rather than
depend on ``cfgv`` because our messages are part of the interface (docs/errors.md, and the tests assert them):
each file words its own ("outputs of 'a' must be a list of strings", "retry.attempts in FILE must be a
non-negative number, not 'x'."), where cfgv composes fixed "==> At key: ..." chains and knows no lines.

A check is a function from a value to the value it stands for (converted: a duration to seconds) that raises
``Invalid`` with a message template; templates are formatted with ``key`` (the dotted key path), ``name`` (its
last part), ``table`` (the path of the mapping it is in), ``value``, ``known`` (the Map's keys) and the context
the caller gives (``file``, ``mid``...).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import field
from typing import Any

from gitbench.lazy_dataclass import dataclass

Check = Callable[[Any], Any]


class Invalid(Exception):
    """Raised by a check: the value does not fit; ``template`` says so (formatted by ``validate``)."""

    def __init__(self, template: str) -> None:
        super().__init__(template)
        self.template = template


class Problem(Exception):
    """The first thing wrong in a validated mapping: the message, the key path to it and its line (if known)."""

    def __init__(self, message: str, path: tuple[Any, ...], line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line


_MISSING: Any = object()


@dataclass(frozen=True)
class Key:
    """One key of a Map: ``check`` of its value (a nested ``Map`` for a table), ``default`` when absent, or
    ``required`` (a template) when it must be there."""

    name: str
    check: Check | Map | None = None
    default: Any = _MISSING
    required: str | None = None


@dataclass(frozen=True)
class Map:
    """A mapping: its known ``keys``, or ``each`` (the check of every value, for a table of free names such as
    ``[providers.NAME]``); ``unknown`` and ``not_a_map`` are the templates of those two problems."""

    keys: tuple[Key, ...] = ()
    each: Check | Map | None = None
    unknown: str = "unknown key {name!r} (known: {known})"
    not_a_map: str = "{key} must be a mapping"
    by_name: dict[str, Key] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {k.name: k for k in self.keys})


def check(test: Callable[[Any], bool], template: str) -> Check:
    """A check from a predicate: the value itself if ``test(value)``, else ``Invalid(template)``."""

    def run(value: Any) -> Any:
        if not test(value):
            raise Invalid(template)
        return value

    return run


def is_text(value: Any) -> bool:
    return isinstance(value, str)


def is_flag(value: Any) -> bool:
    return isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float, not a bool (which Python counts as an int)."""
    return not isinstance(value, bool) and isinstance(value, int | float)


def is_whole(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int)


def chain(*checks: Check) -> Check:
    """Each check in turn on what the one before returned."""

    def run(value: Any) -> Any:
        for one in checks:
            value = one(value)
        return value

    return run


def validate(
    schema: Map,
    data: Mapping[Any, Any],
    context: Mapping[str, Any] | None = None,
    *,
    line: Callable[[Any, Any], int | None] = lambda data, key: None,
    hidden: Collection[str] = (),
    path: tuple[Any, ...] = (),
) -> dict[Any, Any]:
    """``data`` checked against ``schema``: each known key's checked value, defaults filled in; keys in
    ``hidden`` (what a loader adds, such as lines) are passed over. ``Problem`` names the first unknown key (in
    file order), then the first bad or missing value (in the schema's order). ``line(mapping, key)`` says where a
    key is."""
    context = dict(context or {})

    def fail(template: str, key_path: tuple[Any, ...], key: Any, value: Any = None) -> Problem:
        dotted = ".".join(str(p) for p in key_path)
        known = ", ".join(sorted(schema.by_name))
        table = ".".join(str(p) for p in path)
        fields = {"key": dotted, "name": key, "table": table, "value": value, "known": known}
        message = template.format(**{**context, **fields})
        return Problem(message, key_path, line(data, key))

    names = [k for k in data if k not in hidden]
    if schema.each is None:
        unknown = next((k for k in names if k not in schema.by_name), _MISSING)
        if unknown is not _MISSING:
            raise fail(schema.unknown, (*path, unknown), unknown)
    out: dict[Any, Any] = {}
    keys = [Key(name, schema.each) for name in names] if schema.each is not None else schema.keys
    for key in keys:
        key_path = (*path, key.name)
        if key.name not in data:
            if key.required is not None:
                raise fail(key.required, key_path, key.name)
            if key.default is not _MISSING:
                out[key.name] = key.default
            continue
        value = data[key.name]
        if isinstance(key.check, Map):
            if not isinstance(value, Mapping):
                raise fail(key.check.not_a_map, key_path, key.name, value)
            out[key.name] = validate(key.check, value, context, line=line, hidden=hidden, path=key_path)
        elif key.check is not None:
            try:
                out[key.name] = key.check(value)
            except Invalid as exc:
                raise fail(exc.template, key_path, key.name, value) from None
        else:
            out[key.name] = value
    return out
