"""The one process supervisor (services/supervisor.py), in-process: what the workflow engine's modules use from
the worker threads of its pool (a session of their own, a note of their group while they run) and what a later
process does with a note an interrupted run left (stop that group, and only that one)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gitbench.services import supervisor
from tests.conftest import worktrees_home


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            return True
        if state in (b"Z", b"X"):
            return True
        time.sleep(0.05)
    return False


def test_a_command_in_a_worker_thread_runs_in_its_own_session_and_a_timeout_stops_all_it_started(
    tmp_path: Path,
) -> None:
    pids, note = tmp_path / "pids", tmp_path / "m.pgid"
    script = f"sleep 60 & echo $! > {pids}; sleep 60"
    seen: list[str] = []

    def watch() -> None:  # the note names the group while the command runs
        while not note.exists():
            time.sleep(0.01)
        seen.append(note.read_text())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with ThreadPoolExecutor(1) as pool:
        outcome = pool.submit(
            supervisor.run,
            ["/bin/sh", "-c", script],
            str(tmp_path),
            dict(os.environ),
            stdin=b"",
            stdout=subprocess.DEVNULL,
            timeout=1.0,
            session=True,
            note=str(note),
        ).result()
    assert outcome.stopped == "timeout" and outcome.signal == signal.SIGTERM
    assert gone(int(pids.read_text()))  # the background child too
    assert not note.exists()
    watcher.join(5)
    pgid, started = (int(x) for x in seen[0].split())  # its group, and its leader's start time
    assert pgid > 1 and started > 0


def test_a_command_that_ends_leaves_nothing_running() -> None:
    # In a process of its own: from a main thread the supervisor is the subreaper and counts every child of its
    # process as the job's (this test process may have others: another test's Dask cluster).
    script = (
        "import os\n"
        "from gitbench.services import supervisor\n"
        "o = supervisor.run(['/bin/sh', '-c', 'sleep 60 & exit 3'], '/', dict(os.environ), stdin=b'', session=True,"
        " timeout=30)\n"
        "print(o.code, o.stopped, o.leftovers)\n"
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    code, stopped, leftovers = res.stdout.split()
    assert int(code) == 3 and stopped == "None" and int(leftovers) == 1, res.stdout + res.stderr


def start_group() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"],
        start_new_session=True,
    )


def test_a_note_left_by_an_interrupted_run_stops_its_whole_group_and_goes(tmp_path: Path) -> None:
    proc = start_group()
    try:
        note = tmp_path / "m.pgid"
        supervisor.note_group(str(note), proc.pid)
        time.sleep(0.3)  # its child has started
        members = supervisor.tree(proc.pid, proc.pid)
        assert len(members) == 2
        assert supervisor.stop_noted(str(note)) == 2
        proc.wait(10)
        assert all(gone(p) for p in members) and not note.exists()
    finally:
        proc.kill()
        proc.wait()


def test_a_note_of_an_older_gitbench_holds_the_group_alone_and_is_stopped_too(tmp_path: Path) -> None:
    proc = start_group()
    try:
        note = tmp_path / "m.pgid"
        note.write_text(str(proc.pid))
        time.sleep(0.3)
        assert supervisor.stop_noted(str(note)) >= 1
        assert proc.wait(10) != 0
    finally:
        proc.kill()
        proc.wait()


def test_a_note_whose_pid_now_names_another_program_stops_nothing(tmp_path: Path) -> None:
    proc = start_group()
    try:
        note = tmp_path / "m.pgid"
        note.write_text(f"{proc.pid} {int(supervisor.start_time(proc.pid) or 0) + 1}")  # started at another time
        assert supervisor.stop_noted(str(note)) == 0
        assert proc.poll() is None and not note.exists()
        assert supervisor.stop_noted(str(tmp_path / "none")) == 0
        (tmp_path / "bad").write_text("not a pid")
        assert supervisor.stop_noted(str(tmp_path / "bad")) == 0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_ctrl_c_during_a_workflow_run_stops_its_running_modules_with_what_they_started(tmp_path: Path) -> None:
    from tests.workflow_helpers import workflow_bench

    pids = tmp_path / "pids"
    wb = workflow_bench(
        tmp_path / "project",
        "modules:\n"
        f"  - {{id: slow, outputs: [out/slow.txt], run: {{command: 'sleep 60 & echo $! >> {pids}; echo $$ >> {pids};"
        " wait'}}\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "workflow", "run"],
        cwd=wb,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while len(pids.read_text().split() if pids.exists() else []) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "the module never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "The workflow run was cancelled" in stderr
    assert all(gone(int(p)) for p in pids.read_text().split())
    assert not list((tmp_path).rglob("*.pgid"))


def test_ctrl_c_stops_a_module_that_was_seen_running_before_its_group_was_noted(tmp_path: Path) -> None:
    # A loaded machine: the module's thread is overtaken after its command started and before it noted the
    # command's group. The Ctrl-C must still stop it, not wait for the module to end by itself (600 s).
    from tests.workflow_helpers import workflow_bench

    pids = tmp_path / "pids"
    wb = workflow_bench(
        tmp_path / "project",
        "modules:\n"
        f"  - {{id: slow, outputs: [out/slow.txt], run: {{command: 'sleep 600 & echo $! >> {pids}; echo $$ >> {pids};"
        " wait'}}\n",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "workflow", "run"],
        cwd=wb,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GITBENCH_FAULT": "supervisor.before-note:delay"},
    )
    deadline = time.monotonic() + 120
    while len(pids.read_text().split() if pids.exists() else []) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, "the module never started"
        time.sleep(0.05)
    assert not list(worktrees_home().rglob("*.pgid")), "noted already: the delay did not hold the thread"
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        for pid in pids.read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "The workflow run was cancelled" in stderr
    assert all(gone(int(p)) for p in pids.read_text().split())
    assert not list(worktrees_home().rglob("*.pgid"))


def test_the_listing_below_us_holds_every_descendant_as_the_whole_machines_listing_does() -> None:
    proc = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"], start_new_session=True)
    try:
        time.sleep(0.3)  # both sleeps have started
        everyone = supervisor._processes()
        mine = {proc.pid, *supervisor.tree(proc.pid, None, procs=everyone)}
        below = supervisor._below_us()
        assert below is not None, "this kernel keeps /proc/<pid>/task/<tid>/children"
        assert len(mine) == 3
        assert {pid: below[pid] for pid in mine} == {pid: everyone[pid] for pid in mine}
        assert os.getpid() not in below
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_as_the_subreaper_a_grandchild_that_left_the_group_and_outlived_its_parent_is_stopped(
    tmp_path: Path,
) -> None:
    # From the main thread of a process of its own, as `gitbench exec` runs it (the subreaper is per process).
    script = (
        "import os, sys\n"
        "from gitbench.services import supervisor\n"
        "out = supervisor.run(['/bin/sh', '-c', 'setsid sleep 60 & echo $! > pid; exit 0'], sys.argv[1],"
        " dict(os.environ), stdin=b'')\n"
        "print(out.code, out.leftovers)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60, check=True
    )
    assert res.stdout.split() == ["0", "1"], res.stdout + res.stderr
    assert gone(int((tmp_path / "pid").read_text()))


def in_a_worker(argv: list[str], cwd: str, **kw: object) -> supervisor.Outcome:
    """supervisor.run from a worker thread, as the workflow engine calls it (no subreaper: this is the test's
    process)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(
            supervisor.run, argv, cwd, dict(os.environ), stdin=b"", session=True, timeout=30, **kw
        ).result()


def test_a_terminal_that_hung_up_gives_no_modes_and_putting_them_back_is_harmless() -> None:
    master, slave = pty.openpty()
    try:
        modes = supervisor._modes(slave)
        assert modes is not None
        before = signal.getsignal(signal.SIGTTOU)
        os.close(master)  # the terminal hangs up (its window closed) while a command starts
        master = -1
        assert supervisor._modes(slave) is None  # not termios.error out of run(), with the command running
        supervisor._restore_modes(slave, modes)
        assert signal.getsignal(signal.SIGTTOU) == before
    finally:
        os.close(slave)
        if master != -1:
            os.close(master)


def test_a_command_that_cannot_be_started_is_126_and_one_that_stops_itself_without_a_terminal_goes_on(
    tmp_path: Path,
) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho never\n")  # not executable
    assert in_a_worker([str(script)], str(tmp_path)).code == 126
    assert in_a_worker(["/bin/true"], str(script)).code == 126  # its folder is a file
    out = tmp_path / "out"
    outcome = in_a_worker(["/bin/sh", "-c", f"kill -STOP $$; echo resumed > {out}; exit 5"], str(tmp_path))
    assert outcome.code == 5 and outcome.stopped is None  # no shell to resume it from: it just goes on
    assert out.read_text() == "resumed\n"


def test_without_a_pidfd_the_end_of_a_command_is_polled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pidfd(pid: int, flags: int = 0) -> int:  # a kernel older than 5.3
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    monkeypatch.setattr(supervisor.os, "pidfd_open", no_pidfd)
    outcome = in_a_worker(["/bin/sh", "-c", "sleep 0.2; exit 4"], str(tmp_path))
    assert outcome.code == 4 and outcome.stopped is None and 0.2 <= outcome.seconds < 5


def test_without_prctl_commands_still_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    def no_libc(*args: object, **kw: object) -> object:
        raise OSError("no C library to load")

    monkeypatch.setattr(supervisor, "_LIBC_PRCTL", None)
    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    assert supervisor._prctl_fn() is None
    assert supervisor._prctl(supervisor._PR_SET_CHILD_SUBREAPER, 1) is False
    assert in_a_worker(["/bin/sh", "-c", "exit 2"], str(tmp_path)).code == 2


def test_a_zombie_is_not_alive_nor_is_a_pid_now_used_by_a_later_process() -> None:
    proc = subprocess.Popen(["/bin/true"])
    try:
        assert gone(proc.pid)  # ended, not yet collected: a zombie
        assert not supervisor.alive(proc.pid)
    finally:
        proc.wait()
    me = supervisor.start_time(os.getpid())
    assert supervisor.alive(os.getpid(), me) and not supervisor.alive(os.getpid(), (me or 0) + 1)


def test_without_proc_the_kernel_is_asked_and_no_process_is_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(["/bin/true"])
    proc.wait()  # collected: its pid names no process now
    real_open, real_listdir, real_kill = open, os.listdir, os.kill

    def no_proc_open(path: str, *args: Any, **kw: Any) -> Any:
        if str(path).startswith("/proc/"):
            raise PermissionError(13, "Permission denied", path)  # /proc mounted hidepid, or none at all
        return real_open(path, *args, **kw)

    def no_proc_listdir(path: str = ".") -> list[str]:
        if str(path).startswith("/proc"):
            raise PermissionError(13, "Permission denied", path)
        return real_listdir(path)

    monkeypatch.setattr(supervisor, "open", no_proc_open, raising=False)
    monkeypatch.setattr(supervisor.os, "listdir", no_proc_listdir)
    assert supervisor.alive(os.getpid()) and not supervisor.alive(proc.pid)
    assert supervisor._processes() == {} and supervisor.tree(os.getpid(), None) == []
    assert supervisor.with_env("GITBENCH_JOB", "x") == [] and supervisor.stop_job("x") == 0

    def not_permitted(pid: int, sig: int) -> None:  # another user's process: there, but not ours to signal
        if sig == 0 and pid == 1:
            raise PermissionError(1, "Operation not permitted")
        real_kill(pid, sig)

    monkeypatch.setattr(supervisor.os, "kill", not_permitted)
    assert supervisor.alive(1)


def test_stopping_the_group_of_init_or_of_no_process_never_signals_anything() -> None:
    assert supervisor.stop_group(1, None) == 0 and supervisor.stop_group(0, None) == 0


def test_a_process_that_ignores_sigterm_is_killed_and_with_no_grace_at_once() -> None:
    code = (
        "import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
    )
    for grace in (0.3, 0.0):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline() == b"1\n"  # SIGTERM is ignored from now on
            tracker = supervisor._Tracker(proc.pid)
            assert tracker.refresh() == [proc.pid]
            started = time.monotonic()
            assert supervisor.stop_tree(tracker, grace=grace) == 1
            assert proc.wait(10) == -signal.SIGKILL
            assert time.monotonic() - started < grace + 2
        finally:
            proc.kill()
            proc.wait()
            assert proc.stdout is not None
            proc.stdout.close()


def test_signals_go_to_each_process_when_there_is_no_group_to_signal() -> None:
    proc = subprocess.Popen(["sleep", "60"])  # in the test's own group: that group is never signalled
    try:
        supervisor._signal_all([proc.pid], None, signal.SIGTERM)
        assert proc.wait(10) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("fails", ["task", "children", "children-denied", "kid-task", "kid-children", "kid-stat"])
def test_the_listing_below_us_when_proc_answers_only_in_part(fails: str, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & wait"], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while not supervisor.tree(proc.pid, None):  # its sleep has started
            assert time.monotonic() < deadline
            time.sleep(0.02)
        me, kid = os.getpid(), proc.pid
        real_open, real_listdir = open, os.listdir

        def listdir(path: str = ".") -> list[str]:
            if (fails == "task" and path == f"/proc/{me}/task") or (
                fails == "kid-task" and path == f"/proc/{kid}/task"
            ):
                raise FileNotFoundError(2, "No such file or directory", path)  # it ended meanwhile
            return real_listdir(path)

        def opener(path: str, *args: Any, **kw: Any) -> Any:
            if fails == "children" and path.startswith(f"/proc/{me}/task/") and path.endswith("/children"):
                raise FileNotFoundError(2, "No such file or directory", path)  # a kernel without children lists
            if fails == "kid-children" and path.startswith(f"/proc/{kid}/task/") and path.endswith("/children"):
                raise FileNotFoundError(2, "No such file or directory", path)  # it ended meanwhile
            if fails == "children-denied" and path.endswith("/children"):
                raise PermissionError(13, "Permission denied", path)
            if fails == "kid-stat" and path == f"/proc/{kid}/stat":
                raise FileNotFoundError(2, "No such file or directory", path)  # it ended meanwhile
            return real_open(path, *args, **kw)

        monkeypatch.setattr(supervisor.os, "listdir", listdir)
        monkeypatch.setattr(supervisor, "open", opener, raising=False)
        below = supervisor._below_us()
        monkeypatch.undo()
        if fails in ("task", "children"):
            assert below is None  # the caller reads the whole listing instead
        elif fails == "children-denied":
            assert below == {}
        elif fails in ("kid-task", "kid-children"):
            assert below is not None and kid in below and not set(supervisor.tree(kid, None)) & set(below)
        else:
            assert below is not None and kid not in below
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def run_script(script: str, *args: str, **kw: Any) -> list[str]:
    """A Python ``script`` in a process of its own (the supervisor from its main thread: the subreaper); its
    output's words."""
    res = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60, check=False, **kw
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout.split()


def test_the_first_signal_names_why_a_job_was_stopped_and_a_second_one_changes_nothing(tmp_path: Path) -> None:
    # The command waits until gitbench handles SIGQUIT (the last of its handlers it installs), then signals it.
    command = (
        "import os, signal, time; parent = os.getppid(); open('pid', 'w').write(str(os.getpid()))\n"
        "def caught(): return int(open(f'/proc/{parent}/status').read().split('SigCgt:')[1].split()[0], 16)\n"
        "while not caught() & (1 << (signal.SIGQUIT - 1)): time.sleep(0.01)\n"
        "os.kill(parent, signal.SIGINT); os.kill(parent, signal.SIGTERM); time.sleep(60)\n"
    )
    script = (
        "import os, sys\n"
        "from gitbench.services import supervisor\n"
        "o = supervisor.run([sys.executable, '-c', sys.argv[2]], sys.argv[1], dict(os.environ), stdin=b'',"
        " timeout=30)\n"
        "print(o.code, o.stopped, o.signal)\n"
    )
    # Ctrl-C first, then SIGTERM while the job is being stopped: the job is stopped once, as Ctrl-C asked.
    assert run_script(script, str(tmp_path), command) == ["130", "Ctrl-C", str(int(signal.SIGINT))]
    assert gone(int((tmp_path / "pid").read_text()))


def test_children_the_kernel_reaps_itself_still_end_their_jobs(tmp_path: Path) -> None:
    # A parent that ignores SIGCHLD (a daemon's habit, inherited by gitbench) has its children collected by the
    # kernel: waiting for one finds no child at all.
    script = (
        "import os, signal, sys\n"
        "from gitbench.services import supervisor\n"
        "signal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
        "a = supervisor.run(['/bin/sh', '-c', 'exit 0'], sys.argv[1], dict(os.environ), stdin=b'', timeout=30)\n"
        "b = supervisor.run(['/bin/sh', '-c', 'echo $$ > pid; sleep 60'], sys.argv[1], dict(os.environ), stdin=b'',"
        " timeout=0.5)\n"
        "print(a.code, a.stopped, b.stopped)\n"
    )
    assert run_script(script, str(tmp_path)) == ["0", "None", "timeout"]
    assert gone(int((tmp_path / "pid").read_text()))


def test_a_callers_own_children_are_not_the_jobs_nor_their_exit_status_collected(tmp_path: Path) -> None:
    # gitbench run in-process, from a main thread that started a program of its own first (a test, a script
    # driving gitbench): as the subreaper, the supervisor counted every child of the process as the job's, so it
    # stopped that program when the job ended and collected its exit status (Popen then read 0: a failed exec
    # seen as a success, in a fresh CI run).
    script = (
        "import os, subprocess, sys\n"
        "from gitbench.services import supervisor\n"
        "other = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1.5); raise SystemExit(7)'])\n"
        "o = supervisor.run(['/bin/sh', '-c', 'exit 3'], sys.argv[1], dict(os.environ), stdin=b'', timeout=30)\n"
        "print(o.code, o.leftovers, other.poll(), other.wait())\n"
    )
    assert run_script(script, str(tmp_path)) == ["3", "0", "None", "7"]


SETUP_IN_CHILD = """
import ctypes, fcntl, json, os, signal, subprocess, termios
from gitbench.services import supervisor
from tests.conftest import worktrees_home
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty on stdin is our terminal; we are its foreground
other = subprocess.Popen(['sleep', '60'], process_group=0)
os.tcsetpgrp(0, other.pid)  # another group has the terminal now: we are in the background
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell without job control starts us
signal.signal(signal.SIGQUIT, signal.SIG_IGN)
setup = supervisor._in_child(0)
setup()  # what the command's process runs before exec
deathsig = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(deathsig), 0, 0, 0)  # PR_GET_PDEATHSIG
print(json.dumps({
    "foreground": os.tcgetpgrp(0) == os.getpgrp(),
    "sigttou": signal.getsignal(signal.SIGTTOU) == signal.SIG_DFL,
    "sigint": signal.getsignal(signal.SIGINT) == signal.SIG_DFL,
    "sigquit": signal.getsignal(signal.SIGQUIT) == signal.SIG_DFL,
    "deathsig": deathsig.value,
}))
other.kill()
other.wait()
"""


def test_before_exec_a_command_takes_the_terminal_gets_default_signals_and_dies_with_gitbench() -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", SETUP_IN_CHILD],
            stdin=slave,
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "foreground": True,
        "sigttou": True,
        "sigint": True,
        "sigquit": True,
        "deathsig": int(signal.SIGTERM),
    }


CTRL_Z = """
import fcntl, os, sys, termios
from gitbench.services import supervisor
from tests.conftest import worktrees_home
fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty on stdin is our terminal; we are its foreground
o = supervisor.run(['/bin/sh', '-c', 'kill -STOP $$; echo resumed; exit 3'], sys.argv[1], dict(os.environ))
print(o.code, o.stopped, os.tcgetpgrp(0) == os.getpgrp())
"""


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return fh.read().rsplit(b")", 1)[1].split()[0].decode()


def test_ctrl_z_suspends_gitbench_with_its_command_and_fg_resumes_both(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", CTRL_Z, str(tmp_path)],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while state(proc.pid) != "T":  # the command stopped (Ctrl-Z): gitbench stopped itself too
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.02)
            os.kill(proc.pid, signal.SIGCONT)  # the shell's `fg`
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 0, err
    assert out.split() == ["resumed", "3", "None", "True"]  # it went on, ended, and the terminal is ours again


def test_a_group_that_may_not_be_signalled_is_not_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_permitted(pgid: int, sig: int) -> None:  # another user's processes: there, but not ours to signal
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(supervisor.os, "killpg", not_permitted)
    assert not supervisor._Tracker(os.getpid()).gone()
