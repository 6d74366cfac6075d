"""Installing gitbench's Git hooks into a Workbench without clobbering the user's own.

A hook we installed carries the marker ``gitbench-hook``. A hook the user already had is renamed to
``<name>.gitbench-chained`` and our hook runs it first, passing its arguments and input along (pre-commit's
habit of keeping a legacy hook).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MARKER = "gitbench-hook"
NAMES = ("pre-commit", "reference-transaction")


def source_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "_hooks"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "hooks"  # a source checkout (editable install)


def hooks_dir(gitdir: str, workdir: str | None, hooks_path: str | None) -> str:
    if hooks_path:
        return hooks_path if os.path.isabs(hooks_path) else os.path.join(workdir or gitdir, hooks_path)
    return os.path.join(gitdir, "hooks")


def install(target: str) -> list[str]:
    """Install (or update) our hooks in ``target``; return what happened to each, for the user."""
    os.makedirs(target, exist_ok=True)
    notes = []
    src = source_dir()
    for name in NAMES:
        dest = os.path.join(target, name)
        if os.path.lexists(dest):
            with open(dest, "rb") as fh:
                ours = MARKER.encode() in fh.read(4096)
            if not ours:
                chained = dest + ".gitbench-chained"
                if not os.path.lexists(chained):
                    os.rename(dest, chained)
                    notes.append(f"Your {name} hook was kept and now runs first ({name}.gitbench-chained).")
        tmp = dest + ".gitbench-tmp"
        shutil.copyfile(src / name, tmp)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
    return notes
