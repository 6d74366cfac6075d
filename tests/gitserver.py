"""A real Git server on 127.0.0.1 for the team tests: a bare repository served by `git daemon` (``git://``) or by
`git http-backend` behind a local HTTP server (``http://``), with a TCP proxy in front that can cut the network.

    server = GitServer(tmp_path / "server", "daemon")   # or "http"; the `git_server` fixture runs both
    server.start()
    git clone server.url ...
    server.refs()                   # every ref on the server -> oid, read from the bare repository itself
    server.kill(); server.start()   # the server dies (its whole process group) and comes back on the same port
    server.cut_after(100_000)       # the proxy drops the connection after 100 kB more from the clients
    server.cut_now()                # ...or drops every connection open now
    server.pause("pre-receive")     # the next push stops once its objects are in, before any ref moves...
    server.wait_paused(); server.kill()   # ...so a test can kill the server (or cut the network) exactly there
    server.set_atomic(False)        # a server that does not offer atomic pushes
    server.reject("refs/heads/x*")  # the server's update hook refuses matching refs
    server.updates()                # every ref update the server committed, in order (old, new, ref)

The bare repository is set up like a careful hosted server: `receive.fsckObjects` on (GitHub checks what it is
sent), no automatic gc (so the refs and objects a test reads are exactly what the pushes left), atomic pushes
advertised (git's default). Clients always go through the proxy (``server.url``), so a test can cut the network
at any time without re-configuring its clones; ``server.direct_url`` bypasses it.

Hooks in the bare repository record and steer what the server does, in plain sh (one fork per ref update):
``reference-transaction`` appends every committed update to ``updates.log`` and can pause after the Nth
committed transaction (a non-atomic push commits one per ref: pausing after the first and killing the server
leaves the push half-applied; an atomic push commits one for all: pausing after it and killing the server
leaves a push the server applied but the client never heard about); ``pre-receive`` can pause once the objects
are received and before any ref moves; ``update`` refuses the refs a test names. A pause never lasts more
than a minute, so a test that forgets to release it cannot hang.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

Flavour = Literal["daemon", "http"]
FLAVOURS: tuple[Flavour, ...] = ("daemon", "http")
HTTP_BACKEND = Path(__file__).with_name("git_http_backend.py")

REFERENCE_TRANSACTION = """#!/bin/sh
# Record every committed ref update; pause after the Nth committed transaction when a test asks.
ctl='{ctl}'
lines=$(cat)
[ "$1" = committed ] || exit 0
[ -n "$lines" ] || exit 0
printf '%s\\n' "$lines" >> "$ctl/updates.log"
if [ -e "$ctl/pause-committed" ]; then
    n=$(( $(cat "$ctl/committed-count" 2>/dev/null || echo 0) + 1 ))
    echo "$n" > "$ctl/committed-count"
    if [ "$n" -ge "$(cat "$ctl/pause-committed")" ]; then
        rm -f "$ctl/pause-committed" "$ctl/committed-count"
        : > "$ctl/paused"
        i=0
        while [ ! -e "$ctl/release" ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i + 1)); done
        rm -f "$ctl/release" "$ctl/paused"
    fi
fi
exit 0
"""

PRE_RECEIVE = """#!/bin/sh
# Pause once the pushed objects are in and before any ref moves, when a test asks.
ctl='{ctl}'
cat > /dev/null
if [ -e "$ctl/pause-pre-receive" ]; then
    rm -f "$ctl/pause-pre-receive"
    : > "$ctl/paused"
    i=0
    while [ ! -e "$ctl/release" ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i + 1)); done
    rm -f "$ctl/release" "$ctl/paused"
fi
exit 0
"""

UPDATE = """#!/bin/sh
# Refuse the refs matching a pattern in $ctl/reject (one shell glob per line).
ctl='{ctl}'
[ -e "$ctl/reject" ] || exit 0
while IFS= read -r pattern; do
    case "$1" in
        $pattern) echo "gitserver: the server refuses $1" >&2; exit 1 ;;
    esac
done < "$ctl/reject"
exit 0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


class Proxy:
    """A TCP proxy on 127.0.0.1 in front of the server's port. ``cut_after(n)`` resets both ends of the
    connection that carries the n-th byte counted from now in that direction; the connections after it pass
    again (one cut per call), as a network that comes back."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = int(self.listener.getsockname()[1])
        self.lock = threading.Lock()
        self.budget: dict[str, int] = {}
        self.cuts = 0
        self.bytes = {"up": 0, "down": 0}
        self.connections = 0
        self.open: set[socket.socket] = set()
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def cut_after(self, nbytes: int, direction: Literal["up", "down"] = "up") -> None:
        with self.lock:
            self.budget = {direction: nbytes} if nbytes >= 0 else {}

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            _reset(client)  # the server is down: the client sees a refused/reset connection
            return
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.connections += 1
            self.open |= {client, upstream}
        pair = (client, upstream)
        down = threading.Thread(target=self._pump, args=(upstream, client, "down", pair), daemon=True)
        down.start()
        self._pump(client, upstream, "up", pair)
        down.join()
        with self.lock:
            self.open -= {client, upstream}
        for s in pair:
            s.close()

    def _pump(
        self, src: socket.socket, dst: socket.socket, direction: str, pair: tuple[socket.socket, socket.socket]
    ) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            cut = False
            with self.lock:
                left = self.budget.get(direction)
                if left is not None and len(data) >= left:
                    data, cut = data[:left], True
                    self.budget = {}
                    self.cuts += 1
                elif left is not None:
                    self.budget[direction] = left - len(data)
                self.bytes[direction] += len(data)
            try:
                if data:
                    dst.sendall(data)
            except OSError:
                cut = True
            if cut:
                for s in pair:
                    _reset(s)
                return

    def cut_now(self) -> None:
        """Reset every connection open through the proxy."""
        with self.lock:
            sockets = list(self.open)
            self.cuts += 1
        for s in sockets:
            _reset(s)

    def close(self) -> None:
        self.closed = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            sockets = list(self.open)
        for s in sockets:
            _reset(s)
        self.thread.join(timeout=5)


def _reset(s: socket.socket) -> None:
    """Drop a connection as a cut network does, at once: wake any thread reading it, then close with a RST."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


class GitServer:
    """A bare repository ``<base>/project.git`` served on 127.0.0.1 by `git daemon` or `git http-backend`."""

    def __init__(
        self, base: Path, flavour: Flavour = "daemon", name: str = "project.git", seed: Path | None = None
    ) -> None:
        """``seed``: a bare repository to start from (copied), instead of an empty one."""
        self.base = base
        self.flavour: Flavour = flavour
        self.name = name
        self.bare = base / name
        self.ctl = base / "ctl"
        self.ctl.mkdir(parents=True, exist_ok=True)
        self.log_path = base / f"{flavour}.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        if seed is not None:
            shutil.copytree(seed, self.bare, symlinks=True)
        else:
            _git(base, "init", "-q", "--bare", "-b", "main", str(self.bare))
        for key, value in (
            ("receive.fsckObjects", "true"),
            ("receive.autogc", "false"),
            ("gc.auto", "0"),
            ("http.receivepack", "true"),
        ):
            _git(self.bare, "config", key, value)
        hooks = self.bare / "hooks"
        for hook in hooks.glob("*.sample"):
            hook.unlink()
        for name_, text in (
            ("reference-transaction", REFERENCE_TRANSACTION),
            ("pre-receive", PRE_RECEIVE),
            ("update", UPDATE),
        ):
            path = hooks / name_
            path.write_text(text.format(ctl=self.ctl))
            path.chmod(0o755)
        self.proxy = Proxy(self.port)

    # -- addresses ---------------------------------------------------------------------------------------------
    def _url(self, port: int) -> str:
        scheme = "git" if self.flavour == "daemon" else "http"
        return f"{scheme}://127.0.0.1:{port}/{self.name}"

    @property
    def url(self) -> str:
        """The address clients use: through the proxy, so the network can be cut."""
        return self._url(self.proxy.port)

    @property
    def direct_url(self) -> str:
        return self._url(self.port)

    # -- life --------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start serving (again, after ``kill()``, on the same port); return once the port accepts."""
        assert self.proc is None, "the server is already running"
        log = open(self.log_path, "ab")
        if self.flavour == "daemon":
            cmd = [
                "git",
                "daemon",
                "--reuseaddr",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={self.base}",
                "--export-all",
                "--enable=receive-pack",
                "--informative-errors",
                str(self.base),
            ]
        else:
            cmd = [sys.executable, str(HTTP_BACKEND), str(self.base), str(self.port)]
        # A session of its own: kill() takes the server and everything it started (receive-pack, hooks,
        # http-backend) down together, as a machine that dies.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                self.proc = None
                raise AssertionError(f"the {self.flavour} server exited at start:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise AssertionError(f"the {self.flavour} server did not listen:\n{self.log()}") from None
                time.sleep(0.01)

    def kill(self) -> None:
        """The server dies at once (SIGKILL to its process group): whatever it was doing stops there."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        wait_group_gone(pgid)
        for name in ("paused", "release", "pause-pre-receive", "pause-committed", "committed-count"):
            (self.ctl / name).unlink(missing_ok=True)

    def close(self) -> None:
        self.kill()
        self.proxy.close()

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # -- what the server holds ---------------------------------------------------------------------------------
    def refs(self, prefix: str = "") -> dict[str, str]:
        """Every ref in the bare repository -> its oid (an annotated tag's own oid), as ls-remote lists them
        (without HEAD and peeled tags), read from the repository itself, not through the server."""
        out = _git(self.bare, "for-each-ref", "--format=%(refname) %(objectname)", *([prefix] if prefix else []))
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def head(self) -> str:
        """What the server's HEAD names (``refs/heads/main``), whether or not that branch exists."""
        return _git(self.bare, "symbolic-ref", "HEAD").strip()

    def set_head(self, ref: str) -> None:
        _git(self.bare, "symbolic-ref", "HEAD", ref)

    def git(self, *args: str) -> str:
        """Run git in the bare repository (as the server's administrator would)."""
        return _git(self.bare, *args)

    def has_object(self, oid: str) -> bool:
        return subprocess.run(["git", "cat-file", "-e", oid], cwd=self.bare, capture_output=True).returncode == 0

    def updates(self) -> list[tuple[str, str, str]]:
        """Every ref update the server committed since it was made, in order: (old oid, new oid, ref)."""
        path = self.ctl / "updates.log"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            old, new, ref = line.split(" ", 2)
            rows.append((old, new, ref))
        return rows

    # -- steering ----------------------------------------------------------------------------------------------
    def set_atomic(self, atomic: bool) -> None:
        """Offer atomic pushes (git's default) or not (``receive.advertiseAtomic=false``)."""
        _git(self.bare, "config", "receive.advertiseAtomic", "true" if atomic else "false")

    def reject(self, *patterns: str) -> None:
        """The server's update hook refuses refs matching these shell globs (none: refuse nothing)."""
        path = self.ctl / "reject"
        if patterns:
            path.write_text("".join(p + "\n" for p in patterns))
        else:
            path.unlink(missing_ok=True)

    def pause(self, stage: Literal["pre-receive", "committed"] = "pre-receive", count: int = 1) -> None:
        """Make the next push stop at ``stage``: ``pre-receive`` (objects in, no ref moved) or ``committed``
        (after the ``count``-th committed ref transaction from now). Then ``wait_paused()`` and ``kill()``
        or ``release()``."""
        (self.ctl / "paused").unlink(missing_ok=True)
        (self.ctl / "release").unlink(missing_ok=True)
        if stage == "pre-receive":
            (self.ctl / "pause-pre-receive").write_text("1\n")
        else:
            (self.ctl / "committed-count").unlink(missing_ok=True)
            (self.ctl / "pause-committed").write_text(f"{count}\n")

    def wait_paused(self, timeout: float = 30, client: subprocess.Popen[Any] | None = None) -> bool:
        """Wait until a push reaches the pause; False if ``client`` (the pushing process) ended first (it had
        nothing to push, or failed before): the pause is then taken back."""
        deadline = time.monotonic() + timeout
        while not (self.ctl / "paused").exists():
            if client is not None and client.poll() is not None:
                self.unpause()
                return False
            if time.monotonic() > deadline:
                raise AssertionError(f"the server never reached its pause:\n{self.log()}")
            time.sleep(0.01)
        return True

    def unpause(self) -> None:
        """Take back a pause that no push reached (and release one that was)."""
        for name in ("pause-pre-receive", "pause-committed", "committed-count"):
            (self.ctl / name).unlink(missing_ok=True)
        if (self.ctl / "paused").exists():
            self.release()

    def release(self) -> None:
        (self.ctl / "release").write_text("go\n")

    def cut_after(self, nbytes: int, direction: Literal["up", "down"] = "up") -> None:
        """Drop the connection carrying the ``nbytes``-th byte from now (clients -> server for ``up``): a
        network cut. One cut per call; the connections after it pass again."""
        self.proxy.cut_after(nbytes, direction)

    def heal(self) -> None:
        """Take back a ``cut_after`` that no connection reached."""
        self.proxy.cut_after(-1)

    def cut_now(self) -> None:
        """Drop every connection open through the proxy now (e.g. while the server is paused)."""
        self.proxy.cut_now()


def group_alive(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            pids.append(int(entry))
    return pids


def wait_group_gone(pgid: int, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while group_alive(pgid):
        if time.monotonic() > deadline:
            raise AssertionError(f"server processes survived kill: {group_alive(pgid)}")
        time.sleep(0.01)


@pytest.fixture(params=FLAVOURS)
def git_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GitServer]:
    """A running Git server on 127.0.0.1, once served by `git daemon`, once by `git http-backend`; torn down
    (its whole process group killed, the proxy closed) when the test ends."""
    server = GitServer(tmp_path / "server", request.param)
    server.start()
    try:
        yield server
    finally:
        server.close()
