"""The engine's persisted state: ``.git/gitbench/workflow/engine/state.json``, written atomically.

It holds what the files cannot tell: the running set (claimed modules, with the process and job that claimed
them), gates and approvals, skipped optional modules, runtime overrides (``--set``), the last run of every
module, the workflow job in progress, and the workflow definition it runs (the file's blob id and the resolved
definition). Deleting it loses no work: the artifacts and their metadata say what
is complete, and the Draft's step commits say which runs finished.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gitbench.store import atomic


@dataclass
class EngineState:
    running: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_run: dict[str, dict[str, Any]] = field(default_factory=dict)
    job: str | None = None
    # The workflow definition as run: {"path", "blob": the Git blob id of the file, "definition": the resolved
    # modules (defaults filled in), order, max_parallel, phases}. Set when a run starts.
    workflow: dict[str, Any] | None = None


def path(gitdir: str) -> str:
    return os.path.join(gitdir, "gitbench", "workflow", "engine", "state.json")


def load(gitdir: str) -> EngineState:
    data = atomic.read_json(path(gitdir))
    if not isinstance(data, dict):
        return EngineState()
    known = {k: v for k, v in data.items() if k in EngineState.__dataclass_fields__}
    try:
        return EngineState(**known)
    except TypeError:
        return EngineState()  # a state from another version: rebuilt from the artifacts


def save(gitdir: str, state: EngineState) -> None:
    """Written at every claim and every finish: one line of JSON through the C encoder (``asdict`` and an
    indented dump would make a long run quadratic in its size), fsynced, renamed into place."""
    import json

    data = {name: getattr(state, name) for name in EngineState.__dataclass_fields__ if name != "workflow"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    if state.workflow is not None:  # the definition changes once a run at most: encoded once, not at every save
        global _encoded
        if _encoded is None or _encoded[0] is not state.workflow:
            _encoded = (state.workflow, json.dumps(state.workflow, sort_keys=True, separators=(",", ":")))
        text = text[:-1] + ',"workflow":' + _encoded[1] + "}"  # "workflow" sorts last: the same text as a dump
    else:
        text = text[:-1] + ',"workflow":null}'
    os.makedirs(os.path.dirname(path(gitdir)), exist_ok=True)
    atomic.write_bytes(path(gitdir), (text + "\n").encode())


_encoded: tuple[dict[str, Any], str] | None = None
