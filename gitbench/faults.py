"""Named fault points for crash tests.

Operations call ``point("publish.after-ref")`` at each place where a crash or a full disk would matter. When
``GITBENCH_FAULT`` names that point, the process dies there (``:kill``, a real SIGKILL, so no cleanup runs) or
the point raises ENOSPC (``:enospc``), exactly as a full disk would. In normal runs a point costs one dict
lookup.
"""

from __future__ import annotations

import errno
import os
import signal

_spec: dict[str, str] | None = None
REACHED: list[str] = []


def _load() -> dict[str, str]:
    global _spec
    if _spec is None:
        _spec = {}
        for item in os.environ.get("GITBENCH_FAULT", "").split(","):
            if item.strip():
                name, _, kind = item.strip().partition(":")
                _spec[name] = kind or "kill"
    return _spec


def point(name: str) -> None:
    """Crash or fail here if the test environment asks for it."""
    spec = _load()
    if not spec:
        return
    kind = spec.get(name)
    if kind is None:
        return
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if kind == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), name)
    if kind == "eio":
        raise OSError(errno.EIO, os.strerror(errno.EIO), name)


def reset() -> None:
    """Re-read ``GITBENCH_FAULT`` (tests that change it in-process)."""
    global _spec
    _spec = None
