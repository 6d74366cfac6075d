"""A Python module (``run: {module: NAME}``, from the gitbench.modules entry points), called in its folder."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from gitbench.git import export
from gitbench.workflow import spec
from gitbench.workflow.runners import Ran
from gitbench.workflow.state import RunStatus


def run(
    m: spec.ModuleSpec,
    folder: str,
    snap: export.Snapshot,
    config: dict[str, Any],
    inputs: list[str],
    stale: Sequence[tuple[str, str, str | None]],
) -> Ran:
    from gitbench.workflow import protocol

    started = time.monotonic()
    ctx = protocol.ModuleContext(m.id, folder, config, inputs, list(m.outputs))
    error: str | None = None
    try:
        obj = protocol.load(str(m.run["module"]))
        if stale and hasattr(obj, "on_invalidated"):  # the invalidation event reaches it before the rerun
            obj.on_invalidated(ctx, stale)
        status = str(obj.run(ctx) or "complete")
        if status == "complete" and not protocol.is_complete(obj, ctx):
            status, error = "failed", "it reported complete, but its outputs are not all there"
        else:
            error = None if status == "complete" else f"it returned {status}"
    except Exception as exc:  # noqa: BLE001 - a module's own failure is its run's error, not ours
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:300]
    if status not in ("complete", "failed", "needs-input"):
        status, error = "failed", f"it returned {status!r} (complete, failed or needs-input)"
    return Ran(folder, snap, RunStatus(status), error, time.monotonic() - started)
