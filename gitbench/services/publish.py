"""Publish: fast-forward Published to the Draft, atomically, then checkpoint and remove the Draft."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from typing import TYPE_CHECKING, Any

from gitbench import errors, faults
from gitbench.git.objects import Mode
from gitbench.git.repo import RefMoved
from gitbench.model import CHECKPOINT_PREFIX, DRAFT_PREFIX, RECORDS_REF, CheckpointKind, JobStatus, OperationResult
from gitbench.services import checkpoint_names, checkpoints, drafts, transaction, worktrees
from gitbench.services.workbench import Workbench
from gitbench.store import running
from gitbench.store.journal_entries import Move, Op

if TYPE_CHECKING:  # imported where a check runs (with store.gitguard, store.refguard): most publishes have none
    from gitbench.events import Progress
    from gitbench.services import checks

# gitbench.events (its twenty-odd event types, ~2 ms to import) is imported where a publish has something to
# report: a check, a remote. A publish without either sends no event.


def _ignore() -> Progress:
    from gitbench import events

    return events.ignore


def verify_draft(wb: Workbench, ref: str) -> tuple[str, str]:
    """(head, base) of a readable Draft; DraftCorrupt if any object it changes cannot be read."""
    info = drafts.info(wb, ref)
    try:
        for change in wb.git.diff_trees(wb.git.commit(info.base).tree, wb.git.commit(info.head).tree):
            if change.new is not None and change.new.mode != Mode.GITLINK:
                wb.git.check_blob(change.new.oid)  # a big file is checked a chunk at a time, never read whole
    except (KeyError, ValueError) as exc:
        raise drafts.corrupt(wb, info.label, f"a file in it cannot be read ({exc})") from exc
    return info.head, info.base


def publish(
    wb: Workbench,
    label: str | None = None,
    *,
    check: str | None = None,
    no_check: bool = False,
    progress: Progress | None = None,
    remote: str | None = None,
) -> OperationResult:
    """Publish the Draft (the one named, or the only one). When a check is configured (``[publish] check``) or
    given (``check``), it runs first in a clean worktree of the Draft's tip, without the Workbench lock; a
    failure refuses the publish (CheckFailed). ``no_check`` skips the configured check, and that is recorded.

    ``remote`` (a Git remote's name; ``@default`` for the usual one; None: ``[publish] remote`` if set, "": none):
    the server's Published moves first, as a compare-and-swap from ours, and only then ours; refused (RemoteMoved)
    with everything left as it was if the server's moved. The new checkpoint and records follow it there."""
    say = progress or _ignore()
    if check is not None and no_check:
        raise errors.UsageError("--check and --no-check contradict each other: give one of them.")
    if check is not None and not check.strip():
        raise errors.UsageError('--check needs a command, e.g. --check "pytest -q".')
    with wb.changing("publish"):
        ref = drafts.require_idle_draft(wb, label, "published")
        label = ref[len(DRAFT_PREFIX) :]
        head, base = verify_draft(wb, ref)
        published = wb.published()
        if published != base:  # before the check: a long check must not end in a conflict known now
            raise conflict_moved(wb, label, base, published)
        gate = _gate(wb, ref, head, check, no_check, say)
        if gate is not None and gate.status != "skipped":
            # The lock was let go of while the check ran: look at the Draft and Published again.
            ref = drafts.require_idle_draft(wb, label, "published")
            head, base = verify_draft(wb, ref)
            if head != gate.commit:
                raise _moved(wb, label, gate, head)
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
                        text="git stash -u && gitbench publish && git stash pop",
                    ),
                    errors.DISCARD,
                    errors.Action("Restore Published from a checkpoint", "checkpoints"),
                ],
                {"paths": [p for p, _ in blocked]},
            )
        # Local edits to files the Draft does not change are kept as they are, and not listed: finding them
        # would mean scanning every checked-out file (~200 ms at 100k files), which `git merge --ff-only` does
        # not do either. `gitbench status` lists them.
        server = _remote(wb, remote)
        if server is not None:
            from gitbench import events
            from gitbench.services import remote as remote_service

            say(events.PublishingToRemote(server.name, server.url))
            remote_service.publish_cas(wb, server, published, head)
        job = drafts.job_of(wb, ref)
        entry = Move(Op.PUBLISH, wb.new_id(), published, head, files, ref, head, job.id if job else None)
        if gate is not None:
            entry.check = gate.to_record()  # for the checkpoint's trailers, also when recovery finishes
        transaction.move_published(wb, entry, changes, "publish")
        res = transaction.finish_after_commit(wb, entry, lambda: finish(wb, entry, fresh=True))
        if server is not None:
            _share(wb, server, res, say)
        return res


def _remote(wb: Workbench, remote: str | None) -> Any:
    """The Git remote a publish goes to first (``[publish] remote`` when none is named), or None."""
    if remote is None:
        from gitbench.providers import sections

        remote = sections.publish(wb.git.workdir).remote
    if not remote:
        return None
    from gitbench.services import remote as remote_service

    return remote_service.resolve(wb, None if remote == "@default" else remote)


def _share(wb: Workbench, server: Any, res: OperationResult, say: Progress) -> None:
    """After a remote publish: its checkpoint and records go to the server too (Published is there already)."""
    from gitbench.services import remote as remote_service

    sync = remote_service.Sync(server)
    try:
        remote_service.push_locked(wb, server, sync, False, False, say)
    except errors.GitbenchError as exc:
        res.notes.append(
            f"Published is on {server.name}, but its checkpoint and records could not follow ({exc.message}); "
            f"`gitbench push {server.name}` sends them."
        )
        return
    res.summary += f" {server.name}'s Published is there too."
    res.data["remote"] = server.name


def _gate(
    wb: Workbench, ref: str, head: str, check: str | None, no_check: bool, say: Progress
) -> checks.CheckResult | None:
    """The check before Published moves: run (the lock let go of meanwhile), recorded, and a failure raised.
    None when there is no check to run (none configured, none given)."""
    from gitbench.providers import sections

    # No check given and none configured (without a config file, told without importing providers/config.py)
    if check is None and sections.publish(wb.git.workdir).check is None:
        return None
    from gitbench import events
    from gitbench.providers import config
    from gitbench.services import checks
    from gitbench.store import gitguard, refguard
    from gitbench.store.logs import redact

    cfg = config.load(wb.git.workdir)
    command = check.strip() if check is not None else cfg.publish.check
    if command is None:
        return None
    label = ref[len(DRAFT_PREFIX) :]
    shown = redact(command, cfg.secrets)  # what is recorded and put in the checkpoint: never a key
    if no_check:
        res = checks.skipped(wb, head, shown)
        _record(wb, ref, res)
        say(events.CheckSkipped(shown))
        return res
    say(events.CheckRunning(shown, head, label))
    # The check runs the Draft's code (its tests) in a linked worktree of this repository: like a job's command,
    # it must not change the Workbench's refs or Git settings. Guarded as for a job.
    checkpoint_names.clone_id(wb)  # written now if it must be, not while the check runs (.git/config is guarded)
    kept = os.path.join(wb.layout.running, f"check-{os.getpid()}-{threading.get_ident()}{running.KEPT}")
    guard, refs = gitguard.snapshot(wb.git.gitdir), wb.guarded_refs(kept)
    try:
        with wb.released("the publish check", any_thread=True):  # also in the TUI's thread: it can take minutes
            res = checks.run(wb, head, command, cfg.publish.check_timeout, settings=cfg.job, secrets=cfg.secrets)
        moved = wb.guarded_moved(refs, kept)
    finally:
        refguard.drop(kept)
    res.command = shown
    changed = _changed_outside(wb, moved) + [
        f"{name} (put back as it was; the check's version is kept as {kept})"
        for name, kept in gitguard.restore(guard, wb.layout.changed_by_jobs, f"check-{res.id}")
    ]
    if res.status == "cancelled":
        raise errors.Cancelled(
            f"The check was cancelled ({res.stopped}); nothing was published: Published and the Draft are as they were."
        )
    if RECORDS_REF not in changed:  # records the check rewrote cannot take its result (they may be no commit)
        _record(wb, ref, res)
    if changed:
        raise errors.PublishConflict(
            f"The check `{shown}` changed the repository outside its worktree: {', '.join(changed)}. Nothing was "
            "published.",
            [
                errors.Action("Look at what changed", text="git log --all --oneline -5"),
                errors.Action("Review the Draft (its tests ran in the check)", "review"),
                errors.DISCARD,
            ],
            {"draft": label, "check": res.to_record(), "changed": changed},
        )
    now = wb.git.ref(ref)
    if now is not None and now != head:
        raise _moved(wb, label, res, now)
    if not res.passed:
        raise check_failed(wb, label, res)
    say(events.CheckEnded(res.result))
    return res


def _changed_outside(wb: Workbench, moved: list[tuple[str, str | None, str | None]]) -> list[str]:
    """The refs a check must not move that are not as they were, less what gitbench itself may have done while
    the lock was let go of: checkpoints are only ever added, the records only grow. (Published is looked at
    again by the publish itself: a move is a publish conflict.)"""
    out = []
    for name, old, now in moved:
        if name == wb.published_ref or (name.startswith(CHECKPOINT_PREFIX) and old is None):
            continue
        if name == RECORDS_REF and old is not None and now is not None and _grew(wb, old, now):
            continue
        out.append(name)
    return out


def _grew(wb: Workbench, old: str, now: str) -> bool:
    try:
        return wb.git.is_ancestor(old, now)
    except Exception:  # noqa: BLE001 - an unreadable records head (pygit2 raises several kinds) is a change
        return False


def _moved(wb: Workbench, label: str, res: checks.CheckResult, now: str) -> errors.Busy:
    """The Draft moved while its check ran: what was checked is not what would be published."""
    return errors.Busy(
        f"The Draft {label} changed while its check ran (from {res.commit[:12]} to {now[:12]}: another process "
        "added to it), so what the check saw is not what would be published. Nothing was published.",
        [errors.Action("Review the Draft as it is now", "review"), _again(wb, label)],
        {"draft": label, "check": res.to_record()},
    )


def _which(wb: Workbench, label: str) -> tuple[str, ...]:
    """``--draft LABEL``, named only when there is a choice."""
    return ("--draft", label) if len(wb.draft_refs()) > 1 else ()


def _again(wb: Workbench, label: str, *extra: str) -> errors.Action:
    return errors.Action(
        "Publish without the check (recorded in the audit)" if extra else "Check and publish again",
        "publish",
        (*_which(wb, label), *extra),
    )


def _record(wb: Workbench, ref: str, res: checks.CheckResult) -> None:
    """The check's result on the records ref (``checks/<id>.json``), and as the last check in the record of the
    job that made the Draft: a failed check is recorded as well as a passing one."""
    job = drafts.job_of(wb, ref)  # read again: the lock was let go of while the check ran
    res.extra.update({"draft": ref, "job": job.id if job else None, "operation": "publish"})
    doc = res.to_record()
    files = {f"checks/{res.id}.json": doc}
    if job is None:
        wb.records.write(files, f"check of {ref[len(DRAFT_PREFIX) :]}: {res.result}")
        return
    job.check = {k: doc[k] for k in ("id", "command", "commit", "status", "result", "exit_code", "seconds")}
    job.check["record"] = f"checks/{res.id}.json"
    drafts.save_job(wb, job, note=f"check {res.result}", extra=files)


def check_failed(wb: Workbench, label: str, res: checks.CheckResult) -> errors.CheckFailed:
    """The gate said no: what the check did, its last lines, and the ways on."""
    which = _which(wb, label)
    where = f"in a clean worktree of the Draft {label} ({res.commit[:12]})"
    if res.status == "timed-out":
        what = (
            f"The check `{res.command}` ran longer than its time limit {where} and was stopped after "
            f"{res.timeout:g} s, with every process it started ([publish] check_timeout)."
        )
    elif res.setup is not None:
        what = (
            f"The check `{res.command}` did not run: [job] setup `{res.setup}` exited with status "
            f"{res.exit_code} {where}."
        )
    elif res.exit_code == 127:
        what = f"The check `{res.command}` exited with status 127 (command not found) {where}."
    else:
        what = f"The check `{res.command}` failed {where}: exit status {res.exit_code}."
    tail = f"Last lines of its output:\n{res.tail}" if res.tail else "It printed nothing."
    return errors.CheckFailed(
        f"{what} Nothing was published: Published and the Draft are as they were.\n\n{tail}\n\nFull output: {res.log}",
        [
            errors.Action("Review the Draft", "review", which),
            errors.Action("Fix the Draft (or the check), then publish again", "publish", which),
            _again(wb, label, "--no-check"),
        ],
        {"draft": label, "check": res.to_record()},
    )


def conflict_moved(wb: Workbench, label: str, base: str, published: str) -> errors.PublishConflict:
    from gitbench.services.checkpoints import history

    cps = history(wb)
    back = [cp for cp in cps if cp.commit == base]
    ahead = wb.git.is_ancestor(base, published)
    # Moved back by a restore (here, or a teammate's that a pull followed): its pre-restore checkpoint keeps the
    # Published the Draft was made from. (A plain `git reset` takes none: that is a change outside gitbench.)
    moved_back = (
        not ahead
        and wb.git.is_ancestor(published, base)
        and any(cp.kind == CheckpointKind.PRE_RESTORE and cp.commit == base for cp in cps)
    )
    which = _which(wb, label)
    # Whichever way Published moved, the Draft's own changes can go on top of it when they touch other files.
    actions = [
        errors.Action(
            "Rebase the Draft onto Published as it is now (refused if both changed the same files)", "rebase", which
        )
    ]
    actions.append(errors.Action("Discard the Draft", "discard", (*which, "--yes")))
    if back:
        actions.append(
            errors.Action(
                "Or undo the restore: Published back to where the Draft started (a pre-restore checkpoint keeps it)"
                if moved_back
                else "Restore Published to where the Draft started (the outside change stays in a pre-restore "
                "checkpoint)",
                "restore",
                (back[-1].name, "--keep-draft", "--yes"),
            )
        )
    if moved_back:
        actions.append(errors.Action("See what the restore took back", text=f"git log {wb.branch}..{base[:12]}"))
    else:
        actions.append(errors.Action("See what changed", text=f"git log {base[:12]}..{wb.branch}"))
    if ahead and any(cp.commit == published for cp in cps):
        what = (
            f"The Draft {label} was made from an older Published ({base[:12]}); {wb.branch} has moved on to "
            f"{published[:12]} since (another Draft was published, or files were added)."
        )
    elif moved_back:
        what = (
            f"The Draft {label} was made from {base[:12]}; Published ({wb.branch}) was moved back to "
            f"{published[:12]} since (a restore here, or a teammate's that a pull followed)."
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


def finish(wb: Workbench, entry: Move, left: list[str] | None = None, *, fresh: bool = False) -> OperationResult:
    """The follow-ups after Published moved; each is idempotent so recovery can run them again. ``fresh``: called
    by the publish that moved Published, in this process, so its checkpoint cannot have been taken yet."""
    assert entry.draft is not None and entry.draft_head is not None, "a publish names its Draft"
    left = left or []
    job = drafts.job_record(wb, entry.job) if entry.job else None
    if job is not None and job.status != JobStatus.PUBLISHED:
        job.status = JobStatus.PUBLISHED
        drafts.save_job(wb, job, note="published")
    for other in drafts.jobs_on(wb, entry.draft):  # jobs that continued the Draft went out with it
        if (
            other.continues == entry.draft
            and other.status not in (JobStatus.PUBLISHED, JobStatus.DISCARDED)
            and other.created >= (job.created if job else 0)
        ):
            other.status = JobStatus.PUBLISHED
            drafts.save_job(wb, other, note="published")
    faults.point("publish.after-record")
    check = entry.check
    cp = None if fresh else checkpoints.find_by_operation(wb, entry.id)  # recovery: the one already taken
    if cp is None:
        cp = checkpoints.create(
            wb,
            CheckpointKind.PUBLISH,
            f"published {entry.draft[len(DRAFT_PREFIX) :]}",
            job=entry.job,
            operation=entry.id,
            extra=[("Gitbench-Check", check["command"]), ("Gitbench-Check-Result", check["result"])] if check else None,
        )
    faults.point("publish.after-checkpoint")
    # The worktree first, while its branch is still there (Git compares its folder with the Draft's head).
    notes = [f"Left as edited by someone else: {p}" for p in left]
    notes += transaction.hidden_note(wb, entry, "The Draft changes")
    if check and check["status"] == "skipped":
        notes.append(
            f"The check `{check['command']}` was skipped (--no-check); that is recorded (checks/{check['id']}.json, "
            f"and the {cp.name} message)."
        )
    elif check:
        notes.append(f"The check `{check['command']}` {check['result']} in a clean worktree of the Draft.")
    notes += worktrees.remove(wb, entry.draft, entry.draft_head)
    # If the Draft moved meanwhile (it cannot under the lock, but plain git could), it holds work that was not
    # published: keep it, it is the user's.
    with contextlib.suppress(RefMoved):
        wb.git.set_ref(entry.draft, None, entry.draft_head, "gitbench publish")
    faults.point("publish.after-draft-removed")
    # where job folders were before Draft worktrees
    shutil.rmtree(wb.layout.worktree(entry.draft[len(DRAFT_PREFIX) :]), ignore_errors=True)
    transaction.done(wb, entry)
    notes += wb.left_lock_notes()
    return OperationResult(
        operation="publish",
        summary=f"Published {entry.new[:12]} to {wb.branch}.",
        checkpoints=[cp.name],
        published=entry.new,
        draft=entry.draft,
        notes=notes,
        data={"review": None, "check": check},
    )
