"""The Workbench's own Git settings, guarded while a job's command runs.

A linked worktree shares the repository's ``.git``: a command in it can run ``git config`` (or write the file at
the absolute path its ``.git`` file names) and change the Workbench's settings, hooks or excludes, which are code
the user's next ``git`` command runs. Nothing in a Draft may change them: they are read before the command, and
any that changed is put back afterwards, the command's version kept beside gitbench's state for the user to see.
"""

# No `from __future__ import annotations` (see model.py): a dataclass field annotated with a string costs
# a pattern match at import and again when its __init__ is made.
import os
import shutil
from dataclasses import field

from gitbench.lazy_dataclass import dataclass

GUARDED_FILES = ("config", "HEAD", "info/exclude", "info/attributes", "info/sparse-checkout")
GUARDED_FOLDERS = ("hooks",)


@dataclass
class Guard:
    """The guarded files of ``.git`` (content and mode) as they were when the guard was taken."""

    gitdir: str
    files: dict[str, bytes | None] = field(default_factory=dict)  # relative path -> content (None: absent)
    modes: dict[str, int] = field(default_factory=dict)


def _names(gitdir: str) -> list[str]:
    names = list(GUARDED_FILES)
    for folder in GUARDED_FOLDERS:
        try:
            names += [f"{folder}/{n}" for n in sorted(os.listdir(os.path.join(gitdir, folder)))]
        except OSError:
            pass
    return names


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def snapshot(gitdir: str) -> Guard:
    guard = Guard(gitdir)
    for name in _names(gitdir):
        full = os.path.join(gitdir, name)
        if os.path.islink(full):
            continue
        guard.files[name] = _read(full)
        try:
            guard.modes[name] = os.stat(full).st_mode & 0o7777
        except OSError:
            pass
    return guard


def restore(guard: Guard, kept_in: str, job_id: str) -> list[tuple[str, str]]:
    """Put back every guarded file the command changed, added or removed; (.git/NAME, where the command's
    version is kept) for each. ``kept_in``: ``Layout.changed_by_jobs``; each job's versions go in a folder of it."""
    out = []
    names = sorted(set(_names(guard.gitdir)) | set(guard.files))
    for name in names:
        full = os.path.join(guard.gitdir, name)
        before = guard.files.get(name)
        now = None if os.path.islink(full) else _read(full)
        if os.path.islink(full):
            now = b"(a symlink)"
        mode_changed = (
            before is not None
            and now is not None
            and name in guard.modes
            and (os.stat(full).st_mode & 0o7777) != guard.modes[name]
        )
        if now == before and not mode_changed:
            continue
        kept_dir = os.path.join(kept_in, job_id)
        kept = os.path.join(kept_dir, name.replace("/", "_"))
        os.makedirs(kept_dir, exist_ok=True)
        if os.path.lexists(full):
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                shutil.copyfile(full, kept, follow_symlinks=False) if not os.path.islink(full) else None
                os.unlink(full)
        if before is not None:
            tmp = full + ".gitbench-tmp"
            with open(tmp, "wb") as fh:
                fh.write(before)
            os.chmod(tmp, guard.modes.get(name, 0o644))
            os.replace(tmp, full)
        out.append((f".git/{name}", kept if os.path.exists(kept) else "(nothing: it was removed)"))
    return out
