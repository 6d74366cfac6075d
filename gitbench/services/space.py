"""Where the space went, when the disk is full: gitbench's own files and the Drafts' worktrees (job folders).

A job that writes until the disk is full leaves its writes in its Draft's worktree; gitbench's logs and
temporary files are in ``.git/gitbench``. The disk-full message (the CLI adds this to every ``DiskFull``) and
``status`` on a full disk say how much each takes and what truly frees it: deleting what a job wrote and does
not need (its other files are kept, and become a step on its Draft with the next command); ``gitbench gc`` and
``gitbench discard`` once a little space is free (each writes a little before it frees anything: a journal
entry, a trash commit). Measured from the file system only, on the error path: no object is read.
"""

from __future__ import annotations

import os
from dataclasses import field

from gitbench import errors
from gitbench.lazy_dataclass import dataclass
from gitbench.services.workbench import Workbench
from gitbench.store import storage

MB = 1024 * 1024


@dataclass
class JobFolder:
    """A Draft's worktree (a job folder): what it takes on disk and its biggest file."""

    label: str  # the Draft's
    path: str
    bytes: int
    largest: str | None = None  # the biggest file in it, relative to it
    largest_bytes: int = 0


@dataclass
class SpaceUse:
    """Where gitbench's space went: its own folder in ``.git``, its logs, the job folders."""

    gitbench_dir: str
    gitbench_bytes: int  # all of .git/gitbench
    logs_bytes: int
    folders: list[JobFolder] = field(default_factory=list)  # biggest first

    def to_dict(self) -> dict[str, object]:
        return {
            "gitbench_dir": self.gitbench_dir,
            "gitbench_bytes": self.gitbench_bytes,
            "logs_bytes": self.logs_bytes,
            "job_folders": [f.__dict__ for f in self.folders],
        }


def _walk(path: str) -> tuple[int, str | None, int]:
    """(bytes on disk under ``path``, its biggest file, that file's bytes); the worktree's ``.git`` file aside."""
    total, largest, largest_bytes = 0, None, 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            used = st.st_blocks * 512
            total += used
            if used > largest_bytes:
                largest, largest_bytes = os.path.relpath(full, path), used
    return total, largest, largest_bytes


def measure(wb: Workbench) -> SpaceUse:
    from gitbench.services import worktrees

    use = SpaceUse(
        gitbench_dir=wb.layout.root,
        gitbench_bytes=storage.folder_size(wb.layout.root),
        logs_bytes=storage.folder_size(wb.layout.logs),
    )
    try:
        listed = worktrees.listing(wb)
    except (OSError, errors.GitbenchError):
        listed = []
    for w in listed:
        if not w.present:
            continue
        total, largest, largest_bytes = _walk(w.path)
        use.folders.append(JobFolder(w.label, w.path, total, largest, largest_bytes))
    use.folders.sort(key=lambda f: f.bytes, reverse=True)
    return use


def explain(use: SpaceUse) -> tuple[str, list[errors.Action]]:
    """One sentence saying where gitbench's space is, and the commands that free it."""
    import shlex  # here: `status` imports this module on every run, and explains only on a full disk

    own = f"gitbench's own files take {storage.human(use.gitbench_bytes)} in {use.gitbench_dir}"
    if use.logs_bytes:
        own += f" (logs: {storage.human(use.logs_bytes)})"
    parts = [own]
    actions: list[errors.Action] = []
    for f in use.folders[:3]:
        text = f"the worktree of Draft {f.label} (its job's folder, {f.path}) takes {storage.human(f.bytes)}"
        if f.largest and f.largest_bytes * 2 >= f.bytes and f.largest_bytes >= 64 * 1024:
            text += f", most of it {f.largest} ({storage.human(f.largest_bytes)})"
            actions.append(
                errors.Action(
                    f"Delete what the job wrote and does not need ({f.largest}); the files it finished are kept "
                    "and the next command makes them a step on its Draft",
                    text=f"rm {shlex.quote(os.path.join(f.path, f.largest))}",
                )
            )
        parts.append(text)
    if use.gitbench_bytes >= MB:
        actions.append(
            errors.Action(
                "Once a little space is free: remove gitbench's old logs, trash and leftovers "
                "(`gitbench gc --dry-run` lists them)",
                "gc",
            )
        )
    elif not any(f.bytes >= MB for f in use.folders):
        parts.append("so the space is taken by other files on this disk")
    if use.folders:
        label = use.folders[0].label if len(use.folders) == 1 else "LABEL"
        actions.append(
            errors.Action(
                "Once a little space is free: throw the Draft and its folder away (kept in the trash a while)",
                "discard",
                ("--draft", label, "--yes"),
            )
        )
    return "Where the space went: " + "; ".join(parts) + ".", actions
