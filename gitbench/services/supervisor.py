"""The one process supervisor: runs a job's command and owns its whole process tree until it ends.

A command gets a process group of its own. On a terminal that gitbench has in the foreground, the group is
handed the terminal (as a shell does for a job), so an interactive agent reads the keyboard, and Ctrl-C and
Ctrl-Z reach the agent, which decides what they mean (a command that ends on Ctrl-C or Ctrl-\\ was stopped by
the user: the job is cancelled; a full-screen agent reads them as keys). Without a terminal,
Ctrl-C reaches gitbench, which passes it on. Either way the job is stopped as a whole on Ctrl-C, SIGTERM, SIGQUIT,
a timeout or a cancel: SIGINT or SIGTERM to every process of the tree, then SIGKILL after a grace period. gitbench
is made a child subreaper (Linux), so a grandchild that leaves the group (``setsid``) or outlives its parent
still counts as the job's, and is stopped too; when the command ends, whatever it left running is stopped.

If gitbench itself is killed, the command gets SIGTERM (``PR_SET_PDEATHSIG``) and the next gitbench command
stops what is left of the group (``stop_group``), from the pid the running-job marker names.

The workflow engine runs its command modules here too, from the worker threads of its pool: each in a session
of its own (``session=True``: no terminal, and no Python code between fork and exec, which is not safe with
threads), its group noted in a file beside its folder while it runs (``note``), so that a later run stops what
an interrupted one left (``stop_noted``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

from gitbench import faults
from gitbench.lazy_dataclass import dataclass

GRACE = 3.0  # seconds between asking a process tree to stop and killing it
POLL = 0.05
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Outcome:
    """How a command ended."""

    code: int  # its exit status; 128 + N when signal N ended it (as shells say), 126/127 when it could not start
    stopped: str | None = None  # why gitbench stopped it: "Ctrl-C", "SIGTERM", "SIGQUIT", "timeout", "cancel"
    signal: int | None = None  # the signal that ended it, if one did
    seconds: float = 0.0
    leftovers: int = 0  # processes it left running when it ended, which were stopped


_LIBC_PRCTL: Any = None
_REAPER = False  # this process is the subreaper of what it starts (the prctl succeeded)


def _prctl_fn() -> Any:
    """libc's ``prctl``, looked up once (None where there is none)."""
    global _LIBC_PRCTL
    if _LIBC_PRCTL is None:
        try:
            import ctypes

            _LIBC_PRCTL = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _LIBC_PRCTL = False
    return _LIBC_PRCTL or None


def _prctl(option: int, value: int) -> bool:
    fn = _prctl_fn()
    return fn is not None and int(fn(option, value, 0, 0, 0)) == 0


JOB_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP, signal.SIGTTOU, signal.SIGTTIN)


def _in_child(foreground_fd: int | None) -> Callable[[], None]:
    """What the child does before exec: the terminal, default signals, the death signal (its process group of
    its own is ``Popen``'s ``process_group``). What it needs is looked up here, in the parent: code run between
    fork and exec touches memory the child must then copy (~0.5 ms less for each command)."""
    prctl = _prctl_fn()
    # exec gives a signal we handle its default action back; one we ignore (gitbench started in the background
    # by a shell without job control ignores SIGINT and SIGQUIT) stays ignored unless the child resets it.
    ignored = [sig for sig in JOB_SIGNALS if signal.getsignal(sig) == signal.SIG_IGN]

    def setup() -> None:
        if foreground_fd is not None:
            # Both sides hand the terminal over (as shells do), so the command never reads it as a background job.
            signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            with contextlib.suppress(OSError):
                os.tcsetpgrp(foreground_fd, os.getpgrp())
            signal.signal(signal.SIGTTOU, signal.SIG_DFL)
        for sig in ignored:
            signal.signal(sig, signal.SIG_DFL)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    return setup


def _foreground_fd() -> int | None:
    """The terminal on our stdin, if we are its foreground process group (else None: no hand-over)."""
    try:
        fd = 0
        if not os.isatty(fd):
            return None
        return fd if os.tcgetpgrp(fd) == os.getpgrp() else None
    except OSError:
        return None


def _modes(fd: int | None) -> list[Any] | None:
    if fd is None:
        return None
    import termios  # a terminal is there: so is termios (as in _restore_modes)

    try:
        return termios.tcgetattr(fd)
    except (termios.error, OSError):  # termios.error is no OSError: a terminal hung up since we looked raises it
        return None


def _restore_modes(fd: int | None, modes: list[Any] | None) -> None:
    """Put the terminal's settings back as they were before the command (echo, line editing, signal keys)."""
    if fd is None or modes is None:
        return
    import termios

    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        termios.tcsetattr(fd, termios.TCSADRAIN, modes)
    except (termios.error, OSError):
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)


def _give_terminal(fd: int | None, pgid: int) -> None:
    if fd is None:
        return
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(fd, pgid)
    finally:
        signal.signal(signal.SIGTTOU, old)


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, process group, state) for every process (Linux /proc; empty elsewhere)."""
    out: dict[int, tuple[int, int, str]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                data = fh.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        if len(fields) > 3:
            out[int(name)] = (int(fields[1]), int(fields[2]), fields[0].decode())
    return out


def _below_us() -> dict[int, tuple[int, int, str]] | None:
    """pid -> (parent pid, process group, state) for every process below this one: our threads' ``children``
    lists, then theirs, down (Linux 3.5+). None where the kernel keeps no such lists.

    A subreaper's job is exactly what is below it (an orphan of the job is re-parented to us, not to init), so
    this finds what ``_processes`` would, from a few files instead of every process on the machine (a walk of
    /proc costs ~4 ms with 160 processes, and grows with what else runs)."""
    me = os.getpid()
    out: dict[int, tuple[int, int, str]] = {}
    todo = [me]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            if pid == me:
                return None
            continue  # it has ended meanwhile
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                    kids = fh.read().split()
            except FileNotFoundError:
                if pid == me:
                    return None  # no children lists in this kernel: the caller reads the whole listing
                continue
            except OSError:
                continue
            for kid in map(int, kids):
                if kid in out:
                    continue
                try:
                    with open(f"/proc/{kid}/stat", "rb") as fh:
                        fields = _stat_fields(fh.read())
                except OSError:
                    continue
                if len(fields) > 3:
                    out[kid] = (int(fields[1]), int(fields[2]), fields[0].decode())
                    todo.append(kid)
    return out


def _our_children() -> frozenset[int]:
    """The processes this one started and has not waited for yet (every thread's ``children`` list; where the
    kernel keeps none, from the whole process listing)."""
    me = os.getpid()
    kids: set[int] = set()
    try:
        for tid in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{tid}/children", "rb") as fh:
                kids.update(map(int, fh.read().split()))
    except FileNotFoundError:
        return frozenset(pid for pid, (ppid, _, _) in _processes().items() if ppid == me)
    except OSError:
        pass
    return frozenset(kids)


def start_time(pid: int) -> int | None:
    """When a process started (clock ticks since boot), to tell it from a later process with the same pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = _stat_fields(fh.read())
    except OSError:
        return None
    return int(fields[19]) if len(fields) > 19 else None


def alive(pid: int, started: int | None = None) -> bool:
    """Is process ``pid`` running? Not if it is gone or a zombie, nor, given ``started`` (``start_time``), if the
    pid now belongs to a later process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = _stat_fields(fh.read())
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    if not fields or fields[0] in (b"Z", b"X"):
        return False
    return started is None or len(fields) <= 19 or int(fields[19]) == started


def _stat_fields(data: bytes) -> list[bytes]:
    """The fields of ``/proc/<pid>/stat`` after the command name (which may hold spaces and parentheses)."""
    return data[data.rfind(b")") + 2 :].split()


def tree(
    root: int,
    pgid: int | None,
    also: set[int] | frozenset[int] = frozenset(),
    procs: dict[int, tuple[int, int, str]] | None = None,
) -> list[int]:
    """The living processes of a job: descendants of ``root`` (and of each pid in ``also``), and the members of
    its process group ``pgid``. Zombies are left out: they have ended. ``procs``: a listing already read."""
    procs = _processes() if procs is None else procs
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = {p for p in also if p in procs}
    todo = [root, *found]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    if pgid is not None:
        found |= {pid for pid, (_, group, _) in procs.items() if group == pgid}
    found.discard(os.getpid())
    return sorted(pid for pid in found if procs.get(pid, (0, 0, "Z"))[2] not in ("Z", "X"))


class _Tracker:
    """Every process seen in a job's tree while it ran, with its start time: a grandchild that left the group
    and outlived its parent is still the job's (and a pid reused since by another program is not)."""

    def __init__(self, root: int, orphans: bool = False, others: frozenset[int] = frozenset()) -> None:
        self.root = root
        # We are the subreaper and run one job: every child of ours is the job's (an orphan of it re-parented
        # to us), but ``others``, our children from before it started (a caller running gitbench in-process
        # may have some: never the job's to stop, nor their exit ours to collect).
        self.orphans = orphans
        self.others = others
        self.seen: dict[int, int | None] = {}

    # Each look reads the process listing once (a /proc walk is most of what supervising a short command costs).
    def _roots(self, procs: dict[int, tuple[int, int, str]]) -> set[int]:
        roots = self._alive(procs)
        if self.orphans:
            me = os.getpid()
            roots |= {pid for pid, (ppid, _, _) in procs.items() if ppid == me and pid not in self.others}
        return roots

    def _listing(self) -> dict[int, tuple[int, int, str]]:
        """The processes to look among: as the subreaper, only those below us; else every process."""
        below = _below_us() if self.orphans and _REAPER else None
        return _processes() if below is None else below

    def refresh(self) -> list[int]:
        procs = self._listing()
        pids = tree(self.root, self.root, self._roots(procs), procs)
        for pid in pids:
            self.seen.setdefault(pid, start_time(pid))
        return pids

    def _alive(self, procs: dict[int, tuple[int, int, str]]) -> set[int]:
        return {
            pid
            for pid, st in self.seen.items()
            if st is not None and procs.get(pid, (0, 0, "Z"))[2] not in ("Z", "X") and start_time(pid) == st
        }

    def gone(self) -> bool:
        """Nothing of the job is left, known without reading the whole process listing: its group is empty and
        every process seen outside it has ended (what ``living`` would find, when we are not the subreaper)."""
        try:
            os.killpg(self.root, 0)
        except ProcessLookupError:
            pass
        except PermissionError:
            return False
        else:
            return False
        return not any(st is not None and start_time(pid) == st for pid, st in self.seen.items() if pid != self.root)

    def living(self) -> list[int]:
        procs = self._listing()
        return sorted(set(tree(self.root, self.root, self._roots(procs), procs)) | self._alive(procs))


def _signal_all(pids: list[int], pgid: int | None, sig: int) -> None:
    if pgid is not None and pgid > 1:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _reap(pids: list[int], keep: int) -> None:
    """Collect the exit of processes that were re-parented to us (we are their subreaper), so none lingers as a
    zombie; not ``keep``'s (the command's own exit status is collected by its waiter)."""
    for pid in pids:
        if pid == keep:
            continue
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)


def stop_tree(tracker: _Tracker, first: int = signal.SIGTERM, grace: float = GRACE) -> int:
    """Stop every process of a job: ``first``, then SIGKILL for what is still there after ``grace`` seconds.
    Returns how many processes there were."""
    if not tracker.orphans and tracker.gone():
        return 0
    pids = tracker.living()
    if not pids:
        return 0
    pgid = tracker.root
    _signal_all(pids, pgid, first)
    _signal_all(pids, pgid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM (or SIGINT)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pids, tracker.root)
        if not tracker.living():
            return len(pids)
        time.sleep(POLL)
    left = tracker.living()
    _signal_all(left, pgid, signal.SIGKILL)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(left, tracker.root)
        if not tracker.living():
            break
        time.sleep(POLL)
    return len(pids)


def with_env(name: str, value: str) -> list[int]:
    """Processes whose environment holds ``name=value`` (gitbench gives each job's command ``GITBENCH_JOB``): after
    gitbench was killed, the job's processes that had left its group and were re-parented are found by it."""
    want = f"{name}={value}".encode()
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for pid in names:
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if want in fh.read().split(b"\0"):
                    found.append(int(pid))
        except OSError:
            continue
    return found


def stop_job(job_id: str) -> int:
    """After a crash of gitbench: stop every process still running with the job's ``GITBENCH_JOB``."""
    pids = with_env("GITBENCH_JOB", job_id)
    if not pids:
        return 0
    tracker = _Tracker(pids[0])
    for pid in pids:
        tracker.seen[pid] = start_time(pid)
    return stop_tree(tracker)


def stop_group(pgid: int, started: int | None) -> int:
    """After a crash of gitbench: stop what is left of a job's process group (the marker names it). ``started``
    is its leader's start time; a group whose leader is gone is still stopped, a pid now used by another
    program is not."""
    if pgid <= 1:
        return 0
    now = start_time(pgid)
    if now is not None and started is not None and now != started:
        return 0  # another program has that pid now
    tracker = _Tracker(pgid)
    if not tracker.refresh():
        return 0
    return stop_tree(tracker)


def note_group(path: str, pgid: int) -> None:
    """Note a running command's process group in ``path`` (its id and its leader's start time), for a later
    process to stop it (``stop_noted``) if we die before it ends. Written whole or not at all (a temp file renamed
    into place): a reader, or a crash, never meets an empty note whose group then goes unstopped."""
    from gitbench.store import atomic

    with contextlib.suppress(OSError):
        atomic.write_bytes(path, f"{pgid} {start_time(pgid) or ''}".rstrip().encode(), fsync=False)


def stop_noted(path: str) -> int:
    """Stop the process group ``path`` notes (what a run that was interrupted left running), and drop the note.
    A note of an older gitbench holds the group's id alone. Returns how many processes were stopped."""
    try:
        with open(path) as fh:
            parts = fh.read().split()
        pgid = int(parts[0]) if parts else 0
        started = int(parts[1]) if len(parts) > 1 else None
    except (OSError, ValueError):
        return 0
    stopped = stop_group(pgid, started) if pgid > 1 else 0
    with contextlib.suppress(OSError):
        os.unlink(path)
    return stopped


def run(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    *,
    stdin: bytes | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    timeout: float | None = None,
    on_start: Callable[[int], None] | None = None,
    session: bool = False,
    note: str | None = None,
) -> Outcome:
    """Run ``argv`` in ``cwd`` until it ends, the ``timeout`` passes, or we are told to stop
    (SIGTERM, SIGQUIT; Ctrl-C when the command does not have the terminal). ``stdin``: bytes to feed (None:
    ours, and on a terminal we have in the foreground the command gets the terminal). ``on_start(pid)`` is
    called once it runs (its pid is its process group). ``session``: a session of its own, never the terminal,
    started with nothing run between fork and exec (for a worker thread). ``note``: a file that names its group
    while it runs (``stop_noted``)."""
    main = threading.current_thread() is threading.main_thread()
    term = _foreground_fd() if stdin is None and main and not session else None
    if main:
        global _REAPER
        _REAPER = _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # orphans of the job come to us, not to init: we can stop them
    started = time.monotonic()
    reason: list[str] = []

    def on_signal(signum: int, frame: object) -> None:
        names: dict[int, str] = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM", signal.SIGQUIT: "SIGQUIT"}
        if not reason:
            reason.append(names.get(signum, f"signal {signum}"))

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    # Ours before the command starts: a signal while it starts stops it at once (with the default action it
    # would end gitbench and leave the command to its death signal, the job unrecorded).
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)} if main else {}
    # The terminal's settings as the user had them, read before the command starts: a full-screen agent stopped
    # from outside may not restore them, and we do. Read after, they could be the agent's raw mode already.
    modes = _modes(term)
    others = _our_children() if main else frozenset()  # not the job's, whatever is re-parented to us later
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.PIPE if stdin is not None else None,
            start_new_session=session,  # setsid, in C
            process_group=None if session else 0,  # setpgid, in C
            preexec_fn=None if session else _in_child(term),  # the terminal, default signals, the death signal
        )
    except FileNotFoundError:
        restore()
        return Outcome(127)
    except (PermissionError, IsADirectoryError, NotADirectoryError):
        restore()
        return Outcome(126)
    except BaseException:
        restore()
        raise
    pid = proc.pid
    faults.point("supervisor.started")  # the command runs: it may be well under way before we go on
    tracker = _Tracker(pid, orphans=main, others=others)
    _give_terminal(term, pid)
    if note is not None:
        faults.point("supervisor.before-note")  # the command runs already: it may be seen before it is noted
        note_group(note, pid)
    if on_start is not None:
        on_start(pid)
    if stdin is not None and proc.stdin is not None:
        _feed(proc.stdin, stdin)
    waiter = _Waiter(pid)
    status = 0  # set at each of the loop's two ways out
    try:
        deadline = started + timeout if timeout else None
        next_scan = 0.0
        while True:  # it ends through its breaks only: the command ended, or was stopped and then ended
            got, raw = waiter.poll()
            if got and os.WIFSTOPPED(raw):
                _suspend(term, pid)  # Ctrl-Z reached the command: gitbench is suspended with it, as a shell job
                continue
            if got:
                status = raw
                break
            if deadline is not None and time.monotonic() >= deadline and not reason:
                reason.append("timeout")
            if reason:
                # Signalled while it still has the terminal: an agent that puts the terminal back as it stops
                # can do so (taking the terminal first would stop it with SIGTTIN until SIGKILL).
                tracker.refresh()
                stop_tree(tracker, signal.SIGINT if reason[0] == "Ctrl-C" else signal.SIGTERM)
                status = waiter.wait()
                break
            if time.monotonic() >= next_scan:  # remember who belongs to the job, in case they leave the group
                tracker.refresh()
                next_scan = time.monotonic() + 0.5
            waiter.sleep(min(0.2, max(0.0, deadline - time.monotonic())) if deadline else 0.2)
    finally:
        waiter.close()
        _give_terminal(term, os.getpgrp())
        _restore_modes(term, modes)
        restore()
    leftovers = stop_tree(tracker, signal.SIGTERM, grace=1.0)  # what it left running when it ended
    if note is not None:
        with contextlib.suppress(OSError):
            os.unlink(note)
    if os.WIFSIGNALED(status):
        sig: int | None = os.WTERMSIG(status)
        code = 128 + int(sig or 0)
    else:
        sig, code = None, os.WEXITSTATUS(status)
    proc.returncode = code  # we waited for it ourselves; Popen must not wait again
    if not reason and term is not None and sig in (signal.SIGINT, signal.SIGQUIT):
        # The terminal's Ctrl-C (or Ctrl-\\) reached the command, which ended on it: the user stopped the job.
        reason.append("Ctrl-C" if sig == signal.SIGINT else "Ctrl-\\")
    return Outcome(code, reason[0] if reason else None, sig, time.monotonic() - started, leftovers)


class _Waiter:
    """Waits for one child: woken the moment it exits (a pidfd, Linux 5.3+), else by polling."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fd: int | None = None
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(pid)
        self.nap = 0.001

    def poll(self) -> tuple[bool, int]:
        try:
            got, raw = os.waitpid(self.pid, os.WNOHANG | os.WUNTRACED)
        except ChildProcessError:
            return True, 0
        return got == self.pid, raw

    def wait(self) -> int:
        try:
            return os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            return 0

    def sleep(self, most: float) -> None:
        if self.fd is not None:
            import select

            select.select([self.fd], [], [], most)
            return
        time.sleep(min(most, self.nap))  # no pidfd: poll, quickly at first (most commands end fast)
        self.nap = min(self.nap * 2, POLL)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _suspend(term: int | None, pid: int) -> None:
    """The command was stopped (Ctrl-Z): take the terminal back, stop ourselves; on ``fg``, hand it back."""
    if term is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGCONT)  # no shell to resume it from: it just goes on
        return
    _give_terminal(term, os.getpgrp())
    os.kill(os.getpid(), signal.SIGSTOP)
    _give_terminal(term, pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGCONT)


def _feed(pipe: object, data: bytes) -> None:
    """Write ``data`` to the command's stdin from a thread (a command that never reads must not block us)."""

    def write() -> None:
        with contextlib.suppress(OSError):
            pipe.write(data)  # type: ignore[attr-defined]
        with contextlib.suppress(OSError):
            pipe.close()  # type: ignore[attr-defined]

    threading.Thread(target=write, daemon=True).start()
