"""A plain folder holding some files of a tree (a workflow module's inputs), and capturing what a command changed in it.

The folder has no ``.git`` of its own and ``GIT_CEILING_DIRECTORIES`` stops Git from finding the Workbench
around it, so a command run there sees files, not the repository. Only files inside the job's scope are put
there (a job reads only inside its scope). After the command, every change is checked before it can reach the
Draft: paths into ``.git``, paths outside the scope, symlinks that point out of the Workbench, special files
and oversized files are refused and reported; nothing refused is ever committed.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import field

from gitbench.git.objects import Entry, Mode
from gitbench.git.repo import GitRepo
from gitbench.lazy_dataclass import dataclass
from gitbench.scope import Scope, UnsafePath, check_path

MAX_FILE_BYTES = 100 * 1024 * 1024

Snapshot = dict[str, tuple[str, Mode, int, int, int]]  # path -> (oid, mode, size, mtime_ns, inode)

OUTSIDE_SCOPE = "outside the job's scope (--files)"  # the reason a capture gives a file written outside its scope


@dataclass
class Capture:
    changes: dict[str, Entry | None] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)


def export(repo: GitRepo, tree: str, folder: str, scope: Scope) -> Snapshot:
    """Write the in-scope files of ``tree`` into a fresh ``folder``; return their stat snapshot."""
    if os.path.lexists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    snap: Snapshot = {}
    for path, oid, mode in _in_scope(repo, tree, scope):
        full = os.path.join(folder, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        repo.write_entry(full, Entry(oid, mode), as_path=path)  # as `git checkout` writes it (line endings)
        st = os.lstat(full)
        snap[path] = (oid, mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return snap


def _in_scope(repo: GitRepo, tree: str, scope: Scope) -> Iterator[tuple[str, str, Mode]]:
    """The blobs of ``tree`` the scope allows. Only the folders it can reach are read (a 10-file job in a 100k-file
    tree reads a few folders); a scope of plain paths is looked up path by path, not walked."""
    if scope.patterns and not any(c in p for p in scope.patterns for c in "*?["):
        seen: set[str] = set()
        for pattern in scope.patterns:
            path = pattern.strip("/")
            entry = repo.tree_entry(tree, path)
            if entry is None:
                continue
            found = (
                [(path, entry.oid, entry.mode)]
                if entry.mode != Mode.TREE
                else [(f"{path}/{p}", o, m) for p, o, m in repo.walk_tree(entry.oid)]
            )
            for item in found:
                if item[0] not in seen and item[2] != Mode.GITLINK:
                    seen.add(item[0])
                    yield item
        return
    for path, oid, mode in repo.walk_tree(tree, descend=None if scope.everything else scope.may_contain):
        if scope.allows(path):
            yield path, oid, mode


def _escapes(rel: str, target: str) -> bool:
    if os.path.isabs(target):
        return True
    joined = os.path.normpath(os.path.join(os.path.dirname(rel), target))
    return joined == ".." or joined.startswith("../")


def capture(repo: GitRepo, folder: str, snap: Snapshot, scope: Scope) -> Capture:
    """What changed in ``folder`` against ``snap``: new blobs written, unsafe paths refused."""
    out = Capture()
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in list(dirnames):
            full = os.path.join(dirpath, name)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name.lower() == ".git":
                dirnames.remove(name)
                out.refused.append((rel + "/", "writes into .git"))
            elif os.path.islink(full):  # a symlink to a folder: judged as a file, never followed
                dirnames.remove(name)
                filenames.append(name)
        for name in filenames:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            full = os.path.join(dirpath, name)
            try:
                check_path(rel)
            except UnsafePath as exc:
                out.refused.append((rel, str(exc)))
                continue
            st = os.lstat(full)
            old = snap.get(rel)
            if (
                old is not None
                and (st.st_size, st.st_mtime_ns, st.st_ino) == old[2:]
                and (stat.S_ISLNK(st.st_mode) == (old[1] == Mode.SYMLINK))
            ):
                seen.add(rel)
                continue
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:  # os.walk hands undecodable bytes back as surrogates
                out.refused.append(
                    (
                        rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"),
                        "the file name is not valid UTF-8",
                    )
                )
                continue
            entry = _entry(repo, rel, full, st, out)
            if entry is None:
                continue
            if not scope.allows(rel):
                out.refused.append((rel, OUTSIDE_SCOPE))
                continue
            seen.add(rel)
            if old is None or (old[0], old[1]) != entry:
                out.changes[rel] = entry
    for rel in snap:
        if rel not in seen and not any(r[0] == rel for r in out.refused):
            out.changes[rel] = None
    return out


def read_paths(repo: GitRepo, root: str, paths: list[str]) -> Capture:
    """The files at ``paths`` in the folder ``root`` as entries (None: not there), with the same checks as a
    capture: unsafe names, symlinks out of the folder, special and oversized files are refused."""
    out = Capture()
    for rel in paths:
        try:
            check_path(rel)
        except UnsafePath as exc:
            out.refused.append((rel, str(exc)))
            continue
        full = os.path.join(root, rel)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            out.changes[rel] = None
            continue
        except NotADirectoryError:
            out.changes[rel] = None
            continue
        entry = _entry(repo, rel, full, st, out)
        if entry is not None:
            out.changes[rel] = entry
    return out


def _entry(repo: GitRepo, rel: str, full: str, st: os.stat_result, out: Capture) -> Entry | None:
    if stat.S_ISLNK(st.st_mode):
        target = os.readlink(full)
        if _escapes(rel, target):
            out.refused.append((rel, f"symlink pointing outside the Workbench ({target})"))
            return None
        return Entry(repo.create_blob(os.fsencode(target)), Mode.SYMLINK)
    if not stat.S_ISREG(st.st_mode):
        out.refused.append((rel, "not a regular file (a pipe, socket or device)"))
        return None
    if st.st_size > MAX_FILE_BYTES:
        out.refused.append((rel, f"too large ({st.st_size} bytes; the limit is {MAX_FILE_BYTES})"))
        return None
    return Entry.file(repo.create_blob_from_file(full, rel), bool(st.st_mode & 0o100))  # as `git add` stores it
