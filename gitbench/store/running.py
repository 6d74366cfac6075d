"""Markers of running jobs: a job whose command runs without holding the Workbench lock says so here.

``running/<job>.json`` describes it (pid, its command's process group, its Draft and worktree, the guarded refs
as gitbench last left them, with ``running/<job>.packed-refs``) and ``running/<job>.lock`` is ``flock``-ed by
the process running it for as long as it runs: the kernel drops the lock when that process dies, even by
SIGKILL, so "is it still running?" never depends on a pid that may have been reused. Every write happens under
the Workbench lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable
from typing import Any

from gitbench.store import atomic

KEPT = ".packed-refs"  # packed-refs as the job's guard last saw it (a hard link)


class Marker:
    """The marker of one job, held by the process that runs it."""

    def __init__(self, folder: str, job_id: str) -> None:
        self.folder = folder
        self.job_id = job_id
        self.fd: int | None = None
        self.info: dict[str, Any] = {}

    @property
    def path(self) -> str:
        return os.path.join(self.folder, self.job_id + ".json")

    def start(self, info: dict[str, Any]) -> None:
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(os.path.join(self.folder, self.job_id + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self.fd = fd
        self.info = dict(info, pid=os.getpid())
        atomic.write_json(self.path, self.info)

    def update(self, **fields: Any) -> None:
        self.info.update(fields)
        atomic.write_json(self.path, self.info)

    def abandon(self) -> None:
        """Let go of the lock but leave the marker: the next gitbench command sees a job that is not running
        any more and marks it interrupted (as after a crash)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def end(self) -> None:
        for name in (self.job_id + ".json", self.job_id + ".lock", self.job_id + KEPT):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.folder, name))
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _held(folder: str, job_id: str) -> bool:
    """Is the job's lock held by a living process?"""
    try:
        fd = os.open(os.path.join(folder, job_id + ".lock"), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def markers(folder: str) -> dict[str, tuple[dict[str, Any], bool]]:
    """job id -> (its marker, whether it is still running)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    out: dict[str, tuple[dict[str, Any], bool]] = {}
    for name in names:
        if name.endswith(".json"):
            job_id = name[:-5]
            info = atomic.read_json(os.path.join(folder, name))
            out[job_id] = (info if isinstance(info, dict) else {}, _held(folder, job_id))
    return out


def read(folder: str, job_id: str) -> dict[str, Any]:
    info = atomic.read_json(os.path.join(folder, job_id + ".json"))
    return info if isinstance(info, dict) else {}


def record_end(folder: str, job_id: str, end: dict[str, Any]) -> bool:
    """The job's end (``{"status", "error"}``) in its marker, written in place: when the disk is too full for
    its record, the next command that can write records the job as it ended (services/recovery.py), not as
    interrupted."""
    path = os.path.join(folder, job_id + ".json")
    info = atomic.read_json(path)
    if not isinstance(info, dict):
        return False
    info["end"] = end
    return atomic.rewrite_in_place(path, info)


def live(folder: str) -> dict[str, dict[str, Any]]:
    return {job: info for job, (info, alive) in markers(folder).items() if alive}


def any_marker(folder: str) -> bool:
    try:
        return any(n.endswith(".json") for n in os.listdir(folder))
    except OSError:
        return False


def stray_locks(folder: str) -> list[str]:
    """Lock files left without their marker (a process killed between removing the one and the other) that no
    living process holds: nothing reads them any more."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return []
    out = []
    for name in sorted(names):
        job_id = name[: -len(".lock")]
        if name.endswith(".lock") and job_id + ".json" not in names and not _held(folder, job_id):
            out.append(os.path.join(folder, name))
    return out


def remove(folder: str, job_id: str) -> None:
    for name in (job_id + ".json", job_id + ".lock", job_id + KEPT):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(folder, name))


def kept(folder: str, job_id: str) -> str:
    """Where the guard of the job's refs keeps packed-refs as it was (store/refguard.py)."""
    return os.path.join(folder, job_id + KEPT)


def set_refs(folder: str, capture: Callable[[str], dict[str, str | None]]) -> None:
    """After gitbench itself changed state: the refs a running job may find moved are as gitbench left them
    (``capture(kept)``: their state now, packed-refs kept at ``kept``)."""
    for job_id, (info, alive) in markers(folder).items():
        if alive and info.get("refs") is not None:
            refs = capture(kept(folder, job_id))
            if info.get("refs") != refs:
                info["refs"] = refs
                atomic.write_json(os.path.join(folder, job_id + ".json"), info)
