"""Review: what the Draft changes against Published — file list, diffstat and (optionally) the patch."""

from __future__ import annotations

import os

from gitbench.model import DRAFT_PREFIX, DraftInfo, JobStatus, Review
from gitbench.services import drafts
from gitbench.services.workbench import Workbench


def review(wb: Workbench, patch: bool = False, info: DraftInfo | None = None, label: str | None = None) -> Review:
    """``info``: the Draft's description when the caller already has it (status does), so it is read once;
    ``label``: which Draft, when several are open."""
    ref = info.ref if info is not None else drafts.require_draft(wb, label, ("review", ("--patch",) if patch else ()))
    info = info or drafts.info(wb, ref)
    try:
        files, text = wb.git.diff_stats(wb.git.commit(info.base).tree, wb.git.commit(info.head).tree, patch)
    except (KeyError, ValueError) as exc:  # a blob of the Draft is missing from the object database
        raise drafts.corrupt(wb, info.label, f"a file in it cannot be read ({exc})") from exc
    changes = files
    running, uncommitted = _in_progress(wb, ref, info.status)
    return Review(
        draft=ref[len(DRAFT_PREFIX) :],
        base=info.base,
        head=info.head,
        files=changes,
        insertions=sum(c.insertions for c in changes),
        deletions=sum(c.deletions for c in changes),
        patch=text,
        base_is_published=wb.git.ref(wb.published_ref) == info.base,
        running=running,
        uncommitted=uncommitted,
    )


def _in_progress(wb: Workbench, ref: str, status: str | None = None) -> tuple[str | None, list[str]]:
    """A job running in the Draft now, and the paths its command has changed in the worktree so far (not in the
    Draft until the command ends). Or, for an agent session that no agent works in now (its agent was killed in
    the middle of a turn, or it is the agent asking, through gitbench mcp), what it changed in the turn that has
    not ended: (None, those paths)."""
    job = drafts.running_job(wb, ref)
    if job is None and status != JobStatus.SESSION:
        return None, []
    if job is not None and job.get("pid") == os.getpid():  # our own job, ending: its changes are steps by now
        return None, []
    from gitbench.git import worktrees

    linked = worktrees.find(wb.git.gitdir, branch=ref)
    try:
        changed = [os.fsdecode(c.path) for c in worktrees.status(linked)] if linked and linked.present else []
    except (worktrees.GitFailed, OSError):
        changed = []
    return (str(job.get("job")) if job is not None else None), changed
