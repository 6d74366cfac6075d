"""Publish: fast-forward Published to the Draft, atomically, then checkpoint and remove the Draft."""

from __future__ import annotations

import contextlib
import shutil
from typing import Any

from gitbench import errors, faults
from gitbench.git.repo import RefMoved
from gitbench.model import DRAFT_PREFIX, OperationResult
from gitbench.services import checkpoints, drafts, transaction, worktrees
from gitbench.services.workbench import Workbench


def verify_draft(wb: Workbench, ref: str) -> tuple[str, str]:
    """(head, base) of a readable Draft; DraftCorrupt if any object it changes cannot be read."""
    info = drafts.info(wb, ref)
    try:
        for change in wb.git.diff_trees(wb.git.commit(info.base).tree, wb.git.commit(info.head).tree):
            if change.new is not None and change.new[1] != 0o160000:
                wb.git.blob(change.new[0])
    except (KeyError, ValueError) as exc:
        raise drafts.corrupt(wb, info.label, f"a file in it cannot be read ({exc})") from exc
    return info.head, info.base


def publish(wb: Workbench, label: str | None = None) -> OperationResult:
    with wb.changing("publish"):
        ref = drafts.require_idle_draft(wb, label, "published")
        label = ref[len(DRAFT_PREFIX) :]
        head, base = verify_draft(wb, ref)
        published = wb.published()
        if published != base:
            raise conflict_moved(wb, label, base, published)
        changes, files = transaction.plan(wb, published, head)
        blocked = transaction.blocked_paths(wb, changes)
        if blocked:
            raise errors.PublishConflict(
                "Published changed outside gitbench: checked-out files that the Draft changes were edited "
                "by hand: " + "; ".join(f"{p} ({why})" for p, why in blocked) + ". Nothing was changed.",
                [
                    errors.Action(
                        "Keep your edits aside, publish, then bring them back",
                        "git stash && gitbench publish && git stash pop",
                    ),
                    errors.DISCARD,
                    errors.Action("Restore Published from a checkpoint", "gitbench checkpoints"),
                ],
                {"paths": [p for p, _ in blocked]},
            )
        # Local edits to files the Draft does not change are kept as they are, and not listed: finding them
        # would mean scanning every checked-out file (~200 ms at 100k files), which `git merge --ff-only` does
        # not do either. `gitbench status` lists them.
        job = drafts.job_of(wb, ref)
        entry: dict[str, Any] = {
            "op": "publish",
            "id": wb.new_id(),
            "old": published,
            "new": head,
            "draft": ref,
            "draft_head": head,
            "job": job.id if job else None,
            "files": files,
        }
        transaction.move_published(wb, entry, changes, "publish")
        return transaction.finish_after_commit(wb, entry, lambda: finish(wb, entry))


def conflict_moved(wb: Workbench, label: str, base: str, published: str) -> errors.PublishConflict:
    from gitbench.services.checkpoints import history

    cps = history(wb)
    back = [cp for cp in cps if cp.commit == base]
    ahead = wb.git.is_ancestor(base, published)
    which = f" --draft {label}" if len(wb.draft_refs()) > 1 else ""  # named only when there is a choice
    actions = []
    if ahead:  # Published only moved on: the Draft's changes can go on top of it when they touch other files
        actions.append(
            errors.Action(
                "Rebase the Draft onto the new Published (refused if both changed the same files)",
                f"gitbench rebase{which}",
            )
        )
    actions.append(errors.Action("Discard the Draft", f"gitbench discard{which}"))
    if back:
        actions.append(
            errors.Action(
                "Restore Published to where the Draft started (the outside change stays in a pre-restore checkpoint)",
                f"gitbench restore {back[-1].name} --keep-draft --yes",
            )
        )
    actions.append(errors.Action("See what changed", f"git log {base[:12]}..{wb.branch}"))
    if ahead and any(cp.commit == published for cp in cps):
        what = (
            f"The Draft {label} was made from an older Published ({base[:12]}); {wb.branch} has moved on to "
            f"{published[:12]} since (another Draft was published, or files were added)."
        )
    else:
        what = (
            f"Published changed outside gitbench: {wb.branch} is at {published[:12]}, but the Draft {label} "
            f"was made from {base[:12]}."
        )
    return errors.PublishConflict(
        f"{what} Publishing it as it is would lose that change, so nothing was changed.",
        actions,
        {"published": published, "base": base},
    )


def finish(wb: Workbench, entry: dict[str, Any], left: list[str] | None = None) -> OperationResult:
    """The follow-ups after Published moved; each is idempotent so recovery can run them again."""
    left = left or []
    job = drafts.job_record(wb, entry["job"]) if entry.get("job") else None
    if job is not None and job.status != "published":
        job.status = "published"
        drafts.save_job(wb, job, note="published")
    for other in drafts.jobs_on(wb, entry["draft"]):  # jobs that continued the Draft went out with it
        if (
            other.continues == entry["draft"]
            and other.status not in ("published", "discarded")
            and other.created >= (job.created if job else 0)
        ):
            other.status = "published"
            drafts.save_job(wb, other, note="published")
    faults.point("publish.after-record")
    cp = checkpoints.find_by_operation(wb, entry["id"])
    if cp is None:
        cp = checkpoints.create(
            wb,
            "publish",
            f"published {entry['draft'][len(DRAFT_PREFIX) :]}",
            job=entry.get("job"),
            operation=entry["id"],
        )
    faults.point("publish.after-checkpoint")
    # The worktree first, while its branch is still there (Git compares its folder with the Draft's head).
    notes = [f"Left as edited by someone else: {p}" for p in left]
    notes += worktrees.remove(wb, entry["draft"], entry["draft_head"])
    # If the Draft moved meanwhile (it cannot under the lock, but plain git could), it holds work that was not
    # published: keep it, it is the user's.
    with contextlib.suppress(RefMoved):
        wb.git.set_ref(entry["draft"], None, entry["draft_head"], "gitbench publish")
    faults.point("publish.after-draft-removed")
    # where job folders were before Draft worktrees
    shutil.rmtree(wb.layout.worktree(entry["draft"][len(DRAFT_PREFIX) :]), ignore_errors=True)
    transaction.done(wb, entry)
    return OperationResult(
        operation="publish",
        summary=f"Published {entry['new'][:12]} to {wb.branch}.",
        checkpoints=[cp.name],
        published=entry["new"],
        draft=entry["draft"],
        notes=notes,
        data={"review": None},
    )
