"""Opening a Workbench, and the context every state change runs in (lock, recovery, journal)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from gitbench import clock, errors
from gitbench.git.repo import GitRepo
from gitbench.model import DRAFT_PREFIX, Checkpoint
from gitbench.store.journal import Journal
from gitbench.store.layout import Layout
from gitbench.store.lock import WorkbenchLock
from gitbench.store.records import Records


class Workbench:
    """A Git repository adopted by gitbench."""

    def __init__(self, path: str = ".", require_init: bool = True) -> None:
        self.git = GitRepo(os.path.abspath(path))
        self.layout = Layout(self.git.gitdir)
        self.journal = Journal(self.layout.journal)
        self.records = Records(self.git)
        branch = self.git.config_get("gitbench.published")
        if branch is None and require_init:
            where = self.git.workdir or self.git.gitdir
            raise errors.NotAWorkbench(
                f"{where} is a Git repository but not a Workbench yet.",
                [errors.Action("Adopt it", f"gitbench init {where}")],
            )
        self.branch = branch or "main"
        self.recovered: list[str] = []
        self._locked = False

    # -- names ----------------------------------------------------------------------------------------------
    @property
    def published_ref(self) -> str:
        return f"refs/heads/{self.branch}"

    @property
    def root(self) -> str:
        return self.git.workdir or self.git.gitdir

    def published(self) -> str:
        oid = self.git.ref(self.published_ref)
        if oid is None:
            from gitbench.services import checkpoints

            latest = checkpoints.latest(self)
            name = latest.name if latest else "checkpoint/N"
            raise errors.PublishedMissing(
                f"Published ({self.branch}) is missing: its branch was deleted outside gitbench.",
                [errors.Action("Bring it back as it was at the newest checkpoint", f"gitbench restore {name} --yes"),
                 errors.Action("See all checkpoints", "gitbench checkpoints")],
            )
        return oid

    def files_checked_out(self) -> bool:
        """Does the checked-out folder show Published (so Publish/Restore must update files)?"""
        return not self.git.bare and self.git.head_branch() == self.published_ref

    def draft_refs(self) -> list[str]:
        return sorted(self.git.refs(DRAFT_PREFIX))

    def new_id(self) -> str:
        stamp = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{secrets.token_hex(2)}"

    # -- the context of every state change ------------------------------------------------------------------
    @contextmanager
    def changing(self, operation: str, wait: float | None = None) -> Iterator[Workbench]:
        """Hold the Workbench lock, finish any interrupted operation first, then let the caller change state."""
        if self._locked:
            yield self
            return
        lock = WorkbenchLock(self.layout.lock, operation)
        lock.acquire(wait)
        self._locked = True
        try:
            from gitbench.services import recover

            self.recovered.extend(recover.recover_journal(self))
            yield self
        finally:
            self._locked = False
            lock.release()

    def recover_if_idle(self) -> None:
        """For read-only commands: if an operation was interrupted and nobody holds the lock, finish it."""
        if not os.path.exists(self.layout.journal):
            return
        lock = WorkbenchLock(self.layout.lock, "recover")
        if not lock.try_acquire():
            return  # the operation is still running in another process
        try:
            from gitbench.services import recover

            self.recovered.extend(recover.recover_journal(self))
        finally:
            lock.release()

    def busy(self) -> str | None:
        lock = WorkbenchLock(self.layout.lock, "status")
        if lock.try_acquire():
            lock.release()
            return None
        return lock.holder() or "another gitbench process"

    # -- shared look-ups ------------------------------------------------------------------------------------
    def checkpoint(self, name: str) -> Checkpoint:
        from gitbench.services import checkpoints

        return checkpoints.resolve(self, name)
