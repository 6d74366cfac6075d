"""The refs under one prefix, read from packed-refs and that prefix's loose folder only.

libgit2's reference iterator (pygit2's ``repo.references``) lists every ref of the repository: with 5,000
checkpoint tags, asking for the Drafts would cost as much as listing the tags, and listing the tags walks 5,000
loose files or parses every packed line into a Python object. Here the names under a prefix cost what they are:

- packed-refs is sorted by name (Git and libgit2 both write it so), so the lines under a prefix are one run,
  found with two substring searches in the file's bytes (a name holds no space, so `` refs/tags/checkpoint/``
  only ever starts a name); a file that is not sorted works too, only slower (each line is checked);
- the loose refs are the files below the prefix's folder, and nothing else is walked.

A loose file wins over a packed line of the same name (Git's rule). A loose file that is garbage is listed all
the same: such a ref exists and must be reported as broken, not taken as absent.
"""

from __future__ import annotations

import os
import re

PACKED = "packed-refs"


def packed_path(gitdir: str) -> str:
    return os.path.join(gitdir, PACKED)


def _region(path: str, prefix: str) -> tuple[bytes, int, int]:
    """The packed-refs file at ``path``, and where the run of lines that holds every name under ``prefix``
    starts and ends (more lines than those, if the file is not sorted)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return b"", 0, 0
    needle = b" " + os.fsencode(prefix)
    first = data.find(needle)
    if first < 0:
        return b"", 0, 0
    end = data.find(b"\n", data.rfind(needle))
    return data, data.rfind(b"\n", 0, first) + 1, end + 1 if end >= 0 else len(data)


def read_packed(path: str, prefix: str) -> dict[str, str]:
    """name -> object id of every line under ``prefix`` of the packed-refs file at ``path``."""
    data, start, end = _region(path, prefix)
    if start == end:  # no line names one: nothing to search (nor a pattern to compile, ~0.2 ms a prefix)
        return {}
    pattern = re.compile(rb"^([0-9a-f]+) (" + re.escape(os.fsencode(prefix)) + rb"[^\n\r]*)", re.M)
    return {os.fsdecode(name): oid.decode() for oid, name in pattern.findall(data, start, end)}


def packed_names(path: str, prefix: str, tail: str = r"[^\n\r]*") -> list[str]:
    """The names under ``prefix`` in the packed-refs file at ``path`` whose rest matches the regular expression
    ``tail`` (ASCII), in the file's order. One search in C over those lines: ~0.3 µs a name."""
    data, start, end = _region(path, prefix)
    if start == end:  # no line names one: nothing to search (nor a pattern to compile, ~0.2 ms a prefix)
        return []
    pattern = re.compile(rb" (" + re.escape(os.fsencode(prefix)) + rb"(?:" + tail.encode() + rb"))\r?(?:\n|\Z)")
    found = pattern.findall(data, start, end)
    return b"\n".join(found).decode("utf-8", "surrogateescape").split("\n") if found else []


def _folder(gitdir: str, prefix: str) -> tuple[str, str]:
    """The folder holding the loose refs under ``prefix``, and the part of the name it leaves to match."""
    head, _, _ = prefix.rpartition("/")
    return os.path.join(gitdir, *head.split("/")), head + "/" if head else ""


def loose_names(gitdir: str, prefix: str) -> list[str]:
    """The names of the loose ref files under ``prefix`` (lock files left out). 5,000 of them (a fetch of a
    teammate's checkpoints writes them so) cost ~2 ms, the directory read itself most of it."""
    folder, base = _folder(gitdir, prefix)
    out: list[str] = []
    stack = [(folder, base, prefix[len(base) :])]  # a folder, its names' beginning, what its entries must start with
    while stack:
        path, name, want = stack.pop()
        try:
            with os.scandir(path) as it:
                entries = [e for e in it if e.name.startswith(want) and not e.name.endswith(".lock")]
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append((e.path, name + e.name + "/", ""))
        out += [name + e.name for e in entries if not e.is_dir(follow_symlinks=False)]
    return out


def read_loose(gitdir: str, prefix: str) -> dict[str, str]:
    """name -> content (an object id, ``ref: …`` for a symbolic ref, whatever a garbage file holds) of each loose
    ref under ``prefix``."""
    out = {}
    for name in loose_names(gitdir, prefix):
        try:
            with open(os.path.join(gitdir, *name.split("/")), "rb") as fh:
                out[name] = fh.read(256).strip().decode("utf-8", "replace")
        except OSError:
            out[name] = "(unreadable)"
    return out


def names(gitdir: str, prefix: str, tail: str | None = None) -> list[str]:
    """Every ref under ``prefix`` (whose rest matches the regular expression ``tail``, if given), sorted."""
    packed = packed_names(packed_path(gitdir), prefix, tail) if tail else packed_names(packed_path(gitdir), prefix)
    loose = loose_names(gitdir, prefix)
    if tail and loose:  # one search over them all: thousands of loose tags (a fetch's) cost ~0.2 µs each
        loose = re.findall(f"^({re.escape(prefix)}(?:{tail}))$", "\n".join(loose), re.MULTILINE)
    if not loose:
        return sorted(packed)  # packed-refs is sorted already: ~free
    return sorted(set(packed).union(loose) if packed else loose)


def values(gitdir: str, prefix: str, packed: str | None = None) -> dict[str, str]:
    """name -> value of every ref under ``prefix``: the packed lines (of ``packed``, another copy of the
    packed-refs file, if given), overridden by the loose files."""
    out = read_packed(packed or packed_path(gitdir), prefix)
    out.update(read_loose(gitdir, prefix))
    return out


def identity(path: str) -> str | None:
    """Which version of a file this is (device, inode, size, modification time), or None if it is absent. Git
    and libgit2 replace packed-refs (a new file renamed over it), never rewrite it in place: a new version is a
    new inode."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
