"""Moving Published: the one journaled transaction behind Publish, Restore, add and rm.

Order: journal → checked-out files → index → the ref (compare-and-swap; the commit point) → the operation's
follow-ups (records, checkpoint, Draft removal) → journal removed. Before the ref moves, any failure (a full
disk, Ctrl-C, a lock held by Git) rolls everything back in-process; a crash leaves the journal, and the next
gitbench command rolls back (ref not moved) or forward (ref moved). Either way Published is the old state or
the new one, and its files agree with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import TypeVar

from gitbench import errors, faults
from gitbench.git import sparse
from gitbench.git.checkout import FileMover, changes_from_json, changes_to_json
from gitbench.git.objects import Entry, Mode
from gitbench.git.repo import RefMoved, TreeChange, translate
from gitbench.git.worktrees import GitFailed
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Move

T = TypeVar("T")


def plan(wb: Workbench, old: str, new: str) -> tuple[list[TreeChange], bool]:
    """The file changes from Published ``old`` to ``new``, and whether they apply to checked-out files."""
    files = wb.files_checked_out()
    if not files:
        return [], False
    return wb.git.diff_trees(wb.git.commit(old).tree, wb.git.commit(new).tree), True


def mover(wb: Workbench, op_id: str, prefix: str, hidden: Iterable[str] = ()) -> FileMover:
    return FileMover(wb.git, wb.layout.txn_scratch(op_id), prefix, hidden)


def hidden_paths(wb: Workbench, changes: list[TreeChange]) -> list[str]:
    """The changed paths the user's sparse checkout leaves out of the folder (git/sparse.py)."""
    return sorted(sparse.hidden(wb.git, [c.path for c in changes])) if changes else []


def submodule_paths(changes: list[TreeChange]) -> list[str]:
    """The submodules a move changes (a gitlink added, removed or pointed at another commit): their folders are
    the submodules' own repositories, which gitbench never writes (as `git merge` without --recurse-submodules)."""
    return sorted({c.path for c in changes for e in (c.old, c.new) if e is not None and e.mode == Mode.GITLINK})


def _gitlink(entry: Entry | None) -> str | None:
    return entry.oid if entry is not None and entry.mode == Mode.GITLINK else None


def submodule_moves(changes: list[TreeChange]) -> list[list[str | None]]:
    """[path, old commit, new commit] of each submodule a move changes (None: not there)."""
    subs = set(submodule_paths(changes))
    moves: dict[str, list[str | None]] = {}
    for c in changes:
        if c.path in subs:
            move = moves.setdefault(c.path, [c.path, None, None])
            move[1] = move[1] or _gitlink(c.old)
            move[2] = move[2] or _gitlink(c.new)
    return [moves[p] for p in sorted(moves)]


def hidden_note(wb: Workbench, entry: Move, what: str) -> list[str]:
    """What the result says about changes outside the sparse checkout and to submodules (none: nothing)."""
    paths = entry.hidden or []
    notes = [sparse.note(wb.git, paths, what)] if paths else []
    for path, old, new in entry.submodule_moves or []:
        old, new = old and old[:12], new and new[:12]
        if old and new:
            how = f"points the submodule {path} at commit {new} (it was {old})"
            then = f"To check that commit out in it: git submodule update {path}"
        elif new:
            how = f"adds the submodule {path} (commit {new})"
            then = f"To check it out: git submodule update --init {path}"
        else:
            how = f"removes the submodule {path}"
            then = f"Its folder is left as it was: delete it yourself when you no longer need it ({path}/)"
        notes.append(
            f"{what.replace(' changes', '')} {how}. gitbench does not manage what is inside a submodule, so its "
            f"folder was not touched (as with `git merge` without --recurse-submodules). {then}"
        )
    return notes


def update_index(wb: Workbench, changes: dict[str, Entry | None], hidden: Iterable[str]) -> None:
    """The index after the files moved: paths outside the sparse checkout keep their skip-worktree bit."""
    hide = set(hidden)
    wb.git.update_index({p: e for p, e in changes.items() if p not in hide})
    if hide:
        try:
            sparse.set_index(wb.git, {p: e for p, e in changes.items() if p in hide})
        except GitFailed as exc:
            raise errors.GitLocked(
                f"Git could not update the index for the paths outside the sparse checkout: {exc}",
                [errors.Action("Wait a moment and run the command again"), errors.RECOVER],
            ) from exc


def blocked_paths(wb: Workbench, changes: list[TreeChange]) -> list[tuple[str, str]]:
    if not changes:
        return []
    hidden = [*hidden_paths(wb, changes), *submodule_paths(changes)]
    return [(b.path, b.reason) for b in mover(wb, "check", "check", hidden).check(changes)]


def check_git_locks(wb: Workbench, files: bool) -> None:
    """Refuse before anything is written while Git's own lock files are in the way (a running or crashed Git).

    libgit2 never waits on them (DESIGN.md §7); meeting one half-way would mean rolling back files, and the
    rollback needs the same lock.
    """
    import os

    from gitbench.store import gitlocks

    found = [
        (p, age)
        for p, age in gitlocks.find(wb.git.gitdir, [wb.published_ref, "HEAD"])
        if files or os.path.basename(p) != "index.lock"
    ]
    if not found:
        return
    names = ", ".join(f"{os.path.relpath(p, wb.git.gitdir)} ({int(age)} s old)" for p, age in found)
    raise errors.GitLocked(
        f"Git is locked: {names} exists in {wb.git.gitdir}. Another Git process may be running (an editor, "
        "`git status`), or a crashed one left it behind. Nothing was changed.",
        [
            errors.Action("Wait for the other Git process to finish, then run the command again"),
            errors.Action(
                "If no Git process is running, clear stale locks (older than 10 s; --force for younger)",
                "gitbench recover",
            ),
        ],
        {"locks": [p for p, _ in found]},
    )


def move_published(wb: Workbench, entry: Move, changes: list[TreeChange], prefix: str) -> None:
    """Journal, files, index, ref. Raises a GitbenchError after rolling back if the ref did not move."""
    check_git_locks(wb, entry.files)
    hidden = hidden_paths(wb, changes) if entry.files else []
    subs = submodule_paths(changes)
    m = mover(wb, entry.id, prefix, [*hidden, *subs]) if entry.files else None
    # Paths that already hold their new content before we start are the user's (a locally edited file being
    # added, a Draft's edit also made by hand): we do not write them, so a rollback must not "restore" them.
    untouched = [c.path for c in changes if m is not None and c.path not in m.hidden and m.matches(c.path, c.new)]
    # Its result names them.
    entry.hidden, entry.submodules, entry.submodule_moves = hidden, subs, submodule_moves(changes)
    entry = dataclasses.replace(entry, changes=changes_to_json(changes), ref=wb.published_ref, untouched=untouched)
    try:
        wb.journal.write(entry)
    except OSError as exc:
        raise _translate(exc, prefix) from exc
    faults.point(f"{prefix}.journal-written")
    try:
        if m is not None:
            m.apply(changes)
            faults.point(f"{prefix}.before-index")
            update_index(wb, {c.path: c.new for c in changes}, hidden)
        faults.point(f"{prefix}.before-ref")
        wb.git.set_ref(wb.published_ref, entry.new, entry.old, f"gitbench {entry.op}")
    except BaseException as exc:
        if wb.git.ref(wb.published_ref) == entry.new:  # the ref moved, then libgit2 failed (its lock's unlink)
            if isinstance(exc, Exception | KeyboardInterrupt):
                raise unfinished(entry, exc) from exc
            raise
        try:
            roll_back(wb, entry)
        except BaseException:  # noqa: BLE001 - leave the journal: the next command finishes the rollback
            pass
        if isinstance(exc, RefMoved):
            raise errors.PublishConflict(
                f"Published ({wb.branch}) was moved by another program while gitbench was updating it; "
                "nothing was changed.",
                [errors.Action("Look at what moved it", f"git log {wb.branch}"), errors.DISCARD, errors.CHECKPOINTS],
            ) from exc
        if isinstance(exc, KeyboardInterrupt):
            raise errors.Cancelled(f"{entry.op.capitalize()} was cancelled; nothing was changed.") from exc
        if isinstance(exc, errors.GitbenchError):
            raise
        if isinstance(exc, OSError | Exception):
            raise _translate(exc, prefix) from exc
        raise
    try:
        faults.point(f"{prefix}.after-ref")
    except Exception as exc:  # the commit point has passed: what fails now fails a follow-up
        raise unfinished(entry, exc) from exc


def finish_after_commit(wb: Workbench, entry: Move, step: Callable[[], T]) -> T:
    """Run an operation's follow-ups once Published has moved. If they fail (a full disk, a lock), the move
    itself stands and the journal stays, so the next gitbench command finishes them; say exactly that."""
    try:
        return step()
    except BaseException as exc:
        if not isinstance(exc, Exception | KeyboardInterrupt):
            raise
        raise unfinished(entry, exc) from exc


def unfinished(entry: Move, exc: BaseException) -> errors.PublishedUnfinished:
    """The error of an operation that failed after Published moved: whatever the cause (a full disk, a file error,
    a lock, Ctrl-C), the exit code says that Published moved (``published-unfinished``), and the message says what
    is left and that the next gitbench command finishes it. A full disk is named as such, with its advice."""
    what = f"{entry.op.capitalize()} moved Published to {entry.new[:12]} (its files agree with it), but"
    actions = [errors.Action("Finish it now", "gitbench recover")]
    if errors.is_disk_full(exc):
        cause, code = "no space left on the device. Free some disk space", "disk-full"
        actions = [errors.Action("Free some disk space, then", "gitbench recover")]
    elif isinstance(exc, KeyboardInterrupt):
        cause, code = "it was cancelled", "cancelled"
    elif isinstance(exc, errors.GitbenchError):
        cause, code = exc.message.rstrip("."), exc.code
    else:
        err = translate(exc, f"finishing {entry.op}")
        cause, code = err.message.rstrip("."), err.code
    return errors.PublishedUnfinished(
        f"{what} could not finish its bookkeeping (checkpoint, records, Draft removal): {cause}. "
        "The next gitbench command finishes it.",
        actions,
        {"published": entry.new, "operation": str(entry.op), "cause": code},
    )


def _translate(exc: BaseException, prefix: str) -> errors.GitbenchError:
    err = translate(exc, f"running {prefix}")  # a full disk is DiskFull, a file error FileIOError
    err.message += " Published was rolled back to where it was; the Draft is intact."
    return err


def roll_back(wb: Workbench, entry: Move) -> list[str]:
    """Undo the file and index changes of an interrupted move; return paths left as someone else edited them."""
    left: list[str] = []
    changes = changes_from_json(entry.changes or [])
    if entry.files and wb.files_checked_out():
        hidden = entry.hidden or []
        m = mover(wb, entry.id, "rollback", [*hidden, *(entry.submodules or [])])
        left = m.rollback(changes, keep=set(entry.untouched or []))
        update_index(wb, {c.path: c.old for c in changes if c.path not in left}, hidden)
        m.discard_backups()
    wb.journal.clear()
    return left


def roll_forward(wb: Workbench, entry: Move) -> list[str]:
    """Finish the file and index changes of a move whose ref already moved."""
    left: list[str] = []
    changes = changes_from_json(entry.changes or [])
    if entry.files and wb.files_checked_out():
        hidden = entry.hidden or []
        m = mover(wb, entry.id, "rollforward", [*hidden, *(entry.submodules or [])])
        left = m.finish(changes)
        update_index(wb, {c.path: c.new for c in changes if c.path not in left}, hidden)
        m.discard_backups()
    return left


def done(wb: Workbench, entry: Move) -> None:
    import shutil

    # Not through FileMover: a bare Workbench has no checked-out folder to move files in.
    shutil.rmtree(wb.layout.txn_scratch(entry.id), ignore_errors=True)
    wb.journal.clear()
