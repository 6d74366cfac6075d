"""Opening a Workbench, and the context every state change runs in (lock, recovery, journal)."""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gitbench import clock, errors
from gitbench.git.repo import GitRepo
from gitbench.model import CHECKPOINT_PREFIX, DRAFT_PREFIX, GONE, RECORDS_REF, Checkpoint
from gitbench.store.journal import Journal
from gitbench.store.layout import Layout
from gitbench.store.lock import WorkbenchLock
from gitbench.store.lock import left_behind as lock_left_behind
from gitbench.store.records import Records

# What a write meets on a full disk (or quota, or file size limit) and in a read-only .git/gitbench.
_DEAD_HOLDERS_CHILD = 2.0  # seconds a read waits for a lock a dead holder's child still has (see recover_if_idle)

_CANNOT_WRITE = errors.DISK_FULL_ERRNOS | {errno.EROFS, errno.EACCES, errno.EPERM}


def holder_gone(lock: WorkbenchLock) -> bool:
    """Is the process the lock file names as its holder dead (or a zombie)? Then, while the lock is still held, a
    child it was starting holds it for a moment (``WorkbenchLock.holder_pid``)."""
    from gitbench.services.supervisor import alive  # here: it imports subprocess, and only this rare case needs it

    pid = lock.holder_pid()
    return pid is not None and not alive(pid)


def recovery_deferred(wb: Workbench, exc: BaseException) -> str:
    """The one line a read says when it could not finish an interrupted operation because it could not write."""
    full = errors.is_disk_full(exc)
    why = "the disk is full" if full else f"{wb.layout.root} cannot be written ({_reason(exc)})"
    return (
        f"An interrupted operation or job waits to be recovered, but {why}: nothing was changed; "
        f"the next command that can write finishes it{' once space is freed' if full else ''}."
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)


def random_hex(nbytes: int) -> str:
    """``nbytes`` random bytes in hex, as ``secrets.token_hex`` makes them (``os.urandom``), without importing
    ``secrets`` (hmac, hashlib, random: ~1.2 ms of the start-up of every command that makes an id). Tests that
    need ids that do not change pin this function."""
    return os.urandom(nbytes).hex()


def _folder_gone() -> errors.NotAWorkbench:
    return errors.NotAWorkbench(
        "The current folder no longer exists (it was deleted: a Draft's worktree goes when the Draft is "
        "published or discarded). Go to your project's folder (cd) and run this again."
    )


class Workbench:
    """A Git repository adopted by gitbench."""

    def __init__(self, path: str = ".", require_init: bool = True, git: GitRepo | None = None) -> None:
        """``git``: the repository at ``path`` already open (a long-lived process keeps it: libgit2 re-reads refs,
        the index and new packs from disk when they change, and keeps what it parsed of them meanwhile)."""
        if git is None:
            try:
                path = os.path.abspath(path)
            except FileNotFoundError:  # the shell's folder was deleted: a Draft's worktree, after its publish
                raise _folder_gone() from None
            try:
                git = GitRepo(path)
            except errors.NotAWorkbench:
                # ... or is being deleted: a removed worktree's folder is renamed aside first (git/worktrees.py:
                # GONE), its link to the repository gone; a shell still in it is there (never a folder to init)
                if any(part.startswith(GONE) for part in path.split(os.sep)):
                    raise _folder_gone() from None
                raise
        self.git = git
        self.opened_in = self.git.workdir  # the folder the command was started in (a worktree, perhaps)
        self.layout = Layout(self.git.gitdir)
        self.journal = Journal(self.layout.journal)
        self.records = Records(self.git)
        branch = self.git.config_get("gitbench.published")
        if branch is None and require_init:
            where = self.git.workdir or self.git.gitdir
            raise errors.NotAWorkbench(
                f"{where} is a Git repository but not a Workbench yet.",
                [errors.Action("Adopt it", "init", (where,))],
            )
        self.branch = branch or "main"
        self.recovered: list[str] = []
        self.deferred: str | None = None  # why a read could not finish an interrupted operation (one line)
        self._locked = False
        self._lock: WorkbenchLock | None = None
        self._recovering = False  # recovery runs now: it must not take, let go of or recover under the lock again
        self.recoveries = 0  # how many times recovery ran in this Workbench (once per lock taken)
        self._follow_published()

    def _follow_published(self) -> None:
        """Work on the checkout that has Published checked out, wherever the command was started.

        Started in a linked worktree (a Draft's, or one of the user's own), the repository opened is that
        worktree's; but Publish and Restore must update the files of the checkout that shows Published (Git lets
        a branch be checked out in one worktree only), and ``status`` must look at those files. So when another
        worktree has Published checked out, that is the one we open."""
        if self.git.bare or self.git.head_branch() == self.published_ref:
            return
        from gitbench.git import worktrees

        main = os.path.dirname(self.git.gitdir) if os.path.basename(self.git.gitdir) == ".git" else None
        target = None
        head = worktrees.read_head(self.git.gitdir)
        if main is not None and head == f"ref: {self.published_ref}" and os.path.isdir(main):
            target = main
        else:
            found = worktrees.find(self.git.gitdir, branch=self.published_ref)
            if found is not None and found.present:
                target = found.path
        if target is not None and os.path.realpath(target) != os.path.realpath(self.git.workdir or ""):
            self.git = GitRepo(target)

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
            name = latest.name if latest else "NAME"
            raise errors.PublishedMissing(
                f"Published ({self.branch}) is missing: its branch was deleted outside gitbench.",
                [
                    errors.Action("Bring it back as it was at the newest checkpoint", "restore", (name, "--yes")),
                    errors.Action("See all checkpoints", "checkpoints"),
                ],
            )
        return oid

    def files_checked_out(self) -> bool:
        """Does the checked-out folder show Published (so Publish/Restore must update files)?"""
        return not self.git.bare and self.git.head_branch() == self.published_ref

    def draft_refs(self) -> list[str]:
        return sorted(self.git.refs(DRAFT_PREFIX))

    def new_id(self) -> str:
        # The stamp is time.gmtime's, not datetime's (~1 ms more to import): the same text for whole seconds.
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock.now()))
        return f"{stamp}-{random_hex(2)}"

    # -- the context of every state change ------------------------------------------------------------------
    def _recover(self, lock: WorkbenchLock) -> None:
        """The one call into recovery (services/recovery.py), once each time the lock is taken: whatever an
        interrupted operation or job left is finished or rolled back before anything else changes. One
        direction: recovery calls the follow-ups operations left, never back into ``changing``, ``released`` or
        ``recover_if_idle`` (refused while it runs)."""
        from gitbench.services import recovery

        self._recovering = True
        self.recoveries += 1
        try:
            self.recovered.extend(recovery.recover_journal(self, lock.left_behind))
        finally:
            self._recovering = False

    def _not_recovering(self, what: str) -> None:
        if self._recovering:
            raise RuntimeError(f"{what} called while recovery runs: recovery must not call back into the operations")

    @contextmanager
    def changing(self, operation: str, wait: float | None = None) -> Iterator[Workbench]:
        """Hold the Workbench lock, finish any interrupted operation first, then let the caller change state."""
        self._not_recovering(f"changing({operation!r})")
        if self._locked:
            yield self
            return
        lock = WorkbenchLock(self.layout.lock, operation)
        lock.acquire(wait)
        self._locked, self._lock = True, lock
        try:
            self._recover(lock)
            yield self
        finally:
            try:
                self._settle_running()
            finally:
                self._locked, self._lock = False, None
                lock.release(left=[path for path, _ in self.git.left_locks])  # named for the next command

    def for_thread(self, journal: Journal | None = None) -> Workbench:
        """Another Workbench object on this repository, for a thread of this process while this one holds the lock
        (one pygit2 Repository per thread, DESIGN.md §7). It acts under that lock: it never takes it nor lets go
        of it (``changing`` and ``released`` pass straight through). ``journal``: the one it writes, when not the
        Workbench's (the attempts of `gitbench try` share their caller's entry)."""
        mine = Workbench(self.root)
        mine._locked = True
        if journal is not None:
            mine.journal = journal
        return mine

    def _settle_running(self) -> None:
        """Jobs running without the lock compare the refs they must not move with these after their command:
        what gitbench itself just changed is not theirs."""
        from gitbench.store import running

        if self._locked and running.any_marker(self.layout.running):
            running.set_refs(self.layout.running, self.guarded_refs)

    def guarded_refs(self, kept: str) -> dict[str, str | None]:
        """The refs a job's command must never move: Published, the records, every checkpoint (as
        store/refguard.py captures them, at the cost of the loose refs, not of the number of checkpoints;
        packed-refs is kept at ``kept`` to name what moved later)."""
        from gitbench.store import refguard

        return refguard.capture(self.git, [self.published_ref, RECORDS_REF], CHECKPOINT_PREFIX, kept)

    def guarded_moved(self, before: dict[str, str | None], kept: str) -> list[tuple[str, str | None, str | None]]:
        """(name, value before, value now) of each guarded ref that is not as ``guarded_refs`` found it."""
        from gitbench.store import refguard

        return refguard.moved(self.git, before, CHECKPOINT_PREFIX, kept)

    @contextmanager
    def released(self, why: str = "a job's command", any_thread: bool = False) -> Iterator[Workbench]:
        """Let go of the Workbench lock while a long command runs (other commands, reads and Drafts go on
        meanwhile), and take it back after, waiting as long as it takes: what the command did must be recorded.
        Only the holder of the lock lets go of it (a `try` attempt in a thread does not). Off the main thread
        (the TUI's calls) a job keeps it; ``any_thread``: let go of it there too (the publish check, which
        records nothing of its own while it runs)."""
        import threading

        self._not_recovering("released()")
        lock = self._lock
        off_main = threading.current_thread() is not threading.main_thread()
        if not self._locked or lock is None or (off_main and not any_thread):
            yield self
            return
        self._settle_running()
        self._locked = False
        lock.release()
        try:
            yield self
        finally:
            lock.acquire(wait=float(os.environ.get("GITBENCH_RELOCK_WAIT", "86400")))
            self._locked = True
            self._recover(lock)  # another process may have been interrupted while the lock was let go of

    def recover_if_idle(self) -> None:
        """For read-only commands: if an operation was interrupted and nobody holds the lock, finish it."""
        from gitbench.store import running

        self._not_recovering("recover_if_idle()")
        if (
            not os.path.exists(self.layout.journal)
            and not running.any_marker(self.layout.running)
            and not lock_left_behind(self.layout.lock)  # held now, or a killed holder's Git locks to clear
        ):
            return
        lock = WorkbenchLock(self.layout.lock, "recover")
        try:
            if not lock.try_acquire():
                if not holder_gone(lock):
                    return  # the operation is still running in another process
                # Its process died (killed) while a child it was starting still had the lock's descriptor, for
                # the moment between fork and exec: the lock is free a moment later, and the read waits for it.
                try:
                    lock.acquire(_DEAD_HOLDERS_CHILD)
                except errors.Busy:
                    return
        except OSError as exc:  # a read-only .git/gitbench (or a full disk that refuses even the lock file)
            self.deferred = recovery_deferred(self, exc)
            return
        try:
            self._recover(lock)
        except (OSError, errors.DiskFull, errors.FileIOError) as exc:
            # A read must work on a full disk: what recovery could not write waits for the next command that
            # can (the journal and the job markers stay until then), and the read says so in one line.
            if isinstance(exc, OSError) and exc.errno not in _CANNOT_WRITE:
                raise
            self.deferred = recovery_deferred(self, exc)
        finally:
            lock.release(left=[path for path, _ in self.git.left_locks])

    def busy(self) -> str | None:
        return WorkbenchLock(self.layout.lock, "status").probe()

    def left_lock_notes(self) -> list[str]:
        """What a command says when Git could not remove a lock file it made (the command's work is done)."""
        return [
            f"Git could not remove its lock file {os.path.relpath(path, self.git.gitdir)} ({why}); what it locked "
            "was written all the same, and the next gitbench command removes the lock."
            for path, why in self.git.left_locks
        ]

    # -- shared look-ups ------------------------------------------------------------------------------------
    def checkpoint(self, name: str) -> Checkpoint:
        from gitbench.services import checkpoints

        return checkpoints.resolve(self, name)
