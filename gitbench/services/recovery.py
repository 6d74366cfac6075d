"""Recovery: finish or roll back what an interrupted operation or job left, before anything else changes.

One direction: the Workbench runs ``recover_journal`` once each time it takes its lock (services/workbench.py:
``changing``, ``released`` when it takes the lock back, ``recover_if_idle`` for reads), and nothing else calls
it. Recovery itself never takes the lock, lets go of it or runs recovery again: it calls the follow-ups an
operation left unfinished (``publish.finish``, ``restore.finish``, ``discard.finish``, the job records), each
idempotent and run under the lock it was given, never an operation's entry point (the Workbench refuses such a
call back while recovery runs). ``gitbench recover``, the command, is an operation like the others
(services/recover.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING, Any

from gitbench.model import DRAFT_PREFIX, JobStatus
from gitbench.store import gitlocks

if TYPE_CHECKING:
    from gitbench.services.workbench import Workbench
    from gitbench.store.journal_entries import JobRun, Move

# discard, drafts, jobs, publish, restore and transaction are imported where an interrupted operation needs them:
# every state-changing command runs recover_journal first, and almost always there is nothing to finish.


def recover_journal(wb: Workbench, left_behind: dict[str, Any] | None = None) -> list[str]:
    """Called with the Workbench lock held. Returns what was done, for the user to read. ``left_behind``: the
    record of the previous holder of the lock if it did not let go cleanly (store/lock.py)."""
    gitlocks.clear_owned(wb.git.gitdir)
    notes = _left_locks(wb, left_behind) if left_behind is not None else []
    notes += _dead_jobs(wb)
    try:
        started = os.stat(wb.layout.journal).st_mtime
    except FileNotFoundError:
        return notes + _without_journal(wb)
    return notes + _journal(wb, started)


def _left_locks(wb: Workbench, record: dict[str, Any]) -> list[str]:
    """Remove the Git lock files the previous holder of the Workbench lock left: those it named (it could not
    remove them itself), or, if it was killed, every one made since it took the lock, and the temp files of its
    atomic writes. Locks of jobs still running (their Draft's branch, their worktrees) are theirs; other Git
    locks are kept while a Git process runs in this repository (it may be holding one), and said so."""
    from gitbench.store import running

    gitdir = wb.git.gitdir
    who = f"`gitbench {record.get('operation', '?')}` (pid {record.get('pid', '?')})"
    named = record.get("left")
    if isinstance(named, list):
        found = [p for p in map(str, named) if p.endswith(".lock") and os.path.dirname(p).startswith(gitdir)]
        found = [p for p in found if os.path.lexists(p)]
        kept: list[str] = []
    else:
        found = gitlocks.find_since(gitdir, float(record.get("since", 0)))
        live = running.live(wb.layout.running)
        spare = [f"/draft/{str(info.get('draft', '')).rsplit('/', 1)[-1]}.lock" for info in live.values()]
        spare += [os.path.join(gitdir, "worktrees") + os.sep] if live else []
        found = [p for p in found if not any(s in p for s in spare)]
        kept = [p for p in found if not gitlocks.owned(gitdir, p)]
        if kept and gitlocks.git_running(wb.git.workdir or "", gitdir):
            found = [p for p in found if p not in kept]
        else:
            kept = []
        pid = record.get("pid")
        if isinstance(pid, int):  # its atomic writes' temp files (store/atomic.py); a torn journal's is recovery's
            for path in wb.layout.temp_files_of(pid):
                if not path.startswith(wb.layout.journal):
                    with contextlib.suppress(OSError):
                        os.unlink(path)
    gone, failed = [], []
    for path in found:
        try:
            os.unlink(path)
            gone.append(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            failed.append(path)
            wb.git.left_locks.append((path, exc.strerror or str(exc)))  # named again for the next command

    def rel(paths: list[str]) -> str:
        return ", ".join(os.path.relpath(p, gitdir) for p in paths)

    notes = [f"Removed Git lock files that {who} left: {rel(gone)}."] if gone else []
    if failed:
        notes.append(f"Could not remove Git lock files that {who} left: {rel(failed)} (the next command tries again).")
    if kept:
        notes.append(
            f"Left Git lock files that {who} may have left, for a Git process runs in this repository now: "
            f"{rel(kept)} (`gitbench recover` removes them once it ends)."
        )
    return notes


def _without_journal(wb: Workbench) -> list[str]:
    """A move of Published's files whose journal is gone (deleted by hand, lost with a killed process's disk):
    its scratch folder (``txn/<id>``, made before the first file is touched and removed with the journal) is
    the sign. Without the journal's list of paths, compare the checked-out files with Published and with each
    state the move could have been going to or coming from (the Drafts, their bases, the newest checkpoints,
    Published's parent): the one that most files hold instead of Published's content is the other end. Bring
    those files to Published (a rollback if Published had not moved yet, the end of the move if it had), leave
    every other difference alone (someone's edit: nothing is lost; the other end's content is in its commit),
    and finish a publish whose ref moved (its checkpoint, records and Draft removal)."""
    try:
        scratch = [os.path.join(wb.layout.txn, n) for n in os.listdir(wb.layout.txn)]
    except OSError:
        return []
    if not scratch or not wb.files_checked_out():
        return []
    from gitbench.git.checkout import FileMover
    from gitbench.git.repo import TreeChange
    from gitbench.services import checkpoints, drafts

    published = wb.published()
    ends: list[tuple[str | None, str | None]] = []  # (commit, the Draft it is the head of)
    heads: dict[str, str] = {}
    for draft_ref in wb.draft_refs():
        with contextlib.suppress(Exception):  # an unreadable Draft is no candidate (status reports it)
            info = drafts.info(wb, draft_ref)
            ends += [(info.head, draft_ref), (info.base, None)]
            heads[info.head] = info.base or ""
    newest = checkpoints.history_page(wb, 3)[0]
    ends += [(cp.commit, None) for cp in newest]
    parents = wb.git.commit(published).parents
    ends += [(parents[0], None)] if parents else []
    mover = FileMover(wb.git, wb.layout.txn_scratch("journal-lost"), "rollback")
    best: tuple[int, str, str | None, list[TreeChange]] = (0, "", None, [])
    for end, draft in dict.fromkeys(ends):
        if not end or end == published:
            continue
        changes = wb.git.diff_trees(wb.git.commit(published).tree, wb.git.commit(end).tree)
        torn = sum(1 for c in changes if mover.matches(c.path, c.new) and not mover.matches(c.path, c.old))
        if torn > best[0]:
            best = (torn, end, draft, changes)
    torn, other, ref, changes = best
    notes: list[str] = []
    if torn:
        back = [TreeChange(c.path, c.new, c.old) for c in changes]  # from the other end to Published
        left = mover.finish(back)
        wb.git.update_index({c.path: c.new for c in back if c.path not in left})
        mover.discard_backups()  # what it replaced held the other end's content, which is in Git
        moved = (published in heads and heads[published] != published) or (bool(newest) and other == newest[-1].commit)
        if moved:
            notes.append(
                f"Finished an interrupted move of Published whose journal was lost: Published is at "
                f"{published[:12]}, and {torn} file(s) still as before it now agree with it."
            )
        else:
            draft = f" The Draft {ref[len(DRAFT_PREFIX) :]} is intact; publish it again." if ref else ""
            notes.append(
                f"Rolled back an interrupted move of Published whose journal was lost: Published is as it was "
                f"({published[:12]}), and {torn} file(s) already changed are back as it has them.{draft}"
            )
        notes += [f"Left as edited by someone else: {p}" for p in left]
    if published in heads and heads[published] != published:  # Published is at a Draft's head: it was published
        notes += _finish_lost_publish(wb, published, heads[published])
    kept = [d for d in scratch if not _redundant(wb, d)]
    for folder in scratch:
        if folder not in kept:
            shutil.rmtree(folder, ignore_errors=True)
    notes += [f"Kept the backups of an interrupted move (not all in Git): {d}" for d in kept]
    return notes


def _finish_lost_publish(wb: Workbench, head: str, base: str) -> list[str]:
    """The follow-ups of a publish whose ref moved and whose journal was lost: they are idempotent, so run them
    with the entry rebuilt from the Draft Published is now at."""
    from gitbench.services import drafts, publish
    from gitbench.store.journal_entries import Move, Op

    ref = next((r for r in wb.draft_refs() if wb.git.ref(r) == head), None)
    if ref is None:
        return []
    job = drafts.job_of(wb, ref)
    res = publish.finish(wb, Move(Op.PUBLISH, wb.new_id(), base, head, True, ref, head, job.id if job else None))
    return [
        f"Finished an interrupted publish whose journal was lost: Published is at {head[:12]}, "
        f"{', '.join(res.checkpoints)} taken, the Draft {ref[len(DRAFT_PREFIX) :]} closed."
    ]


def _redundant(wb: Workbench, folder: str) -> bool:
    """Does every backup in a move's scratch folder hold content Git has (so removing it loses nothing)?"""
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            try:
                if os.path.islink(path):
                    continue
                if not wb.git.exists(wb.git.hash_file(path)):
                    return False
            except OSError:
                return False
    return True


def _dead_jobs(wb: Workbench) -> list[str]:
    """Jobs whose command ran without the lock and whose process is gone (killed, crashed): each is marked
    interrupted, and whatever its command left running is stopped. Its worktree and its steps are kept."""
    from gitbench.store import running

    notes: list[str] = []
    for job_id, (info, alive) in running.markers(wb.layout.running).items():
        if alive:
            continue
        from gitbench.services import supervisor  # here: it imports subprocess, and every state change runs this

        pgid = info.get("pgid")
        stopped = 0
        if isinstance(pgid, int) and pgid > 1:
            stopped = supervisor.stop_group(pgid, info.get("leader_start"))
        stopped += supervisor.stop_job(job_id)  # those that had left the group, found by their GITBENCH_JOB
        if stopped:
            notes.append(f"Stopped {stopped} process(es) that job {job_id}'s command left running.")
        end = info.get("end")
        if isinstance(end, dict):  # it ended, but the disk was too full for its record
            notes += _ended(wb, job_id, end, info.get("worktree"), info.get("command"))
        else:
            notes += _interrupted(wb, job_id, check_marker=False)
        running.remove(wb.layout.running, job_id)
    return notes


def _journal(wb: Workbench, started: float) -> list[str]:
    from gitbench.services import discard
    from gitbench.store.journal_entries import Attempts, Discard, Gc, JobRun, Move

    entry = wb.journal.read()
    if entry is None:
        return []
    # The interrupted process may have died inside a Git write, leaving its lock file behind.
    refs = [wb.published_ref, "HEAD", *wb.draft_refs()]
    draft = getattr(entry, "draft", None)
    if draft:
        refs.append(draft)
    gitlocks.clear_since(wb.git.gitdir, refs, started)
    match entry:
        case Move():
            return _published_move(wb, entry)
        case Discard():
            discard.finish(wb, entry)
            return [f"Finished an interrupted discard: the Draft is in {entry.trash} (`gitbench discard --undo`)."]
        case JobRun():
            return _job(wb, entry)
        case Gc():  # refs go in one transaction and files one by one: nothing to finish or undo
            gitlocks.clear_any_since(wb.git.gitdir, started)  # Git's gc may have been killed holding any ref's lock
            wb.journal.clear()
            return [
                "An interrupted `gitbench gc` stopped part way: what it removed is gone, the rest is still there "
                "(`gitbench gc` removes it)."
            ]
        case Attempts():  # attempts of `gitbench try`, side by side: each one still running was interrupted
            notes = [n for job_id in entry.jobs for n in _interrupted(wb, str(job_id))]
            wb.journal.clear()
            return notes
    wb.journal.clear()
    return ["Removed an unreadable operation journal (nothing had been changed after it)."]


def _published_move(wb: Workbench, entry: Move) -> list[str]:
    from gitbench.services import publish, restore, transaction
    from gitbench.store.journal_entries import Op

    op = entry.op
    current = wb.git.ref(wb.published_ref)
    if current == entry.new:  # the ref is the commit point: it moved, so finish the operation
        left = transaction.roll_forward(wb, entry)
        if op is Op.PUBLISH:
            publish.finish(wb, entry, left)
        elif op is Op.RESTORE:
            restore.finish(wb, entry, left)
        else:
            transaction.done(wb, entry)
        notes = [f"Finished an interrupted {op}: Published is at {entry.new[:12]} and its files agree."]
    else:
        left = transaction.roll_back(wb, entry)
        what = "The Draft is intact; publish it again or discard it." if op is Op.PUBLISH else ""
        notes = [f"Rolled back an interrupted {op}: Published is as it was ({(current or '')[:12]}). {what}".strip()]
    notes += [f"Left as edited by someone else: {p}" for p in left]
    return notes


def _job(wb: Workbench, entry: JobRun) -> list[str]:
    end = entry.end
    notes = _ended(wb, entry.id, end, None, None) if isinstance(end, dict) else _interrupted(wb, entry.id)
    wb.journal.clear()
    return notes


def _ended(wb: Workbench, job_id: str, end: dict[str, Any], worktree: Any, program: Any) -> list[str]:
    """A job that stopped (a full disk) when its record could not be written: record it as it ended, its class
    kept. A command job's files it had finished are in its worktree: they become a step on its Draft now (what
    did not fit then fits now; if it still does not, the full disk stops this recovery and it waits)."""
    from gitbench.services import drafts, jobs

    job = drafts.job_record(wb, job_id)
    if job is None or job.status != JobStatus.RUNNING:
        return []
    raw = end.get("error")
    error: dict[str, Any] = raw if isinstance(raw, dict) else {}
    notes: list[str] = []
    kept = ""
    if isinstance(worktree, str) and error.get("class") == "disk-full" and os.path.isdir(worktree):
        from gitbench.services import commands

        if isinstance(program, str) and not job.agent:
            job.agent = program  # the program its command ran (the marker says it; the record was not written)
        files = commands.keep_finished(wb, job, worktree)
        if files:
            kept = f" The {len(files)} file(s) it had written are now a step on its Draft: {', '.join(files[:5])}."
    job.status = JobStatus(str(end.get("status") or JobStatus.FAILED))
    job.error = error or {"code": "internal", "class": "internal", "message": "The job stopped."}
    drafts.save_job(wb, job, report=jobs.report(job), note=job.status)
    label = job.draft[len(DRAFT_PREFIX) :]
    klass = job.error.get("class")
    notes.append(
        f"Job {job.id} had stopped ({klass}); its record is written now.{kept} "
        f"Its Draft {label} is kept (`gitbench review --draft {label}`, `gitbench resume {job.id}`)."
    )
    return notes


def _interrupted(wb: Workbench, job_id: str, check_marker: bool = True) -> list[str]:
    from gitbench.services import drafts, jobs

    if check_marker:
        from gitbench.store import running

        if job_id in running.live(wb.layout.running):
            return []  # its command still runs (without the lock): not interrupted
    job = drafts.job_record(wb, job_id)
    if job is None or job.status != JobStatus.RUNNING:
        return []
    job.status = JobStatus.INTERRUPTED
    job.error = {
        "code": "interrupted",
        "class": "internal",
        "message": "The job stopped unexpectedly (the process was killed or crashed).",
    }
    drafts.save_job(wb, job, report=jobs.report(job), note="interrupted")
    label = job.draft[len(DRAFT_PREFIX) :]
    return [
        f"Job {job.id} was interrupted; its Draft {label} and finished steps are kept (`gitbench resume "
        f"{job.id}`, `gitbench review --draft {label}`)."
    ]
