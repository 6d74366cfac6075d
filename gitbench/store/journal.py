"""The operation journal: what a multi-step operation is doing, so the next command can finish or undo it.

One JSON file, ``.git/gitbench/journal.json``, written atomically (temp file, fsync, rename) before the first
change an operation makes and removed after its last. Its presence means "an operation did not finish". What it
holds is a typed entry (store/journal_entries.py), read and written in the JSON of every earlier version.

The entry types are imported only when a journal is read, written or built: almost every command finds none,
and ``status`` must not pay for defining them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gitbench.store import atomic

if TYPE_CHECKING:
    from gitbench.store.journal_entries import Entry


class Journal:
    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> Entry | None:
        from gitbench.store.journal_entries import Torn, from_json

        data = atomic.read_json(self.path)
        if data is None:
            # A journal we cannot parse is from a torn write of the journal itself: nothing after it ran.
            return Torn() if os.path.exists(self.path) else None
        if not isinstance(data, dict):
            return Torn(extra={"data": data})
        return from_json(data)

    def write(self, entry: Entry | Mapping[str, Any]) -> None:
        """Write ``entry`` (or an entry in its on-disk form, as callers outside services write a ``JobRun``)."""
        from gitbench.store.journal_entries import from_json, to_json

        atomic.write_json(self.path, to_json(entry if not isinstance(entry, Mapping) else from_json(entry)))

    def record_end(self, job_id: str, end: dict[str, Any]) -> bool:
        """A job's end (``{"status", "error"}``) in its journal entry, written in place (a full disk takes no
        new file): the next command that can write records the job as it ended, not as interrupted."""
        from gitbench.store.journal_entries import JobRun, to_json

        entry = self.read()
        if not isinstance(entry, JobRun) or entry.id != job_id:
            return False
        entry.end = end
        return atomic.rewrite_in_place(self.path, to_json(entry))

    def clear(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
