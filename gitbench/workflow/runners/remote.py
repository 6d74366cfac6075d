"""A command or model module run on another process's worker (an executor's, ``gitbench/executors``).

The module's folder is the unit shipped. In the engine's process (``call``, in a thread of the run's pool) the
folder ``prepare`` exported is packed as data: its files by blob id (``{path: (blob id, mode)}``) and each blob's
bytes once; the module's spec, its settings and, for a model module, the resolved model (its provider with the one
API key it needs, never the user's config) and the request settings. Nothing else is sent: not the repository,
not the engine's state, not other files or keys.

On the worker (``run_task``, a module-level function of plain data) the blobs are kept in a cache by id in the
worker's own folder (a blob sent again is not written again), a temporary folder is made from them, and the same
runner code runs there as locally (``command.run``, ``model.call``: the supervisor, its timeout). What it answers
is the files the run changed (bytes and mode, deletions), its status, error and time.

Back in the engine's process the answer is checked against the module (a file it writes must be among its
outputs, a deletion among its folder's files; anything else, or an answer of the wrong shape, fails the module)
and written into the module's local folder: ``steps.collect`` then makes the step exactly as after a local run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitbench.git import export
from gitbench.git.objects import Mode
from gitbench.workflow import spec
from gitbench.workflow.kinds import ModuleKind
from gitbench.workflow.runners import Ran
from gitbench.workflow.state import RunStatus

if TYPE_CHECKING:
    from gitbench.executors import Executor
    from gitbench.providers.config import ModelSpec, Settings

GUARD = 30.0  # seconds past a command's timeout before the engine stops waiting for its worker's answer
HERE = "\x00folder\x00"  # the module's folder, in a worker's answer
OUTSIDE = export.OUTSIDE_SCOPE  # as a local capture names a file written outside the outputs


@dataclass(frozen=True)
class Task:
    """A module's run as data for a worker."""

    module: spec.ModuleSpec
    files: dict[str, tuple[str, int]]  # path → (blob id, mode) of the folder's files
    blobs: dict[str, bytes]  # blob id → its bytes, each once
    config: dict[str, Any]
    model: ModelSpec | None = None  # a model module's resolved model (its provider with its own key only)
    settings: Settings | None = None  # and the request settings (retries, timeouts, sizes)


@dataclass
class Answer:
    """What a worker's run gives back: the files it changed in the folder (``None``: deleted; else its bytes and
    mode), the changed files it was not to write (with why), its status, error and time."""

    status: str
    error: str | None
    seconds: float
    writes: dict[str, tuple[bytes, int] | None] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    transient: bool = False  # a model module's provider failed it for now: the next run asks again


def blob_id(data: bytes) -> str:
    """The Git blob id of ``data`` (as ``git hash-object`` says it): a cache key two workers agree on."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def pack(
    m: spec.ModuleSpec,
    folder: str,
    snap: export.Snapshot,
    config: dict[str, Any],
    model: ModelSpec | None = None,
    settings: Settings | None = None,
) -> Task:
    """The exported folder as a Task: each file as it is on disk (line endings as a checkout writes them), keyed
    by the id of those bytes (the tree's blob id, unless a checkout filter changed the file)."""
    files: dict[str, tuple[str, int]] = {}
    blobs: dict[str, bytes] = {}
    for rel, entry in snap.items():
        full = os.path.join(folder, rel)
        data = os.fsencode(os.readlink(full)) if entry[1] == Mode.SYMLINK else _read(full)
        oid = blob_id(data)
        blobs.setdefault(oid, data)
        files[rel] = (oid, int(entry[1]))
    return Task(m, files, blobs, config, model, settings)


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# -- on the worker ------------------------------------------------------------------------------------------------
def cache_folder() -> str:
    """Where this worker keeps blobs by id: in its own local directory (a Dask worker's), else the temp folder."""
    base = tempfile.gettempdir()
    with contextlib.suppress(ImportError, ValueError):
        from distributed import get_worker

        base = get_worker().local_directory
    path = os.path.join(base, "gitbench-blobs")
    os.makedirs(path, exist_ok=True)
    return path


def _cached(cache: str, oid: str, data: bytes) -> str:
    """The blob's file in the cache, written once (to a temporary name, then renamed: two tasks may race)."""
    path = os.path.join(cache, oid)
    if not os.path.exists(path):
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".in-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return path


def run_task(task: Task) -> Answer:
    """Run a module in a temporary folder made from ``task``; answer what changed (module-level: a worker
    imports it by name)."""
    started = time.monotonic()
    cache = cache_folder()
    with tempfile.TemporaryDirectory(prefix="gitbench-module-") as home:
        folder = os.path.join(home, task.module.id)
        os.makedirs(folder)
        snap: export.Snapshot = {}
        for rel, (oid, mode) in task.files.items():
            full = os.path.join(folder, rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if mode == Mode.SYMLINK:
                os.symlink(os.fsdecode(task.blobs[oid]), full)
            else:
                # a copy, never a link to the cache: a command writing the file in place would change the cache
                shutil.copyfile(_cached(cache, oid, task.blobs[oid]), full)
                if mode == Mode.EXECUTABLE:
                    os.chmod(full, 0o755)
            st = os.lstat(full)
            snap[rel] = (oid, Mode(mode), st.st_size, st.st_mtime_ns, st.st_ino)
        for out in task.module.outputs:
            os.makedirs(os.path.dirname(os.path.join(folder, out)), exist_ok=True)
        if task.module.kind == ModuleKind.MODEL:
            from gitbench.workflow.runners import model

            assert task.model is not None and task.settings is not None, "a model module's task names its model"
            ran = model.call(task.module, folder, snap, task.config, task.model, task.settings, None)
        else:
            from gitbench.workflow.runners import command

            watchdogs: list[subprocess.Popen[bytes]] = []
            try:
                ran = command.run(task.module, folder, snap, task.config, lambda pgid: watchdogs.append(_watch(pgid)))
            finally:
                for dog in watchdogs:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(dog.pid, signal.SIGKILL)
                    dog.wait()
        # the worker's folder is named as the engine's own (an error naming a file in it reads as a local run's)
        answer = Answer(ran.status, ran.error and ran.error.replace(folder, HERE), ran.seconds, transient=ran.transient)
        _changes(task, folder, snap, answer)
    answer.seconds = time.monotonic() - started if ran.seconds == 0 else ran.seconds
    return answer


def _watch(pgid: int) -> subprocess.Popen[bytes]:
    """A watchdog over a command's process group, in a session of its own: if this worker process dies first (a
    `kill -9`, the OOM killer), it stops the group within 0.2 s. Without it the command would run on, in its own
    session, while Dask runs the module again on another worker: its work done twice. Stopped when the command
    ends."""
    # GNU tail waits for a pid without a process a poll; elsewhere (no --pid) a loop of kill -0 does
    script = (
        'tail --pid="$1" -s 0.2 -f /dev/null 2>/dev/null || while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; '
        'kill -KILL -"$2" 2>/dev/null'
    )
    return subprocess.Popen(
        ["/bin/sh", "-c", script, "gitbench-watchdog", str(os.getpid()), str(pgid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _changes(task: Task, folder: str, snap: export.Snapshot, answer: Answer) -> None:
    """What the run changed in ``folder``: outputs with their bytes, other files named as refused (as a local
    capture names them), deletions of the folder's files."""
    outputs = set(task.module.outputs)
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in list(dirnames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name.lower() == ".git":
                dirnames.remove(name)
                answer.refused.append((rel + "/", "writes into .git"))
            elif os.path.islink(os.path.join(dirpath, name)):
                dirnames.remove(name)
                filenames.append(name)
        for name in filenames:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            old = snap.get(rel)
            if old is not None and (st.st_size, st.st_mtime_ns, st.st_ino) == old[2:]:
                seen.add(rel)
                continue
            if rel not in outputs:
                if old is not None:
                    seen.add(rel)  # changed in place: a local capture refuses it, and keeps it
                answer.refused.append((rel, OUTSIDE))
                continue
            seen.add(rel)
            if stat.S_ISLNK(st.st_mode):
                answer.writes[rel] = (os.fsencode(os.readlink(full)), int(Mode.SYMLINK))
            elif not stat.S_ISREG(st.st_mode):
                answer.refused.append((rel, "not a regular file (a pipe, socket or device)"))
            elif st.st_size > export.MAX_FILE_BYTES:
                answer.refused.append((rel, f"too large ({st.st_size} bytes; the limit is {export.MAX_FILE_BYTES})"))
            else:
                mode = Mode.EXECUTABLE if st.st_mode & 0o100 else Mode.REGULAR
                answer.writes[rel] = (_read(full), int(mode))
    for rel in snap:
        if rel not in seen:
            answer.writes[rel] = None


# -- back in the engine's process ---------------------------------------------------------------------------------
def unpack(m: spec.ModuleSpec, folder: str, snap: export.Snapshot, answer: Any) -> Ran:
    """Check a worker's answer against the module and write it into the module's local folder. A file outside
    its outputs, a deletion of a file it did not have, or an answer of another shape fails the module."""
    problem = _malformed(m, snap, answer)
    if problem:
        return Ran(folder, snap, RunStatus.FAILED, f"the worker returned {problem}", 0.0)
    for rel, written in answer.writes.items():
        full = os.path.join(folder, rel)
        if os.path.lexists(full) and not os.path.isdir(full) or os.path.islink(full):
            os.unlink(full)
        if written is None:
            continue
        data, mode = written
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if mode == Mode.SYMLINK:
            os.symlink(os.fsdecode(data), full)
            continue
        with open(full, "wb") as fh:
            fh.write(data)
        os.chmod(full, 0o755 if mode == Mode.EXECUTABLE else 0o644)
    error = answer.error and answer.error.replace(HERE, folder)
    status = RunStatus(answer.status)  # one of the three, _malformed checked
    transient = getattr(answer, "transient", False) is True  # (a worker of an older gitbench does not say)
    return Ran(folder, snap, status, error, float(answer.seconds), refused=list(answer.refused), transient=transient)


def _malformed(m: spec.ModuleSpec, snap: export.Snapshot, answer: Any) -> str | None:
    """What is wrong with an answer (None: nothing)."""
    if not isinstance(answer, Answer):
        return f"{type(answer).__name__}, not a module's answer"
    if answer.status not in ("complete", "failed", "needs-input"):
        return f"the status {answer.status!r}, not complete, failed or needs-input"
    if not isinstance(answer.seconds, int | float) or not isinstance(answer.error, str | None):
        return "an answer of the wrong shape (its time or error)"
    if not isinstance(answer.writes, dict) or not isinstance(answer.refused, list):
        return "an answer of the wrong shape (its files)"
    if not all(isinstance(r, tuple) and len(r) == 2 and all(isinstance(x, str) for x in r) for r in answer.refused):
        return "an answer of the wrong shape (its refused files)"
    for rel, written in answer.writes.items():
        if written is None:
            if rel not in snap:
                return f"the deletion of {rel!r}, not among its files"
            continue
        if rel not in m.outputs:
            return f"{rel!r}, not among its outputs ({', '.join(m.outputs)})"
        if (
            not isinstance(written, tuple)
            or len(written) != 2
            or not isinstance(written[0], bytes)
            or written[1] not in (Mode.REGULAR, Mode.EXECUTABLE, Mode.SYMLINK)
        ):
            return f"{rel!r} in a form that is not a file's bytes and mode"
    return None


def call(
    executor: Executor,
    m: spec.ModuleSpec,
    folder: str,
    snap: export.Snapshot,
    config: dict[str, Any],
    model: ModelSpec | None = None,
    settings: Settings | None = None,
) -> Ran:
    """Run the module on ``executor`` and wait for it (in a thread of the run's pool); what came back, in the
    folder. Its run lost with its worker or the scheduler is a failure marked ``lost``: the next run runs it
    again. A command past its timeout whose worker does not answer either is stopped here too."""
    from concurrent.futures import CancelledError
    from concurrent.futures import TimeoutError as FutureTimeout

    from gitbench.executors import ExecutorFailure

    started = time.monotonic()
    task = pack(m, folder, snap, config, model, settings)
    timeout = float(m.run.get("timeout") or 0) or None if m.kind == ModuleKind.COMMAND else None
    future = executor.submit(f"gitbench-{m.id}", run_task, task)
    try:
        answer = future.result(timeout=None if timeout is None else timeout + GUARD)
    except FutureTimeout:
        executor.cancel(future)
        error = f"timed out after {timeout:g} s (its worker did not answer in {timeout + GUARD:g} s)"  # type: ignore[operator]
        return Ran(folder, snap, RunStatus.FAILED, error, time.monotonic() - started)
    except ExecutorFailure as exc:
        return Ran(folder, snap, RunStatus.FAILED, str(exc), time.monotonic() - started, lost=True)
    except CancelledError:
        return Ran(folder, snap, RunStatus.FAILED, "cancelled", time.monotonic() - started, lost=True)
    except Exception as exc:  # noqa: BLE001 - the worker could not run it (unpicklable, a bug): the module's failure
        error = f"the worker could not run it: {type(exc).__name__}: {exc}"[:300]
        return Ran(folder, snap, RunStatus.FAILED, error, 0.0)
    return unpack(m, folder, snap, answer)


def call_model(
    executor: Executor,
    m: spec.ModuleSpec,
    folder: str,
    snap: export.Snapshot,
    config: dict[str, Any],
    workdir: str | None,
) -> Ran:
    """A model module on ``executor``: its model resolved here, from the config (only the model and its
    provider's own key are sent)."""
    from gitbench import errors
    from gitbench.workflow.runners import model

    try:
        cfg, model_spec = model.resolve(m, workdir)
    except errors.GitbenchError as exc:
        return Ran(folder, snap, RunStatus.FAILED, exc.message, 0.0)
    return call(executor, m, folder, snap, config, model_spec, cfg.settings)
