"""gitbench/store/lock.py: one holder at a time, named to the others; a holder that did not let go is known."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gitbench import errors
from gitbench.services import supervisor
from gitbench.services.workbench import holder_gone
from gitbench.store import lock as lock_module
from gitbench.store.lock import WorkbenchLock, left_behind


def test_the_lock_is_exclusive_and_names_its_holder(tmp_path: Path) -> None:
    path = str(tmp_path / "gitbench" / "lock")
    first = WorkbenchLock(path, "publish")
    assert first.try_acquire()
    assert json.loads(Path(path).read_text())["operation"] == "publish"
    second = WorkbenchLock(path, "discard")  # another open file: flock conflicts within one process too
    assert not second.try_acquire()
    assert second.probe() is not None and "gitbench publish" in (second.probe() or "")
    with pytest.raises(errors.Busy) as busy:
        second.acquire(wait=0.05)
    assert "gitbench publish" in busy.value.message
    first.release()
    assert Path(path).read_text() == "" and not left_behind(path)
    assert second.probe() is None
    with WorkbenchLock(path, "discard") as held:
        assert held.fd is not None
    assert held.fd is None


def test_a_holder_that_did_not_let_go_is_known_to_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    # A process that takes the lock and dies without releasing it (SIGKILL): the kernel drops the flock, the
    # file still names it.
    code = (
        "import os, signal, sys; from gitbench.store.lock import WorkbenchLock;"
        f"assert WorkbenchLock({str(path)!r}, 'publish').try_acquire(); os.kill(os.getpid(), signal.SIGKILL)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == -9
    assert left_behind(str(path))
    lock = WorkbenchLock(str(path), "recover")
    assert lock.try_acquire()
    assert lock.left_behind is not None and lock.left_behind["operation"] == "publish"
    lock.release(left=["/x/.git/refs/heads/main.lock"])
    assert left_behind(str(path))  # the Git lock it could not remove stays named for the next holder
    nxt = WorkbenchLock(str(path), "status")
    assert nxt.try_acquire() and nxt.left_behind is not None
    assert nxt.left_behind["left"] == ["/x/.git/refs/heads/main.lock"]
    nxt.release()


def test_probe_of_a_lock_never_taken_is_nobody(tmp_path: Path) -> None:
    assert WorkbenchLock(str(tmp_path / "none"), "status").probe() is None
    assert not left_behind(str(tmp_path / "none"))


def test_a_holder_that_could_not_write_its_name_is_another_gitbench_process(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    first = WorkbenchLock(str(path), "publish")
    assert first.try_acquire()
    path.write_text("")  # on a full disk the holder's name cannot be written: the flock is held all the same
    second = WorkbenchLock(str(path), "discard")
    assert second.holder() is None and second.probe() == "another gitbench process"
    with pytest.raises(errors.Busy) as busy:
        second.acquire(wait=0.0)
    assert busy.value.message == (
        "The Workbench is busy: another gitbench process is changing it. Nothing was changed by this command."
    )
    assert busy.value.details == {"holder": "another gitbench process"}
    first.release()


def test_a_lock_file_left_holding_garbage_is_a_holder_that_did_not_let_go(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.write_text("{torn")  # a holder killed while it wrote its name
    lock = WorkbenchLock(str(path), "recover")
    assert lock.holder() is None
    assert lock.try_acquire()
    assert lock.left_behind is not None and set(lock.left_behind) == {"since"}  # when, if not who
    lock.release()


def test_probe_of_a_lock_path_that_cannot_be_opened_tells_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    lock = WorkbenchLock(str(tmp_path / "file" / "lock"), "status")  # NotADirectoryError, not "never taken"
    assert lock.probe() is None
    assert not left_behind(str(tmp_path / "file" / "lock"))


def test_probe_where_the_file_system_cannot_lock_tells_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "lock"
    path.write_text("")

    def no_locks(fd: int, op: int) -> None:  # an NFS mount without a lock daemon
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(lock_module.fcntl, "flock", no_locks)
    assert WorkbenchLock(str(path), "status").probe() is None


def test_a_lock_released_while_the_waiter_gives_up_is_taken_not_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lock"
    first = WorkbenchLock(str(path), "publish")
    assert first.try_acquire()
    path.write_text("")  # its name not written yet (or already cleared): the waiter looks again a few times
    naps: list[float] = []

    def nap(seconds: float) -> None:  # the holder lets go during the waiter's last looks
        naps.append(seconds)
        if len(naps) == 2:
            first.release()

    monkeypatch.setattr(lock_module.time, "sleep", nap)
    second = WorkbenchLock(str(path), "discard")
    assert second.acquire(wait=0.0) is second
    assert second.fd is not None and json.loads(path.read_text())["operation"] == "discard"
    assert WorkbenchLock(str(path), "status").probe() == f"`gitbench discard` (pid {os.getpid()})"
    second.release()


def test_release_of_a_lock_never_taken_does_nothing_and_a_held_lock_is_entered_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    never = WorkbenchLock(str(path), "status")
    never.release()
    assert not path.exists()
    held = WorkbenchLock(str(path), "publish")
    assert held.try_acquire()
    fd = held.fd
    with held as entered:  # already held: not taken a second time (that would wait on itself)
        assert entered.fd == fd
    assert held.fd is None and not left_behind(str(path))


def test_a_release_that_cannot_write_what_it_left_still_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lock"
    held = WorkbenchLock(str(path), "publish")
    assert held.try_acquire()

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lock_module.os, "pwrite", full)
    held.release(left=["/x/.git/index.lock"])
    monkeypatch.undo()
    assert held.fd is None
    nxt = WorkbenchLock(str(path), "status")
    assert nxt.try_acquire()  # the lock was let go all the same
    nxt.release()


def test_a_record_that_cannot_be_read_is_taken_as_a_clean_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lock"
    path.write_text(json.dumps({"pid": 1, "operation": "publish"}))

    def eio(fd: int, n: int, offset: int) -> bytes:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(lock_module.os, "pread", eio)
    lock = WorkbenchLock(str(path), "recover")
    assert lock.try_acquire()
    assert lock.left_behind is None
    lock.release()


@pytest.mark.parametrize("text", ["", "{torn", '["a", "list"]', '{"pid": "12"}', '{"pid": 0}', '{"operation": "x"}'])
def test_a_lock_file_that_names_no_process_names_no_dead_holder(tmp_path: Path, text: str) -> None:
    path = tmp_path / "lock"
    path.write_text(text)
    assert holder_gone(WorkbenchLock(str(path), "status")) is False
    assert holder_gone(WorkbenchLock(str(tmp_path / "none"), "status")) is False


def test_a_holder_that_ended_or_is_a_zombie_is_gone_and_a_running_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    lock = WorkbenchLock(str(path), "status")
    path.write_text(json.dumps({"pid": os.getpid(), "operation": "publish"}))
    assert holder_gone(lock) is False
    proc = subprocess.Popen(["/bin/true"])
    path.write_text(json.dumps({"pid": proc.pid, "operation": "publish"}))
    try:
        deadline = time.monotonic() + 10
        while not holder_gone(lock):  # ended, not collected yet: a zombie
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        proc.wait()
    assert holder_gone(lock) is True  # collected: no such process


def test_without_proc_the_kernel_says_whether_the_holder_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "lock"
    lock = WorkbenchLock(str(path), "status")
    proc = subprocess.Popen(["/bin/true"])
    proc.wait()  # its pid names no process now
    real_open, real_kill = open, os.kill

    def no_proc(file: str, *args: Any, **kw: Any) -> Any:
        if str(file).startswith("/proc/"):
            raise PermissionError(13, "Permission denied", file)  # /proc mounted hidepid, or none at all
        return real_open(file, *args, **kw)

    def kill(pid: int, sig: int) -> None:
        if pid == 1:
            raise PermissionError(1, "Operation not permitted")  # another user's process: it runs
        real_kill(pid, sig)

    monkeypatch.setattr(supervisor, "open", no_proc, raising=False)
    monkeypatch.setattr(lock_module.os, "kill", kill)
    for pid, gone in ((os.getpid(), False), (proc.pid, True), (1, False)):
        path.write_text(json.dumps({"pid": pid, "operation": "publish"}))
        assert holder_gone(lock) is gone, pid
