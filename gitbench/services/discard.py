"""Discard: remove the Draft, keeping it recoverable in a trash ref for 14 days; and bring it back."""

from __future__ import annotations

import shutil

from gitbench import clock, errors, faults
from gitbench.git.repo import RefMoved
from gitbench.model import DRAFT_PREFIX, LEFTOVERS_PREFIX, TRASH_DAYS, TRASH_PREFIX, JobStatus, OperationResult
from gitbench.services import drafts, worktrees
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Discard


def discard(wb: Workbench, label: str | None = None) -> OperationResult:
    with wb.changing("discard"):
        ref = drafts.require_idle_draft(wb, label, "discarded")
        label = ref[len(DRAFT_PREFIX) :]
        head = wb.git.ref(ref)
        readable = head is not None and wb.git.exists(head)
        # A garbage ref file: keep the last good commit its reflog names, so even this Draft stays recoverable.
        rescued = None if readable else wb.git.reflog_last(ref)
        # `discard --undo` brings back the newest stamp: two discards in one second must still sort in order.
        stamp = max([int(clock.now())] + [s + 1 for s, _ in trash_refs(wb)])
        entry = Discard(wb.new_id(), ref, head if readable else None, f"{TRASH_PREFIX}{stamp}/{label}", rescued)
        wb.journal.write(entry)
        faults.point("discard.journal-written")
        return finish(wb, entry)


def finish(wb: Workbench, entry: Discard) -> OperationResult:
    """Trash ref first, then the job record, then the Draft ref: a crash anywhere loses nothing."""
    ref, head, trash = entry.draft, entry.draft_head, entry.trash
    label = ref[len(DRAFT_PREFIX) :]
    keep = head or entry.rescued
    if keep and wb.git.ref(trash) is None:
        wb.git.set_ref(trash, keep, None, "gitbench discard")
    faults.point("discard.after-trash")
    job = drafts.job_of(wb, ref)
    # A job already published stays so: here that is a teammate's publish of a Draft shared with this clone
    # (its record came with a pull), whose old copy here goes to the trash; it does not unpublish the job.
    if job is not None and job.status not in (JobStatus.DISCARDED, JobStatus.PUBLISHED):
        job.status = JobStatus.DISCARDED
        drafts.save_job(wb, job, note="discarded")
    for other in drafts.jobs_on(wb, ref):  # jobs that continued the Draft are discarded with it
        if (
            other.continues == ref
            and other.status not in (JobStatus.PUBLISHED, JobStatus.DISCARDED)
            and other.created >= (job.created if job else 0)
        ):
            other.status = JobStatus.DISCARDED
            drafts.save_job(wb, other, note="discarded")
    faults.point("discard.after-record")
    # The worktree first, while its branch is still there (Git compares its folder with the Draft's head).
    notes = worktrees.remove(wb, ref, keep)
    if head is None:
        wb.git.delete_ref_force(ref)
    else:
        try:
            wb.git.set_ref(ref, None, head, "gitbench discard")
        except RefMoved as exc:
            if exc.actual is not None:  # it moved: someone added work; do not throw that away
                wb.journal.clear()
                raise errors.DraftOpen(f"The Draft {label} changed while discarding; it was kept.") from exc
    faults.point("discard.after-ref")
    shutil.rmtree(wb.layout.worktree(label), ignore_errors=True)  # where job folders were before Draft worktrees
    wb.journal.clear()
    gc_trash(wb)
    days = trash_days(wb)
    shown = f"{days:g}" if days is not None else f"{TRASH_DAYS}"
    kept = f" It is kept as {trash} for {shown} days: `gitbench discard --undo` brings it back." if keep else ""
    if keep and not head:
        kept += " (Its branch was unreadable; what is kept is its last good commit, from the reflog.)"
    return OperationResult(
        "discard",
        f"Discarded the Draft {label}; Published is untouched.{kept}",
        draft=ref,
        data={"trash": trash if keep else None},
        notes=notes,
    )


def trash_refs(wb: Workbench, prefix: str = TRASH_PREFIX) -> list[tuple[int, str]]:
    out = []
    for ref in wb.git.refs(prefix):
        stamp = ref[len(prefix) :].split("/", 1)[0]
        if stamp.isdigit():
            out.append((int(stamp), ref))
    return sorted(out)


def trash_days(wb: Workbench) -> float | None:
    """How long discarded Drafts are kept (``[gc] trash_days``), or None when the config cannot be read (then
    nothing is deleted on the side: a guess could throw away what the user asked to keep longer). Read here, not
    through services/retention.py (the policy of `gitbench gc`: ~1 ms of discard's start-up to import)."""
    from gitbench.providers import sections

    try:
        return sections.gc(wb.git.workdir).trash_days
    except errors.GitbenchError:
        return None


def gc_trash(wb: Workbench) -> list[str]:
    """Delete trash refs (and worktree leftovers) older than ``[gc] trash_days`` (14 by default); their commits
    go with the next `gitbench gc` (or Git's own garbage collection). With a config that cannot be read, none."""
    days = trash_days(wb)
    if days is None:
        return []
    limit = clock.now() - days * 86400
    gone = []
    for stamp, ref in trash_refs(wb) + trash_refs(wb, LEFTOVERS_PREFIX):
        if stamp < limit:
            wb.git.delete_ref_force(ref)
            gone.append(ref)
    return gone


def undo(wb: Workbench) -> OperationResult:
    with wb.changing("discard --undo"):
        drafts.require_no_draft(wb, "bringing back a discarded Draft")
        trash = trash_refs(wb)
        if not trash:
            raise errors.NoDraft("There is no discarded Draft to bring back (they are kept for 14 days).")
        _, ref = trash[-1]
        label = ref[len(TRASH_PREFIX) :].split("/", 1)[1]
        head = wb.git.ref(ref)
        assert head is not None
        draft = DRAFT_PREFIX + label
        wb.git.set_ref(draft, head, None, "gitbench discard --undo")
        faults.point("undo.after-draft")
        wb.git.set_ref(ref, None, head, "gitbench discard --undo")
        job = drafts.job_record(wb, label)
        if job is not None and job.status == JobStatus.DISCARDED:
            job.status = JobStatus.COMPLETE if job.error is None else JobStatus.FAILED
            drafts.save_job(wb, job, note="brought back")
        note = []
        try:  # info finds the base even when a Restore since took the job record away
            moved = wb.published() != drafts.info(wb, draft).base
        except errors.DraftCorrupt:
            moved = False
        if moved:
            note.append("Published changed since this Draft was made: publishing it will report a conflict.")
        return OperationResult("undo", f"Brought back the Draft {label}.", draft=draft, notes=note)
