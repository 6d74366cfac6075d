"""The user's own sparse checkout (``git sparse-checkout set src``): which paths it leaves out of the folder.

Git keeps such paths in the index with the *skip-worktree* bit and never writes them into the folder; `git merge
--ff-only` moves them in the index only. Publish and Restore do the same: a change outside the cone goes into
Published and the index (still skip-worktree), not into the folder, and the result says so and how to see it
(``git sparse-checkout add DIR``). Never a "file edited by hand" conflict for a file that is simply not checked
out. pygit2 cannot read or set the skip-worktree bit, so the index entries of those paths go through the git CLI.
"""

from __future__ import annotations

import os

from gitbench.git import worktrees
from gitbench.git.objects import Entry
from gitbench.git.repo import GitRepo

SKIP_WORKTREE_TAG = b"S"


def enabled(repo: GitRepo) -> bool:
    return not repo.bare and (repo.config_get("core.sparseCheckout") or "false").lower() == "true"


def _patterns_file(repo: GitRepo) -> str:
    return os.path.join(repo.repo.path, "info", "sparse-checkout")  # the checked-out worktree's own


def cone(repo: GitRepo) -> list[str] | None:
    """The folders a cone-mode sparse checkout shows in full (``git sparse-checkout list``); None when it is not
    in cone mode (then only the index's skip-worktree bits say what is left out)."""
    if (repo.config_get("core.sparseCheckoutCone") or "true").lower() != "true":
        return None
    try:
        with open(_patterns_file(repo), encoding="utf-8", errors="surrogateescape") as fh:
            lines = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    except OSError:
        return None
    parents = {line[1:].rstrip("*").rstrip("/") for line in lines if line.startswith("!/") and line.endswith("/*/")}
    dirs = [line.strip("/") for line in lines if not line.startswith("!") and line.endswith("/") and line != "/*/"]
    return sorted(d for d in dirs if d and d not in parents)


def _in_cone(path: str, dirs: list[str]) -> bool:
    """Cone mode shows every top-level file and everything under a listed folder (and no other file)."""
    return "/" not in path or any(path.startswith(d + "/") for d in dirs)


def hidden(repo: GitRepo, paths: list[str]) -> set[str]:
    """The paths among ``paths`` that the sparse checkout leaves out of the folder: those the index marks
    skip-worktree, and new ones outside the cone."""
    if not paths or not enabled(repo) or repo.workdir is None:
        return set()
    out = worktrees.run(
        ["--literal-pathspecs", "ls-files", "-t", "-z", "--", *paths], git_dir=repo.repo.path, work_tree=repo.workdir
    )
    tracked: set[str] = set()
    found: set[str] = set()
    for item in out.split(b"\0"):
        if len(item) < 3:
            continue
        path = os.fsdecode(item[2:])
        tracked.add(path)
        if item[:1] == SKIP_WORKTREE_TAG:
            found.add(path)
    dirs = cone(repo)
    if dirs is not None:
        found |= {p for p in paths if p not in tracked and not _in_cone(p, dirs)}
    return found


def set_index(repo: GitRepo, entries: dict[str, Entry | None]) -> None:
    """Set the index entries of paths left out of the folder, keeping them skip-worktree (None: remove)."""
    if not entries or repo.workdir is None:
        return
    zero = "0" * max((len(e.oid) for e in entries.values() if e is not None), default=40)
    lines = b"".join(
        (f"{entry.mode:o} {entry.oid}\t{path}" if entry else f"0 {zero}\t{path}").encode("utf-8", "surrogateescape")
        + b"\0"
        for path, entry in entries.items()
    )
    worktrees.run(["update-index", "-z", "--index-info"], input=lines, git_dir=repo.repo.path, work_tree=repo.workdir)
    kept = [p.encode("utf-8", "surrogateescape") for p, e in entries.items() if e is not None]
    if kept:
        worktrees.run(
            ["update-index", "-z", "--skip-worktree", "--stdin"],
            input=worktrees.pathspec_input(kept),
            git_dir=repo.repo.path,
            work_tree=repo.workdir,
        )


def note(repo: GitRepo, paths: list[str], what: str) -> str:
    """What a user is told about changes outside the sparse checkout, and how to see them."""
    dirs = cone(repo)
    where = f" (cone: {', '.join(d + '/' for d in dirs) or 'top-level files only'})" if dirs is not None else ""
    show = sorted({p.split("/", 1)[0] for p in paths if "/" in p})
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    them = "it" if len(paths) == 1 else "them"
    return (
        f"{what} {shown}, outside this sparse checkout{where}: Published and the index have the change, your "
        f"folder does not show {them} (as with `git merge`)."
        + (f" To see {them}: git sparse-checkout add {' '.join(show)}" if show else "")
    )
