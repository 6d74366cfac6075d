"""Move the checked-out files of Published from one tree to another, crash-safely.

libgit2's checkout rewrites files in place and writes the index last, so a crash leaves truncated files, and
FORCE follows a planted symlink out of the Workbench (DESIGN.md §7). We write our own way instead:

* each new file is written to a temp file beside it and renamed over the old one, so every path always holds
  either its old content or its new content, never a torn mix;
* before a path is replaced or removed, the old file is hard-linked (or renamed) into ``.git/gitbench/txn/``,
  so rolling back costs no disk space, and works on a full disk;
* no folder on a path may be a symlink (we check with ``lstat`` before every write), so nothing is ever
  written outside the Workbench;
* the journal names every path with its old and new entry, so recovery can tell, per path, "old", "new" or
  "someone else's edit" by hashing, and never overwrites the last.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterable

from gitbench import errors, faults
from gitbench.git.objects import Entry, Mode
from gitbench.git.repo import GitRepo, TreeChange
from gitbench.lazy_dataclass import dataclass

_UMASK = os.umask(0)
os.umask(_UMASK)


@dataclass
class Blocked:
    """A path the checked-out folder cannot take, and why."""

    path: str
    reason: str


def _entry(value: list[object] | tuple[object, ...] | None) -> Entry | None:
    """An entry as the transaction file holds it: ``[oid, mode]``."""
    if value is None:
        return None
    return Entry.of(value[0], value[1])


class FileMover:
    """Applies ``changes`` (from the Published tree to a new tree) to the checked-out folder."""

    def __init__(self, repo: GitRepo, txn_dir: str, fault_prefix: str, hidden: Iterable[str] = ()) -> None:
        assert repo.workdir is not None
        self.repo = repo
        # Paths the user's sparse checkout leaves out of the folder (git/sparse.py): never written, never checked;
        # their index entries move (skip-worktree kept), as `git merge` moves them.
        self.hidden = frozenset(hidden)
        self.root = repo.workdir
        self.txn_dir = txn_dir
        self.prefix = fault_prefix
        self.filemode = (repo.config_get("core.filemode") or "true").lower() == "true"

    # -- inspection -----------------------------------------------------------------------------------------
    def full(self, path: str) -> str:
        return os.path.join(self.root, path)

    def matches(self, path: str, entry: Entry | None) -> bool:
        """Does the file on disk hold exactly ``entry`` (None: is it absent)?"""
        full = self.full(path)
        if self._parent_blocked(path):
            return entry is None
        try:
            st = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):  # NotADirectory: a folder on it became a file meanwhile
            return entry is None
        if entry is None:
            return False
        oid, mode = entry
        if mode == Mode.SYMLINK:
            if not stat.S_ISLNK(st.st_mode):
                return False
            return self.repo.hash_bytes(os.fsencode(os.readlink(full))) == oid
        if not stat.S_ISREG(st.st_mode):
            return False
        if self.filemode and bool(st.st_mode & 0o100) != (mode == Mode.EXECUTABLE):
            return False
        # As `git status` sees it: a file checked out with CRLF (eol=crlf, core.autocrlf) holds the blob's LF text.
        return self.repo.hash_workfile(full, path) == oid

    def _parent_blocked(self, path: str) -> str | None:
        """The first folder on ``path`` that is a symlink or a file, if any."""
        parts = path.split("/")[:-1]
        cur = self.root
        for part in parts:
            cur = os.path.join(cur, part)
            try:
                st = os.lstat(cur)
            except FileNotFoundError:
                return None
            if stat.S_ISLNK(st.st_mode):
                return cur
            if not stat.S_ISDIR(st.st_mode):
                return cur
        return None

    def check(self, changes: list[TreeChange]) -> list[Blocked]:
        """Paths whose checked-out state would be lost or escaped by applying ``changes``."""
        blocked: list[Blocked] = []
        deleted = {c.path for c in changes if c.new is None}
        index = self.repo.index_entries([c.path for c in changes])
        for c in changes:
            if c.path in self.hidden:
                continue
            parent = self._parent_blocked(c.path)
            if parent is not None:
                rel = os.path.relpath(parent, self.root)
                if os.path.islink(parent):
                    blocked.append(Blocked(c.path, f"folder {rel} is a symlink"))
                    continue
                if rel not in deleted:
                    blocked.append(Blocked(c.path, f"{rel} is a file where a folder is needed"))
                    continue
            full = self.full(c.path)
            if os.path.isdir(full) and not os.path.islink(full):
                # A folder with files where a file goes, or where a deleted file was: the user's (removing the
                # file would move it into the journal, and discarding the journal would delete it).
                with os.scandir(full) as inside:  # closed here: an open iterator leaks its file descriptor
                    if any(inside):
                        blocked.append(Blocked(c.path, "a folder with files is in the way"))
                continue
            if not (self.matches(c.path, c.old) or self.matches(c.path, c.new)):
                what = "untracked file in the way" if c.old is None else "edited since it was published"
                blocked.append(Blocked(c.path, what))
                continue
            staged = index.get(c.path)
            if staged != c.old and staged != c.new:
                blocked.append(Blocked(c.path, "has staged changes"))
        return blocked

    # -- the move -------------------------------------------------------------------------------------------
    def _backup(self, number: int) -> str:
        return os.path.join(self.txn_dir, str(number))

    def _tmp(self, path: str) -> str:
        head, tail = os.path.split(self.full(path))
        return os.path.join(head, f".{tail}.gitbench-tmp")

    def apply(self, changes: list[TreeChange]) -> None:
        """Bring every path to its new entry. Deletions first (they may free a folder name for a file)."""
        os.makedirs(self.txn_dir, exist_ok=True)
        if any(os.path.basename(c.path) == ".gitattributes" for c in changes):
            self.repo.attributes_changed()
        # A new .gitattributes goes before the files it governs: their line endings follow it, as in `git checkout`.
        order = sorted(
            enumerate(changes),
            key=lambda ic: (ic[1].new is not None, os.path.basename(ic[1].path) != ".gitattributes", ic[1].path),
        )
        for n, (number, c) in enumerate(order):
            faults.point(f"{self.prefix}.file-{n}")
            if c.path in self.hidden or self.matches(c.path, c.new):
                continue
            if c.new is None:
                self._remove(c.path, number)
            else:
                self._write(c.path, c.new, number)
        faults.point(f"{self.prefix}.files-done")

    def _remove(self, path: str, number: int) -> None:
        full, backup = self.full(path), self._backup(number)
        if not os.path.lexists(backup):
            try:
                os.rename(full, backup)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                os.unlink(full)
        else:
            os.unlink(full)
        self._prune_dirs(os.path.dirname(path))

    def _prune_dirs(self, rel: str) -> None:
        while rel:
            try:
                os.rmdir(self.full(rel))
            except OSError:
                return
            rel = os.path.dirname(rel)

    def _write(self, path: str, entry: Entry, number: int) -> None:
        if self._parent_blocked(path):
            raise errors.LocalChanges(f"Cannot write {path}: a folder on its path is a symlink or a file.")
        full, tmp = self.full(path), self._tmp(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if self._parent_blocked(path):  # re-check: a symlink could be planted between the check and makedirs
            raise errors.LocalChanges(f"Cannot write {path}: a folder on its path is a symlink.")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        oid, mode = entry
        if mode == Mode.SYMLINK:
            os.symlink(os.fsdecode(self.repo.blob(oid)), tmp)
        else:
            perm = (0o777 if mode == Mode.EXECUTABLE else 0o666) & ~_UMASK
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perm)
            try:
                # As `git checkout` writes it (line endings converted), and a big blob streamed, never read whole.
                self.repo.write_blob_to(fd, oid, path)
                faults.point(f"{self.prefix}.tmp-written")
            finally:
                os.close(fd)
        backup = self._backup(number)
        os.makedirs(self.txn_dir, exist_ok=True)  # a rollback after a crash before apply() made it
        if os.path.lexists(full) and not os.path.lexists(backup):
            if os.path.isdir(full) and not os.path.islink(full):
                os.rmdir(full)  # an empty folder where the file goes (checked empty beforehand)
            else:
                try:
                    os.link(full, backup, follow_symlinks=False)
                except OSError as exc:
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                        raise
        faults.point(f"{self.prefix}.backup-made")
        os.replace(tmp, full)  # atomic: the path holds the old file or the new one, nothing in between

    def rollback(self, changes: list[TreeChange], keep: set[str] | None = None) -> list[str]:
        """Bring every path back to its old entry where it holds ours; return paths left as someone edited them.

        ``keep``: paths that held their new content before the move began; they are the user's, not ours.
        """
        left: list[str] = []
        for number, c in enumerate(changes):
            tmp = self._tmp(c.path)
            if os.path.lexists(tmp) and not self._parent_blocked(c.path):
                os.unlink(tmp)
            if (keep and c.path in keep) or c.path in self.hidden:
                continue
            backup = self._backup(number)
            if self.matches(c.path, c.old):
                continue
            if self._parent_blocked(c.path) and not os.path.lexists(backup):
                left.append(c.path)
                continue
            if os.path.lexists(backup) and (self.matches(c.path, c.new) or not os.path.lexists(self.full(c.path))):
                os.makedirs(os.path.dirname(self.full(c.path)), exist_ok=True)
                os.replace(backup, self.full(c.path))
            elif self.matches(c.path, c.new):
                if c.old is None:
                    os.unlink(self.full(c.path))
                    self._prune_dirs(os.path.dirname(c.path))
                else:
                    self._write(c.path, c.old, number)
            elif c.old is not None and not os.path.lexists(self.full(c.path)):
                self._write(c.path, c.old, number)
            else:
                left.append(c.path)
        return left

    def finish(self, changes: list[TreeChange]) -> list[str]:
        """Roll forward after a crash: bring paths still old to new; return paths someone else edited."""
        left: list[str] = []
        for number, c in enumerate(changes):
            tmp = self._tmp(c.path)
            if os.path.lexists(tmp) and not self._parent_blocked(c.path):
                os.unlink(tmp)
            if c.path in self.hidden or self.matches(c.path, c.new):
                continue
            if self.matches(c.path, c.old) or (c.old is not None and not os.path.lexists(self.full(c.path))):
                if c.new is None:
                    self._remove(c.path, number)
                else:
                    self._write(c.path, c.new, number)
            else:
                left.append(c.path)
        return left

    def discard_backups(self) -> None:
        shutil.rmtree(self.txn_dir, ignore_errors=True)


def changes_to_json(changes: list[TreeChange]) -> list[dict[str, object]]:
    return [
        {"path": c.path, "old": list(c.old) if c.old else None, "new": list(c.new) if c.new else None} for c in changes
    ]


def changes_from_json(items: list[dict[str, object]]) -> list[TreeChange]:
    return [TreeChange(str(i["path"]), _entry(i["old"]), _entry(i["new"])) for i in items]  # type: ignore[arg-type]
