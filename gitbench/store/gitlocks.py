"""Git's own lock files (``index.lock``, ``<ref>.lock``) that a crashed Git or libgit2 process left behind."""

from __future__ import annotations

import os
import time


def find(gitdir: str, refs: list[str]) -> list[tuple[str, float]]:
    """Lock files for the index and the given refs, with their age in seconds."""
    candidates = [os.path.join(gitdir, "index.lock"), os.path.join(gitdir, "packed-refs.lock")]
    candidates += [os.path.join(gitdir, *ref.split("/")) + ".lock" for ref in refs]
    for top in ("refs/heads/gitbench", "refs/tags/checkpoint", "refs/gitbench"):
        folder = os.path.join(gitdir, *top.split("/"))
        for dirpath, _, names in os.walk(folder):
            candidates += [os.path.join(dirpath, n) for n in names if n.endswith(".lock")]
    now = time.time()
    out = []
    for path in dict.fromkeys(candidates):
        try:
            out.append((path, now - os.lstat(path).st_mtime))
        except FileNotFoundError:
            continue
    return out


def remove(paths: list[str]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


OWNED = ("refs/tags/checkpoint", "refs/gitbench", "refs/heads/gitbench")


def clear_owned(gitdir: str) -> list[str]:
    """Remove lock files on refs only gitbench writes. Called with the Workbench lock held, so no gitbench
    process can be writing them: any lock there is left by a gitbench process that was killed."""
    gone = []
    for top in OWNED:
        folder = os.path.join(gitdir, *top.split("/"))
        for dirpath, _, names in os.walk(folder):
            for n in names:
                if n.endswith(".lock"):
                    path = os.path.join(dirpath, n)
                    remove([path])
                    gone.append(path)
    return gone


def clear_since(gitdir: str, refs: list[str], since: float) -> list[str]:
    """Remove the index, packed-refs and given ref locks created after ``since`` (an interrupted operation's
    start): the killed gitbench process left them. Older ones may be someone else's and are left alone."""
    gone = []
    for path, age in find(gitdir, refs):
        if time.time() - age >= since - 1:
            remove([path])
            gone.append(path)
    return gone


def find_since(gitdir: str, since: float) -> list[str]:
    """Every Git lock file created after ``since`` in the repository's own folders: its top level (``HEAD.lock``,
    ``config.lock``, ``index.lock``, ``packed-refs.lock``), refs, reflogs, worktrees' administrative folders, and
    the objects' index files (``objects/info/commit-graph.lock``, a pack's)."""
    try:
        candidates = [os.path.join(gitdir, n) for n in os.listdir(gitdir)]
    except OSError:
        candidates = []
    for sub in ("refs", "logs", "worktrees", os.path.join("objects", "info"), os.path.join("objects", "pack")):
        for dirpath, _, names in os.walk(os.path.join(gitdir, sub)):
            candidates += [os.path.join(dirpath, n) for n in names]
    out = []
    for path in candidates:
        try:
            if path.endswith(".lock") and os.path.isfile(path) and os.lstat(path).st_mtime >= since - 1:
                out.append(path)
        except OSError:
            continue
    return out


def clear_any_since(gitdir: str, since: float) -> list[str]:
    """Remove every Git lock file created after ``since`` (``find_since``): a killed ``git gc`` leaves locks on
    any ref and reflog it was packing or expiring (``packed-refs.lock``, ``logs/HEAD.lock``...) and on the commit
    graph or multi-pack index it was writing (``objects/info/commit-graph.lock``)."""
    gone = find_since(gitdir, since)
    remove(gone)
    return gone


def owned(gitdir: str, path: str) -> bool:
    """Is this lock on a ref only gitbench writes (a checkpoint tag, the records)? (A Draft's branch is not: a
    job's agent commits to it.)"""
    rel = os.path.relpath(path, gitdir).replace(os.sep, "/")
    return rel.startswith(("refs/tags/checkpoint/", "refs/gitbench/", "logs/refs/tags/checkpoint/"))


def git_running(*folders: str) -> bool:
    """Is a Git process (``git``, ``git-*``) running in one of these folders (its current folder inside one)?
    Such a process may hold a lock file for long (``git commit`` holds index.lock while its editor is open).
    Linux's /proc; elsewhere, or where it cannot be read, no process is seen."""
    roots = [os.path.realpath(f) for f in folders if f]
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return False
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as fh:
                comm = fh.read().strip()
            if comm != "git" and not comm.startswith("git-"):
                continue
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            continue
        if any(cwd == r or cwd.startswith(r + os.sep) for r in roots):
            return True
    return False
