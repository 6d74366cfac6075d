"""A command module: ``/bin/sh -c COMMAND`` in the module's own folder, with its settings in the environment."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from typing import Any

from gitbench.git import export
from gitbench.workflow import spec
from gitbench.workflow.runners import Ran


def run(m: spec.ModuleSpec, folder: str, snap: export.Snapshot, config: dict[str, Any]) -> Ran:
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
    # Its own process group, noted beside its folder: a timeout stops the whole group, and a resume after a
    # crash stops what an interrupted run left behind, so no orphan writes on while the module runs again.
    proc = subprocess.Popen(
        ["/bin/sh", "-c", m.run["command"]],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    with contextlib.suppress(OSError):
        with open(folder + ".pgid", "w") as fh:
            fh.write(str(proc.pid))
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.communicate()
        return Ran(folder, snap, "failed", f"timed out after {timeout:g} s", time.monotonic() - started)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(folder + ".pgid")
    if proc.returncode == 0:
        return Ran(folder, snap, "complete", None, time.monotonic() - started)
    tail = stderr.decode("utf-8", "replace").strip().splitlines()
    error = tail[-1][:300] if tail else f"the command exited with status {proc.returncode}"
    return Ran(folder, snap, "failed", error, time.monotonic() - started)


def kill_group(pgid: int) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_orphans(home: str, mid: str) -> None:
    """Stop what an interrupted run of ``mid`` left running (its process group), before it runs again. ``home``:
    the folder the job's modules get their folders in."""
    note = os.path.join(home, mid) + ".pgid"
    try:
        with open(note) as fh:
            pgid = int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pgid > 1:
        kill_group(pgid)
    with contextlib.suppress(OSError):
        os.unlink(note)
