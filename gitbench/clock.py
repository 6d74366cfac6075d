"""The current time, injectable for tests and reminders.

``GITBENCH_NOW`` (seconds since the epoch, or an ISO-8601 date) fixes the clock for a process, so tests can
drive Draft reminders through the real CLI without patching.
"""

from __future__ import annotations

import os
import time


def now() -> float:
    """Seconds since the epoch: ``GITBENCH_NOW`` when set, else the system clock."""
    fixed = os.environ.get("GITBENCH_NOW")
    if not fixed:
        return time.time()
    try:
        return float(fixed)
    except ValueError:
        from datetime import datetime  # here, not at the top: start-up of every command

        return datetime.fromisoformat(fixed).timestamp()


def iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def human_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
