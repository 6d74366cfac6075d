"""Workshop jobs: a prompt to a model, run as a job into the Draft, one step per batch of files.

``ask`` plans the job (the in-scope files of Published, in batches), then sends each batch with the prompt to
the model, checks the structured edits it answers with (``edits.py``), and commits them to the Draft as one
step. A failure stops the job with the Draft and every finished batch kept; ``resume`` continues at the first
batch not done, with the same model or another (``command:`` agents included). Only files inside the scope are
ever read or sent; a file that cannot be read is listed in the report and the job goes on with the rest.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from gitbench import errors, events, faults, trailers
from gitbench.events import Progress
from gitbench.git.objects import Entry, Mode
from gitbench.model import DRAFT_PREFIX, JobRecord, JobStatus, OperationResult
from gitbench.providers import call
from gitbench.providers import config as provider_config
from gitbench.scope import Scope, UnsafePath
from gitbench.services import chat, drafts, jobs
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import JobRun
from gitbench.store.logs import Log

SYSTEM = """You are a careful coding assistant editing files of a project on the user's request.
You are shown some of the project's files. Answer with ONE JSON object and nothing else:
{"summary": "one or two sentences on what you changed",
 "edits": [
  {"op": "write", "path": "relative/path", "content": "the whole new content of the file"},
  {"op": "replace", "path": "relative/path", "old": "exact text that appears once", "new": "its replacement"},
  {"op": "delete", "path": "relative/path"}]}
Rules: edit only the files shown, or create new files whose paths match the allowed patterns; paths are
relative to the project root, with forward slashes; text files only. If nothing needs to change, answer
{"summary": "...", "edits": []}."""


def _scope(patterns: list[str]) -> Scope:
    try:
        return Scope.of(patterns)
    except UnsafePath as exc:
        raise errors.UsageError(f"Bad --files pattern: {exc}.") from exc


def ask(
    wb: Workbench,
    prompt: str,
    patterns: list[str],
    model: str | None = None,
    new: bool = False,
    on_draft: str | None = None,
    progress: Progress | None = None,
    command_stdout: int | None = None,
    config: provider_config.Config | None = None,
    draft: str | None = None,
) -> OperationResult:
    """``gitbench ask``: run a prompt as a job into a new Draft, continuing the current conversation.
    ``draft``: with ``on_draft="continue"``, the open Draft to continue when several are open.

    ``config``: the provider configuration to use instead of the files and environment (the demo's own model).
    """
    say = progress or events.ignore
    if not prompt.strip():
        raise errors.UsageError("ask needs a prompt, e.g. gitbench ask \"Add type hints\" --files 'src/**/*.py'.")
    cfg = config or provider_config.load(wb.git.workdir)
    spec = cfg.resolve(model)
    scope = _scope(patterns)
    if scope.everything and spec.provider.kind != "command":
        raise errors.UsageError(
            "ask sends files to the model: name the ones it may read and change with --files.",
            [errors.Action("For example", "ask", (prompt[:40], "--files", "src/**/*.py"))],
        )
    log = Log(wb.layout.logs, cfg.secrets)
    with wb.changing("ask"):
        conversation = None if new else chat.current(wb)
        conversation = conversation or "c" + wb.new_id()
        job, notes = jobs.start_job(wb, "ask", scope, [], "", on_draft, draft=draft)
        job.model, job.models, job.conversation = spec.id, [spec.id], conversation
        turn, chat_files = chat.user_turn(wb, conversation, job, prompt)
        job.turn = turn
        if spec.provider.kind != "command":
            job.plan = plan(wb, job.base, scope, cfg.settings.batch_files)
            job.steps_total = len(job.plan)
            job.usage_estimate = estimate(wb, job.base, job.plan, prompt, cfg.settings.max_file_bytes)
        drafts.save_job(wb, job, note="planned", extra=chat_files)
        log.event(
            "ask.plan",
            job=job.id,
            model=spec.id,
            batches=len(job.plan or [1]),
            scope=list(scope.patterns),
            conversation=conversation,
        )
        label = job.draft[len(DRAFT_PREFIX) :]
        say(events.CheckpointTaken(job.checkpoint, label, job.id if job.continues else None))
        return _run(wb, job, spec, cfg, prompt, notes, say, log, command_stdout)


def resume(
    wb: Workbench,
    job_id: str | None = None,
    model: str | None = None,
    progress: Progress | None = None,
    command_stdout: int | None = None,
) -> OperationResult:
    """``gitbench resume``: continue a stopped Workshop job from its last completed step, with any model."""
    say = progress or events.ignore
    cfg = provider_config.load(wb.git.workdir)
    log = Log(wb.layout.logs, cfg.secrets)
    with wb.changing("resume"):
        job = _resumable(wb, job_id)
        if job.kind == "exec":
            if model is not None:
                raise errors.UsageError(
                    f"Job {job.id} ran a command, not a model: --model does not apply. "
                    "`gitbench resume` runs its command again in its worktree."
                )
            from gitbench.services import commands

            return commands.resume_exec(wb, job, say, command_stdout)
        spec = cfg.resolve(model or job.model)
        prompt = chat.prompt_of(wb, job)
        if prompt is None:
            raise errors.UsageError(
                f"The prompt of job {job.id} is not in the conversation records (a restore took it away?), so "
                "it cannot be resumed.",
                [errors.REVIEW, errors.PUBLISH, errors.DISCARD],
            )
        head = wb.git.ref(job.draft)
        assert head is not None  # _resumable checked
        if spec.provider.kind != "command":
            if Scope.of(job.scope).everything:  # as `ask` itself: a model is never sent the whole Workbench
                raise errors.UsageError(
                    f"Job {job.id} ran an agent without --files, so a model would be sent every file of the "
                    "Workbench. Nothing was sent.",
                    [
                        errors.Action("Resume it with an agent instead", "resume", (job.id, "--model", "command:...")),
                        errors.Action(
                            "Or start a job that names the files",
                            "ask",
                            (errors.Placeholder('"..."'), "--files", errors.Placeholder("'GLOB'")),
                        ),
                    ],
                )
            if job.plan is None:  # it ran as a command agent: plan its batches now, from what the Draft holds
                job.plan = plan(wb, head, Scope.of(job.scope), cfg.settings.batch_files)
                job.next_batch = 0
            job.steps_total = len(job.plan)
            job.next_batch = max(job.next_batch, _batches_done(wb, job, head))
        job.status, job.error, job.pid = JobStatus.RUNNING, None, os.getpid()
        job.model = spec.id
        if spec.id not in job.models:
            job.models.append(spec.id)
        wb.journal.write(JobRun(job.id, job.draft, os.getpid()))
        drafts.save_job(wb, job, note=f"resumed with {spec.id}")
        log.event("job.resume", job=job.id, model=spec.id, next_batch=job.next_batch)
        total = len(job.plan) if job.plan is not None else 1
        say(events.Resuming(job.id, job.next_batch + 1, total, spec.id))
        # an attempt of `gitbench try` answers its source job's turn: it adds none to the conversation
        return _run(wb, job, spec, cfg, prompt, [], say, log, command_stdout, chat_turn=job.tried_from is None)


def _resumable(wb: Workbench, job_id: str | None) -> JobRecord:
    if job_id is None:
        if wb.draft_refs():
            ref = drafts.require_draft(wb)  # several open: it says which to name
            # the last job on it that stopped (one that continued it, perhaps), else the one that made it
            stopped = [j for j in drafts.all_jobs(wb) if j.draft == ref and j.status.stopped]
            found = stopped[-1] if stopped else drafts.job_of(wb, ref)
            job_id = found.id if found is not None else ref[len(DRAFT_PREFIX) :]
        else:
            stopped = [j for j in drafts.all_jobs(wb) if j.status.stopped]
            if not stopped:
                raise errors.NoDraft("There is no stopped job to resume.", [errors.Action("See the jobs", "jobs")])
            job_id = stopped[-1].id
    job = drafts.require_job(wb, job_id)
    if drafts.require_not_running(wb, job.draft, "resumed"):
        job = drafts.require_job(wb, job.id)  # we waited for its command to end: look at the job again
    if job.kind not in ("ask", "exec"):
        raise errors.UsageError(
            f"Job {job.id} is a {job.kind} job; `gitbench resume` continues Workshop and exec jobs.",
            [errors.Action("Go on with the workflow", "workflow resume")]
            if job.kind == "workflow"
            else [errors.REVIEW],
        )
    if not job.status.stopped:
        raise errors.UsageError(
            f"Job {job.id} is {job.status}: there is nothing to resume.",
            [errors.Action("See its report", "report", (job.id,))],
        )
    if wb.git.ref(job.draft) is None:
        raise errors.NoDraft(
            f"The Draft of job {job.id} is gone (discarded?), so there is nothing to resume into.",
            [
                errors.Action("Bring back the last discarded Draft, then resume", "discard", ("--undo",)),
                errors.Action("Or start the job again", "ask", ("...",)),
            ],
        )
    return job  # other Drafts may be open beside it (v1.5): each job writes only into its own


def plan(wb: Workbench, commit: str, scope: Scope, batch_files: int) -> list[list[str]]:
    """The in-scope files of ``commit`` in batches; one empty batch when there are none (a job that creates)."""
    tree = wb.git.commit(commit).tree
    paths = [p for p, _, _ in wb.git.walk_tree(tree, descend=scope.may_contain) if scope.allows(p)]
    batches = [paths[i : i + batch_files] for i in range(0, len(paths), batch_files)]
    return batches or [[]]


def estimate(wb: Workbench, commit: str, batches: list[list[str]], prompt: str, max_bytes: int | None = None) -> int:
    """Tokens the job will use, roughly: 4 characters a token, files sent in and written back out.

    A file over ``max_bytes`` is never sent (it is listed as skipped), so it costs nothing."""
    tree = wb.git.commit(commit).tree
    size = 0
    for batch in batches:
        size += len(SYSTEM) + len(prompt) + 400
        for p in batch:
            entry = wb.git.tree_entry(tree, p)
            if entry is not None and entry.mode.is_file:
                with contextlib.suppress(KeyError, ValueError):
                    blob = wb.git.blob_size(entry.oid)
                    size += 2 * blob if max_bytes is None or blob <= max_bytes else 0
    return size // 4


def _batches_done(wb: Workbench, job: JobRecord, head: str) -> int:
    """The highest batch the Draft holds a step of (a crash may have come between the step and its record)."""
    done = 0
    for c in wb.git.first_parent_chain(head, job.base):
        t = trailers.parse(c.message)
        if t.get("Gitbench-Job") == job.id and t.get("Gitbench-Step", "").endswith(" batch"):
            with contextlib.suppress(ValueError):
                done = max(done, int(t["Gitbench-Step"].split("/", 1)[0]))
    return done


@contextlib.contextmanager
def sigterm_cancels() -> Iterator[None]:
    """SIGTERM stops the job like Ctrl-C: cleanly, Draft and finished steps kept. (Only the main thread gets
    signals: attempts of `gitbench try` in threads are stopped through their ``cancel`` event instead.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class Cancel(threading.Event):
    """Set (from the main thread) to stop attempts running in threads; ``reason`` is what stopped them."""

    reason = "Ctrl-C"


# How a batch's model call is made when not from the job's own thread: (the request, a name for it unique in the
# run) → the reply. `gitbench try --executor` sends it to a worker as a task (services/attempt_tasks.py); it
# raises KeyboardInterrupt once cancelled, or the classified error of an executor that failed (a lost worker).
Caller = Callable[[call.Request, str], call.Reply]


def run_attempt(
    wb: Workbench,
    job: JobRecord,
    spec: provider_config.ModelSpec,
    cfg: provider_config.Config,
    prompt: str,
    say: Progress,
    log: Log,
    cancel: Cancel | None = None,
    caller: Caller | None = None,
) -> OperationResult:
    """One attempt of `gitbench try`, in its own thread: the job as `ask` runs it, without a turn of its own in
    the conversation (the attempts answer the same turn; `gitbench drafts` and `compare` show them). Once
    ``cancel`` is set, the attempt stops before its next request (or retry): cancelled, every finished batch
    kept. ``caller``: where its model calls run (default: in this thread)."""
    return _run(wb, job, spec, cfg, prompt, [], say, log, None, chat_turn=False, cancel=cancel, caller=caller)


def _run(
    wb: Workbench,
    job: JobRecord,
    spec: provider_config.ModelSpec,
    cfg: provider_config.Config,
    prompt: str,
    notes: list[str],
    say: Progress,
    log: Log,
    command_stdout: int | None,
    chat_turn: bool = True,
    cancel: Cancel | None = None,
    caller: Caller | None = None,
) -> OperationResult:
    def record_turn(j: JobRecord) -> dict[str, Any]:
        return chat.assistant_turn(wb, j, summaries)

    on_record = record_turn if chat_turn else None

    summaries = chat.summaries_of(wb, job)
    if spec.provider.kind == "command":
        argv = [a.replace("{prompt}", prompt) for a in spec.argv]
        stdin = None if any("{prompt}" in a for a in spec.argv) else prompt.encode()
        job.command = list(spec.argv)  # the template, never the prompt
        from gitbench.services import commands

        return commands.command_step(
            wb,
            job,
            notes,
            argv,
            Scope.of(job.scope),
            f"ask {job.id}: {spec.id}",
            say,
            command_stdout,
            stdin=stdin if stdin is not None else b"",
            step_name="agent",
            on_record=on_record,
        )
    try:
        with sigterm_cancels():
            _batches(wb, job, spec, cfg, prompt, say, log, summaries, cancel, caller)
    except KeyboardInterrupt as exc:
        why = "SIGTERM" if str(exc) == "SIGTERM" else "Ctrl-C"
        return jobs.fail(
            wb,
            job,
            errors.Cancelled(
                f"The job was cancelled ({why}) after {job.next_batch} of {len(job.plan or [])} batch(es). The Draft "
                "and every finished batch are kept."
            ),
            notes,
            klass="user-cancel",
            on_record=on_record,
        )
    except errors.DiskFull as exc:
        return jobs.fail(wb, job, _halted(job, exc), notes, on_record=on_record)
    except errors.GitbenchError as exc:
        return jobs.fail(wb, job, exc, notes, on_record=on_record)
    except OSError as exc:
        err = (
            _halted(job, errors.disk_full("writing the Draft"))
            if errors.is_disk_full(exc)
            else errors.FileIOError(f"File error while writing the Draft: {exc.strerror or exc}.")
        )
        return jobs.fail(wb, job, err, notes, on_record=on_record)
    except Exception as exc:
        with contextlib.suppress(errors.GitbenchError):
            jobs.fail(wb, job, errors.InternalError(f"{type(exc).__name__}: {exc}"), notes, on_record=on_record)
        raise
    result = jobs.complete(wb, job, notes, on_record)
    if job.refused:
        result.notes.append(
            f"Refused {len(job.refused)} edit(s) the model proposed; nothing of them was written: "
            + "; ".join(f"{r['path']} ({r['reason']})" for r in job.refused[:10])
        )
    if job.skipped:
        result.notes.append(
            f"Skipped {len(job.skipped)} file(s) that could not be read or sent: "
            + "; ".join(f"{s['path']} ({s['reason']})" for s in job.skipped[:10])
        )
    return result


def _halted(job: JobRecord, err: errors.DiskFull) -> errors.DiskFull:
    """A full disk, however it surfaced (our check or the OS's ENOSPC): say where writes stopped and what to do."""
    err.message = (
        f"No space left on the device: Draft writes were halted after batch {job.next_batch}. "
        "Free some space, then resume; every finished batch is kept."
    )
    return err


def _batches(
    wb: Workbench,
    job: JobRecord,
    spec: provider_config.ModelSpec,
    cfg: provider_config.Config,
    prompt: str,
    say: Progress,
    log: Log,
    summaries: list[str],
    cancel: Cancel | None = None,
    caller: Caller | None = None,
) -> None:
    from gitbench.providers import transport
    from gitbench.services import edits

    assert job.plan is not None
    settings = cfg.settings
    scope = Scope.of(job.scope)
    total = len(job.plan)
    context = _history(wb, job)
    # One HTTP client for the job's batches (connections reused), when the model is called from here.
    http = transport.client(settings, spec.provider.base_url) if caller is None else None
    with http if http is not None else contextlib.nullcontext():
        for k in range(job.next_batch, total):
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt(cancel.reason)
            head = wb.git.ref(job.draft)
            if head is None:
                raise drafts.corrupt(wb, job.id, "its branch disappeared during the job")
            tree = wb.git.commit(head).tree
            sent, skipped = _read(wb, tree, job.plan[k], settings.max_file_bytes)
            for path, reason in skipped:
                job.skipped.append({"path": path, "reason": reason, "step": str(k + 1)})
                log.event("job.file-skipped", job=job.id, path=path, reason=reason)
            if job.plan[k] and not sent:
                job.next_batch = k + 1
                continue
            user = request_text(prompt, context, sent, scope, k + 1, total)
            log.event("provider.request", job=job.id, model=spec.id, step=k + 1, files=sorted(sent))
            log.debug_event("provider.prompt", job=job.id, step=k + 1, system=SYSTEM, user=user[:4000])
            say(events.BatchSent(k + 1, total, len(sent), spec.id))

            def on_event(name: str, fields: dict[str, Any], step: int = k + 1) -> None:
                log.event(name, job=job.id, step=step, **fields)
                if name == "provider.retry" and cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt(cancel.reason)  # no retry after a cancel
                if name == "provider.retry":
                    attempt = int(fields.get("attempt") or 0) + 1
                    say(events.Retrying(spec.id, fields.get("reason"), fields.get("wait"), attempt, settings.attempts))

            def on_debug(name: str, fields: dict[str, Any], step: int = k + 1) -> None:
                log.debug_event(name, job=job.id, step=step, **fields)  # only with --debug: may quote the request

            request = call.Request(spec, settings, SYSTEM, user, debug=log.debug)
            if caller is None:
                reply = call.run(request, on_event, on_debug, http)
            else:  # on an executor: the call's log lines come back with its reply, written here
                reply = caller(request, f"{job.id}-batch{k + 1}")
                for name, fields in reply.events:
                    log.event(name, job=job.id, step=k + 1, **fields)
                for name, fields in reply.debug:
                    log.debug_event(name, job=job.id, step=k + 1, **fields)
            job.attempts += reply.attempts
            if reply.error is not None:
                raise reply.error
            assert reply.text is not None
            raw, summary = edits.parse(reply.text)  # the call checked that it parses
            result = edits.plan(raw, sent, scope, functools.partial(wb.git.tree_entry, tree), settings.max_edit_bytes)
            tokens_in, tokens_out = reply.input_tokens, reply.output_tokens
            used = tokens_in + tokens_out if tokens_in is not None and tokens_out is not None else None
            if used is not None:
                job.usage_actual = (job.usage_actual or 0) + used
            for path, reason in result.refused:
                job.refused.append({"path": path, "reason": reason, "step": str(k + 1)})
                log.event("edit.refused", job=job.id, step=k + 1, path=path, reason=reason)
            changes = {
                # A file as `git add` stores it (line endings normalised); a symlink's target as it is.
                p: Entry(
                    wb.git.create_blob_as(data, p) if mode != Mode.SYMLINK else wb.git.create_blob(data), Mode.of(mode)
                )
                if data is not None
                else None
                for p, (data, mode) in result.writes.items()
            }
            faults.point("ask.before-step")
            status = f"partial (refused {len(result.refused)} edits)" if result.refused else "complete"
            est = job.usage_estimate // total if job.usage_estimate is not None else None
            jobs.commit_step(
                wb,
                job,
                changes,
                "batch",
                status,
                f"ask {job.id}: batch {k + 1}/{total}",
                number=k + 1,
                attempts=reply.attempts,
                usage=(est, used),
            )
            job.next_batch = k + 1
            if summary:
                summaries.append(summary)
            drafts.save_job(wb, job, note=f"batch {k + 1}/{total}")
            faults.point("ask.after-batch")
            say(events.BatchDone(k + 1, total, len(changes), len(result.refused)))


def _read(
    wb: Workbench, tree: str, paths: list[str], max_bytes: int
) -> tuple[dict[str, tuple[str, int]], list[tuple[str, str]]]:
    """The batch's files as text, and those that cannot be sent, with the reason (listed, never fatal)."""
    sent: dict[str, tuple[str, int]] = {}
    skipped: list[tuple[str, str]] = []
    for path in paths:
        entry = wb.git.tree_entry(tree, path)
        if entry is None:
            continue  # deleted by an earlier batch
        oid, mode = entry
        if mode == Mode.SYMLINK:
            skipped.append((path, "a symlink: not followed, not sent"))
            continue
        try:
            data = wb.git.blob(oid)
        except (KeyError, ValueError, OSError) as exc:
            skipped.append((path, f"cannot be read (its object is missing or corrupt: {type(exc).__name__})"))
            continue
        if len(data) > max_bytes:
            skipped.append((path, f"too large to send ({len(data)} bytes; the limit is {max_bytes})"))
            continue
        if b"\x00" in data:
            skipped.append((path, "binary: not sent"))
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            skipped.append((path, "not UTF-8 text: not sent"))
            continue
        sent[path] = (text, mode)
    return sent, skipped


def _history(wb: Workbench, job: JobRecord) -> str:
    if not job.conversation:
        return ""
    lines = []
    for m in chat.history(wb, job.conversation, job.tried_from or job.id):  # an attempt: what came before its job
        who = "User" if m.get("role") == "user" else "You"
        lines.append(f"{who}: {' '.join(str(m.get('text', '')).split())[:500]}")
    return "\n".join(lines)


def request_text(
    prompt: str, context: str, sent: dict[str, tuple[str, int]], scope: Scope, step: int, total: int
) -> str:
    """The user message of one request: the conversation so far, the prompt, the allowed paths, the files."""
    parts = []
    if context:
        parts.append(f"Earlier in this conversation:\n{context}\n")
    parts.append(f"Request: {prompt}\n")
    parts.append(f"Allowed paths (glob patterns): {', '.join(scope.patterns)}")
    parts.append(f"Files ({len(sent)}, part {step} of {total}):")
    for path, (text, _) in sorted(sent.items()):
        parts.append(f'<file path="{path}">\n{text}\n</file>')
    return "\n".join(parts)
