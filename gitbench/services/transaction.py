"""Moving Published: the one journaled transaction behind Publish, Restore, add and rm.

Order: journal → checked-out files → index → the ref (compare-and-swap; the commit point) → the operation's
follow-ups (records, checkpoint, Draft removal) → journal removed. Before the ref moves, any failure (a full
disk, Ctrl-C, a lock held by Git) rolls everything back in-process; a crash leaves the journal, and the next
gitbench command rolls back (ref not moved) or forward (ref moved). Either way Published is the old state or
the new one, and its files agree with it.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any, TypeVar

from gitbench import errors, faults
from gitbench.git.checkout import FileMover, changes_from_json, changes_to_json
from gitbench.git.repo import RefMoved, TreeChange, translate
from gitbench.services.workbench import Workbench

T = TypeVar("T")


def plan(wb: Workbench, old: str, new: str) -> tuple[list[TreeChange], bool]:
    """The file changes from Published ``old`` to ``new``, and whether they apply to checked-out files."""
    files = wb.files_checked_out()
    if not files:
        return [], False
    return wb.git.diff_trees(wb.git.commit(old).tree, wb.git.commit(new).tree), True


def mover(wb: Workbench, op_id: str, prefix: str) -> FileMover:
    import os

    return FileMover(wb.git, os.path.join(wb.layout.txn, op_id), prefix)


def blocked_paths(wb: Workbench, changes: list[TreeChange]) -> list[tuple[str, str]]:
    if not changes:
        return []
    return [(b.path, b.reason) for b in mover(wb, "check", "check").check(changes)]


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


def move_published(wb: Workbench, entry: dict[str, Any], changes: list[TreeChange], prefix: str) -> None:
    """Journal, files, index, ref. Raises a GitbenchError after rolling back if the ref did not move."""
    check_git_locks(wb, bool(entry["files"]))
    m = mover(wb, entry["id"], prefix) if entry["files"] else None
    # Paths that already hold their new content before we start are the user's (a locally edited file being
    # added, a Draft's edit also made by hand): we do not write them, so a rollback must not "restore" them.
    untouched = [c.path for c in changes if m is not None and m.matches(c.path, c.new)]
    entry = dict(entry, changes=changes_to_json(changes), ref=wb.published_ref, untouched=untouched)
    try:
        wb.journal.write(entry)
    except OSError as exc:
        raise _translate(exc, prefix) from exc
    faults.point(f"{prefix}.journal-written")
    try:
        if m is not None:
            m.apply(changes)
            faults.point(f"{prefix}.before-index")
            wb.git.update_index({c.path: c.new for c in changes})
        faults.point(f"{prefix}.before-ref")
        wb.git.set_ref(wb.published_ref, entry["new"], entry["old"], f"gitbench {entry['op']}")
    except BaseException as exc:
        if wb.git.ref(wb.published_ref) == entry["new"]:  # the ref moved, then libgit2 failed (its lock's unlink)
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
            raise errors.Cancelled(f"{entry['op'].capitalize()} was cancelled; nothing was changed.") from exc
        if isinstance(exc, errors.GitbenchError):
            raise
        if isinstance(exc, OSError | Exception):
            raise _translate(exc, prefix) from exc
        raise
    try:
        faults.point(f"{prefix}.after-ref")
    except Exception as exc:  # the commit point has passed: what fails now fails a follow-up
        raise unfinished(entry, exc) from exc


def finish_after_commit(wb: Workbench, entry: dict[str, Any], step: Callable[[], T]) -> T:
    """Run an operation's follow-ups once Published has moved. If they fail (a full disk, a lock), the move
    itself stands and the journal stays, so the next gitbench command finishes them; say exactly that."""
    try:
        return step()
    except BaseException as exc:
        if not isinstance(exc, Exception | KeyboardInterrupt):
            raise
        raise unfinished(entry, exc) from exc


def unfinished(entry: dict[str, Any], exc: BaseException) -> errors.PublishedUnfinished:
    """The error of an operation that failed after Published moved: whatever the cause (a full disk, a file error,
    a lock, Ctrl-C), the exit code says that Published moved (``published-unfinished``), and the message says what
    is left and that the next gitbench command finishes it. A full disk is named as such, with its advice."""
    what = f"{entry['op'].capitalize()} moved Published to {entry['new'][:12]} (its files agree with it), but"
    actions = [errors.Action("Finish it now", "gitbench recover")]
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)) or (
        isinstance(exc, errors.GitbenchError) and exc.code == "disk-full"
    )
    if full:
        cause, code = "no space left on the device. Free some disk space", "disk-full"
        actions = [errors.Action("Free some disk space, then", "gitbench recover")]
    elif isinstance(exc, KeyboardInterrupt):
        cause, code = "it was cancelled", "cancelled"
    elif isinstance(exc, errors.GitbenchError):
        cause, code = exc.message.rstrip("."), exc.code
    else:
        err = translate(exc, f"finishing {entry['op']}")
        cause, code = err.message.rstrip("."), err.code
    return errors.PublishedUnfinished(
        f"{what} could not finish its bookkeeping (checkpoint, records, Draft removal): {cause}. "
        "The next gitbench command finishes it.",
        actions,
        {"published": entry["new"], "operation": entry["op"], "cause": code},
    )


def _translate(exc: BaseException, prefix: str) -> errors.GitbenchError:
    what = f"running {prefix}"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        err: errors.GitbenchError = errors.disk_full(what)
    else:
        err = translate(exc, what)
    err.message += " Published was rolled back to where it was; the Draft is intact."
    return err


def roll_back(wb: Workbench, entry: dict[str, Any]) -> list[str]:
    """Undo the file and index changes of an interrupted move; return paths left as someone else edited them."""
    left: list[str] = []
    changes = changes_from_json(entry.get("changes", []))
    if entry.get("files") and wb.files_checked_out():
        m = mover(wb, entry["id"], "rollback")
        left = m.rollback(changes, keep=set(entry.get("untouched", [])))
        wb.git.update_index({c.path: c.old for c in changes if c.path not in left})
        m.discard_backups()
    wb.journal.clear()
    return left


def roll_forward(wb: Workbench, entry: dict[str, Any]) -> list[str]:
    """Finish the file and index changes of a move whose ref already moved."""
    left: list[str] = []
    changes = changes_from_json(entry.get("changes", []))
    if entry.get("files") and wb.files_checked_out():
        m = mover(wb, entry["id"], "rollforward")
        left = m.finish(changes)
        wb.git.update_index({c.path: c.new for c in changes if c.path not in left})
        m.discard_backups()
    return left


def done(wb: Workbench, entry: dict[str, Any]) -> None:
    import os
    import shutil

    # Not through FileMover: a bare Workbench has no checked-out folder to move files in.
    shutil.rmtree(os.path.join(wb.layout.txn, entry["id"]), ignore_errors=True)
    wb.journal.clear()
