"""Git's own housekeeping for ``gitbench gc``: deleting many refs at once, measuring what only they reach,
and letting Git drop the objects nothing reaches any more.

Git's behaviour is the point here, so this drives the ``git`` CLI (through ``worktrees.run``: no hooks, a
clean environment). libgit2 cannot do it: it has no repack or prune, and it deletes a packed ref by rewriting
``packed-refs`` once per ref (thousands of checkpoints would rewrite it thousands of times); one
``git update-ref --stdin`` transaction rewrites it once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from gitbench.git.worktrees import GitFailed, run

# Also kept by Git's gc, so never counted as freed: what the reflogs and the indexes (every worktree's) reach.
_KEPT_BY_GIT = ("--not", "--reflog", "--indexed-objects")


def delete_refs(gitdir: str, refs: Iterable[tuple[str, str]]) -> None:
    """Delete refs, each only if it still has the value given (compare-and-swap), in one transaction: Git
    rewrites ``packed-refs`` once. Either every ref goes or, if one moved, none does (GitFailed)."""
    lines = "".join(f"delete {name} {old}\n" for name, old in refs)
    if lines:
        run(["update-ref", "--stdin"], git_dir=gitdir, input=lines.encode("utf-8", "surrogateescape"))


def only_reached(gitdir: str, tips: list[str], kept: list[str]) -> tuple[int, int]:
    """(objects, bytes on disk) reachable from ``tips`` and from none of ``kept``, the reflogs or the indexes:
    what Git's gc may drop once the refs of ``tips`` are deleted.

    An estimate, for two reasons Git shares: without a reachability bitmap, ``rev-list`` only marks the trees of
    the kept commits it meets at the edge of the walk, so an object that a kept commit deeper down also holds
    may be counted; and a repack may store what stays differently (deltas), freeing more or less."""
    if not tips:
        return 0, 0
    stdin = ("\n".join([*tips, *(f"^{k}" for k in kept)]) + "\n").encode()
    walk = ["--objects", "--use-bitmap-index", "--stdin", *_KEPT_BY_GIT]
    size = run(["rev-list", "--disk-usage", *walk], git_dir=gitdir, input=stdin)
    count = run(["rev-list", "--count", *walk], git_dir=gitdir, input=stdin)
    return int(count.strip() or 0), int(size.strip() or 0)


def unreached(gitdir: str, commits: list[str], kept: list[str]) -> list[str]:
    """Those of ``commits`` that none of ``kept`` reaches (the reflogs and indexes left out: they expire)."""
    if not commits:
        return []
    stdin = ("\n".join([*commits, *(f"^{k}" for k in kept)]) + "\n").encode()
    out = run(["rev-list", "--stdin"], git_dir=gitdir, input=stdin).decode()
    wanted = set(commits)
    return [oid for oid in out.split() if oid in wanted]


class GcRunning(Exception):
    """Another ``git gc`` holds the repository (its ``gc.pid`` names a living process)."""


def collect(gitdir: str, cutoff: float, wait: float = 5.0) -> None:
    """``git gc``: pack the refs, repack what is reachable, and drop unreachable objects written before
    ``cutoff`` (seconds since the epoch). Younger ones stay: a Git command running beside us (the user's own, or
    an agent's in a Draft's worktree) may have written objects it has not referenced yet.

    Git refuses while another gc runs (``gc.pid``). A gc killed with us leaves a process that is only gone once
    it is reaped, so wait a little for it; GcRunning if it still runs after ``wait`` seconds."""
    import time

    date = datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%d %H:%M:%S +0000")
    deadline = time.monotonic() + wait
    while True:
        try:
            run(["gc", "--quiet", f"--prune={date}"], git_dir=gitdir)
            return
        except GitFailed as exc:
            if "already running" not in exc.stderr:
                raise
            if time.monotonic() >= deadline:
                raise GcRunning(exc.stderr.strip()) from exc
            time.sleep(0.2)


__all__ = ["GcRunning", "GitFailed", "collect", "delete_refs", "only_reached", "unreached"]
