"""Try with another model (v1.5): the same Workshop job run again by other models, each into its own labeled
Draft, side by side; the Drafts listed and compared; one published, the others rebased or discarded.

``try_models`` takes the job's prompt, scope and base checkpoint, and runs one attempt per model from that same
base, at most ``max_parallel`` at once (threads: each attempt waits on its model, not on the others). Each
attempt is an ordinary Workshop job (its steps, trailers, report and resume), whose Draft is labeled by its
model; none writes anywhere but its own Draft, so a failure leaves the others as they are. The attempts are
journaled as one operation: after a crash each one still running is marked interrupted, and resumable.

``compare`` is the scorecard: per Draft the diffstat, files, usage, attempts, duration and, with ``--check``,
the result of a command run in a folder holding the Draft's files. It is kept on the records ref
(``scorecards/``), so it is restored with the rest and travels with a push.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from gitbench import clock, errors, events
from gitbench.events import Progress
from gitbench.model import DRAFT_PREFIX, JobRecord, OperationResult
from gitbench.scope import Scope
from gitbench.services import chat, drafts, jobs, worktrees
from gitbench.services.workbench import Workbench
from gitbench.store.journal import Journal
from gitbench.store.journal_entries import Attempts

if TYPE_CHECKING:
    from concurrent.futures import Future

LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,79}")
# What one attempt ends with: its job's result, or the error it stopped on (the others go on either way).
AttemptResult = OperationResult | errors.GitbenchError


class _NoJournal(Journal):
    """An attempt's own journal: silent. The attempts share one journal entry, written by ``try_models``."""

    def __init__(self) -> None:
        super().__init__(os.devnull)

    def write(self, entry: Any) -> None:
        pass

    def clear(self) -> None:
        pass

    def read(self) -> None:
        return None


def label_for(model: str, taken: set[str]) -> str:
    """A Draft label from a model's name (``ollama:qwen2.5-coder`` → ``ollama-qwen2.5-coder``), unique."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.") or "attempt"
    base = re.sub(r"\.{2,}", ".", base).removesuffix(".lock")[:60]
    label, n = base, 2
    while label in taken:
        label, n = f"{base}-{n}", n + 1
    return label


def source_job(wb: Workbench, job_id: str | None) -> JobRecord:
    """The Workshop job to try again: the one named, else the latest."""
    if job_id is not None:
        job = drafts.require_job(wb, job_id)
    else:
        asks = [j for j in drafts.all_jobs(wb) if j.kind == "ask" and not j.tried_from]
        if not asks:
            raise errors.UsageError(
                "There is no Workshop job to try again: run one with `gitbench ask` first.",
                [
                    errors.Action(
                        "Ask a model", "ask", (errors.Placeholder('"..."'), "--files", errors.Placeholder("'GLOB'"))
                    )
                ],
            )
        job = asks[-1]
    if job.kind != "ask":
        raise errors.UsageError(
            f"Job {job.id} is a {job.kind} job; only Workshop jobs (`gitbench ask`) can be tried with another model."
        )
    return job


def try_models(
    wb: Workbench,
    models: list[str],
    job_id: str | None = None,
    labels: list[str] | None = None,
    max_parallel: int | None = None,
    progress: Progress | None = None,
    executor: str | None = None,
) -> list[AttemptResult]:
    """Run the job again with each model, each into its own Draft; one result (or error) per model, in order.

    ``executor``: where the attempts' model calls run (``dask://local``, ``dask://HOST:PORT``; default:
    ``[workflow] executor`` of the config, else here, each in its attempt's thread); everything else runs here
    either way (a ``command:`` agent too, in its Draft's worktree). ``max_parallel``: attempts at once (default
    3; on an executor, its capacity)."""
    from concurrent.futures import ThreadPoolExecutor  # not imported by everyday commands

    from gitbench import executors
    from gitbench.providers import config as provider_config
    from gitbench.services import ask, attempt_tasks
    from gitbench.store.logs import Log

    say = progress or events.ignore
    if not models:
        raise errors.UsageError("Name at least one model to try, e.g. gitbench try ollama:qwen2.5-coder.")
    if labels and len(labels) != len(models):
        raise errors.UsageError(f"{len(labels)} --label for {len(models)} model(s): give one label per model.")
    if max_parallel is not None and max_parallel < 1:
        raise errors.UsageError("--max-parallel must be 1 or more.")
    cfg = provider_config.load(wb.git.workdir)
    executor = provider_config.choose_executor(executor, cfg)  # a bad address is refused before anything starts
    remote = executors.parse(executor)[0] != "local"
    specs = [cfg.resolve(m) for m in models]  # every model is known before anything starts
    log = Log(wb.layout.logs, cfg.secrets)
    with wb.changing("try"), contextlib.ExitStack() as stack:
        src = source_job(wb, job_id)
        prompt = chat.prompt_of(wb, src)
        if prompt is None:
            raise errors.UsageError(
                f"The prompt of job {src.id} is not in the conversation records (a restore "
                "took it away?), so it cannot be tried again."
            )
        if not wb.git.exists(src.base):
            raise errors.UsageError(f"The base of job {src.id} ({src.base[:12]}) is gone from the repository.")
        scope = Scope.of(src.scope)
        for spec in specs:
            if scope.everything and spec.provider.kind != "command":
                raise errors.UsageError(
                    f"Job {src.id} ran without --files, so {spec.id} would be sent every file "
                    "of the Workbench. Nothing was sent."
                )
        taken = {r[len(DRAFT_PREFIX) :] for r in wb.draft_refs()}
        chosen = []
        for i, spec in enumerate(specs):
            label = labels[i] if labels else label_for(spec.id, taken)
            if not LABEL.fullmatch(label) or ".." in label or label.endswith(".lock"):
                raise errors.UsageError(
                    f"Bad --label {label!r}: use letters, digits, '.', '_' and '-' (up to 80, "
                    "not starting with '.' or '-')."
                )
            if label in taken:
                raise errors.UsageError(
                    f"A Draft {label!r} is open already; choose another --label.",
                    [errors.Action("See the Drafts", "drafts")],
                )
            taken.add(label)
            chosen.append(label)
        caller: ask.Caller | None = None
        cancel = ask.Cancel()
        if remote:  # opened before any attempt starts: a scheduler that does not answer leaves nothing behind
            again = (*models, "--job", src.id, *[a for label in labels or [] for a in ("--label", label)])
            on = stack.enter_context(executors.open_executor(executor, again=errors.Action("try", "try", again)))
            caller = attempt_tasks.TaskCalls(on, cancel)
            capacity = on.capacity()
            if not capacity:  # a scheduler whose workers have not joined yet: the tasks wait for them
                say(events.Note(f"The cluster at {executor} has no worker yet: the attempts wait until one joins."))
            if max_parallel is None:
                max_parallel = capacity or len(specs)
        started: list[JobRecord] = []
        for spec, label in zip(specs, chosen, strict=True):
            job, _ = jobs.start_job(
                wb,
                "ask",
                scope,
                [],
                f"try {src.id} with {spec.id}",
                "fork",
                label=label,
                base=src.base,
                checkpoint=src.checkpoint,
                journal=False,
            )
            # an attempt of an attempt is tried from the same Workshop job: that job's turn holds the prompt
            job.model, job.models, job.tried_from = spec.id, [spec.id], src.tried_from or src.id
            job.conversation, job.turn = src.conversation, src.turn
            if spec.provider.kind != "command":
                job.plan = ask.plan(wb, job.base, scope, cfg.settings.batch_files)
                job.steps_total = len(job.plan)
                job.usage_estimate = ask.estimate(wb, job.base, job.plan, prompt, cfg.settings.max_file_bytes)
            drafts.save_job(wb, job, note=f"planned: try {src.id} with {spec.id}")
            started.append(job)
            # written after each start: a crash from here on marks every started attempt interrupted
            wb.journal.write(Attempts([j.id for j in started], os.getpid()))
            say(events.Attempt(label, events.DraftMade(src.checkpoint or src.base[:12], spec.id)))
        log.event(
            "try.start",
            job=src.id,
            attempts=[j.id for j in started],
            models=[s.id for s in specs],
            executor=executor if remote else "local",
        )

        def attempt(job: JobRecord, spec: provider_config.ModelSpec) -> AttemptResult:
            """One attempt, in a thread of the pool, on its own Workbench object (one pygit2 Repository per
            thread) under the lock this process holds, with a silent journal (the attempts share the "try"
            entry). An attempt still waiting for its turn when the user cancels is cancelled as it is."""
            mine = wb.for_thread(_NoJournal())
            if cancel.is_set():
                return _cancelled_before_start(mine, job, cancel.reason)
            label = job.draft[len(DRAFT_PREFIX) :]
            try:
                return ask.run_attempt(
                    mine, job, spec, cfg, prompt, lambda e: say(events.Attempt(label, e)), log, cancel, caller
                )
            except errors.GitbenchError as exc:
                say(events.Attempt(label, events.Note(exc.message)))
                return exc

        # Not a `with` block: leaving one waits for every thread, and a second Ctrl-C must not (below).
        pool = ThreadPoolExecutor(max_workers=max_parallel or 3, thread_name_prefix="try")
        futures = [pool.submit(attempt, job, spec) for job, spec in zip(started, specs, strict=True)]
        try:
            with ask.sigterm_cancels():
                _wait(futures)
        except KeyboardInterrupt as exc:
            cancel.reason = "SIGTERM" if str(exc) == "SIGTERM" else "Ctrl-C"
            cancel.set()  # each attempt stops before its next request: cancelled, its finished batches kept
            say(events.Stopping(cancel.reason, executor if remote else None))
            try:
                _wait(futures)
            except KeyboardInterrupt:
                _end_at_once()
        pool.shutdown()
        for future in futures:
            crashed = future.exception()
            if crashed is not None:  # an internal error in an attempt: raised again here, once all have ended
                raise crashed
        wb.journal.clear()
        return [f.result() for f in futures]


def _wait(futures: list[Future[AttemptResult]]) -> None:
    """Wait for every attempt, in short slices so that Ctrl-C (or SIGTERM) reaches the main thread meanwhile."""
    from concurrent.futures import wait

    while wait(futures, timeout=0.1).not_done:
        pass


def _end_at_once() -> NoReturn:
    """A second Ctrl-C while the attempts finish their requests in flight: end the process now, as the signal
    itself would, as a crash would. (Raising would not: at exit, Python waits for every thread of the pool.) The
    journal stays, so the next command marks each attempt still running interrupted, and resumable."""
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)
    raise KeyboardInterrupt  # not reached: SIGINT's default action ends the process


def _cancelled_before_start(wb: Workbench, job: JobRecord, reason: str) -> errors.GitbenchError:
    """An attempt still waiting for its turn (``--max-parallel``) when the user cancelled: cancelled as it is."""
    try:
        jobs.fail(
            wb,
            job,
            errors.Cancelled(f"The attempt was cancelled ({reason}) before it started; its Draft is kept."),
            [],
            klass="user-cancel",
        )
    except errors.GitbenchError as exc:
        return exc
    raise AssertionError("jobs.fail always raises")


def rebase(wb: Workbench, label: str | None = None) -> OperationResult:
    """Put a Draft made from an older Published on top of the new one, step by step, keeping each step's
    trailers; refused, listing the paths, when Published changed a file the Draft changes too."""
    with wb.changing("rebase"):
        ref = drafts.require_idle_draft(wb, label, "rebased")
        label = ref[len(DRAFT_PREFIX) :]
        info = drafts.info(wb, ref)
        published = wb.published()
        if info.base == published:
            return OperationResult(
                "rebase", f"The Draft {label} is already made from Published; nothing to do.", draft=ref
            )
        # Published need not be a later version of the Draft's base: after a restore (here, or a teammate's that
        # a pull followed) it is an older one. Either way the Draft's own changes go on top of it, and a file that
        # both the Draft and Published changed since the base (the restore took it back) is refused below.
        # The Draft's first steps may be in Published already (a teammate published the shared Draft, and this
        # clone added steps to it since): those are left out, as `git rebase` leaves out what upstream has, and
        # the rest goes on top. Otherwise Published's change would be those very steps, "changed by both".
        steps = wb.git.first_parent_chain(info.head, info.base)
        start = next((c.oid for c in steps if wb.git.is_ancestor(c.oid, published)), info.base)
        base_tree = wb.git.commit(start).tree
        theirs = {c.path for c in wb.git.diff_trees(base_tree, wb.git.commit(published).tree)}
        ours = {c.path for c in wb.git.diff_trees(base_tree, wb.git.commit(info.head).tree)}
        both = sorted(theirs & ours)
        if both:
            actions = [
                # What it changes, to make it again on the new Published (a Draft `pull --keep-mine` made of this
                # clone's own publishes has no job to run again): read before anything is thrown away.
                errors.Action("See what the Draft changes", "review", ("--draft", label, "--patch")),
                errors.Action("Discard the Draft", "discard", ("--draft", label, "--yes")),
            ]
            # again from the new Published, as the job was made: `try` takes only a Workshop job, this one by id
            maker = drafts.job_of(wb, ref)
            if maker is not None and maker.kind == "ask":
                actions.append(
                    errors.Action("Or try the job again from the new Published", "try", ("MODEL", "--job", maker.id))
                )
            elif maker is not None and maker.kind == "exec" and maker.command:
                # exec keeps one Draft at a time: the only one open is set aside (recoverably) as the command runs
                # again; with others open too, exec refuses until they are published or discarded.
                if len(wb.draft_refs()) == 1:
                    actions.append(
                        errors.Action(
                            "Or discard it (recoverable) and run the command again from the new Published",
                            "exec",
                            ("--on-draft", "discard", "--", *maker.command),
                        )
                    )
                else:
                    actions.append(
                        errors.Action(
                            "Or, once no other Draft is open, run the command again from the new Published",
                            "exec",
                            ("--", *maker.command),
                        )
                    )
            raise errors.PublishConflict(
                f"The Draft {label} and Published both changed {len(both)} file(s) since the Draft was made: "
                + ", ".join(both[:20])
                + (" …" if len(both) > 20 else "")
                + ". gitbench does not merge changes: nothing was changed.",
                actions,
                {"paths": both},
            )
        chain = list(reversed(wb.git.first_parent_chain(info.head, start)))
        new_head = published
        # each old commit of the Draft → the commit it became (its start, and its steps in Published: Published)
        moved = {info.base: published, start: published}
        for c in chain:  # each step again, its own changes on the new base; its message (and trailers) kept
            parent = c.parents[0] if c.parents else start
            changes = {
                ch.path: ch.new for ch in wb.git.diff_trees(wb.git.commit(parent).tree, wb.git.commit(c.oid).tree)
            }
            tree = wb.git.tree_with_changes(wb.git.commit(new_head).tree, changes)
            new_head = wb.git.create_commit(tree, [new_head], c.message)
            moved[c.oid] = new_head
        wb.git.set_ref(ref, new_head, info.head, f"gitbench rebase onto {published[:12]}")
        notes_sync = worktrees.sync(wb, ref, info.head, new_head)
        job = drafts.job_of(wb, ref)
        # Every job with steps on this Draft (the one that made it, and any that continued it) now starts
        # from the commit its old start became: a resume counts its steps from there.
        for j in drafts.jobs_on(wb, ref):
            if j.base in moved:
                j.base, j.head = moved[j.base], new_head
                drafts.save_job(wb, j, note=f"rebased onto {published[:12]}")
                if job is not None and j.id == job.id:
                    job = j
        from gitbench.services import review

        return OperationResult(
            "rebase",
            f"Rebased the Draft {label} onto Published ({published[:12]}): {len(chain)} step(s), "
            f"{len(ours)} file(s); it can be published now.",
            draft=ref,
            job=job,
            review=review.review(wb, label=label),
            notes=notes_sync,
        )


def listing(wb: Workbench) -> list[dict[str, Any]]:
    """Every open Draft: label, model, base, age, steps, files, tokens, status."""
    out: list[dict[str, Any]] = []
    now = clock.now()
    for ref in wb.draft_refs():
        label = ref[len(DRAFT_PREFIX) :]
        try:
            info = drafts.info(wb, ref)
        except errors.DraftCorrupt as exc:
            out.append({"label": label, "status": "corrupt", "problem": exc.message})
            continue
        job = drafts.job_record(wb, info.job) if info.job else None  # info found it already
        out.append(
            {
                "label": label,
                "model": info.model,
                "job": info.job,
                "base": info.base,
                "base_is_published": info.base_is_published,
                "age": now - info.created,
                "created": info.created,
                "steps": info.steps,
                "files": info.files_changed,
                "tokens": info.tokens,
                "status": info.status,
                "tried_from": job.tried_from if job else None,
                "reminder": info.reminder,
            }
        )
    return out


def compare(
    wb: Workbench,
    check: str | None = None,
    labels: list[str] | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
    *,
    no_check: bool = False,
) -> dict[str, Any]:
    """The scorecard of the open Drafts (or those named), kept on the records ref. ``check``: a command run in a
    clean worktree of each Draft's tip by the publish gate's runner (default: ``[publish] check``, unless
    ``no_check``); ``timeout``: seconds per Draft (default: ``[publish] check_timeout``)."""
    from gitbench.providers import config
    from gitbench.store.logs import redact

    say = progress or events.ignore
    cfg = config.load(wb.git.workdir)
    if check is not None and no_check:
        raise errors.UsageError("--check and --no-check contradict each other: give one of them.")
    command = None if no_check else (check.strip() if check is not None else cfg.publish.check) or None
    limit = timeout if timeout is not None else cfg.publish.check_timeout
    shown = redact(command, cfg.secrets) if command else None
    with wb.changing("compare"):
        refs = [drafts.require_draft(wb, lb) for lb in labels] if labels else wb.draft_refs()
        if not refs:
            drafts.require_draft(wb)  # raises: no Draft
        rows = []
        for ref in refs:
            label = ref[len(DRAFT_PREFIX) :]
            info = drafts.info(wb, ref)
            job = drafts.job_record(wb, info.job) if info.job else None  # info found it already
            files, _ = wb.git.diff_stats(wb.git.commit(info.base).tree, wb.git.commit(info.head).tree, False)
            row: dict[str, Any] = {
                "label": label,
                "model": info.model,
                "job": info.job,
                "status": info.status,
                "base": info.base,
                "base_is_published": info.base_is_published,
                "head": info.head,
                "files": len(files),
                "insertions": sum(f.insertions for f in files),
                "deletions": sum(f.deletions for f in files),
                "steps": info.steps,
                "tokens": job.usage_actual if job else None,
                "estimate": job.usage_estimate if job else None,
                "attempts": job.attempts if job else None,
                "seconds": round((job.finished or job.updated) - job.created, 3) if job else None,
            }
            if command:
                say(events.Attempt(label, events.CheckRunning(shown, info.head)))
                row["check"] = _check(wb, info.head, command, limit, cfg)
                row["check"]["command"] = shown
            rows.append(row)
        card = {"id": wb.new_id(), "created": clock.now(), "published": wb.published(), "check": shown, "drafts": rows}
        wb.records.write(
            {f"scorecards/{card['id']}.json": card, "scorecards/latest.json": card},
            f"scorecard of {len(rows)} Draft(s)",
        )
        return card


def _check(wb: Workbench, head: str, command: str, timeout: float, cfg: Any) -> dict[str, Any]:
    """The publish gate's check (``services/checks.py``) on one Draft's tip, without the Workbench lock; its
    result as a scorecard cell (``exit_code`` None: stopped at its time limit)."""
    from gitbench.services import checks

    with wb.released("a compare check"):
        res = checks.run(wb, head, command, timeout, settings=cfg.job, secrets=cfg.secrets)
    if res.status == "cancelled":
        raise errors.Cancelled(f"The checks were cancelled ({res.stopped}); no scorecard was kept.")
    return {**res.to_record(), "output": "\n".join(res.tail.splitlines()[-5:])}
