"""A read-only command finishes what a killed operation left, even when the killed process's child still held the
Workbench lock for a moment (a child it was starting, between fork and exec, has a copy of the lock's descriptor):
the read waits for that moment instead of leaving the operation's journal for later."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import gitbench

# The holder: takes the Workbench lock as a gitbench operation does, writes the journal of an interrupted gc,
# forks a child that keeps the lock's descriptor for 0.6 s without exec-ing (as a child does between fork and
# exec, slowed down), and is killed.
HOLDER = """
import os, signal, sys, time
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Gc
from gitbench.store.lock import WorkbenchLock
wb = Workbench(".")
lock = WorkbenchLock(wb.layout.lock, "gc").acquire()
wb.journal.write(Gc("gc-1"))
if os.fork() == 0:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)  # the test reads the holder's output to its end: not this child's
    time.sleep(0.6)
    os._exit(0)
print("ready", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_read_right_after_a_killed_holder_waits_for_its_childs_copy_of_the_lock_and_recovers(
    workbench: Path,
) -> None:
    journal = workbench / ".git" / "gitbench" / "journal.json"
    proc = subprocess.run([sys.executable, "-c", HOLDER], cwd=workbench, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL and proc.stdout == "ready\n", proc.stderr
    assert journal.exists()
    # The child still holds the lock: a read now is not blocked by it for long, and finishes the gc's journal.
    started = time.monotonic()
    res = gitbench(workbench, "status")
    assert res.returncode == 0, res.stderr
    assert not journal.exists(), "the read left the killed operation's journal behind"
    assert time.monotonic() - started < 10


def test_a_read_while_a_living_holder_has_the_lock_does_not_wait_and_leaves_its_journal(workbench: Path) -> None:
    journal = workbench / ".git" / "gitbench" / "journal.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.replace("os.kill(os.getpid(), signal.SIGKILL)", "time.sleep(30)")],
        cwd=workbench,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        res = gitbench(workbench, "status")
        assert res.returncode == 0, res.stderr
        assert journal.exists(), "a read finished the operation of a holder that is still running"
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    time.sleep(0.7)  # its child lets go too
    assert gitbench(workbench, "status").returncode == 0
    assert not journal.exists(), "the next read after the holder died did not finish its journal"
