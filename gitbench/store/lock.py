"""The Workbench lock: one gitbench process changes state at a time.

An ``flock`` on ``.git/gitbench/lock``: the kernel drops it when the holder dies, even by SIGKILL, so a crash
never leaves a stale gitbench lock. libgit2 never waits on a held lock (DESIGN.md §7); this one waits a little
(``GITBENCH_LOCK_WAIT`` seconds, default 5) and then fails with a clear "busy" error naming the holder.

The file names its holder while the lock is held, and is emptied when it is let go of. So a holder that was
killed (or that could not remove a Git lock file it made) is known to the next one: the file still names it.
``left_behind`` is that record, with ``since`` (when it took the lock): the Git lock files made since then, and
the ones it names, are that holder's, and the next command removes them (services/recovery.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from types import TracebackType
from typing import Any

from gitbench import errors


class WorkbenchLock:
    def __init__(self, path: str, operation: str) -> None:
        self.path = path
        self.operation = operation
        self.fd: int | None = None
        self.left_behind: dict[str, Any] | None = None  # the record of a holder that did not let go cleanly

    def _record(self) -> dict[str, Any]:
        """What the lock file says of its holder (empty: nobody, or unreadable)."""
        try:
            with open(self.path) as fh:
                info = json.loads(fh.read() or "{}")
        except (OSError, ValueError):
            return {}
        return info if isinstance(info, dict) else {}

    def holder(self) -> str | None:
        info = self._record()
        if not info:
            return None
        return f"`gitbench {info.get('operation', '?')}` (pid {info.get('pid', '?')})"

    def holder_pid(self) -> int | None:
        """The pid the lock file names as its holder. While the lock is held and that process is dead, a copy of its
        descriptor holds it: a child it was starting when it died, between fork and exec (exec closes it), so the
        lock is free a moment later."""
        pid = self._record().get("pid")
        return pid if isinstance(pid, int) and pid > 0 else None

    def try_acquire(self) -> bool:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.left_behind = _record_left(fd)
        self.fd = fd
        # Who holds it, for the "busy" message of the others. Written after the lock is ours. On a full disk the
        # name cannot be written (an empty lock file has no block to write it in): the lock is ours all the same
        # (the flock is), and the others say "another gitbench process".
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps({"pid": os.getpid(), "operation": self.operation}).encode(), 0)
        except OSError:
            pass
        return True

    def probe(self) -> str | None:
        """Who holds the lock (None: nobody), without taking it and without writing: a read works on a full disk
        and on a read-only ``.git/gitbench`` (an flock needs no write access to the file)."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None  # never taken here
        except OSError:
            return None  # unreadable: nothing to tell
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self.holder() or "another gitbench process"
        except OSError:
            return None
        finally:
            os.close(fd)  # closing the file drops the flock taken on it
        return None

    def acquire(self, wait: float | None = None) -> WorkbenchLock:
        if wait is None:
            wait = float(os.environ.get("GITBENCH_LOCK_WAIT", "5"))
        deadline = time.monotonic() + wait
        delay = 0.02
        while not self.try_acquire():
            if time.monotonic() >= deadline:
                who = self.holder()
                for _ in range(5):  # the holder writes its name just after taking the lock, and clears it on release
                    if who is not None or self.try_acquire():
                        break
                    time.sleep(0.02)
                    who = self.holder()
                if self.fd is not None:  # it was released meanwhile, and is ours now
                    return self
                who = who or "another gitbench process"
                raise errors.Busy(
                    f"The Workbench is busy: {who} is changing it. Nothing was changed by this command.",
                    [
                        errors.Action("Wait for it to finish, then run this command again"),
                        errors.Action("See what it is doing", "status"),
                    ],
                    {"holder": who},
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        return self

    def release(self, left: list[str] | None = None) -> None:
        """Let go of the lock. ``left``: Git lock files this holder made and could not remove: the record stays,
        naming them, so the next holder removes them."""
        if self.fd is not None:
            try:
                os.ftruncate(self.fd, 0)
                if left:
                    info = {"pid": os.getpid(), "operation": self.operation, "left": left}
                    os.pwrite(self.fd, json.dumps(info).encode(), 0)
            except OSError:
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> WorkbenchLock:
        if self.fd is None:
            self.acquire()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _record_left(fd: int) -> dict[str, Any] | None:
    """What the last holder left in the lock file (just taken, not yet written): None if it let go cleanly."""
    try:
        st = os.fstat(fd)
        if st.st_size == 0:
            return None
        data = os.pread(fd, 65536, 0)
    except OSError:
        return None
    try:
        info = json.loads(data)
    except ValueError:
        info = None
    out: dict[str, Any] = info if isinstance(info, dict) else {}
    out["since"] = st.st_mtime  # written when that holder took the lock
    return out


def left_behind(path: str) -> bool:
    """Does the lock file name a holder (one holding it now, or one that did not let go cleanly)? One stat."""
    try:
        return os.stat(path).st_size > 0
    except OSError:
        return False
