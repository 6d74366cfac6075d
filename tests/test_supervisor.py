"""The one process supervisor (services/supervisor.py), in-process: what the workflow engine's modules use from
the worker threads of its pool (a session of their own, a note of their group while they run) and what a later
process does with a note an interrupted run left (stop that group, and only that one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitbench.services import supervisor


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
