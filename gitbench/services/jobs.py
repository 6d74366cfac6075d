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


def handle_open_draft(wb: Workbench, on_draft: str | None) -> list[str]:
    """v1: one Draft at a time. Publish or discard it as asked, or refuse with the three choices."""
    ref = drafts.only_draft(wb)
    if ref is None:
        return []
    label = ref[len(DRAFT_PREFIX):]
    if on_draft == "publish":
        from gitbench.services import publish

        return [publish.publish(wb).summary]
    if on_draft == "discard":
        from gitbench.services import discard

        return [discard.discard(wb).summary]
    raise errors.DraftOpen(
        f"A Draft is open ({label}); a new job needs it published or discarded first.",
        [errors.Action("Publish it, then run the job", "gitbench exec --on-draft publish -- ..."),
         errors.Action("Discard it (recoverable), then run the job", "gitbench exec --on-draft discard -- ..."),
         errors.CANCEL],
        {"draft": label},
    )


def start_job(wb: Workbench, kind: str, scope: Scope, command: list[str], message: str,
              on_draft: str | None) -> tuple[JobRecord, list[str]]:
    """Everything before the first step: the open-Draft choice, the auto-checkpoint, the Draft, the record."""
    notes = handle_open_draft(wb, on_draft)
    job_id = wb.new_id()
    ref = DRAFT_PREFIX + job_id
    wb.journal.write({"op": "job", "id": job_id, "draft": ref, "pid": os.getpid()})
    try:
        cp = checkpoints.create(wb, "auto", f"before job {job_id}", job=job_id)
    except (errors.CheckpointFailed, errors.DiskFull) as exc:
        wb.journal.clear()
        exc.message = f"{exc.message} The job did not run; nothing was changed."
        raise
    faults.point("job.after-checkpoint")
    base = wb.published()
    wb.git.set_ref(ref, base, None, f"gitbench job {job_id}")
    faults.point("job.after-draft")
    now = clock.now()
    job = JobRecord(id=job_id, kind=kind, status="running", created=now, updated=now, draft=ref, base=base,
                    checkpoint=cp.name, scope=list(scope.patterns), command=command, message=message,
                    checkpoints_created=[cp.name], pid=os.getpid())
    drafts.save_job(wb, job, note="started")
    faults.point("job.after-record")
    return job, notes


def commit_step(wb: Workbench, job: JobRecord, changes: dict[str, Entry | None], name: str, status: str,
                subject: str) -> str | None:
    """Commit one finished step onto the Draft (compare-and-swap on its ref); None if nothing changed."""
    head = wb.git.ref(job.draft)
    if head is None:
        raise drafts.corrupt(wb, job.id, "its branch disappeared during the job")
    info = wb.git.commit(head)
    tree = wb.git.tree_with_changes(info.tree, changes)
    if tree == info.tree:
        return None
    step_no = job.steps_completed + 1
    paths = sorted(changes)
    pairs = [
        ("Gitbench-Job", job.id),
        ("Gitbench-Step", f"{step_no}/{max(job.steps_total, step_no)} {name}"),
        ("Gitbench-Model", job.model),
        ("Gitbench-Files", trailers.format_paths(paths)),
        ("Gitbench-Checkpoint", job.checkpoint or "none"),
    ]
    if job.usage_estimate is not None:
        pairs.append(("Gitbench-Usage-Estimate", str(job.usage_estimate)))
    if job.usage_actual is not None:
        pairs.append(("Gitbench-Usage-Actual", str(job.usage_actual)))
    pairs += [("Gitbench-Attempts", str(max(job.attempts, 1))), ("Gitbench-Status", status)]
    commit = wb.git.create_commit(tree, [head], trailers.build_message(subject, "", pairs))
    faults.point("step.before-ref")
    wb.git.set_ref(job.draft, commit, head, f"gitbench step {step_no}")
    faults.point("step.after-ref")
    job.steps_completed = step_no
    job.head = commit
    job.files_changed = sorted(set(job.files_changed) | set(paths))
    return commit


def report(job: JobRecord) -> dict[str, Any]:
    """The job report: what ran, what changed, why it stopped, and what to do next."""
    actions: list[dict[str, str]] = []
    if job.status in ("failed", "cancelled", "interrupted"):
        import shlex  # the command is pasted into a shell: quote it as one

        retry = "gitbench exec --on-draft discard " + shlex.join(
            [a for p in job.scope for a in ("--files", p)] + ["--", *job.command]) if job.command else ""
        actions = [
            {"label": "Review what the job did", "command": "gitbench review"},
            {"label": "Keep the partial work", "command": "gitbench publish"},
            {"label": "Retry the job (discards this Draft, recoverably)", "command": retry},
            {"label": "Restore the checkpoint taken before the job (after discarding)",
             "command": f"gitbench discard --yes && gitbench restore {job.checkpoint} --yes"},
            {"label": "View this report", "command": f"git show refs/gitbench/records:reports/{job.id}.json"},
        ]
    elif job.status == "complete":
        actions = [{"label": "Review", "command": "gitbench review"},
                   {"label": "Publish", "command": "gitbench publish"},
                   {"label": "Discard", "command": "gitbench discard"}]
    return {
        "job": job.id,
        "status": job.status,
        "reason": (job.error or {}).get("message"),
        "class": (job.error or {}).get("class"),
        "last_completed_step": job.steps_completed,
        "steps_completed": job.steps_completed,
        "steps_total": job.steps_total,
        "partial_results": {"draft": job.draft, "files": job.files_changed},
        "models": [job.model],
        "files_changed": job.files_changed,
        "checkpoints_created": job.checkpoints_created,
        "usage": {"estimate": job.usage_estimate, "actual": job.usage_actual},
        "attempts": job.attempts,
        "refused": job.refused,
        "next_actions": actions,
    }


def _run(argv: list[str], cwd: str, env: dict[str, str], stdout: int | None) -> tuple[int | None, str | None]:
    """Run the command; Ctrl-C or SIGTERM stop it cleanly. Returns (exit code, cancel reason)."""
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=stdout, preexec_fn=_die_with_parent)
    except FileNotFoundError:
        return 127, None
    except PermissionError:
        return 126, None
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
        label = job.id
        folder = wb.layout.worktree(label)
        say(f"Checkpoint {job.checkpoint} taken; Draft {label} created.")
        try:
            snap = worktree.export(wb.git, wb.git.commit(job.base).tree, folder, scope)
        except OSError as exc:
            return _fail(wb, job, _io_error(exc, "preparing the Draft's folder"), notes)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in ("GIT_AUTHOR_NAME",)}
        env.update({"GIT_CEILING_DIRECTORIES": os.path.dirname(folder), "GITBENCH_JOB": job.id,
                    "GITBENCH_WORKBENCH": wb.root})
        say(f"Running {' '.join(argv)} in {folder}")
        refs_before = _guarded_refs(wb)
        code, cancel = _run(list(argv), folder, env, command_stdout)
        job.attempts = 1
        job.exit_code = code
        try:
            cap = worktree.capture(wb.git, folder, snap, scope)
        except OSError as exc:
            return _fail(wb, job, _io_error(exc, "reading what the command changed"), notes)
        job.refused = [{"path": p, "reason": r} for p, r in cap.refused]
        status = "complete"
        if cancel:
            status = "cancelled"
        elif code != 0:
            status = f"failed (exit {code})"
        elif cap.refused:
            status = f"partial (refused {len(cap.refused)} paths)"
        subject = message or f"exec: {' '.join(argv)}"[:72]
        try:
            commit_step(wb, job, cap.changes, "exec", status, subject)
        except errors.GitbenchError as exc:
            return _fail(wb, job, exc, notes)
        except OSError as exc:
            return _fail(wb, job, _io_error(exc, "committing the step"), notes)
        refs_after = _guarded_refs(wb)  # a deleted ref (a checkpoint tag) is a change too
        moved = [r for r in sorted(set(refs_before) | set(refs_after)) if refs_before.get(r) != refs_after.get(r)]
        if cancel:
            err: errors.GitbenchError = errors.Cancelled(
                f"The job was cancelled ({cancel}). The Draft and what the command had written are kept.",
                [errors.REVIEW, errors.PUBLISH, errors.DISCARD])
            return _fail(wb, job, err, notes, klass="user-cancel")
        if moved:
            return _fail(wb, job, errors.PublishConflict(
                "The command changed the repository outside its Draft: " + ", ".join(moved) + ".",
                [errors.Action("Look at what changed", "git log --all --oneline -5"), errors.DISCARD]), notes)
        if code != 0:
            what = "was not found" if code == 127 else f"exited with status {code}"
            return _fail(wb, job, errors.JobFailed(
                f"The command {what}. Whatever it changed is kept in the Draft for review.",
                [errors.REVIEW, errors.DISCARD]), notes, klass="command")
        if cap.refused:
            listing = "; ".join(f"{p} ({r})" for p, r in cap.refused[:10])
            return _fail(wb, job, errors.ScopeViolation(
                f"The command wrote where a job may not: {listing}. Those changes were refused and are not in "
                f"the Draft (they are left in {folder} for you to inspect); its other changes are.",
                [errors.REVIEW, errors.PUBLISH, errors.DISCARD]), notes, klass="scope")
        job.status = "complete"
        if job.steps_completed == 0:
            # Nothing changed: an empty Draft would only block the next job. The auto-checkpoint stays.
            wb.git.set_ref(job.draft, None, job.base, "gitbench job: no changes")
            job.status = "no-changes"
        drafts.save_job(wb, job, report=report(job), note=job.status)
        faults.point("job.after-complete")
        shutil.rmtree(folder, ignore_errors=True)
        wb.journal.clear()
        if job.status == "no-changes":
            return OperationResult("exec", f"Job {job.id} finished: the command changed nothing, so no Draft "
                                   "was kept.", checkpoints=[job.checkpoint or ""], job=job, notes=notes)
        return OperationResult(
            "exec", f"Job {job.id} finished: {len(job.files_changed)} file(s) changed in Draft {label}.",
            checkpoints=[job.checkpoint or ""], draft=job.draft, job=job,
            review=review.review(wb), notes=notes)


def _io_error(exc: OSError, what: str) -> errors.GitbenchError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return errors.disk_full(what)
    return errors.FileIOError(f"File error while {what}: {exc}", [errors.RECOVER])


def _guarded_refs(wb: Workbench) -> dict[str, str | None]:
    names = [wb.published_ref, "refs/gitbench/records", *wb.git.refs("refs/tags/checkpoint/")]
    return {n: wb.git.ref_raw(n) for n in names}


def _fail(wb: Workbench, job: JobRecord, err: errors.GitbenchError, notes: list[str],
          klass: str | None = None) -> OperationResult:
    """Record the failure with its report, keep the Draft, and raise the error for the CLI to show."""
    job.status = "cancelled" if isinstance(err, errors.Cancelled) else "failed"
    job.error = {"code": err.code, "class": klass or _klass(err), "message": err.message}
    err.details.update({"job": job.id, "draft": job.draft, "report": report(job)})
    # If the record cannot be written (a full disk), the journal stays and the next command marks the job
    # interrupted; the error the user sees is still the one that stopped the job.
    with contextlib.suppress(errors.GitbenchError, OSError):
        drafts.save_job(wb, job, report=report(job), note=job.status)
        wb.journal.clear()
    err.details["notes"] = notes
    raise err


def _klass(err: errors.GitbenchError) -> str:
    return {"disk-full": "disk-full", "file-io": "file-io", "cancelled": "user-cancel",
            "scope-violation": "scope"}.get(err.code, "internal")

