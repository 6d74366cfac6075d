"""The Git layer: the only module family that imports pygit2.

``GitRepo`` speaks in hex object ids and plain values (tree entries are ``objects.Entry``: an id and a ``Mode``),
so nothing above it touches pygit2 types. Refs move only
by compare-and-swap (``set_ref`` with the value the caller believes is there); commits are built in memory
(``tree_with_changes``) without touching any working directory.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import pygit2
from pygit2.enums import DiffOption, FileMode, ObjectType
from pygit2.filter import FilterList

from gitbench import errors
from gitbench.git import refdb
from gitbench.git.objects import Entry as Entry  # re-exported: the engine imports it from here
from gitbench.git.objects import Mode
from gitbench.lazy_dataclass import dataclass
from gitbench.model import FileChange, FileChangeStatus

# The older names of the modes, still imported by the workflow engine (its own engineer moves it to ``Mode``).
BLOB = Mode.REGULAR
EXEC = Mode.EXECUTABLE
LINK = Mode.SYMLINK
TREE = Mode.TREE
COMMIT_MODE = Mode.GITLINK
_MODES = {int(m): m for m in Mode}  # walk_tree's lookup: a dict, not an Enum call, per file of a big tree
_IO_ERRORS = (errno.EIO, errno.ESTALE, errno.ENXIO, errno.EBADF)

STREAM_BYTES = 8 * 1024 * 1024  # a blob bigger than this is streamed, never read whole into memory
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class CommitInfo:
    """A commit as the layers above read it: hex ids, its message, committer time and author."""

    oid: str
    tree: str
    parents: tuple[str, ...]
    message: str
    time: int
    author: str
    author_email: str = ""
    author_time: int = 0


@dataclass(frozen=True)
class BlameHunk:
    """Lines ``start``..``start + count - 1`` (1-based, in the blamed version) as ``commit`` last wrote them."""

    start: int
    count: int
    commit: str


@dataclass(frozen=True)
class TreeChange:
    """A path whose entry differs between two trees (``old`` None: added; ``new`` None: deleted)."""

    path: str
    old: Entry | None
    new: Entry | None


# libgit2's letter of a file's change → how a review names it
_CHANGE_STATUS = {
    "A": FileChangeStatus.ADDED,
    "D": FileChangeStatus.DELETED,
    "M": FileChangeStatus.MODIFIED,
    "R": FileChangeStatus.RENAMED,
    "T": FileChangeStatus.TYPE_CHANGED,
}


class RefMoved(Exception):
    """A compare-and-swap on a ref found another value than expected."""

    def __init__(self, name: str, expected: str | None, actual: str | None) -> None:
        super().__init__(f"{name} is at {actual}, expected {expected}")
        self.name, self.expected, self.actual = name, expected, actual


def translate(exc: BaseException, what: str) -> errors.GitbenchError:
    """Turn a pygit2/OS error into the gitbench error a user can act on."""
    text = str(exc)
    if errors.is_disk_full(exc):
        return errors.disk_full(what)
    # libgit2 names the system call's error in its text ("failed to rename lockfile to '…': No space left on
    # device", "failed to write out file: Input/output error"): that, not the word "lock" in it, is the cause.
    if errors.says_disk_full(text):
        return errors.disk_full(what)
    if any(os.strerror(e) in text for e in _IO_ERRORS):
        return errors.FileIOError(f"A file could not be written while {what}: {text}", [errors.RECOVER])
    if any(p in text.lower() for p in ("permission denied", "not permitted", "read-only file system")):
        # libgit2 says "failed to create locked file ...: Permission denied": a permission problem, not a lock.
        return errors.FileIOError(f"Could not write while {what}: {text}", [errors.RECOVER])
    if "lock" in text.lower() and (
        "failed to" in text.lower() or "exists" in text.lower() or "is locked" in text.lower()
    ):
        return errors.GitLocked(
            f"Git is locked while {what}: {text}. Another Git process may be running (an editor, `git status`), "
            "or a crashed one left its lock file behind.",
            [
                errors.Action("Wait a moment and run the command again"),
                errors.Action("If no Git process is running, clear stale locks", "recover"),
            ],
        )
    if text.strip() in ("no error", "") or "no space" in text.lower():
        # libgit2 reports an injected ENOSPC/EFBIG as GitError('no error') (DESIGN.md §7).
        return errors.disk_full(what)
    if isinstance(exc, OSError):
        return errors.FileIOError(f"Could not write while {what}: {text}", [errors.RECOVER])
    return errors.InternalError(f"Git error while {what}: {text}", [errors.RECOVER])


class GitRepo:
    """One repository, opened once per process (pygit2 objects are not shared across threads)."""

    def __init__(self, path: str) -> None:
        try:
            found = pygit2.discover_repository(path)
        except (pygit2.GitError, KeyError):
            found = None
        if not found:
            raise errors.NotAWorkbench(
                f"{path} is not inside a Git repository.",
                [errors.Action("Make it a Workbench", "init", (path,))],
            )
        self.repo = pygit2.Repository(found)
        gitdir = self.repo.path.rstrip("/")
        common = os.path.join(gitdir, "commondir")
        if os.path.exists(common):  # a linked worktree: state lives in the common dir
            with open(common) as fh:
                gitdir = os.path.normpath(os.path.join(gitdir, fh.read().strip()))
        self.gitdir = gitdir
        self.workdir: str | None = self.repo.workdir.rstrip("/") if self.repo.workdir else None
        self._may_filter: bool | None = None
        # Git lock files (path, why) that a ref write made and nobody could remove: the command says so, and the
        # next one removes them (services/workbench.py names them in the Workbench lock file).
        self.left_locks: list[tuple[str, str]] = []

    # -- creation -------------------------------------------------------------------------------------------
    @staticmethod
    def init(path: str, branch: str) -> None:
        pygit2.init_repository(path, bare=False, initial_head=branch)

    @property
    def bare(self) -> bool:
        return bool(self.repo.is_bare)

    # -- config ---------------------------------------------------------------------------------------------
    def config_get(self, key: str) -> str | None:
        try:
            return str(self.repo.config[key])
        except KeyError:
            return None

    def config_set(self, key: str, value: str) -> None:
        self.repo.config[key] = value

    def config_add(self, key: str, value: str) -> None:
        """Add a value to a multi-valued key (a remote's fetch or push refspecs), unless it is there already."""
        if value not in self.config_all(key):
            self.repo.config.set_multivar(key, "^$", value)

    def config_all(self, key: str) -> list[str]:
        try:
            return [str(v) for v in self.repo.config.get_multivar(key)]
        except (KeyError, pygit2.GitError):
            return []

    def remote_names(self) -> list[str]:
        return [n for n in self.repo.remotes.names() if n]

    def signature(self) -> pygit2.Signature:
        from gitbench import clock

        now = int(clock.now())
        try:
            sig = self.repo.default_signature
            return pygit2.Signature(sig.name, sig.email, now, 0)
        except (KeyError, pygit2.GitError):
            return pygit2.Signature("gitbench", "gitbench@localhost", now, 0)

    # -- refs -----------------------------------------------------------------------------------------------
    def ref(self, name: str) -> str | None:
        """The commit a ref points at (peeling annotated tags), or None."""
        target = self.ref_raw(name)
        if target is None:
            return None
        try:
            obj = self.repo.get(target)
            if obj is not None and obj.type == ObjectType.TAG:
                return str(obj.peel(pygit2.Commit).id)
            return str(target)
        except (pygit2.GitError, KeyError, ValueError):
            return None

    def ref_raw(self, name: str) -> str | None:
        """The raw target of a ref (the tag object for annotated tags), without checking the object exists."""
        try:
            ref = self.repo.references.get(name)
        except (pygit2.GitError, ValueError):
            return None
        if ref is None:
            return None
        try:
            return str(ref.resolve().target)
        except (pygit2.GitError, KeyError, ValueError):
            return None

    def ref_exists(self, name: str) -> bool:
        try:
            return self.repo.references.get(name) is not None
        except (pygit2.GitError, ValueError):
            return True  # unreadable ref file: it exists, it is just garbage

    def refs(self, prefix: str, tail: str | None = None) -> list[str]:
        """Every ref under ``prefix`` (whose rest matches the regular expression ``tail``, if given), sorted.

        Read from packed-refs and the prefix's own folder (git/refdb.py), never by listing every ref of the
        repository: the Drafts cost the same beside 10 checkpoints or 5,000. A loose ref whose file is garbage
        is listed too (libgit2 would silently skip it): such a ref exists and must be reported as corrupt, not
        taken as absent (a broken Draft would otherwise vanish)."""
        return refdb.names(self.gitdir, prefix, tail)

    def loose_refs(self, prefix: str) -> int:
        """How many refs under ``prefix`` are loose files (not in packed-refs)."""
        return len(refdb.loose_names(self.gitdir, prefix))

    def pack_tags(self) -> bool:
        """Move the loose tags into packed-refs, as `git gc` does (`git pack-refs`, which leaves branches alone:
        a job's command may be moving its Draft meanwhile). Git replaces packed-refs atomically and deletes a
        loose file only if its ref still has the value packed. False if Git could not (a lock held, a full
        disk): nothing changed then, and the refs are as good loose."""
        from gitbench.git import worktrees

        try:
            worktrees.run(["pack-refs"], git_dir=self.gitdir)
        except (worktrees.GitFailed, errors.GitbenchError, OSError):
            return False
        return True

    def ref_targets(self, prefix: str) -> dict[str, str]:
        """Every direct ref under ``prefix`` and the object it holds (an annotated tag's own id), in one pass over
        the refs: with thousands of checkpoints, far cheaper than a look-up per name. Symbolic refs and ref files
        libgit2 cannot read are left out (``refs`` lists those too)."""
        out: dict[str, str] = {}
        try:
            for ref in self.repo.references.iterator():
                if ref.name.startswith(prefix) and ref.type == pygit2.enums.ReferenceType.DIRECT:
                    out[ref.name] = str(ref.target)
        except pygit2.GitError as exc:
            raise translate(exc, "listing the refs") from exc
        return out

    def set_ref(self, name: str, new: str | None, old: str | None, message: str) -> None:
        """Compare-and-swap ``name`` from ``old`` (None: must not exist) to ``new`` (None: delete)."""
        try:
            if old is None:
                if new is None:
                    return
                self.repo.create_reference_direct(name, pygit2.Oid(hex=new), False, message=message)
                self._settle_lock(name)
                return
            ref = self.repo.references.get(name)
            actual = str(ref.target) if ref is not None else None
            if actual != old:
                raise RefMoved(name, old, actual)
            assert ref is not None
            if new is None:
                ref.delete()
                self._settle_lock(name)
            else:
                ref.set_target(pygit2.Oid(hex=new), message)
        except RefMoved:
            raise
        except pygit2.AlreadyExistsError as exc:
            raise RefMoved(name, old, self.ref_raw(name)) from exc
        except (pygit2.GitError, OSError) as exc:
            text = str(exc)
            # libgit2 re-checks the old value under the ref's lock: another process moved it since we read it.
            if "modified" in text or "does not match" in text or ("exists" in text and "lock" not in text):
                raise RefMoved(name, old, self.ref_raw(name)) from exc
            raise translate(exc, f"updating {name}") from exc

    def _settle_lock(self, name: str) -> None:
        """libgit2 creates a ref (a tag, a new branch) by linking its lock file to the ref's name, and deletes one
        by removing the ref, then the lock; either way it ignores a failed unlink of the lock (an I/O error, a
        full disk's journal), so the ref is right and its lock stays, refusing every later write of that ref.
        Called right after such a write (under the Workbench lock, on refs only gitbench writes): remove the lock
        ourselves, and remember it if that fails too."""
        lock = os.path.join(self.gitdir, *name.split("/")) + ".lock"
        try:
            os.unlink(lock)
        except FileNotFoundError:
            return
        except OSError as exc:
            self.left_locks.append((lock, exc.strerror or str(exc)))

    def delete_ref_force(self, name: str) -> None:
        """Delete a ref even when its file is garbage (libgit2 cannot look such a ref up to delete it)."""
        try:
            ref = self.repo.references.get(name)
            if ref is not None:
                ref.delete()
                return
        except (pygit2.GitError, ValueError):
            pass
        loose = os.path.join(self.gitdir, *name.split("/"))
        if os.path.isfile(loose):
            os.unlink(loose)

    def reflog_last(self, name: str) -> str | None:
        """The last value a ref had according to its reflog, if that commit still exists.

        Only for rescuing work from a ref whose file was destroyed: the reflog is written before the ref moves
        (DESIGN.md §7), so it is never trusted for anything else."""
        try:
            with open(os.path.join(self.gitdir, "logs", *name.split("/")), "rb") as fh:
                lines = fh.read().splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            fields = line.split(b" ", 2)
            if len(fields) >= 2:
                oid = fields[1].decode("ascii", "replace")
                if oid.strip("0") and self.exists(oid):
                    return oid
        return None

    def head_branch(self) -> str | None:
        """The branch HEAD names (even if unborn), or None when detached."""
        try:
            head = self.repo.references.get("HEAD")
            if head is None:
                return None
            target = head.target
            return target if isinstance(target, str) else None
        except pygit2.GitError:
            return None

    def set_head(self, ref: str) -> None:
        self.repo.set_head(ref)

    # -- objects --------------------------------------------------------------------------------------------
    def exists(self, oid: str) -> bool:
        try:
            return self.repo.get(oid) is not None
        except (pygit2.GitError, ValueError):
            return False

    def commit(self, oid: str) -> CommitInfo:
        obj = self.repo.get(oid)
        if not isinstance(obj, pygit2.Commit):
            raise KeyError(oid)
        return CommitInfo(
            oid=str(obj.id),
            tree=str(obj.tree_id),
            parents=tuple(str(p) for p in obj.parent_ids),
            message=obj.message,
            time=obj.commit_time,
            author=obj.author.name,
            author_email=obj.author.email,
            author_time=obj.author.time,
        )

    def resolve(self, rev: str) -> str | None:
        """The commit a revision names (a branch, a tag, ``HEAD~2``, a full or short id...), or None."""
        if not rev or rev.startswith("-"):
            return None
        try:
            obj = self.repo.revparse_single(rev)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None
        return str(commit.id)

    def blame(self, path: str, newest: str, first: int, last: int) -> list[BlameHunk]:
        """Which commit last wrote each of lines ``first``..``last`` (1-based) of ``path`` as ``newest`` has it:
        libgit2's blame, with no rename or copy detection (``git blame`` without ``-M``/``-C``)."""
        try:
            found = self.repo.blame(path, newest_commit=pygit2.Oid(hex=newest), min_line=first, max_line=last)
        except (KeyError, ValueError, pygit2.GitError) as exc:
            raise translate(exc, f"reading the history of {path}") from exc
        return [BlameHunk(h.final_start_line_number, h.lines_in_hunk, str(h.final_commit_id)) for h in found]

    def added_lines(self, old: str | None, new: str) -> dict[str, list[tuple[int, int]]]:
        """The lines each file of tree ``new`` has that ``old`` did not (first, last; 1-based, in ``new``): the
        new side of the diff's hunks. A rename is followed (its unchanged lines are not new); binary files and
        deletions have none."""
        old_tree, new_tree = self._narrowed(old or self.empty_tree(), new)
        a, b = self.repo[old_tree], self.repo[new_tree]
        assert isinstance(a, pygit2.Tree) and isinstance(b, pygit2.Tree)
        diff = a.diff_to_tree(b, context_lines=0, interhunk_lines=0)
        diff.find_similar()
        out: dict[str, list[tuple[int, int]]] = {}
        for patch in diff:
            if patch is None or patch.delta.is_binary or patch.delta.status_char() == "D":
                continue
            ranges = [(h.new_start, h.new_start + h.new_lines - 1) for h in patch.hunks if h.new_lines > 0]
            if ranges:
                out[patch.delta.new_file.path] = ranges
        return out

    def tag_message(self, ref: str) -> tuple[str, str, int] | None:
        """(message, target commit, tagger time) of an annotated tag ref."""
        raw = self.ref_raw(ref)
        if raw is None:
            return None
        obj = self.repo.get(raw)
        if not isinstance(obj, pygit2.Tag):
            return None
        tagger_time = obj.tagger.time if obj.tagger else 0
        return obj.message, str(obj.target), tagger_time

    def tagger_name(self, ref: str) -> str | None:
        """Who made an annotated tag (its tagger's name), or None."""
        raw = self.ref_raw(ref)
        obj = self.repo.get(raw) if raw else None
        return obj.tagger.name if isinstance(obj, pygit2.Tag) and obj.tagger else None

    def create_tag(self, name: str, target: str, message: str) -> None:
        """Create an annotated tag; fails (RefMoved) if the name is taken."""
        try:
            self.repo.create_tag(name, pygit2.Oid(hex=target), ObjectType.COMMIT, self.signature(), message)
            self._settle_lock("refs/tags/" + name)
        except pygit2.AlreadyExistsError as exc:
            self._settle_lock("refs/tags/" + name)  # the name is taken: libgit2 made our lock, then removed it
            raise RefMoved("refs/tags/" + name, None, "taken") from exc
        except ValueError as exc:
            if "exists" in str(exc):
                self._settle_lock("refs/tags/" + name)
                raise RefMoved("refs/tags/" + name, None, "taken") from exc
            raise
        except (pygit2.GitError, OSError) as exc:
            if "failed to create tag annotation" in str(exc):  # on a full disk: the reason is lost (ENOSPC)
                raise self._unwritten(f"creating tag {name}") from exc
            raise translate(exc, f"creating tag {name}") from exc

    def blob(self, oid: str) -> bytes:
        obj = self.repo.get(oid)
        if not isinstance(obj, pygit2.Blob):
            raise KeyError(oid)
        return bytes(obj.data)

    # -- blobs as Git stores them and as the work tree holds them ------------------------------------------
    # ``git add`` cleans a file (``core.autocrlf``, ``.gitattributes`` ``text``/``eol``: CRLF to LF) before it is
    # stored, and ``git checkout`` smudges it back (LF to CRLF where ``eol=crlf``/``autocrlf=true``). libgit2 has
    # the same filters; every blob gitbench makes from a file and every file it writes goes through them, so the
    # blob ids equal what ``git add`` stores and ``git status`` is clean after a publish.

    def may_filter(self) -> bool:
        """Could Git convert any file here? Only with a line-ending setting or an attributes file somewhere (the
        folder's ``.gitattributes`` files, ``info/attributes``, the user's own). Asked once per process: looking
        the filters of one path up costs ~50 us, a whole checkout of 100k files would feel it."""
        if self._may_filter is None:
            self._may_filter = self.workdir is not None and self._attributes_anywhere()
        return self._may_filter

    def attributes_changed(self) -> None:
        """A ``.gitattributes`` file is being written: its rules may now apply."""
        self._may_filter = self.workdir is not None

    def _attributes_anywhere(self) -> bool:
        if (self.config_get("core.autocrlf") or "false").lower() != "false" or self.config_get("core.eol"):
            return True
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        user = self.config_get("core.attributesFile") or os.path.join(xdg, "git", "attributes")
        for found in (os.path.join(self.repo.path, "info", "attributes"), os.path.expanduser(user)):
            if os.path.isfile(found) and os.path.getsize(found):
                return True
        from gitbench.git import worktrees

        # A tracked attributes file: a small index is read here (~0.1 ms; a `git ls-files` process costs ~3 ms),
        # and any path with a part named .gitattributes counts (what the pathspecs below list, or more: a folder
        # of that name; more only means each path's filters are looked up). A sparse index's folder entries hide
        # the files under them: Git lists those.
        entries = worktrees.small_index(os.path.join(self.repo.path, "index"))
        if entries is not None and not any(mode == 0o040000 for mode, _, _ in entries):
            listed = any(b".gitattributes" in path.split(b"/") for _, _, path in entries)
        else:
            try:
                listed = bool(
                    worktrees.run(
                        ["ls-files", "-z", "--", ".gitattributes", "*/.gitattributes"],
                        git_dir=self.repo.path,
                        work_tree=self.workdir,
                    )
                )
            except (worktrees.GitFailed, errors.GitbenchError, OSError):
                return True  # cannot tell: ask libgit2 path by path
        return listed or os.path.exists(os.path.join(self.workdir or "", ".gitattributes"))

    def _filters(self, path: str, to_worktree: bool) -> FilterList | None:
        """The filters Git applies to ``path`` (relative to the Workbench), or None when it applies none."""
        if not path or self.workdir is None or not self.may_filter():
            return None
        mode = pygit2.enums.FilterMode.TO_WORKTREE if to_worktree else pygit2.enums.FilterMode.TO_ODB
        try:
            found = self.repo.load_filter_list(path, mode)
        except (pygit2.GitError, ValueError):
            return None
        return found if found is not None and len(found) else None

    def create_blob_as(self, data: bytes, path: str) -> str:
        """A blob of ``data`` as ``git add`` would store it at ``path`` (line endings normalised)."""
        filters = self._filters(path, to_worktree=False)
        if filters is not None:
            try:
                data = filters.apply_to_buffer(data)
            except pygit2.GitError as exc:  # core.safecrlf=true refuses an irreversible conversion, as git does
                raise errors.UsageError(f"Git refuses to store {path}: {exc}") from exc
        return self.create_blob(data)

    def create_blob_from_file(self, full: str, path: str) -> str:
        """A blob of the file ``full`` as ``git add`` would store it at ``path``. A file Git does not convert is
        streamed into the object database (libgit2 hashes and deflates it a chunk at a time), never read whole."""
        if self._filters(path, to_worktree=False) is None:
            try:
                return str(self.repo.create_blob_fromdisk(full))
            except (pygit2.GitError, OSError) as exc:
                raise translate(exc, "writing an object") from exc
        with open(full, "rb") as fh:
            return self.create_blob_as(fh.read(), path)

    def hash_workfile(self, full: str, path: str) -> str:
        """The blob id ``git add`` would give the file ``full`` at ``path`` (without writing it); streamed when
        Git does not convert the file."""
        if self.workdir is not None and self.may_filter():
            try:
                return str(self.repo.hashfile(full, as_path=path))
            except (pygit2.GitError, ValueError):
                pass  # core.safecrlf=true and a file it would refuse: then compare the bytes as they are
        return str(pygit2.hashfile(full))

    def write_blob_to(self, fd: int, oid: str, path: str | None) -> None:
        """Write blob ``oid`` into the open file ``fd`` as ``git checkout`` writes it at ``path`` (None: as it is).

        A blob over ``STREAM_BYTES`` is never read whole into Python: libgit2 would hold it twice over (the
        deflated object and the inflated one) and Python a third copy. A loose one is inflated a chunk at a time
        here; a packed one, or one Git converts on checkout, is written by ``git cat-file`` (which streams what it
        can, as ``git checkout`` does)."""
        filters = self._filters(path, to_worktree=True) if path else None
        if self.blob_size(oid) <= STREAM_BYTES:
            data = self.blob(oid)
            if filters is not None:
                data = filters.apply_to_buffer(data)
            _write_all(fd, data)
            return
        if filters is None and self._copy_loose(oid, fd):
            return
        import subprocess

        from gitbench.git import worktrees

        args = ["cat-file", "--filters", f"--path={path}", oid] if filters is not None else ["cat-file", "blob", oid]
        env = worktrees.clean_env()
        env["GIT_DIR"] = self.gitdir
        if self.workdir is not None:
            env["GIT_WORK_TREE"] = self.workdir
        # Run at the top of the work tree: from elsewhere Git reads no .gitattributes (outside it) or takes
        # ``--path`` as relative to the current folder (in a subfolder), and converts the file wrongly.
        proc = subprocess.run(
            ["git", *args], stdout=fd, stderr=subprocess.PIPE, env=env, cwd=self.workdir or self.gitdir, check=False
        )
        if proc.returncode != 0:
            raise KeyError(f"{oid}: {proc.stderr.decode('utf-8', 'replace').strip()}")

    def _copy_loose(self, oid: str, fd: int) -> bool:
        """Inflate the loose object ``oid`` into ``fd`` a chunk at a time, checking its id as it goes; False when
        it is not a loose object (packed: the caller asks Git)."""
        import hashlib
        import zlib

        try:
            fh = open(os.path.join(self.gitdir, "objects", oid[:2], oid[2:]), "rb")  # noqa: SIM115 - closed below
        except OSError:
            return False
        digest = hashlib.new("sha256" if len(oid) == 64 else "sha1")
        inflate = zlib.decompressobj()
        header, in_header = b"", True
        with fh:
            while True:
                chunk = fh.read(CHUNK)
                if not chunk:
                    break
                try:
                    data = inflate.decompress(chunk)
                except zlib.error as exc:
                    raise KeyError(f"{oid}: the object file is damaged ({exc})") from exc
                digest.update(data)
                if in_header:
                    header += data
                    if b"\0" not in header:
                        continue
                    head, _, data = header.partition(b"\0")
                    if not head.startswith(b"blob "):
                        raise KeyError(f"{oid} is not a blob")
                    in_header = False
                _write_all(fd, data)
            tail = inflate.flush()
            digest.update(tail)
            _write_all(fd, tail)
        if in_header or not inflate.eof or digest.hexdigest() != oid:
            raise KeyError(f"{oid}: the object file is damaged")
        return True

    def check_blob(self, oid: str) -> None:
        """Raise KeyError/ValueError unless blob ``oid`` can be read whole and is intact; a big one is checked a
        chunk at a time (its id recomputed from a loose object's content), never read whole into memory."""
        if self.blob_size(oid) <= STREAM_BYTES:
            self.blob(oid)
            return
        with open(os.devnull, "wb") as sink:
            if not self._copy_loose(oid, sink.fileno()):
                self.write_blob_to(sink.fileno(), oid, None)

    def blob_size(self, oid: str) -> int:
        """The size of a blob without reading it (the object header only)."""
        _, size = self.repo.odb.read_header(pygit2.Oid(hex=oid))
        return int(size)

    def write_entry(self, path: str, entry: Entry, as_path: str | None = None) -> None:
        """Write a blob to a new file (or symlink) at ``path``, with the executable bit its mode says; converted as
        ``git checkout`` would at the Workbench path ``as_path``, when given."""
        oid, mode = entry
        if mode == Mode.SYMLINK:
            os.symlink(os.fsdecode(self.blob(oid)), path)
            return
        with open(path, "wb") as fh:
            self.write_blob_to(fh.fileno(), oid, as_path)
        if mode == Mode.EXECUTABLE:
            os.chmod(path, 0o755)

    def create_blob(self, data: bytes) -> str:
        try:
            return str(self.repo.create_blob(data))
        except (pygit2.GitError, OSError) as exc:
            raise translate(exc, "writing an object") from exc

    def hash_bytes(self, data: bytes) -> str:
        return str(pygit2.hash(data))

    def create_commit(self, tree: str, parents: list[str], message: str) -> str:
        sig = self.signature()
        try:
            oid = self.repo.create_commit(
                None, sig, sig, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
            )
        except (pygit2.GitError, OSError) as exc:
            raise translate(exc, "writing a commit") from exc
        if not self.repo.odb.exists(oid):  # on a full disk pygit2 1.21 returns the id of a commit it never wrote
            raise self._unwritten("writing a commit")
        return str(oid)

    def _unwritten(self, what: str) -> errors.GitbenchError:
        """libgit2 lost why an object write failed; a nearly full file system is the usual cause: say so then."""
        try:
            st = os.statvfs(os.path.join(self.gitdir, "objects"))
            low = st.f_bavail * st.f_frsize < 1024 * 1024
        except OSError:
            low = False
        if low:
            return errors.disk_full(what)
        return errors.FileIOError(f"Git could not write an object while {what}.", [errors.RECOVER])

    def empty_tree(self) -> str:
        return str(self.repo.TreeBuilder().write())

    # -- trees ----------------------------------------------------------------------------------------------
    def tree_entry(self, tree: str, path: str) -> Entry | None:
        try:
            entry = self.repo[tree] / path  # type: ignore[operator]
        except (KeyError, pygit2.GitError):
            return None
        return Entry(str(entry.id), Mode.of(entry.filemode))

    def tree_with_changes(self, tree: str | None, changes: dict[str, Entry | None]) -> str:
        """A new tree: ``tree`` with each path set to an entry (or removed, for None).

        Only the folders on the changed paths are rewritten, so the cost follows the change, not the
        repository's size.
        """
        try:
            return self._edit(tree, _nest(changes))[0]
        except (pygit2.GitError, OSError) as exc:
            raise translate(exc, "writing a tree") from exc

    def _edit(self, tree: str | None, nested: dict[str, object]) -> tuple[str, int]:
        """The new tree's id and how many entries it has (an empty folder is dropped from its parent: counted
        here, not by reading back the tree just written, which for a folder of thousands of files is a read and
        an inflate of the whole object per step)."""
        builder = self.repo.TreeBuilder(tree) if tree else self.repo.TreeBuilder()
        for name, change in nested.items():
            existing = builder.get(name)
            if isinstance(change, dict):
                sub = str(existing.id) if existing is not None and existing.filemode == FileMode.TREE else None
                new_sub, entries = self._edit(sub, change)
                if entries == 0:
                    if existing is not None:
                        builder.remove(name)
                else:
                    builder.insert(name, pygit2.Oid(hex=new_sub), Mode.TREE)
            elif change is None:
                if existing is not None:
                    builder.remove(name)
            else:
                oid, mode = cast(Entry, change)  # unpacked: the engine still passes plain (oid, mode) pairs
                builder.insert(name, pygit2.Oid(hex=oid), mode)
        return str(builder.write()), len(builder)

    def diff_trees(self, old: str | None, new: str | None) -> list[TreeChange]:
        """Changed blobs between two trees (no rename detection: a move is a delete and an add).

        The same changes, in the same (path) order, as libgit2's tree-to-tree diff, where a change of file type
        is a delete and an add; but a folder with the same id on both sides is skipped without being read, so
        the cost follows the change, not the repository's size (libgit2 reads every folder of both trees).
        """
        out: list[TreeChange] = []
        self._diff_trees(old, new, "", out)
        return out

    def _diff_trees(self, old: str | None, new: str | None, prefix: str, out: list[TreeChange]) -> None:
        sides = []
        for oid in (old, new):
            tree = self.repo[oid] if oid else None
            assert tree is None or isinstance(tree, pygit2.Tree)
            # Git's order: a folder sorts as "name/", so path order follows when the trees are walked in it.
            sides.append(
                {os.fsencode(str(e.name)) + (b"/" if e.filemode == FileMode.TREE else b""): e for e in tree or ()}
            )
        a, b = sides
        for key in sorted(a.keys() | b.keys()):
            ea, eb = a.get(key), b.get(key)
            if key.endswith(b"/"):
                sub_a = str(ea.id) if ea is not None else None
                sub_b = str(eb.id) if eb is not None else None
                if sub_a != sub_b:
                    self._diff_trees(sub_a, sub_b, prefix + os.fsdecode(key), out)
                continue
            if ea is not None and eb is not None and ea.id == eb.id and ea.filemode == eb.filemode:
                continue  # the same file: no entry built (a changed folder may hold thousands that did not change)
            path = prefix + os.fsdecode(key)
            old_e = Entry(str(ea.id), Mode.of(ea.filemode)) if ea is not None else None
            new_e = Entry(str(eb.id), Mode.of(eb.filemode)) if eb is not None else None
            if old_e and new_e and not old_e.mode.same_kind(new_e.mode):  # a type change: delete, then add
                out.append(TreeChange(path, old_e, None))
                out.append(TreeChange(path, None, new_e))
                continue
            out.append(TreeChange(path, old_e, new_e))

    def diff_stats(self, old: str, new: str, patch: bool) -> tuple[list[FileChange], str | None]:
        """Per-file status and line counts between two trees, and optionally the unified patch text.

        libgit2's tree diff reads every folder of both trees (~240 ms at 300k files), so it is given two small
        trees holding only the paths that differ (found by ``diff_trees``, which skips unchanged folders): the
        same files, line counts, renames and patch, at a cost that follows the change."""
        old, new = self._narrowed(old, new)
        a, b = self.repo[old], self.repo[new]
        assert isinstance(a, pygit2.Tree) and isinstance(b, pygit2.Tree)
        diff = a.diff_to_tree(b, flags=DiffOption.NORMAL)
        diff.find_similar()
        files: list[FileChange] = []
        for p in diff:
            if p is None:  # pragma: no cover - libgit2 yields a patch for every delta
                continue
            d = p.delta
            _, ins, dels = p.line_stats
            letter = d.status_char()
            files.append(
                FileChange(
                    path=d.new_file.path,
                    old_path=d.old_file.path if d.old_file.path != d.new_file.path else None,
                    status=_CHANGE_STATUS.get(letter) or FileChangeStatus(letter),
                    insertions=ins,
                    deletions=dels,
                    binary=bool(d.is_binary),
                )
            )
        return files, (diff.patch or "") if patch else None

    def _narrowed(self, old: str, new: str) -> tuple[str, str]:
        try:
            changes = self.diff_trees(old, new)
            before: dict[str, Entry | None] = {c.path: c.old for c in changes if c.old is not None}
            after: dict[str, Entry | None] = {c.path: c.new for c in changes if c.new is not None}
            return self.tree_with_changes(None, before), self.tree_with_changes(None, after)
        except (UnicodeEncodeError, errors.GitbenchError):
            # A name that is not UTF-8 cannot go through pygit2's tree builder; a blob that is missing (a corrupt
            # Draft) cannot go into a tree: the whole trees are diffed, which says what is wrong.
            return old, new

    def walk_tree(
        self, tree: str, prefix: str = "", descend: Callable[[str], bool] | None = None
    ) -> Iterator[tuple[str, str, Mode]]:
        """Every blob in a tree: (path, oid, mode); folders for which ``descend(path)`` is false are skipped."""
        for entry in self.repo[tree]:  # type: ignore[attr-defined]
            path = f"{prefix}{entry.name}"
            mode = _MODES.get(entry.filemode) or Mode.of(entry.filemode)
            if mode is Mode.TREE:
                if descend is None or descend(path):
                    yield from self.walk_tree(str(entry.id), path + "/", descend)
            elif mode is not Mode.GITLINK:
                yield path, str(entry.id), mode

    def blob_map(self, tree: str) -> dict[str, str]:
        """Every blob in a tree (files and symlinks, not submodules) as path → oid: ``walk_tree`` as a dict, at a
        quarter of its cost (no file mode to read; each entry's type as pygit2 already has it)."""
        out: dict[str, str] = {}

        def walk(node: Any, prefix: str) -> None:
            for entry in node:
                kind = entry.type_str
                if kind == "blob":
                    out[prefix + entry.name] = str(entry.id)
                elif kind == "tree":
                    walk(entry, f"{prefix}{entry.name}/")

        walk(self.repo[tree], "")
        return out

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        if ancestor == descendant:
            return True
        return bool(self.repo.descendant_of(pygit2.Oid(hex=descendant), pygit2.Oid(hex=ancestor)))

    def merge_base(self, a: str, b: str) -> str | None:
        try:
            base = self.repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        except (pygit2.GitError, ValueError):
            return None
        return str(base) if base else None

    def first_parent_chain(self, head: str, stop: str, limit: int = 10_000) -> list[CommitInfo]:
        """Commits from ``head`` back to (not including) ``stop``, newest first, along first parents."""
        out: list[CommitInfo] = []
        cur: str | None = head
        while cur and cur != stop and len(out) < limit:
            info = self.commit(cur)
            out.append(info)
            cur = info.parents[0] if info.parents else None
        return out

    def commits_between(self, base: str, tip: str, limit: int = 10_000) -> list[CommitInfo]:
        """Commits reachable from ``tip`` and not from ``base``, parents before children (oldest first)."""
        walker = self.repo.walk(pygit2.Oid(hex=tip), pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        walker.hide(pygit2.Oid(hex=base))
        return _infos(walker, limit)

    def commits_reachable(self, tip: str, hidden: list[str], limit: int = 1_000_000) -> list[CommitInfo]:
        """Commits reachable from ``tip`` and from none of ``hidden``, parents before children (oldest first)."""
        walker = self.repo.walk(pygit2.Oid(hex=tip), pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE)
        for oid in hidden:
            walker.hide(pygit2.Oid(hex=oid))
        return _infos(walker, limit)

    def rewrite_commit(self, oid: str, tree: str, parents: list[str], message: str) -> str:
        """A copy of commit ``oid`` with another tree, parents and message; its author and committer (names,
        emails, dates) kept as they were."""
        old = self.repo.get(oid)
        if not isinstance(old, pygit2.Commit):
            raise KeyError(oid)
        try:
            new = self.repo.create_commit(
                None, old.author, old.committer, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
            )
        except (pygit2.GitError, OSError) as exc:
            raise translate(exc, "writing a commit") from exc
        if not self.repo.odb.exists(new):
            raise self._unwritten("writing a commit")
        return str(new)

    def log(self, head: str, limit: int) -> list[CommitInfo]:
        walker = self.repo.walk(pygit2.Oid(hex=head))
        walker.simplify_first_parent()
        return _infos(walker, limit)

    # -- index ----------------------------------------------------------------------------------------------
    def index_entries(self, paths: list[str]) -> dict[str, Entry | None]:
        index = self.repo.index
        index.read(False)
        out: dict[str, Entry | None] = {}
        for p in paths:
            e = index[p] if p in index else None
            out[p] = Entry(str(e.id), Mode.of(e.mode)) if e is not None else None
        return out

    def update_index(self, changes: dict[str, Entry | None]) -> None:
        """Set index entries for paths whose working file now matches ``changes``; stat data from disk."""
        try:
            index = self.repo.index
            index.read(False)
            for path, entry in changes.items():
                if entry is None:
                    if path in index:
                        index.remove(path)
                    continue
                full = os.path.join(self.workdir or "", path)
                oid, mode = entry
                if mode == Mode.GITLINK:  # a submodule: its folder is its own repository, never hashed as a file
                    index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=oid), FileMode(mode)))
                elif os.path.lexists(full):
                    index.add(path)  # hashes the file and records its stat data, so `git status` stays fast
                    if str(index[path].id) != oid or int(index[path].mode) != mode:
                        index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=oid), FileMode(mode)))
                else:
                    index.add(pygit2.IndexEntry(path, pygit2.Oid(hex=oid), FileMode(mode)))
            index.write()
        except (pygit2.GitError, OSError) as exc:
            raise translate(exc, "updating the index") from exc

    def snapshot_workdir(self) -> str:
        """Stage every file of the checked-out folder (honouring .gitignore) and return the tree."""
        try:
            index = self.repo.index
            index.add_all()
            index.write()
            return str(index.write_tree())
        except (pygit2.GitError, OSError) as exc:
            raise translate(exc, "recording the folder's files") from exc

    def hash_file(self, path: str) -> str:
        return str(pygit2.hashfile(path))

    def index_tree(self) -> str:
        """The tree the index describes (what is checked out, when there are no local edits)."""
        try:
            index = self.repo.index
            index.read(False)
            return str(index.write_tree())
        except (pygit2.GitError, OSError) as exc:
            raise translate(exc, "reading the index") from exc

    def is_ignored(self, path: str) -> bool:
        """Does .gitignore (or info/exclude, core.excludesFile) ignore this Workbench path?"""
        try:
            return bool(self.repo.path_is_ignored(path))
        except pygit2.GitError:
            return False

    def status_changes(self, untracked: bool = False) -> list[str]:
        """Paths with local changes in the checked-out folder (modified, staged; new files only if asked)."""
        if self.bare:
            return []
        try:
            st = self.repo.status(untracked_files="all" if untracked else "no")
        except pygit2.GitError as exc:
            return self._git_status(exc, untracked)
        changed = sorted(p for p, flag in st.items() if flag != pygit2.enums.FileStatus.CURRENT)
        missing = [p for p, flag in st.items() if flag == pygit2.enums.FileStatus.WT_DELETED]
        if missing:
            # libgit2 ignores the skip-worktree bit: a file a sparse checkout leaves out is not "deleted".
            from gitbench.git import sparse

            if sparse.enabled(self):
                hidden = sparse.hidden(self, missing)
                changed = [p for p in changed if p not in hidden]
        return changed

    def _git_status(self, exc: pygit2.GitError, untracked: bool) -> list[str]:
        """The local changes as Git's own status sees them, for an index libgit2 cannot read (a split index, an
        extension it does not know): Git reads it. An index Git cannot read either is an error that says so."""
        from gitbench.git import worktrees as wt

        args = ["status", "--porcelain=v1", "-z", "--no-renames", "--ignore-submodules=none"]
        args.append("--untracked-files=all" if untracked else "--untracked-files=no")
        try:
            out = wt.run(args, git_dir=self.gitdir, work_tree=self.workdir, cwd=self.workdir)
        except (wt.GitFailed, OSError) as failed:
            raise translate(exc, f"reading the local changes (git status: {failed})") from failed
        return sorted({os.fsdecode(item[3:]) for item in wt.split_z(out)})


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _infos(walker: Iterable[pygit2.Commit], limit: int) -> list[CommitInfo]:
    out: list[CommitInfo] = []
    for c in walker:
        parents = tuple(str(p) for p in c.parent_ids)
        author = c.author
        out.append(
            CommitInfo(
                str(c.id), str(c.tree_id), parents, c.message, c.commit_time, author.name, author.email, author.time
            )
        )
        if len(out) >= limit:
            break
    return out


def _nest(changes: dict[str, Entry | None]) -> dict[str, object]:
    root: dict[str, object] = {}
    for path, entry in changes.items():
        parts = path.split("/")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = entry
    return root
