"""An input module: complete once the operator has put its outputs in the Workbench's folder."""

from __future__ import annotations

import os

from gitbench.workflow import spec
from gitbench.workflow.runners import Outcome, Provided, Result
from gitbench.workflow.state import RunStatus


def check(m: spec.ModuleSpec, root: str | None) -> Outcome:
    """The module's outputs from the Workbench's folder (``root``), or a Result waiting for them."""
    if root is None:
        return Result(RunStatus.NEEDS_INPUT, error="a bare Workbench has no folder to put inputs in")
    files: dict[str, bytes] = {}
    for path in m.outputs:
        full = os.path.join(root, path)
        if not os.path.isfile(full) or os.path.islink(full):
            return Result(RunStatus.NEEDS_INPUT, error=f"waiting for {path}")
        with open(full, "rb") as fh:
            files[path] = fh.read()
    return Provided(files)
