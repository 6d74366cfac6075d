"""Jobs: auto-checkpoint, create the Draft, run the work, commit each finished step with its audit trailers.

``exec`` runs any command (an agent CLI, a script, a formatter) in the Draft's worktree and commits what it
changed as one step. Later job kinds (model prompts, workflow modules) reuse ``start_job``/``commit_step``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from typing import Any

from gitbench import clock, errors, faults, trailers
from gitbench.git import worktree
from gitbench.git.repo import Entry
from gitbench.model import DRAFT_PREFIX, JobRecord, OperationResult
from gitbench.scope import Scope, UnsafePath
from gitbench.services import checkpoints, drafts, review
from gitbench.services.workbench import Workbench

Progress = Callable[[str], None]


def handle_open_draft(wb: Workbench, on_draft: str | None, kind: str = "exec") -> list[str]:
    """Before a new job, when a Draft is open: publish or discard it as asked, or refuse with the choices.

    Workshop jobs (``ask``) have two more (v1.5): ``continue`` (the new job's steps go on the open Draft) and
    ``fork`` (a new Draft beside it); other jobs keep v1's one Draft at a time. ``kind`` is the job's command,
    so the choices offered are commands that run it."""
    refs = wb.draft_refs()
    if not refs or (kind == "ask" and on_draft in ("continue", "fork")):
        return []
    label = refs[0][len(DRAFT_PREFIX):]
    rest = "-- ..." if kind == "exec" else "..."
    command = "workflow run" if kind == "workflow" else kind
    rest = "" if kind == "workflow" else rest
    if len(refs) > 1 and on_draft in ("publish", "discard"):
        raise errors.DraftAmbiguous(
            f"{len(refs)} Drafts are open ({', '.join(r[len(DRAFT_PREFIX):] for r in refs)}): publish or discard "
            "the one you mean first, then run the job.",
            [errors.Action("See them", "gitbench drafts"),
             errors.Action("Publish one", "gitbench publish --draft LABEL"),
             errors.Action("Discard one", "gitbench discard --draft LABEL")])
    if on_draft == "publish":
        from gitbench.services import publish

        return [publish.publish(wb).summary]
    if on_draft == "discard":
        from gitbench.services import discard

        return [discard.discard(wb).summary]
    if kind == "ask":
        raise errors.DraftOpen(
            f"A Draft is open ({label}); a new Workshop job can continue it, fork a new Draft beside it, or wait "
            "until it is discarded.",
            [errors.Action("Continue: the job's steps go on the open Draft", "gitbench ask --on-draft continue ..."),
             errors.Action("Fork: a new Draft beside it", "gitbench ask --on-draft fork ..."),
             errors.Action("Discard it (recoverable), then run the job", "gitbench ask --on-draft discard ..."),
             errors.CANCEL],
            {"draft": label},
        )
    raise errors.DraftOpen(
        f"A Draft is open ({label}); a new job needs it published or discarded first.",
        [errors.Action("Publish it, then run the job", f"gitbench {command} --on-draft publish {rest}".rstrip()),
         errors.Action("Discard it (recoverable), then run the job",
                       f"gitbench {command} --on-draft discard {rest}".rstrip()),
         errors.CANCEL],
        {"draft": label},
    )


def start_job(wb: Workbench, kind: str, scope: Scope, command: list[str], message: str,
              on_draft: str | None, *, label: str | None = None, base: str | None = None,
              checkpoint: str | None = None, journal: bool = True,
              draft: str | None = None) -> tuple[JobRecord, list[str]]:
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
        ref = drafts.require_draft(wb, draft)  # ``draft``: which one, when several are open
        continues = ref
    else:
        ref = DRAFT_PREFIX + (label or job_id)
    if journal:
        wb.journal.write({"op": "job", "id": job_id, "draft": ref, "pid": os.getpid()})
    if checkpoint is not None:
        cp_name = checkpoint
    else:
        try:
            cp_name = checkpoints.create(wb, "auto", f"before job {job_id}", job=job_id).name
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
    job = JobRecord(id=job_id, kind=kind, status="running", created=now, updated=now, draft=ref, base=start,
                    checkpoint=cp_name, scope=list(scope.patterns), command=command, message=message,
                    checkpoints_created=[] if checkpoint is not None else [cp_name], pid=os.getpid(),
                    label=label, continues=continues)
    drafts.save_job(wb, job, note="started")
    from gitbench.store.logs import Log

    Log(wb.layout.logs).event("job.start", job=job_id, kind=kind, checkpoint=cp_name, scope=list(scope.patterns))
    faults.point("job.after-record")
    return job, notes


def commit_step(wb: Workbench, job: JobRecord, changes: dict[str, Entry | None], name: str, status: str,
                subject: str, number: int | None = None, attempts: int | None = None,
                usage: tuple[int | None, int | None] | None = None,
                before_ref: Callable[[str, str], None] | None = None) -> str | None:
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
    estimate, actual = usage if usage is not None else (job.usage_estimate, job.usage_actual)
    paths = sorted(changes)
    pairs = [
        ("Gitbench-Job", job.id),
        ("Gitbench-Step", f"{step_no}/{max(job.steps_total, step_no)} {name}"),
        ("Gitbench-Model", job.model),
        ("Gitbench-Files", trailers.format_paths(paths)),
        ("Gitbench-Checkpoint", job.checkpoint or "none"),
    ]
    if estimate is not None:
        pairs.append(("Gitbench-Usage-Estimate", str(estimate)))
    if actual is not None:
        pairs.append(("Gitbench-Usage-Actual", str(actual)))
    pairs += [("Gitbench-Attempts", str(max(attempts if attempts is not None else job.attempts, 1))),
              ("Gitbench-Status", status)]
    commit = wb.git.create_commit(tree, [head], trailers.build_message(subject, "", pairs))
    if before_ref is not None:  # the caller records the commit first (a crash now loses no finished work)
        before_ref(commit, head)
    faults.point("step.before-ref")
    wb.git.set_ref(job.draft, commit, head, f"gitbench step {step_no}")
    faults.point("step.after-ref")
    job.steps_completed += 1
    job.head = commit
    job.files_changed = sorted(set(job.files_changed) | set(paths))
    return commit


STOPPED = ("failed", "cancelled", "interrupted", "paused")


def next_actions(job: JobRecord) -> list[errors.Action]:
    """What the user can do after the job: the seed's retry, switch model, restore checkpoint, view report."""
    view = errors.Action("View the report", f"gitbench report {job.id}")
    restore = errors.Action("Go back: discard the Draft (recoverable) and restore the checkpoint taken before "
                            "the job", f"gitbench discard --yes && gitbench restore {job.checkpoint} --yes")
    if job.status == "complete":
        return [errors.REVIEW, errors.PUBLISH, errors.DISCARD]
    if job.status not in STOPPED:
        return [view] if job.status != "running" else []
    if job.kind == "exec":
        import shlex  # the command is pasted into a shell: quote it as one

        retry = "gitbench exec --on-draft discard " + shlex.join(
            [a for p in job.scope for a in ("--files", p)] + ["--", *job.command]) if job.command else ""
        return [errors.REVIEW, errors.Action("Keep the partial work", "gitbench publish"),
                errors.Action("Retry the job (discards this Draft, recoverably)", retry), restore, view]
    if job.kind == "workflow":
        return [errors.Action("See which module failed and why", "gitbench workflow status"),
                errors.Action("Rerun a module on its own once fixed", "module-runner --module MODULE"),
                errors.Action("Then go on from where it stopped", "gitbench workflow resume"),
                errors.Action("Review the finished modules (or publish them)", "gitbench review"), restore, view]
    klass = (job.error or {}).get("class")
    first = (errors.Action("Resume later, from the last completed step (the job is paused)",
                           f"gitbench resume {job.id}") if job.status == "paused" else
             errors.Action("Retry from the last completed step", f"gitbench resume {job.id}"))
    switch = errors.Action("Switch model and resume", f"gitbench resume {job.id} --model PROVIDER:MODEL")
    # An unknown model or a refused key will not answer on a retry: switching comes first then.
    actions = [switch, first, restore, view] if klass == "model-unavailable" else [first, switch, restore, view]
    if klass == "disk-full":
        actions.insert(0, errors.Action("Free some disk space first"))
    actions.insert(len(actions) - 1, errors.Action("Review the partial work (or publish it)", "gitbench review"))
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
        "partial_results": {"draft": job.draft, "head": job.head, "files": job.files_changed},
        "models": job.models or [job.model],
        "files_changed": job.files_changed,
        "checkpoints_created": job.checkpoints_created,
        "usage": {"estimate": job.usage_estimate, "actual": job.usage_actual},
        "attempts": job.attempts,
        "refused": job.refused,
        "skipped": job.skipped,
        "next_actions": [a.to_dict() for a in next_actions(job)],
    }


def _run(argv: list[str], cwd: str, env: dict[str, str], stdout: int | None,
         stdin: bytes | None = None) -> tuple[int | None, str | None]:
    """Run the command; Ctrl-C or SIGTERM stop it cleanly. Returns (exit code, cancel reason).

    ``stdin``: bytes for the command's standard input (a prompt); None leaves ours.
    """
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout, preexec_fn=_die_with_parent,
                                stdin=subprocess.PIPE if stdin is not None else None)
    except FileNotFoundError:
        return 127, None
    except PermissionError:
        return 126, None
    if stdin is not None and proc.stdin is not None:
        _feed(proc.stdin, stdin)
    cancelled: list[str] = []

    def on_term(signum: int, frame: object) -> None:
        cancelled.append("SIGTERM")
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
    try:
        while True:
            try:
                return proc.wait(), (cancelled[0] if cancelled else None)
            except KeyboardInterrupt:
                if not cancelled:
                    cancelled.append("Ctrl-C")
                _stop(proc)
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _feed(pipe: Any, data: bytes) -> None:
    """Write ``data`` to the command's stdin from a thread (a command that never reads must not block us)."""
    import threading

    def write() -> None:
        with contextlib.suppress(OSError):
            pipe.write(data)
        with contextlib.suppress(OSError):
            pipe.close()

    threading.Thread(target=write, daemon=True).start()


def _die_with_parent() -> None:
    """In the child: if gitbench is killed (even by SIGKILL), stop the command too (Linux), so no orphan keeps
    writing into a Draft folder that the next gitbench command marks as interrupted."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 5.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def run_exec(wb: Workbench, argv: list[str], patterns: list[str], message: str = "",
             on_draft: str | None = None, progress: Progress | None = None,
             command_stdout: int | None = None) -> OperationResult:
    """``gitbench exec``: one command, one step, into a new Draft.

    ``command_stdout``: where the command's output goes (a file descriptor; default: ours), so a caller that
    prints JSON on stdout can send the command's chatter to stderr.
    """
    say = progress or (lambda text: None)
    if not argv:
        raise errors.UsageError("exec needs a command after `--`, e.g. `gitbench exec -- make format`.")
    try:
        scope = Scope.of(patterns)
    except UnsafePath as exc:
        raise errors.UsageError(f"Bad --files pattern: {exc}.") from exc
    with wb.changing("exec"):
        job, notes = start_job(wb, "exec", scope, list(argv), message, on_draft)
        say(f"Checkpoint {job.checkpoint} taken; Draft {job.id} created.")
        subject = message or f"exec: {' '.join(argv)}"[:72]
        return command_step(wb, job, notes, list(argv), scope, subject, say, command_stdout)


def command_step(wb: Workbench, job: JobRecord, notes: list[str], argv: list[str], scope: Scope, subject: str,
                 say: Progress, command_stdout: int | None = None, stdin: bytes | None = None,
                 step_name: str = "exec", on_record: Callable[[JobRecord], dict[str, Any]] | None = None
                 ) -> OperationResult:
    """Run ``argv`` in a folder holding the Draft's in-scope files; commit what it changed as the next step.

    Called with the Workbench lock held, after ``start_job`` (or a resume). ``on_record`` adds records files
    (a conversation's entry) to the commit that stores the job's outcome.
    """
    label = job.draft[len(DRAFT_PREFIX):]
    folder = wb.layout.worktree(label)
    head = wb.git.ref(job.draft) or job.base
    try:
        snap = worktree.export(wb.git, wb.git.commit(head).tree, folder, scope)
    except OSError as exc:
        return fail(wb, job, _io_error(exc, "preparing the Draft's folder"), notes, on_record=on_record)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in ("GIT_AUTHOR_NAME",)}
    env.update({"GIT_CEILING_DIRECTORIES": os.path.dirname(folder), "GITBENCH_JOB": job.id,
                "GITBENCH_WORKBENCH": wb.root})
    say(f"Running {argv[0] if stdin is not None else ' '.join(argv)} in {folder}")
    refs_before = _guarded_refs(wb)
    code, cancel = _run(argv, folder, env, command_stdout, stdin)
    job.attempts += 1
    job.exit_code = code
    try:
        cap = worktree.capture(wb.git, folder, snap, scope)
    except OSError as exc:
        return fail(wb, job, _io_error(exc, "reading what the command changed"), notes, on_record=on_record)
    job.refused = [{"path": p, "reason": r} for p, r in cap.refused]
    status = "complete"
    if cancel:
        status = "cancelled"
    elif code != 0:
        status = f"failed (exit {code})"
    elif cap.refused:
        status = f"partial (refused {len(cap.refused)} paths)"
    try:
        commit_step(wb, job, cap.changes, step_name, status, subject, attempts=1, usage=(None, None))  # unknown
    except errors.GitbenchError as exc:
        return fail(wb, job, exc, notes, on_record=on_record)
    except OSError as exc:
        return fail(wb, job, _io_error(exc, "committing the step"), notes, on_record=on_record)
    refs_after = _guarded_refs(wb)  # a deleted ref (a checkpoint tag) is a change too
    moved = [r for r in sorted(set(refs_before) | set(refs_after)) if refs_before.get(r) != refs_after.get(r)]
    if cancel:
        err: errors.GitbenchError = errors.Cancelled(
            f"The job was cancelled ({cancel}). The Draft and what the command had written are kept.",
            [errors.REVIEW, errors.PUBLISH, errors.DISCARD])
        return fail(wb, job, err, notes, klass="user-cancel", on_record=on_record)
    if moved:
        return fail(wb, job, errors.PublishConflict(
            "The command changed the repository outside its Draft: " + ", ".join(moved) + ".",
            [errors.Action("Look at what changed", "git log --all --oneline -5"), errors.DISCARD]), notes,
            on_record=on_record)
    if code != 0:
        what = "was not found" if code == 127 else f"exited with status {code}"
        return fail(wb, job, errors.JobFailed(
            f"The command {what}. Whatever it changed is kept in the Draft for review.",
            [errors.REVIEW, errors.DISCARD]), notes, klass="command", on_record=on_record)
    if cap.refused:
        listing = "; ".join(f"{p} ({r})" for p, r in cap.refused[:10])
        return fail(wb, job, errors.ScopeViolation(
            f"The command wrote where a job may not: {listing}. Those changes were refused and are not in "
            f"the Draft (they are left in {folder} for you to inspect); its other changes are.",
            [errors.REVIEW, errors.PUBLISH, errors.DISCARD]), notes, klass="scope", on_record=on_record)
    if job.plan is not None:  # a model job resumed by an agent: the agent did every batch that was left
        job.next_batch = len(job.plan)
    result = complete(wb, job, notes, on_record)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def complete(wb: Workbench, job: JobRecord, notes: list[str],
             on_record: Callable[[JobRecord], dict[str, Any]] | None = None) -> OperationResult:
    """The job ran to its end: record it; a Draft that changed nothing is removed (it would only block)."""
    job.status = "complete"
    job.finished = clock.now()
    head = wb.git.ref(job.draft)
    if head is None or head == job.base:
        # Nothing changed: an empty Draft would only block the next job. The auto-checkpoint stays. (A job that
        # continued an open Draft leaves it as it was: that work is another job's.)
        if head is not None and job.continues is None:
            wb.git.set_ref(job.draft, None, job.base, "gitbench job: no changes")
        job.status = "no-changes"
    drafts.save_job(wb, job, report=report(job), note=job.status, extra=on_record(job) if on_record else None)
    _log_end(wb, job)
    faults.point("job.after-complete")
    wb.journal.clear()
    label = job.draft[len(DRAFT_PREFIX):]
    if job.status == "no-changes":
        who = ("the agent" if job.model.startswith("command:") else
               {"exec": "the command", "ask": "the model", "workflow": "the workflow"}.get(job.kind, "the job"))
        if job.continues is not None and head is not None:  # the open Draft it continued is kept as it was
            return OperationResult(job.kind, f"Job {job.id} finished: {who} changed nothing; the Draft {label} "
                                   "is as it was.", checkpoints=[job.checkpoint or ""], draft=job.draft, job=job,
                                   notes=notes)
        return OperationResult(job.kind, f"Job {job.id} finished: {who} changed nothing, so no Draft was kept.",
                               checkpoints=[job.checkpoint or ""], job=job, notes=notes)
    return OperationResult(
        job.kind, f"Job {job.id} finished: {len(job.files_changed)} file(s) changed in Draft {label}.",
        checkpoints=[job.checkpoint or ""], draft=job.draft, job=job, review=review.review(wb, label=label),
        notes=notes)


def _io_error(exc: OSError, what: str) -> errors.GitbenchError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return errors.disk_full(what)
    return errors.FileIOError(f"File error while {what}: {exc}", [errors.RECOVER])


def _guarded_refs(wb: Workbench) -> dict[str, str | None]:
    names = [wb.published_ref, "refs/gitbench/records", *wb.git.refs("refs/tags/checkpoint/")]
    return {n: wb.git.ref_raw(n) for n in names}


def fail(wb: Workbench, job: JobRecord, err: errors.GitbenchError, notes: list[str], klass: str | None = None,
         on_record: Callable[[JobRecord], dict[str, Any]] | None = None) -> OperationResult:
    """Record the failure with its report, keep the Draft, and raise the error for the CLI to show.

    A rate limit or a timeout pauses the job (resume it later); a cancel cancels it; anything else fails it.
    """
    klass = klass or _klass(err)
    job.status = ("cancelled" if isinstance(err, errors.Cancelled) else
                  "paused" if klass in ("rate-limit", "timeout") else "failed")
    job.error = {"code": err.code, "class": klass, "message": err.message}
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
        notes = [*notes, "The job record and report could not be written either: once the cause is fixed, the "
                 "next gitbench command marks the job interrupted, and `gitbench resume` continues it."]
    err.details["notes"] = notes
    raise err


def _log_end(wb: Workbench, job: JobRecord) -> None:
    """Every job's end in the operation log, classified (ids, counts and classes only: no prompt, no content)."""
    from gitbench.store.logs import Log

    Log(wb.layout.logs).event("job.end", job=job.id, kind=job.kind, status=job.status,
                              klass=(job.error or {}).get("class"), code=(job.error or {}).get("code"),
                              steps=job.steps_completed, attempts=job.attempts, files=len(job.files_changed),
                              models=job.models or [job.model])


def _klass(err: errors.GitbenchError) -> str:
    if isinstance(err, errors.ProviderError):
        return err.klass
    return {"disk-full": "disk-full", "file-io": "file-io", "cancelled": "user-cancel",
            "scope-violation": "scope"}.get(err.code, "internal")

