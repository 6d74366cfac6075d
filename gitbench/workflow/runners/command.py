"""A command module: ``/bin/sh -c COMMAND`` in the module's own folder, with its settings in the environment.

It runs under the one process supervisor (``services/supervisor.py``), as a job's command does: a session of
its own, its group noted beside its folder while it runs, and on a timeout, or when it ends, every process it
started is stopped. A resume after a crash stops what an interrupted run left behind (``stop_orphans``), so no
orphan writes on while the module runs again.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

from gitbench.git import export
from gitbench.services import supervisor
from gitbench.workflow import spec
from gitbench.workflow.runners import Ran
from gitbench.workflow.state import RunStatus

STDERR_TAIL = 65536  # bytes of its error output kept: its last line is the run's error


def note_path(folder: str) -> str:
    """Where a module's running process group is noted: beside its folder."""
    return folder + ".pgid"


def run(
    m: spec.ModuleSpec,
    folder: str,
    snap: export.Snapshot,
    config: dict[str, Any],
    on_start: Callable[[int], None] | None = None,
) -> Ran:
    """Run the command in ``folder``; ``on_start(pgid)`` once it runs (its process group: a cluster's worker
    watches over it, ``remote.py``)."""
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_CEILING_DIRECTORIES": os.path.dirname(folder),
            "GITBENCH_MODULE": m.id,
            "GITBENCH_MODULE_CONFIG": json.dumps(config, sort_keys=True),
        }
    )
    timeout = float(m.run.get("timeout") or 0) or None
    with tempfile.TemporaryFile() as errors:
        outcome = supervisor.run(
            ["/bin/sh", "-c", m.run["command"]],
            folder,
            env,
            stdin=b"",
            stdout=subprocess.DEVNULL,
            stderr=errors.fileno(),
            timeout=timeout,
            session=True,
            note=note_path(folder),
            on_start=on_start,
        )
        size = errors.seek(0, os.SEEK_END)
        errors.seek(max(0, size - STDERR_TAIL))
        stderr = errors.read()
    if outcome.stopped == "timeout":
        return Ran(folder, snap, RunStatus.FAILED, f"timed out after {timeout:g} s", time.monotonic() - started)
    if outcome.code == 0 and outcome.stopped is None:
        return Ran(folder, snap, RunStatus.COMPLETE, None, time.monotonic() - started)
    status = -outcome.signal if outcome.signal else outcome.code  # as Popen says it: a signal's number, negated
    tail = stderr.decode("utf-8", "replace").strip().splitlines()
    error = tail[-1][:300] if tail else f"the command exited with status {status}"
    return Ran(folder, snap, RunStatus.FAILED, error, time.monotonic() - started)


def stop_orphans(home: str, mid: str) -> None:
    """Stop what an interrupted run of ``mid`` left running (its process group), before it runs again. ``home``:
    the folder the job's modules get their folders in."""
    supervisor.stop_noted(note_path(os.path.join(home, mid)))
