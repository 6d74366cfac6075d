"""``gitbench recover``: run recovery now, and clear what it leaves to the user's say (stale Git locks, orphan
worktrees and backups, trash past its time).

An operation like publish or restore: it takes the Workbench lock (which runs recovery, services/recovery.py,
first) and then does its own part. Recovery never calls it.
"""

from __future__ import annotations

import os
import shutil

from gitbench import clock
from gitbench.model import DRAFT_PREFIX, OperationResult
from gitbench.services.workbench import Workbench
from gitbench.store import gitlocks


def recover(wb: Workbench, force_locks: bool = False) -> OperationResult:
    """``gitbench recover``: the journal, stale Git locks, orphan worktrees and backups, old trash."""
    from gitbench.services import discard

    with wb.changing("recover", wait=0):
        notes = list(wb.recovered)
        wb.recovered.clear()
        refs = [wb.published_ref, "HEAD", *wb.draft_refs()]
        stale: list[str] = []
        young: list[str] = []
        for path, age in gitlocks.find(wb.git.gitdir, refs):
            (stale if force_locks or age >= 10 else young).append(path)
        gitlocks.remove(stale)
        notes += [f"Removed a stale Git lock: {os.path.relpath(p, wb.git.gitdir)}" for p in stale]
        notes += [
            f"Left a fresh Git lock (a Git process may be using it; `gitbench recover --force` removes it): "
            f"{os.path.relpath(p, wb.git.gitdir)}"
            for p in young
        ]
        from gitbench.services import worktrees

        notes += worktrees.repair(wb)
        labels = {r[len(DRAFT_PREFIX) :] for r in wb.draft_refs()}
        if os.path.isdir(wb.layout.worktrees):  # job folders inside .git, from before Draft worktrees
            for name in os.listdir(wb.layout.worktrees):
                if name not in labels:
                    shutil.rmtree(wb.layout.worktree(name), ignore_errors=True)
                    notes.append(f"Removed the folder of a Draft that no longer exists: {name}")
        if wb.journal.read() is None:
            if os.path.isdir(wb.layout.txn):
                shutil.rmtree(wb.layout.txn, ignore_errors=True)
            # A process killed while writing its journal leaves the temp file of that write.
            for name in os.listdir(wb.layout.root):
                if name.startswith("journal.json.tmp-"):
                    os.unlink(os.path.join(wb.layout.root, name))
                    notes.append(f"Removed a half-written journal of a killed process: {name}")
        for ref in discard.gc_trash(wb):
            notes.append(f"Deleted a discarded Draft (or worktree leftovers) past its time in the trash: {ref}")
        acted = [n for n in notes if not n.startswith("Left a fresh Git lock")]
        summary = (
            "Recovered."
            if acted
            else "Nothing to recover: the Workbench is consistent."
            if not notes
            else "Nothing else to recover."
        )
        return OperationResult("recover", summary, notes=notes, data={"time": clock.now()})
