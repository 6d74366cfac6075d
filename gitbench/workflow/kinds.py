"""What a module runs, as its ``run:`` says: the module kinds (docs/workflow.md)."""

from __future__ import annotations

from enum import StrEnum


class ModuleKind(StrEnum):
    COMMAND = "command"  # a shell command in the module's own folder
    MODEL = "model"  # a model asked for structured edits to the module's outputs
    INPUT = "input"  # the operator writes the outputs in the Workbench's folder
    MODULE = "module"  # a Python module from the gitbench.modules entry points


# The kinds a cluster's executor runs (``--executor``): input modules (the operator's files) and Python modules (in
# this environment's packages) run in the engine's own process.
ON_EXECUTOR = frozenset({ModuleKind.COMMAND, ModuleKind.MODEL})

KINDS: dict[str, ModuleKind] = {k.value: k for k in ModuleKind}  # a cached workflow's text → its kind, quickly
