"""Named fault points for crash tests.

Operations call ``point("publish.after-ref")`` at each place where a crash or a full disk would matter. When
``GITBENCH_FAULT`` names that point, the process dies there (``:kill``, a real SIGKILL, so no cleanup runs),
the point raises ENOSPC (``:enospc``), exactly as a full disk would, or it waits two seconds (``:delay``: a
thread overtaken by others at that place, as on a loaded machine). ``name:kill@3`` fires at the third time the
point is reached (points inside loops, such as ``publish.tmp-written``), not before. In normal runs a point
costs one dict lookup.
"""

from __future__ import annotations

import errno
import os

_spec: dict[str, tuple[str, int]] | None = None
_hits: dict[str, int] = {}
REACHED: list[str] = []


def _load() -> dict[str, tuple[str, int]]:
    global _spec
    if _spec is None:
        _spec = {}
        for item in os.environ.get("GITBENCH_FAULT", "").split(","):
            if item.strip():
                name, _, kind = item.strip().partition(":")
                kind, _, nth = (kind or "kill").partition("@")
                _spec[name] = (kind or "kill", int(nth) if nth.isdigit() else 1)
    return _spec


def point(name: str) -> None:
    """Crash or fail here if the test environment asks for it."""
    spec = _load()
    if not spec:
        return
    hit = spec.get(name)
    if hit is None:
        return
    kind, nth = hit
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] != nth:
        return
    if kind == "kill":
        import signal  # here: every command imports this module, and only crash tests kill

        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
    if kind == "eio":
        raise OSError(errno.EIO, os.strerror(errno.EIO), name)
    if kind == "delay":
        import time

        time.sleep(2.0)


def reset() -> None:
    """Re-read ``GITBENCH_FAULT`` (tests that change it in-process)."""
    global _spec
    _spec = None
    _hits.clear()
