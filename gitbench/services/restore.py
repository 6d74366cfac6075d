"""Restore: go back in time to a checkpoint — Published and the job/conversation records as they were."""

from __future__ import annotations

from gitbench import errors, faults
from gitbench.model import DRAFT_PREFIX, CheckpointKind, OperationResult
from gitbench.services import checkpoints, drafts, transaction
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Move, Op
from gitbench.store.records import RESTORE_SUBJECT


def restore(wb: Workbench, name: str, keep_draft: bool = False) -> OperationResult:
    with wb.changing("restore"):
        cp = checkpoints.resolve(wb, name)
        refs = wb.draft_refs()
        ref = refs[0] if refs else None
        if len(refs) > 1:
            drafts.require_no_draft(wb, "restore" + (" (--keep-draft works with one Draft open)" if keep_draft else ""))
        if ref is not None:
            label = ref[len(DRAFT_PREFIX) :]
            info = drafts.info(wb, ref)
            if not keep_draft:
                raise errors.DraftOpen(
                    f"Restore is blocked while a Draft is open ({label}). Publish or discard it first.",
                    [errors.PUBLISH, errors.DISCARD, errors.CANCEL],
                    {"draft": label},
                )
            if info.base != cp.commit:
                raise errors.UsageError(
                    f"--keep-draft only restores Published to where the Draft {label} started "
                    f"({info.base[:12]}); {cp.name} is elsewhere.",
                    [errors.Action("Publish or discard the Draft first")],
                )
        if not wb.git.exists(cp.commit) or (cp.records and not wb.git.exists(cp.records)):
            raise errors.CheckpointNotFound(f"The objects of {cp.name} are missing from the repository.")
        published = wb.git.ref(wb.published_ref)
        if published is None:
            # Published's branch was deleted outside gitbench: bring it back; the files checked out are what
            # the index describes.
            files = wb.files_checked_out()
            changes = wb.git.diff_trees(wb.git.index_tree(), wb.git.commit(cp.commit).tree) if files else []
        else:
            changes, files = transaction.plan(wb, published, cp.commit)
        blocked = transaction.blocked_paths(wb, changes)
        if blocked:
            raise errors.LocalChanges(
                "Restoring would overwrite local changes: "
                + "; ".join(f"{p} ({why})" for p, why in blocked)
                + ". Nothing was changed.",
                [
                    errors.Action("Commit or set your edits aside first", text="git stash"),
                    errors.Action("Then restore again", "restore", (cp.name,)),
                ],
                {"paths": [p for p, _ in blocked]},
            )
        pre = checkpoints.create(wb, CheckpointKind.PRE_RESTORE, f"before restoring {cp.name}") if published else None
        faults.point("restore.after-pre-checkpoint")
        entry = Move(
            Op.RESTORE,
            wb.new_id(),
            published,
            cp.commit,
            files,
            checkpoint=cp.name,
            # --keep-draft restores Published only: the open Draft's own job record must stay. Without an open
            # Draft the flag keeps nothing, so the records go back as in any restore.
            records_tree=(
                wb.git.commit(cp.records).tree if cp.records and not (keep_draft and ref is not None) else None
            ),
            pre=pre.name if pre else None,
        )
        transaction.move_published(wb, entry, changes, "restore")
        return transaction.finish_after_commit(wb, entry, lambda: finish(wb, entry))


def finish(wb: Workbench, entry: Move, left: list[str] | None = None) -> OperationResult:
    left = left or []
    target = entry.records_tree
    if target and wb.records.tree() != target:
        wb.records.set_tree(target, f"{RESTORE_SUBJECT}{entry.checkpoint}")
    faults.point("restore.after-records")
    transaction.done(wb, entry)
    return OperationResult(
        operation="restore",
        summary=(
            f"Restored {entry.checkpoint}: Published is {entry.new[:12]} again, "
            + ("with the records of that moment." if target else "the job records are kept as they are.")
            + (f" Undo with `gitbench restore {entry.pre}`." if entry.pre else "")
        ),
        checkpoints=[entry.pre] if entry.pre else [],
        published=entry.new,
        notes=[f"Left as edited by someone else: {p}" for p in left]
        + transaction.hidden_note(wb, entry, "The restore changes")
        + wb.left_lock_notes(),
    )
