"""A real Dask cluster for the tests: a `dask scheduler` and `dask worker` processes on 127.0.0.1.

The processes are the ones a user starts by hand (the `dask` console script of this environment), each a real
subprocess with a log file, in a folder of the test's own: a sealed HOME, an empty Dask config, and every
worker's local directory there. Nothing listens beyond 127.0.0.1: `--no-dashboard` alone still opens an HTTP
server on every interface (the scheduler on 0.0.0.0:8787, each worker on a random port of 0.0.0.0: Dask 2026.8),
so it is bound to 127.0.0.1 too (`listening` checks it).

Every process of a cluster, and every process they start (the modules' commands, which may leave the workers'
process groups), carries a marker in its environment, so ``close`` finds and stops whatever is left, even after
a test failed half way or a killed worker left its module's command running (``leftovers``).

    with Cluster.start(tmp_path / "cluster", workers=2) as cluster:
        gitbench(wb, "workflow", "run", "--executor", cluster.executor)
        cluster.kill_worker(cluster.worker_pids[0])
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

DASK = str(Path(sys.executable).with_name("dask"))
MARKER = "TEST_DASK_CLUSTER_TOKEN"  # in the environment of every process a cluster starts (and theirs)
START_TIMEOUT = 90.0  # seconds for the scheduler and every worker to be up (a loaded 2-CPU machine is slow)
LOOPBACK = "127.0.0.1"
SEALED_PREFIXES = ("GIT_", "GITBENCH_", "OPENAI_", "ANTHROPIC_", "OLLAMA_", "DASK_")


class ClusterError(AssertionError):
    """The cluster did not start, or did not reach the state a test waits for (the logs' tails say why)."""


class Cluster:
    """A scheduler and its workers, started by ``start``; ``close`` (or leaving ``with``) stops them all."""

    def __init__(self, folder: Path, threads: int) -> None:
        self.folder = folder
        self.threads = threads
        self.token = secrets.token_hex(8)
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.address = ""  # tcp://127.0.0.1:PORT
        self._env = self._sealed_env()

    @classmethod
    def start(cls, folder: Path, workers: int = 2, threads: int = 1) -> Cluster:
        """A scheduler on a free port of 127.0.0.1 and ``workers`` worker processes of ``threads`` threads each,
        all registered when this returns."""
        if not os.access(DASK, os.X_OK):
            raise ClusterError(f"{DASK} not found: Dask is not installed here (pip install -e '.[test]')")
        cluster = cls(folder, threads)
        try:
            cluster._start_scheduler()
            for _ in range(workers):
                cluster.add_worker(wait=False)
            cluster.wait_registered()
        except BaseException:
            cluster.close()
            raise
        return cluster

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what a test uses -------------------------------------------------------------------------------------

    @property
    def executor(self) -> str:
        """The address as gitbench's `--executor` takes it: ``dask://127.0.0.1:PORT``."""
        return "dask://" + self.address.removeprefix("tcp://")

    @property
    def worker_pids(self) -> list[int]:
        """The workers still running, oldest first."""
        return [w.pid for w in self.workers if w.poll() is None]

    def pids(self) -> list[int]:
        """Every running process of the cluster: the scheduler, the workers and whatever they started."""
        return _with_marker(self.token)

    def add_worker(self, wait: bool = True) -> int:
        """Start one more worker; its pid (registered with the scheduler when ``wait``)."""
        n = len(self.workers)
        local = self.folder / f"worker-{n}"
        local.mkdir(parents=True, exist_ok=True)
        argv = [
            DASK,
            "worker",
            self.address,
            "--name",
            f"worker-{n}",
            "--nthreads",
            str(self.threads),
            "--no-nanny",
            "--no-dashboard",
            "--dashboard-address",
            f"{LOOPBACK}:0",
            "--host",
            LOOPBACK,
            "--local-directory",
            str(local),
            "--memory-limit",
            "0",
        ]
        self.workers.append(self._spawn(argv, f"worker-{n}.log"))
        if wait:
            self.wait_registered()
        return self.workers[-1].pid

    def wait_registered(self, timeout: float = START_TIMEOUT) -> None:
        """Until every running worker has registered with the scheduler (its log says so)."""
        deadline = time.monotonic() + timeout
        for n, worker in enumerate(self.workers):
            log = self.folder / f"worker-{n}.log"
            while worker.poll() is None and "Registered to:" not in _read(log):
                if time.monotonic() > deadline:
                    raise ClusterError(f"worker-{n} did not register within {timeout:g} s:\n{self.logs()}")
                time.sleep(0.1)

    def wait_workers(self, count: int, timeout: float = 60.0) -> None:
        """Until the scheduler has exactly ``count`` workers (its log: each added and each removed one)."""
        deadline = time.monotonic() + timeout
        while self.registered() != count:
            if time.monotonic() > deadline:
                raise ClusterError(f"the scheduler did not reach {count} workers ({self.registered()}):\n{self.logs()}")
            time.sleep(0.1)

    def registered(self) -> int:
        """How many workers the scheduler has, from its log."""
        text = _read(self.folder / "scheduler.log")
        return text.count("Register worker") - text.count("Remove worker")

    def kill_worker(self, pid: int, tree: bool = True) -> list[int]:
        """SIGKILL a worker, as when its machine is lost: with ``tree``, every process it started too, at the same
        moment (the module commands it runs, in their own sessions). Returns the pids killed."""
        victims = [pid, *(_descendants(pid) if tree else [])]
        for victim in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        for worker in self.workers:
            if worker.pid == pid:
                worker.wait(timeout=30)
        return victims

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler (the workers go on, without one)."""
        assert self.scheduler is not None
        self.scheduler.kill()
        self.scheduler.wait(timeout=30)

    def listening(self) -> list[tuple[str, int]]:
        """The (address, port) of every TCP socket a process of the cluster listens on."""
        return _listening(self.pids())

    def logs(self, tail: int = 2000) -> str:
        """The last ``tail`` characters of every log, for a failure's message."""
        out = []
        for log in sorted(self.folder.glob("*.log")):
            out.append(f"--- {log.name}\n{_read(log)[-tail:]}")
        return "\n".join(out)

    def close(self) -> None:
        """Stop every process of the cluster and every process they started: SIGTERM (a worker closes cleanly and
        saves its coverage data), SIGKILL after a grace period, then whatever is left that carries the marker."""
        # The workers first, while their scheduler is there to hear them leave: a worker whose scheduler is gone
        # does not end on SIGTERM (Dask 2026.8), it waits to reconnect.
        orphaned = self.scheduler is None or self.scheduler.poll() is not None
        for group in (self.workers, [self.scheduler] if self.scheduler is not None else []):
            for proc in group:
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + (0.0 if orphaned else 5.0)
            for proc in group:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            for proc in group:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
        for _ in range(50):
            left = _with_marker(self.token)
            if not left:
                return
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        raise ClusterError(f"processes of the cluster still running after SIGKILL: {_with_marker(self.token)}")

    # ---- starting -----------------------------------------------------------------------------------------------

    def _sealed_env(self) -> dict[str, str]:
        home = self.folder / "home"
        config = self.folder / "dask-config"
        for folder in (home, config, self.folder / "tmp"):
            folder.mkdir(parents=True, exist_ok=True)
        # As the tests' seal (conftest.hermetic): nothing from outside (Git settings, gitbench's, provider keys,
        # proxies, Dask's own config) reaches the cluster; a module-scoped cluster starts before that seal.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(SEALED_PREFIXES) and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(
            {
                MARKER: self.token,
                "HOME": str(home),
                "XDG_CONFIG_HOME": str(home / ".config"),
                "DASK_CONFIG": str(config),  # no user or site Dask config
                "TMPDIR": str(self.folder / "tmp"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.folder / log, "wb") as out:
            # A session of its own: a Ctrl-C at the test's terminal does not reach it; close() stops it.
            return subprocess.Popen(
                argv,
                cwd=self.folder,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _start_scheduler(self) -> None:
        info = self.folder / "scheduler.json"
        argv = [
            DASK,
            "scheduler",
            "--host",
            LOOPBACK,
            "--port",
            "0",
            "--no-dashboard",
            "--dashboard-address",
            f"{LOOPBACK}:0",
            "--scheduler-file",
            str(info),
        ]
        self.scheduler = self._spawn(argv, "scheduler.log")
        deadline = time.monotonic() + START_TIMEOUT
        while not self.address:
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise ClusterError(f"the scheduler did not start:\n{self.logs()}")
            with contextlib.suppress(OSError, ValueError):
                self.address = str(json.loads(info.read_text())["address"])
            time.sleep(0.05)


# ---- /proc -----------------------------------------------------------------------------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _with_marker(token: str) -> list[int]:
    """The running processes (not zombies) whose environment holds the cluster's marker."""
    needle = f"{MARKER}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:  # gone, or not ours
            continue
        if state not in (b"Z", b"X"):
            found.append(int(entry))
    return found


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (by parent), at this moment."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _listening(pids: list[int]) -> list[tuple[str, int]]:
    """The local (address, port) of every listening TCP socket (IPv4 and IPv6) the processes ``pids`` hold."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    out = []
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.read().splitlines()[1:]:
                fields = line.split()
                if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                    continue
                host, port = fields[1].split(":")
                out.append((_address(host, v6), int(port, 16)))
    return out


def _address(hexa: str, v6: bool) -> str:
    """/proc/net/tcp's address (32-bit words in host byte order) as text."""
    import ipaddress
    import socket

    raw = bytes.fromhex(hexa)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)) if sys.byteorder == "little" else raw
    return str(ipaddress.ip_address(words)) if not v6 else socket.inet_ntop(socket.AF_INET6, words)
