"""How much disk a Workbench's ``.git`` takes, measured from the file system (no object is read).

Sizes are what the files occupy on disk (their blocks, as ``du`` and ``git count-objects`` count them): a
40-byte ref file takes a whole block, and thousands of loose checkpoint refs weigh megabytes until Git packs
them.

``status`` asks for a quick figure on every run, so loose objects are counted the way ``git gc --auto``
estimates them, from a sample of the 256 ``objects/xx`` folders scaled up, and loose refs are counted by name
(one block each) without a ``stat`` per file; the figure then says it is an estimate. ``gc`` asks for the exact
figure, before and after it runs: every file is measured.
"""

from __future__ import annotations

import os

from gitbench.model import Storage
from gitbench.store.layout import Layout

# Folders of objects/ scanned in this order until the sample holds enough objects: spread over the 256, so a
# few folders already stand for all of them (object ids are uniformly distributed).
_ORDER = [f"{(i * 167) % 256:02x}" for i in range(256)]
_ENOUGH = 256  # loose objects in the sample before it stops...
_WHOLE = 4096  # ...when the store seems to hold at least this many; a smaller one is read whole


FULL = 1024 * 1024  # less free than this on the disk of .git: status says where the space went (services/space.py)


def nearly_full(gitdir: str) -> bool:
    """Is the disk of ``gitdir`` (nearly) full? (A disk that cannot be asked is not.)"""
    try:
        st = os.statvfs(gitdir)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < FULL


def _disk(st: os.stat_result) -> int:
    return st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size


def folder_size(path: str, count_only: bool = False, block: int = 4096) -> int:
    """Bytes on disk under ``path``, folders included (symlinks not followed; missing: 0). ``count_only``: count
    the files and take a block each, without a ``stat`` per file (for folders of many tiny files)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if not os.path.isdir(path) or os.path.islink(path):
        return _disk(st)
    total = 0
    for dirpath, dirs, names in os.walk(path):
        if count_only:
            total += (len(names) + 1) * block
            continue
        for name in [*names, *dirs]:
            try:
                total += _disk(os.lstat(os.path.join(dirpath, name)))
            except OSError:
                continue
    return total + (0 if count_only else _disk(st))


def _loose(objects: str, exact: bool) -> tuple[int, int, bool]:
    """(loose objects, their bytes with their folders', whether that is an estimate). Not ``exact``: the folders
    are read in a spread order until the sample holds enough objects to stand for a large store; a small one is
    read whole (a sample of a few objects would be scaled by one big blob)."""
    count = size = scanned = 0
    for name in _ORDER:
        folder = os.path.join(objects, name)
        scanned += 1
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if len(entry.name) == 38:  # not a tmp_obj_ file of a write under way
                        count += 1
                        try:
                            size += _disk(entry.stat(follow_symlinks=False))
                        except OSError:
                            continue
            size += _disk(os.lstat(folder))
        except OSError:
            continue
        if not exact and count >= _ENOUGH and count * 256 // scanned >= _WHOLE:
            return count * 256 // scanned, size * 256 // scanned, True
    return count, size, False


def _packs(objects: str) -> tuple[int, int]:
    """(packs, bytes of every file in objects/pack: packs, indexes, bitmaps, reverse indexes, cruft mtimes)."""
    packs = size = 0
    try:
        with os.scandir(os.path.join(objects, "pack")) as it:
            for entry in it:
                try:
                    size += _disk(entry.stat(follow_symlinks=False))
                except OSError:
                    continue
                packs += entry.name.endswith(".pack")
    except OSError:
        pass
    return packs, size


def measure(gitdir: str, exact: bool = False) -> Storage:
    """The storage of the repository at ``gitdir`` (the common dir of a Workbench with linked worktrees): its
    objects, gitbench's own folder, and Git's other files (refs, reflogs, the index, worktrees' indexes)."""
    objects = os.path.join(gitdir, "objects")
    loose_count, loose_bytes, estimated = _loose(objects, exact)
    packs, pack_bytes = _packs(objects)
    pack_bytes += folder_size(os.path.join(objects, "info"))  # the commit-graph, alternates
    gitbench_bytes = folder_size(Layout(gitdir).root)
    other = 0
    try:
        entries = list(os.scandir(gitdir))
    except OSError:
        entries = []
    for entry in entries:
        if entry.name in ("objects", "gitbench"):
            continue
        if entry.name == "refs" and not exact:
            other += folder_size(entry.path, count_only=True)
            estimated = True
        else:
            other += folder_size(entry.path)
    objects_bytes = pack_bytes + loose_bytes
    return Storage(
        git_bytes=objects_bytes + gitbench_bytes + other,
        objects_bytes=objects_bytes,
        packs=packs,
        loose_objects=loose_count,
        gitbench_bytes=gitbench_bytes,
        estimate=estimated,
    )


def human(n: int) -> str:
    """Bytes for people: 980 B, 12.3 kB, 4.5 MB, 1.2 GB (powers of 1000)."""
    if abs(n) < 1000:
        return f"{n} B"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if abs(value) < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"
