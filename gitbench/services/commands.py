"""Jobs that run a command (``gitbench exec``, an agent CLI behind ``ask --model command:...``): the command runs
in the Draft's worktree, and what it did becomes steps on the Draft.

The Workbench lock is held only while gitbench changes its own state: before the command (checkpoint, Draft,
record, worktree) and after it (its commits and the step, the record). While the command runs, a marker
(``store/running.py``) says so, and ``status``, ``review``, ``checkpoint`` and other Drafts' jobs go on.
The command's whole process tree is stopped on Ctrl-C, SIGTERM, a timeout (``services/supervisor.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from gitbench import clock, errors, events, faults
from gitbench.events import Progress
from gitbench.git import worktrees as wt
from gitbench.model import JobRecord, JobStatus, OperationResult
from gitbench.providers import sections
from gitbench.providers.sections import JobSettings
from gitbench.scope import Scope, UnsafePath
from gitbench.services import agents, capture, checkpoint_names, drafts, jobs, supervisor, worktrees
from gitbench.services.workbench import Workbench
from gitbench.store import gitguard, running
from gitbench.store.journal_entries import JobRun


def parse_ok_exit(values: list[str]) -> list[int]:
    """``--ok-exit 1 --ok-exit 2,3``: exit statuses that count as success."""
    out: list[int] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or not 0 < int(part) < 256:
                raise errors.UsageError(
                    f"--ok-exit takes exit statuses from 1 to 255 (e.g. --ok-exit 1), not {part!r}."
                )
            out.append(int(part))
    return sorted(set(out))


def parse_timeout(text: str | None) -> float | None:
    """``--timeout 90``, ``90s``, ``15m``, ``2h``: seconds (None: no limit)."""
    if text is None or text == "":
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    raw = text.strip().lower()
    factor = units.get(raw[-1:], 0)
    number = raw[:-1] if factor else raw
    try:
        value = float(number) * (factor or 1)
    except ValueError:
        value = -1
    if value <= 0:
        raise errors.UsageError(f"--timeout takes a duration such as 90, 90s, 15m or 2h, not {text!r}.")
    return value


def run_exec(
    wb: Workbench,
    argv: list[str],
    patterns: list[str],
    message: str = "",
    on_draft: str | None = None,
    progress: Progress | None = None,
    command_stdout: int | None = None,
    *,
    timeout: float | None = None,
    ok_exit: list[int] | None = None,
    sparse: bool = False,
) -> OperationResult:
    """``gitbench exec``: one command in a new Draft's worktree; what it did becomes the Draft's steps.

    ``command_stdout``: where the command's output goes (a file descriptor; default: ours), so a caller that
    prints JSON on stdout can send the command's chatter to stderr.
    """
    say = progress or events.ignore
    if not argv:
        raise errors.UsageError("exec needs a command after `--`, e.g. `gitbench exec -- make format`.")
    try:
        scope = Scope.of(patterns)
    except UnsafePath as exc:
        raise errors.UsageError(f"Bad --files pattern: {exc}.") from exc
    settings = job_settings(wb)
    with wb.changing("exec"):
        job, notes = jobs.start_job(wb, "exec", scope, list(argv), message, on_draft)
        job.timeout = timeout if timeout is not None else settings.timeout
        job.ok_exit = list(ok_exit or [])
        job.sparse = sparse
        say(events.CheckpointTaken(job.checkpoint, job.id))
        subject = message or f"exec: {' '.join(argv)}"[:72]
        return command_step(wb, job, notes, list(argv), scope, subject, say, command_stdout, settings=settings)


def job_settings(wb: Workbench) -> JobSettings:
    return sections.job(wb.git.workdir)


def _cwd(wb: Workbench, folder: str) -> str:
    """Where the command starts: the same place in the worktree as the user is in the Workbench's folder."""
    try:
        here = os.path.relpath(os.getcwd(), wb.opened_in or wb.root)
    except (OSError, ValueError):
        return folder
    if here.startswith("..") or here == ".":
        return folder
    inside = os.path.join(folder, here)
    return inside if os.path.isdir(inside) else folder


def agent_env(wb: Workbench, job: JobRecord, linked: wt.Linked) -> dict[str, str]:
    """The command's environment (``worktrees.command_env``), and what names its job, Draft and worktree."""
    return worktrees.command_env(
        wb,
        linked,
        {
            "GITBENCH_JOB": job.id,
            "GITBENCH_WORKBENCH": wb.root,
            "GITBENCH_DRAFT": job.draft,
            "GITBENCH_WORKTREE": linked.path,
        },
    )


def command_step(
    wb: Workbench,
    job: JobRecord,
    notes: list[str],
    argv: list[str],
    scope: Scope,
    subject: str,
    say: Progress,
    command_stdout: int | None = None,
    stdin: bytes | None = None,
    step_name: str = "exec",
    on_record: Callable[[JobRecord], dict[str, Any]] | None = None,
    settings: JobSettings | None = None,
) -> OperationResult:
    """Run ``argv`` in the Draft's worktree and make what it did the Draft's next steps.

    Called with the Workbench lock held, after ``start_job`` (or a resume); the lock is let go of while the
    command runs. ``on_record`` adds records files (a conversation's entry) to the commit that stores the
    job's outcome. ``settings``: the ``[job]`` settings, when the caller has read them already.
    """
    try:
        settings = settings or job_settings(wb)
        prep = worktrees.prepare(wb, job.draft, scope, job.sparse, settings.copy, base=settings.worktrees)
    except errors.GitbenchError as exc:
        return jobs.fail(wb, job, exc, notes, on_record=on_record)
    except OSError as exc:
        return jobs.fail(wb, job, errors.file_error(exc, "preparing the Draft's worktree"), notes, on_record=on_record)
    linked = prep.linked
    notes = [*notes, *prep.notes]
    for n in prep.notes:
        say(events.Note(n))
    env = agent_env(wb, job, linked)
    agent = agents.identify(argv, env, cwd=linked.path)
    job.agent, job.agent_model, job.worktree = agent.program, agent.model, linked.path
    if not job.head:
        job.head = wb.git.ref(job.draft)
    checkpoint_names.clone_id(wb)  # written now if it must be, not while the command runs (.git/config is guarded)
    guard = gitguard.snapshot(wb.git.gitdir)
    marker = running.Marker(wb.layout.running, job.id)
    recorded = False
    try:
        marker.start(
            {
                "job": job.id,
                "draft": job.draft,
                "worktree": linked.path,
                "refs": wb.guarded_refs(running.kept(wb.layout.running, job.id)),
                "started": clock.now(),
                "command": agent.program,
                "operation": job.kind,
            }
        )
        entry = wb.journal.read()
        if isinstance(entry, JobRun) and entry.id == job.id:
            wb.journal.clear()  # the marker says the job runs from now on (the journal is for others' operations)
        faults.point("job.before-command")
        setup_failed: supervisor.Outcome | None = None
        import time

        started = time.time()  # wall-clock, as the agent's transcript files are dated
        with wb.released():
            if prep.created and settings.setup:
                say(events.SettingUp(settings.setup))
                out = supervisor.run(
                    ["/bin/sh", "-c", settings.setup],
                    linked.path,
                    env,
                    stdout=command_stdout,
                    timeout=job.timeout,
                    on_start=lambda pid: _note_pgid(marker, pid),
                )
                if out.code != 0 or out.stopped:
                    setup_failed = out
            outcome = supervisor.Outcome(0)
            if setup_failed is None:
                cwd = _cwd(wb, linked.path)
                say(events.Running(argv[0] if stdin is not None else " ".join(argv), cwd))
                outcome = supervisor.run(
                    argv,
                    cwd,
                    env,
                    stdin=stdin,
                    stdout=command_stdout,
                    timeout=job.timeout,
                    on_start=lambda pid: _note_pgid(marker, pid),
                )
        faults.point("job.after-command")
        if agent.model is None and setup_failed is None:
            # Its flags, environment and config did not say which model: its own transcript of the run may.
            folders = sorted({linked.path, _cwd(wb, linked.path)})
            seen = agents.transcript_model(agent.program, folders, env, started)
            if seen is not None:
                agent = agents.Agent(agent.program, seen)
                job.agent_model = seen
        result = _after(
            wb,
            job,
            notes,
            linked,
            scope,
            subject,
            step_name,
            agent,
            marker,
            guard,
            outcome,
            setup_failed,
            settings,
            on_record,
        )
        recorded = True
        return result
    except BaseException as exc:
        if job.status == JobStatus.RUNNING and isinstance(exc, errors.GitbenchError | OSError):
            err = exc if isinstance(exc, errors.GitbenchError) else errors.file_error(exc, "running the job")
            return jobs.fail(wb, job, err, notes, on_record=on_record)  # records the end, then raises
        raise
    finally:
        # The marker goes once the job's end is on the records ref. If it could not be written (a full disk, a
        # crash), the marker stays behind, without its lock: the next command marks the job interrupted.
        marker.end() if recorded or _stored_end(wb, job.id) else marker.abandon()


def _stored_end(wb: Workbench, job_id: str) -> bool:
    try:
        stored = drafts.job_record(wb, job_id)
    except (errors.GitbenchError, OSError):
        return False
    return stored is not None and stored.status != JobStatus.RUNNING


def _note_pgid(marker: running.Marker, pid: int) -> None:
    marker.update(pgid=pid, leader_start=supervisor.start_time(pid))


def _after(
    wb: Workbench,
    job: JobRecord,
    notes: list[str],
    linked: wt.Linked,
    scope: Scope,
    subject: str,
    step_name: str,
    agent: agents.Agent,
    marker: running.Marker,
    guard: gitguard.Guard,
    outcome: supervisor.Outcome,
    setup_failed: supervisor.Outcome | None,
    settings: JobSettings,
    on_record: Callable[[JobRecord], dict[str, Any]] | None,
) -> OperationResult:
    """The command ended (the lock is ours again): its commits and changes onto the Draft, then the verdict."""
    job.attempts += 1
    run = setup_failed or outcome
    job.exit_code = run.code
    if run.leftovers:
        notes.append(f"The command left {run.leftovers} process(es) running when it ended; they were stopped.")
    put_back = gitguard.restore(guard, wb.layout.changed_by_jobs, job.id)
    accepted = run.code in job.ok_exit
    status = "complete"
    if run.stopped:
        status = "cancelled" if run.stopped != "timeout" else f"timed out after {job.timeout:g} s"
    elif setup_failed is not None:
        status = f"failed (setup exit {run.code})"
    elif run.code != 0:
        status = f"complete (exit {run.code} accepted)" if accepted else f"failed (exit {run.code})"
    stored = drafts.job_record(wb, job.id)
    if stored is not None and stored.steps_completed > job.steps_completed:
        # The agent's hooks made steps while it ran (a turn each: integrations/core.py): go on from them.
        job.head, job.steps_completed, job.steps_total = stored.head, stored.steps_completed, stored.steps_total
        job.files_changed = stored.files_changed
    if stored is not None and stored.conversation and not job.conversation:  # its hooks recorded the prompts
        job.turn, job.conversation = stored.turn, stored.conversation
    if stored is not None and stored.agent_model and stored.agent_model != agent.model:
        agent = agents.Agent(agent.program, stored.agent_model)  # the model the agent's own hooks said
        job.agent_model = stored.agent_model
    who = (agent.trailer if job.kind == "exec" or job.model.startswith("command") else job.model, agent.program)
    copied = worktrees.copied_paths(linked, settings.copy)
    try:
        cap = capture.capture(wb, job, linked, scope, copied, subject, status, step_name, who)
    except wt.GitFailed as exc:
        return jobs.fail(
            wb, job, worktrees.git_error(exc, "reading what the command changed"), notes, on_record=on_record
        )
    except errors.GitbenchError as exc:
        return jobs.fail(wb, job, exc, notes, on_record=on_record)
    except OSError as exc:
        return jobs.fail(
            wb, job, errors.file_error(exc, "reading what the command changed"), notes, on_record=on_record
        )
    job.steps_completed += len(cap.commits)
    job.steps_total = max(job.steps_total, job.steps_completed)
    if cap.head:
        job.head = cap.head
    job.files_changed = sorted(set(job.files_changed) | set(cap.files))
    earlier = stored.refused if stored is not None else []  # what the agent's hooks refused in earlier turns
    refusals = [{"path": p, "reason": r} for p, r in cap.refused]
    job.refused = [*earlier, *(r for r in refusals if r not in earlier)]
    notes += cap.notes
    if cap.commits and len(cap.commits) > 1:
        notes.append(
            f"{len(cap.commits)} steps: the command's own commits (kept, with their messages) and what "
            "it left uncommitted."
        )
    refs = running.read(wb.layout.running, job.id).get("refs") or {}  # as gitbench itself last left them
    moved = [name for name, _, _ in wb.guarded_moved(refs, running.kept(wb.layout.running, job.id))]
    if put_back:
        moved += [f"{p} (put back as it was; the command's version is kept as {kept})" for p, kept in put_back]
    folder = linked.path
    if run.stopped:
        if run.stopped == "timeout":
            return jobs.fail(
                wb,
                job,
                errors.JobFailed(
                    f"The command ran longer than its timeout ({job.timeout:g} s) and was stopped, with every "
                    "process it started. What it had written is kept in the Draft.",
                    [errors.REVIEW, errors.PUBLISH, errors.DISCARD],
                ),
                notes,
                klass="timeout",
                on_record=on_record,
            )
        return jobs.fail(
            wb,
            job,
            errors.Cancelled(
                f"The job was cancelled ({run.stopped}); the command and every process it started were stopped. The "
                "Draft and what the command had written are kept.",
                [errors.REVIEW, errors.PUBLISH, errors.DISCARD],
            ),
            notes,
            klass="user-cancel",
            on_record=on_record,
        )
    if moved:
        return jobs.fail(
            wb,
            job,
            errors.PublishConflict(
                "The command changed the repository outside its Draft: " + ", ".join(moved) + ".",
                [errors.Action("Look at what changed", text="git log --all --oneline -5"), errors.DISCARD],
            ),
            notes,
            on_record=on_record,
        )
    if setup_failed is not None:
        return jobs.fail(
            wb,
            job,
            errors.JobFailed(
                f"The setup command ([job] setup = {settings.setup!r}) exited with status {run.code}, so the job's "
                f"command did not run. Its worktree is {folder}.",
                [
                    errors.Action("Fix [job] setup in .gitbench/config.toml (docs/agents.md), then run the job again"),
                    errors.DISCARD,
                ],
            ),
            notes,
            klass="command",
            on_record=on_record,
        )
    if run.code != 0 and not accepted:
        what = "was not found" if run.code == 127 else f"exited with status {run.code}"
        actions = [errors.REVIEW, errors.DISCARD]
        if run.code not in (126, 127):
            actions.append(
                errors.Action(
                    "If that status means success for this command, accept it",
                    "exec",
                    ("--ok-exit", str(run.code), "..."),
                )
            )
        return jobs.fail(
            wb,
            job,
            errors.JobFailed(f"The command {what}. Whatever it changed is kept in the Draft for review.", actions),
            notes,
            klass="command",
            on_record=on_record,
        )
    if cap.refused:
        listing = "; ".join(f"{p} ({r})" for p, r in cap.refused[:10])
        return jobs.fail(
            wb,
            job,
            errors.ScopeViolation(
                f"The command wrote where a job may not: {listing}. Those changes were refused and are not in "
                f"the Draft (they are left in {folder} for you to inspect); its other changes are.",
                [errors.REVIEW, errors.PUBLISH, errors.DISCARD],
            ),
            notes,
            klass="scope",
            on_record=on_record,
        )
    if job.plan is not None:  # a model job resumed by an agent: the agent did every batch that was left
        job.next_batch = len(job.plan)
    return jobs.complete(wb, job, notes, on_record, worktree_clean=cap.clean)


def keep_finished(wb: Workbench, job: JobRecord, folder: str) -> list[str]:
    """A command job stopped by a full disk before its step could be committed: what it wrote in its worktree
    ``folder`` becomes a step on its Draft now (``recovery.py`` calls this once space is back). The paths the
    step changed; none if the worktree is not the Draft's any more or nothing is left in it."""
    linked = worktrees.of_draft(wb, job.draft)
    if linked is None or not linked.present or os.path.realpath(linked.path) != os.path.realpath(folder):
        return []
    agent = agents.Agent(job.agent or "command", job.agent_model)
    who = (agent.trailer if job.kind == "exec" or job.model.startswith("command") else job.model, agent.program)
    copied = worktrees.copied_paths(linked, job_settings(wb).copy)
    subject = job.message or (f"exec: {' '.join(job.command)}"[:72] if job.kind == "exec" else f"ask {job.id}")
    step = "exec" if job.kind == "exec" else "agent"
    if not job.head:
        job.head = wb.git.ref(job.draft)
    try:
        cap = capture.capture(wb, job, linked, Scope.of(job.scope), copied, subject, "disk-full", step, who)
    except wt.GitFailed as exc:
        raise worktrees.git_error(exc, "committing what the job had written") from exc
    except OSError as exc:
        raise errors.file_error(exc, "committing what the job had written") from exc
    job.steps_completed += len(cap.commits)
    job.steps_total = max(job.steps_total, job.steps_completed)
    if cap.head:
        job.head = cap.head
    job.files_changed = sorted(set(job.files_changed) | set(cap.files))
    return cap.files


def resume_exec(wb: Workbench, job: JobRecord, say: Progress, command_stdout: int | None = None) -> OperationResult:
    """Run a stopped exec job's command again, in its Draft's worktree as the stopped run left it."""
    if not job.command:
        raise errors.UsageError(f"Job {job.id} has no command to run again.", [errors.REVIEW, errors.DISCARD])
    job.status, job.error, job.pid = JobStatus.RUNNING, None, os.getpid()
    wb.journal.write(JobRun(job.id, job.draft, os.getpid()))
    drafts.save_job(wb, job, note="resumed")
    say(events.RunningAgain(job.id))
    subject = job.message or f"exec: {' '.join(job.command)}"[:72]
    return command_step(wb, job, [], list(job.command), Scope.of(job.scope), subject, say, command_stdout)
