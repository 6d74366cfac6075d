"""gitbench on a pseudo-terminal, as a person uses it: read the screen, type lines, wait for the end.

``interactive()`` is off under CI, so the child's environment drops ``CI``; colours are off (``NO_COLOR``).
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    # Every terminal a test opened and did not finish: a test that fails half way (a screen never seen) must not
    # leave its program running (a TUI on a pty it never hears from again spins, and slows every later test).
    unfinished: list[Terminal] = []

    def __init__(self, cwd: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        full = {k: v for k, v in os.environ.items() if k != "CI"}
        full.update(env or {})
        full.update({"TERM": "xterm", "NO_COLOR": "1"})
        full.setdefault("COLUMNS", "200")
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gitbench", *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=full,
            close_fds=True,
            start_new_session=True,
        )
        os.close(slave)
        Terminal.unfinished.append(self)
        self.raw = ""  # what was written, escape sequences removed, carriage returns kept (redrawn lines)
        self.screen = ""  # the same without carriage returns
        self.mark = 0

    def _read(self, timeout: float) -> bool:
        """Read what is there; False once the other side closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the other side closed
            return False
        if not data:
            return False
        text = ANSI.sub("", data.decode("utf-8", "replace"))
        self.raw += text
        self.screen += text.replace("\r", "")
        return True

    def expect(self, text: str, timeout: float = 60) -> str:
        """Wait for ``text`` after what was already seen; return the screen since then."""
        deadline = time.monotonic() + timeout
        while text not in self.screen[self.mark :]:
            if time.monotonic() > deadline or not self._read(0.2) and text not in self.screen[self.mark :]:
                raise AssertionError(f"never saw {text!r} on the terminal:\n{self.screen}")
        end = self.screen.index(text, self.mark) + len(text)
        seen, self.mark = self.screen[self.mark : end], end
        return seen

    def type(self, line: str) -> None:
        os.write(self.master, (line + "\n").encode())

    def finish(self, timeout: float = 60) -> int:
        """Read until the process ends; its exit code."""
        deadline = time.monotonic() + timeout
        while self._read(0.2) and time.monotonic() < deadline:
            if self.proc.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                break
        code = self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        self.close()
        return code

    def close(self) -> None:
        """End the program (its whole session) if it still runs, and let go of the terminal."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: start_new_session above
            except OSError:
                pass
            self.proc.wait()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        if self in Terminal.unfinished:
            Terminal.unfinished.remove(self)


def close_unfinished() -> None:
    """After each test: end what a failed test left running."""
    for term in list(Terminal.unfinished):
        term.close()
