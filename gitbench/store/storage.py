"""How much disk a Workbench's ``.git`` uses, measured from the file system (no object is read).

``status`` asks for a quick figure on every run, so loose objects are counted the way ``git gc --auto``
estimates them: a sample of the 256 ``objects/xx`` folders, scaled up (then the figure is an estimate, and
says so). ``gc`` asks for the exact figure, before and after it runs: every file, as ``git count-objects -v``
counts them.
"""

from __future__ import annotations

import os

from gitbench.model import Storage

# Folders of objects/ scanned in this order until the sample holds enough objects: spread over the 256, so a
# few folders already stand for all of them (object ids are uniformly distributed).
_ORDER = [f"{(i * 167) % 256:02x}" for i in range(256)]
_ENOUGH = 64  # loose objects in the sample before it stops


def folder_size(path: str) -> tuple[int, int]:
    """(bytes, files) under ``path`` (apparent sizes; symlinks are not followed, a missing folder is 0)."""
    total = count = 0
    try:
        st = os.lstat(path)
    except OSError:
        return 0, 0
    if not os.path.isdir(path) or os.path.islink(path):
        return st.st_size, 1
    for dirpath, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
                count += 1
            except OSError:
                continue
    return total, count


def _loose(objects: str, exact: bool) -> tuple[int, int, bool]:
    """(loose objects, their bytes, whether that is an estimate)."""
    count = size = scanned = 0
    for name in _ORDER:
        folder = os.path.join(objects, name)
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if len(entry.name) == 38:  # not a tmp_obj_ file of a write under way
                        count += 1
                        try:
                            size += entry.stat(follow_symlinks=False).st_size
                        except OSError:
                            continue
        except OSError:
            pass
        scanned += 1
        if not exact and count >= _ENOUGH:
            break
    if scanned == 256:
        return count, size, False
    return count * 256 // scanned, size * 256 // scanned, True


def _packs(objects: str) -> tuple[int, int]:
    """(packs, bytes of every file in objects/pack: packs, indexes, bitmaps, reverse indexes, cruft mtimes)."""
    packs = size = 0
    try:
        with os.scandir(os.path.join(objects, "pack")) as it:
            for entry in it:
                try:
                    size += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
                packs += entry.name.endswith(".pack")
    except OSError:
        pass
    return packs, size


def objects_size(gitdir: str) -> int:
    """The exact bytes of the object database (every pack and loose object)."""
    objects = os.path.join(gitdir, "objects")
    _, loose, _ = _loose(objects, exact=True)
    return _packs(objects)[1] + loose


def measure(gitdir: str, exact: bool = False) -> Storage:
    """The storage of the repository at ``gitdir`` (the common dir of a Workbench with linked worktrees):
    its objects, gitbench's own folder, and Git's other files (index, packed refs, worktrees' indexes).
    Loose refs and reflogs are left out (many tiny files: walking them would cost more than they weigh)."""
    objects = os.path.join(gitdir, "objects")
    loose_count, loose_bytes, estimated = _loose(objects, exact)
    packs, pack_bytes = _packs(objects)
    gitbench_bytes, _ = folder_size(os.path.join(gitdir, "gitbench"))
    other = 0
    for folder in (gitdir, *_worktree_admins(gitdir)):
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.is_file(follow_symlinks=False):
                        other += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    objects_bytes = pack_bytes + loose_bytes
    return Storage(
        git_bytes=objects_bytes + gitbench_bytes + other,
        objects_bytes=objects_bytes,
        packs=packs,
        loose_objects=loose_count,
        gitbench_bytes=gitbench_bytes,
        estimate=estimated,
    )


def _worktree_admins(gitdir: str) -> list[str]:
    try:
        return [e.path for e in os.scandir(os.path.join(gitdir, "worktrees")) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
