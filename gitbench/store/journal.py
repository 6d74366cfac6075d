"""The operation journal: what a multi-step operation is doing, so the next command can finish or undo it.

One JSON file, ``.git/gitbench/journal.json``, written atomically (temp file, fsync, rename) before the first
change an operation makes and removed after its last. Its presence means "an operation did not finish".
"""

from __future__ import annotations

import os
from typing import Any

from gitbench.store import atomic


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> dict[str, Any] | None:
        data = atomic.read_json(self.path)
        if data is None and os.path.exists(self.path):
            # A journal we cannot parse is from a torn write of the journal itself: nothing after it ran.
            return {"op": "torn"}
        return data

    def write(self, entry: dict[str, Any]) -> None:
        atomic.write_json(self.path, entry)

    def record_end(self, job_id: str, end: dict[str, Any]) -> bool:
        """A job's end (``{"status", "error"}``) in its journal entry, written in place (a full disk takes no
        new file): the next command that can write records the job as it ended, not as interrupted."""
        entry = self.read()
        if not entry or entry.get("op") != "job" or entry.get("id") != job_id:
            return False
        return atomic.rewrite_in_place(self.path, {**entry, "end": end})

    def clear(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
