"""Jobs: auto-checkpoint, create the Draft, run the work, commit each finished step with its audit trailers.

Every kind of job (a command: ``services/commands.py``; a model prompt: ``ask.py``; a workflow) starts with
``start_job`` and ends with ``complete`` or ``fail``; ``commit_step`` commits a step built in memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gitbench import clock, errors, faults, trailers
from gitbench.git.objects import Entry
from gitbench.model import DRAFT_PREFIX, CheckpointKind, JobRecord, JobStatus, OperationResult
from gitbench.model import STOPPED as STOPPED  # re-exported: the TUI reads it here
from gitbench.scope import Scope
from gitbench.services import checkpoints, drafts, review
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import JobRun

# The command that starts a job of each kind (an agent session's is `gitbench agent run`).
_JOB_COMMANDS: dict[str, errors.Verb] = {
    "ask": "ask",
    "exec": "exec",
    "try": "try",
    "agent": "agent run",
    "workflow": "workflow run",
}


def handle_open_draft(wb: Workbench, on_draft: str | None, kind: str = "exec") -> list[str]:
    """Before a new job, when a Draft is open: publish or discard it as asked, or refuse with the choices.

    Workshop jobs (``ask``) have two more (v1.5): ``continue`` (the new job's steps go on the open Draft) and
    ``fork`` (a new Draft beside it); other jobs keep v1's one Draft at a time. ``kind`` is the job's command,
    so the choices offered are commands that run it."""
    refs = wb.draft_refs()
    if (
        not refs
        or (kind == "ask" and on_draft in ("continue", "fork"))
        or (kind in ("agent", "exec") and on_draft == "beside")
    ):
        return []  # agent sessions (integrations/) always get a Draft beside the others
    label = refs[0][len(DRAFT_PREFIX) :]
    rest: tuple[str, ...] = ("--", "...") if kind == "exec" else () if kind == "workflow" else ("...",)
    verb = _JOB_COMMANDS.get(kind, "exec")
    if len(refs) > 1 and on_draft in ("publish", "discard"):
        raise errors.DraftAmbiguous(
            f"{len(refs)} Drafts are open ({', '.join(r[len(DRAFT_PREFIX) :] for r in refs)}): publish or discard "
            "the one you mean first, then run the job.",
            [
                errors.Action("See them", "drafts"),
                errors.Action("Publish one", "publish", ("--draft", "LABEL")),
                errors.Action("Discard one", "discard", ("--draft", "LABEL", "--yes")),
            ],
        )
    if on_draft in ("publish", "discard"):
        from gitbench.services import discard, publish

        try:
            return [(publish.publish(wb) if on_draft == "publish" else discard.discard(wb)).summary]
        except errors.NoDraft:
            # It waited for a job running in the Draft (letting go of the lock), and meanwhile another command
            # published or discarded it: the Draft is out of the way, as asked; the job goes on.
            if wb.draft_refs():
                raise
            return [f"The open Draft {label} was published or discarded by another command meanwhile."]
    if kind == "ask":
        raise errors.DraftOpen(
            f"A Draft is open ({label}); a new Workshop job can continue it, fork a new Draft beside it, or wait "
            "until it is discarded.",
            [
                errors.Action(
                    "Continue: the job's steps go on the open Draft", "ask", ("--on-draft", "continue", "...")
                ),
                errors.Action("Fork: a new Draft beside it", "ask", ("--on-draft", "fork", "...")),
                errors.Action("Discard it (recoverable), then run the job", "ask", ("--on-draft", "discard", "...")),
                errors.CANCEL,
            ],
            {"draft": label},
        )
    raise errors.DraftOpen(
        f"A Draft is open ({label}); a new job needs it published or discarded first.",
        [
            errors.Action("Publish it, then run the job", verb, ("--on-draft", "publish", *rest)),
            errors.Action("Discard it (recoverable), then run the job", verb, ("--on-draft", "discard", *rest)),
            errors.CANCEL,
        ],
        {"draft": label},
    )


def start_job(
    wb: Workbench,
    kind: str,
    scope: Scope,
    command: list[str],
    message: str,
    on_draft: str | None,
    *,
    label: str | None = None,
    base: str | None = None,
    checkpoint: str | None = None,
    journal: bool = True,
    draft: str | None = None,
) -> tuple[JobRecord, list[str]]:
    """Everything before the first step: the open-Draft choice, the auto-checkpoint, the Draft, the record.

    ``on_draft="continue"`` (Workshop jobs): no new Draft; the job's steps go on the open one (``draft``
    names it when several are open). ``label``,
    ``base`` and ``checkpoint`` (`gitbench try`): a Draft with that label, made from ``base``, the commit the
    ``checkpoint`` already taken names (no new one). ``journal``: False when the caller journals several jobs
    as one operation."""
    notes = handle_open_draft(wb, on_draft, kind)
    job_id = wb.new_id()
    continues = None
    if kind == "ask" and on_draft == "continue" and wb.draft_refs():
        # ``draft``: which one, when several are open; a job running in it is waited for as for the lock
        ref = drafts.require_idle_draft(wb, draft, "continued")
        continues = ref
    else:
        ref = DRAFT_PREFIX + (label or job_id)
    if journal:
        wb.journal.write(JobRun(job_id, ref, os.getpid()))
    if checkpoint is not None:
        cp_name = checkpoint
    else:
        try:
            cp_name = checkpoints.create(wb, CheckpointKind.AUTO, f"before job {job_id}", job=job_id).name
        except (errors.CheckpointFailed, errors.DiskFull) as exc:
            if journal:
                wb.journal.clear()
            exc.message = f"{exc.message} The job did not run; nothing was changed."
            raise
    faults.point("job.after-checkpoint")
    if continues is not None:
        start = str(wb.git.ref(continues))
    else:
        start = base or wb.published()
        wb.git.set_ref(ref, start, None, f"gitbench job {job_id}")
    faults.point("job.after-draft")
    now = clock.now()
    job = JobRecord(
        id=job_id,
        kind=kind,
        status=JobStatus.RUNNING,
        created=now,
        updated=now,
        draft=ref,
        base=start,
        checkpoint=cp_name,
        scope=list(scope.patterns),
        command=command,
        message=message,
        checkpoints_created=[] if checkpoint is not None else [cp_name],
        pid=os.getpid(),
        label=label,
        continues=continues,
    )
    drafts.save_job(wb, job, note="started")
    from gitbench.store.logs import Log

    Log(wb.layout.logs).event("job.start", job=job_id, kind=kind, checkpoint=cp_name, scope=list(scope.patterns))
    faults.point("job.after-record")
    return job, notes


def step_trailers(
    job: JobRecord,
    step: str,
    paths: list[str],
    status: str,
    *,
    model: str | None = None,
    agent: str | None = None,
    attempts: int = 1,
    usage: tuple[int | None, int | None] = (None, None),
    assisted_agent: str | None = None,
    assisted_model: str | None = None,
) -> list[tuple[str, str]]:
    """The audit trailers of one step (DESIGN.md §1), in their order. ``step``: ``k/n name``; ``model``: default
    the job's; ``agent``: the program a command step ran; ``usage``: tokens (estimate, actual), when known.

    Then ``Assisted-by: AGENT:MODEL`` when an AI wrote the step (``services/attribution.py``): by default from
    the job (its model, or its agent and the model the agent named); ``assisted_agent`` and ``assisted_model``
    say better when something knows better (an agent's hook payload). Then ``Co-authored-by`` on those steps, if
    the user's config asks for it."""
    from gitbench.services import attribution

    pairs = [("Gitbench-Job", job.id), ("Gitbench-Step", step), ("Gitbench-Model", model or job.model)]
    if agent is not None:
        pairs.append(("Gitbench-Agent", agent))
    pairs += [("Gitbench-Files", trailers.format_paths(paths)), ("Gitbench-Checkpoint", job.checkpoint or "none")]
    estimate, actual = usage
    if estimate is not None:
        pairs.append(("Gitbench-Usage-Estimate", str(estimate)))
    if actual is not None:
        pairs.append(("Gitbench-Usage-Actual", str(actual)))
    pairs += [("Gitbench-Attempts", str(max(attempts, 1))), ("Gitbench-Status", status)]
    helped = attribution.of_step(job, agent, model, assisted_agent, assisted_model)
    if helped is not None:
        pairs.append(("Assisted-by", helped.trailer))
        co_author = attribution.co_author()
        if co_author is not None:
            pairs.append(("Co-authored-by", co_author))
    return pairs


def commit_step(
    wb: Workbench,
    job: JobRecord,
    changes: dict[str, Entry | None],
    name: str,
    status: str,
    subject: str,
    number: int | None = None,
    attempts: int | None = None,
    usage: tuple[int | None, int | None] | None = None,
    before_ref: Callable[[str, str], None] | None = None,
) -> str | None:
    """Commit one finished step onto the Draft (compare-and-swap on its ref); None if nothing changed.

    ``number`` is the step's place in the job's plan (a model job's batch), default the next one; ``attempts``
    and ``usage`` (estimate, actual) are this step's, default the job's totals.
    """
    head = wb.git.ref(job.draft)
    if head is None:
        raise drafts.corrupt(wb, job.id, "its branch disappeared during the job")
    info = wb.git.commit(head)
    tree = wb.git.tree_with_changes(info.tree, changes)
    if tree == info.tree:
        return None
    step_no = number or job.steps_completed + 1
    paths = sorted(changes)
    pairs = step_trailers(
        job,
        f"{step_no}/{max(job.steps_total, step_no)} {name}",
        paths,
        status,
        attempts=attempts if attempts is not None else job.attempts,
        usage=usage if usage is not None else (job.usage_estimate, job.usage_actual),
    )
    commit = wb.git.create_commit(tree, [head], trailers.build_message(subject, "", pairs))
    if before_ref is not None:  # the caller records the commit first (a crash now loses no finished work)
        before_ref(commit, head)
    faults.point("step.before-ref")
    wb.git.set_ref(job.draft, commit, head, f"gitbench step {step_no}")
    faults.point("step.after-ref")
    from gitbench.services import worktrees

    worktrees.sync(wb, job.draft, head, commit)  # a worktree on the Draft (a command's, earlier) follows the step
    job.steps_completed += 1
    job.head = commit
    job.files_changed = sorted(set(job.files_changed) | set(paths))
    return commit


def next_actions(job: JobRecord) -> list[errors.Action]:
    """What the user can do after the job: the seed's retry, switch model, restore checkpoint, view report."""
    view = errors.Action("View the report", "report", (job.id,))
    restore = (
        errors.Action(
            "Go back: discard the Draft (recoverable) and restore the checkpoint taken before the job",
            "discard",
            ("--yes",),
            then=errors.Action("", "restore", (job.checkpoint, "--yes")),
        )
        if job.checkpoint
        else errors.Action("Go back: discard the Draft (recoverable)", "discard", ("--yes",))  # no checkpoint before it
    )
    if job.status == JobStatus.COMPLETE:
        return [errors.REVIEW, errors.PUBLISH, errors.DISCARD]
    if not job.status.stopped:
        return [view] if job.status != JobStatus.RUNNING else []
    if job.kind == "exec":
        # The command is pasted into a shell: each of its words is quoted as one (Action.command).
        retry = (
            errors.Action(
                "Retry the job (discards this Draft, recoverably)",
                "exec",
                ("--on-draft", "discard", *[a for p in job.scope for a in ("--files", p)], "--", *job.command),
            )
            if job.command
            else errors.Action("Retry the job (discards this Draft, recoverably)")
        )
        return [
            errors.REVIEW,
            errors.Action("Keep the partial work", "publish"),
            retry,
            restore,
            view,
        ]
    # Reviewing or publishing the partial work is offered only when there is some: a step on the Draft.
    partial = job.steps_completed > 0
    if job.kind == "workflow":
        finished = [errors.Action("Review the finished modules (or publish them)", "review")] if partial else []
        if job.status == JobStatus.CANCELLED:  # nothing failed: going on comes first
            return [
                errors.Action("Go on from where it stopped", "workflow resume"),
                errors.Action("See where it stopped", "workflow status"),
                *finished,
                restore,
                view,
            ]
        return [
            errors.Action("See which module failed and why", "workflow status"),
            errors.Action(
                "Rerun a module on its own once fixed",
                text=f"module-runner --module {(job.error or {}).get('module') or 'MODULE'}",
            ),
            errors.Action("Then go on from where it stopped", "workflow resume"),
            *finished,
            restore,
            view,
        ]
    klass = (job.error or {}).get("class")
    first = (
        errors.Action("Resume later, from the last completed step (the job is paused)", "resume", (job.id,))
        if job.status == JobStatus.PAUSED
        else errors.Action("Retry from the last completed step", "resume", (job.id,))
    )
    switch = errors.Action("Switch model and resume", "resume", (job.id, "--model", "PROVIDER:MODEL"))
    # An unknown model or a refused key will not answer on a retry: switching comes first then.
    actions = [switch, first, restore, view] if klass == "model-unavailable" else [first, switch, restore, view]
    if klass == "disk-full":
        actions.insert(0, errors.Action("Free some disk space first"))
    if partial:
        actions.insert(len(actions) - 1, errors.Action("Review the partial work (or publish it)", "review"))
    return actions


def report(job: JobRecord) -> dict[str, Any]:
    """The job report: what ran, what changed, why it stopped, and what to do next. No prompt, no content."""
    last = job.next_batch if job.plan is not None else job.steps_completed
    return {
        "job": job.id,
        "kind": job.kind,
        "status": job.status,
        "reason": (job.error or {}).get("message"),
        "class": (job.error or {}).get("class"),
        "last_completed_step": last,
        "steps_completed": job.steps_completed,
        "steps_total": job.steps_total,
        "partial_results": {"draft": job.draft, "head": job.head, "files": job.files_changed, "worktree": job.worktree},
        "models": job.models or [job.shown_model],
        "files_changed": job.files_changed,
        "checkpoints_created": job.checkpoints_created,
        "usage": {"estimate": job.usage_estimate, "actual": job.usage_actual},
        "attempts": job.attempts,
        "refused": job.refused,
        "skipped": job.skipped,
        "next_actions": [a.to_dict() for a in next_actions(job)],
    }


def complete(
    wb: Workbench,
    job: JobRecord,
    notes: list[str],
    on_record: Callable[[JobRecord], dict[str, Any]] | None = None,
    *,
    worktree_clean: bool = False,
) -> OperationResult:
    """The job ran to its end: record it; a Draft that changed nothing is removed (it would only block).
    ``worktree_clean``: Git's status of the job's worktree, read just now with every process of the job ended,
    showed nothing (its removal need not ask Git again)."""
    job.status = JobStatus.COMPLETE
    job.finished = clock.now()
    head = wb.git.ref(job.draft)
    if head is None or head == job.base:
        # Nothing changed: an empty Draft would only block the next job. The auto-checkpoint stays. (A job that
        # continued an open Draft leaves it as it was: that work is another job's.)
        if head is not None and job.continues is None:
            if job.worktree is not None:  # its worktree goes with it (what it holds outside the Draft is kept)
                from gitbench.services import worktrees

                notes = [*notes, *worktrees.remove(wb, job.draft, job.base, clean=worktree_clean)]
            wb.git.set_ref(job.draft, None, job.base, "gitbench job: no changes")
        job.status = JobStatus.NO_CHANGES
    drafts.save_job(wb, job, report=report(job), note=job.status, extra=on_record(job) if on_record else None)
    _log_end(wb, job)
    faults.point("job.after-complete")
    wb.journal.clear()
    label = job.draft[len(DRAFT_PREFIX) :]
    if job.status == JobStatus.NO_CHANGES:
        who = (
            "the agent"
            if job.model.startswith("command:")
            else {"exec": "the command", "ask": "the model", "workflow": "the workflow"}.get(job.kind, "the job")
        )
        if job.continues is not None and head is not None:  # the open Draft it continued is kept as it was
            return OperationResult(
                job.kind,
                f"Job {job.id} finished: {who} changed nothing; the Draft {label} is as it was.",
                checkpoints=[job.checkpoint or ""],
                draft=job.draft,
                job=job,
                notes=notes,
            )
        return OperationResult(
            job.kind,
            f"Job {job.id} finished: {who} changed nothing, so no Draft was kept.",
            checkpoints=[job.checkpoint or ""],
            job=job,
            notes=notes,
        )
    return OperationResult(
        job.kind,
        f"Job {job.id} finished: {len(job.files_changed)} file(s) changed in Draft {label}.",
        checkpoints=[job.checkpoint or ""],
        draft=job.draft,
        job=job,
        review=review.review(wb, label=label),
        notes=notes,
    )


def fail(
    wb: Workbench,
    job: JobRecord,
    err: errors.GitbenchError,
    notes: list[str],
    klass: str | None = None,
    on_record: Callable[[JobRecord], dict[str, Any]] | None = None,
) -> OperationResult:
    """Record the failure with its report, keep the Draft, and raise the error for the CLI to show.

    A rate limit or a timeout pauses the job (resume it later); a cancel cancels it; anything else fails it.
    """
    klass = klass or _klass(err)
    job.status = (
        JobStatus.CANCELLED
        if isinstance(err, errors.Cancelled)
        else JobStatus.PAUSED
        if klass in ("rate-limit", "timeout") and job.kind != "exec"
        else JobStatus.FAILED
    )
    job.error = {"code": err.code, "class": klass, "message": err.message}
    if "module" in err.details:  # a workflow's failed module: its actions name it
        job.error["module"] = err.details["module"]
    job.finished = clock.now()
    if job.kind != "exec" or not err.actions:
        err.actions = next_actions(job)
    err.details.update({"job": job.id, "draft": job.draft, "report": report(job)})
    _log_end(wb, job)
    # If the record cannot be written (a full disk), the journal stays and the next command marks the job
    # interrupted; the error the user sees is still the one that stopped the job.
    try:
        drafts.save_job(wb, job, report=report(job), note=job.status, extra=on_record(job) if on_record else None)
        wb.journal.clear()
    except (errors.GitbenchError, OSError):
        err.details["report_stored"] = False  # so nobody is pointed at a report that is not on the records ref
        from gitbench.store import running

        # How the job ended, kept where it fits on a full disk (its marker or journal entry, in place): the next
        # command that can write records it so (and a disk-full job's finished files with it), not as interrupted.
        end = {"status": job.status, "error": job.error}
        kept = running.record_end(wb.layout.running, job.id, end) or wb.journal.record_end(job.id, end)
        later = (
            f"records it as it ended ({klass})" + (" with the files it had finished" if klass == "disk-full" else "")
            if kept
            else "marks the job interrupted"
        )
        notes = [
            *notes,
            f"The job record and report could not be written either: once the cause is fixed, the next gitbench "
            f"command {later}, and `gitbench resume {job.id}` continues it.",
        ]
    err.details["notes"] = notes
    raise err


def _log_end(wb: Workbench, job: JobRecord) -> None:
    """Every job's end in the operation log, classified (ids, counts and classes only: no prompt, no content)."""
    from gitbench.store.logs import Log

    Log(wb.layout.logs).event(
        "job.end",
        job=job.id,
        kind=job.kind,
        status=job.status,
        klass=(job.error or {}).get("class"),
        code=(job.error or {}).get("code"),
        steps=job.steps_completed,
        attempts=job.attempts,
        files=len(job.files_changed),
        models=job.models or [job.model],
    )


def _klass(err: errors.GitbenchError) -> str:
    if isinstance(err, errors.ProviderError):
        return err.klass
    return {"disk-full": "disk-full", "file-io": "file-io", "cancelled": "user-cancel", "scope-violation": "scope"}.get(
        err.code, "internal"
    )
