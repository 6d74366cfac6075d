"""The engine: a workflow run is one job into one Draft; each finished module is one step commit.

``run`` takes the auto-checkpoint and creates the Draft (or continues the workflow's Draft), then loops:
resolve against the Draft's files, schedule, claim (the module joins the running set in ``state.json``), run the
claimed modules side by side (commands in their own folders, at most ``max_parallel`` at once), and commit each
finished module's outputs with its metadata as one step whose ``Gitbench-Step`` names the module. A failure stops
nothing else that can still run; when nothing more can run, the job ends as complete, failed (``Status: Error ·
<id> failed``) or waiting for input. ``resume`` reloads the state, settles claims whose process died (a module
whose step commit is on the Draft finished: it is never run twice; one without is free to run again) and runs on.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitbench import errors, events, faults
from gitbench.events import Progress
from gitbench.model import DRAFT_PREFIX, JobRecord, JobStatus, OperationResult
from gitbench.scope import Scope
from gitbench.services import drafts, jobs
from gitbench.services.workbench import Workbench
from gitbench.workflow import claims as engine_claims
from gitbench.workflow import incremental, resolver, scheduler, spec, steps
from gitbench.workflow import state as engine_state
from gitbench.workflow.caches import Caches
from gitbench.workflow.resolver import ModuleStatus, View
from gitbench.workflow.runners import Result
from gitbench.workflow.state import Claim, Gate

if TYPE_CHECKING:
    from gitbench.executors import Executor

__all__ = ["Engine", "EngineStatus", "Result", "banner", "current_phase", "untargeted"]


@dataclass
class EngineStatus:
    banner: str
    job: str | None
    draft: str | None
    modules: list[ModuleStatus]
    phase: str | None = None
    max_parallel: int = 2


class Engine:
    """The workflow of one Workbench: its status, the operator's tools (gates, skips) and runs.

    Where each part lives: the persisted state (``state.py``), claims and settling them after a crash
    (``claims.py``), the scheduler loop of a run (``loop.py``), module runners per kind (``runners/``), step
    commits (``steps.py``), caches and the cached status (``caches.py``)."""

    def __init__(self, wb: Workbench) -> None:
        self.wb = wb
        self.caches = Caches(wb.git.gitdir)
        self.state = self._load()
        # Progress for a display: (module, its new state, modules complete, modules in all). The core never
        # prints; the CLI draws a progress bar from these.
        self.on_module: Callable[[str, str, int, int], None] | None = None
        from gitbench.services.supervisor import start_time

        self.started = start_time(os.getpid())  # claims name it: a later process with the same pid is not us

    def _load(self) -> engine_state.EngineState:
        """The persisted state. If it was deleted, the workflow's job is found again from the open Draft's job
        record: deleting the state loses no work (the artifacts and the Draft's steps tell the rest)."""
        loaded = engine_state.load(self.wb.git.gitdir)
        if loaded.job is None:
            for ref in self.wb.draft_refs():
                job = drafts.job_of(self.wb, ref)
                if job is not None and job.kind == "workflow":
                    loaded.job = job.id
                    break
        return loaded

    # -- reading ----------------------------------------------------------------------------------------------
    def head(self) -> str:
        """The commit the engine looks at: the workflow's Draft if it has one, else Published."""
        if self.state.job:
            job = drafts.job_record(self.wb, self.state.job)
            if job is not None and self.wb.git.ref(job.draft):
                return str(self.wb.git.ref(job.draft))
        return self.wb.published()

    def view(self, commit: str) -> View:
        tree = self.wb.git.commit(commit).tree
        listing = self.wb.git.blob_map(tree)
        return View(listing, self.wb.git.blob, self.caches.meta())

    def workflow(self, view: View) -> spec.Workflow:
        """The workflow file in ``view``, parsed (once per version of the file: ``caches.py``)."""
        return self.caches.workflow(view)

    def resolve(
        self,
        wf: spec.Workflow,
        view: View,
        running: dict[str, Claim] | None = None,
        previous: dict[str, ModuleStatus] | None = None,
        dirty: set[str] | None = None,
    ) -> dict[str, ModuleStatus]:
        return resolver.resolve(
            wf,
            view,
            self.claims() if running is None else running,
            self.state.last_run,
            self.state.overrides,
            set(self.state.skipped),
            previous,
            dirty,
        )

    def claims(self) -> dict[str, Claim]:
        """The running set as it is now, a claim whose process is gone marked ``interrupted`` (``claims.py``)."""
        return engine_claims.current(self.state)

    def status(self, max_parallel: int | None = None) -> EngineStatus:
        return self.full_status(max_parallel)[2]

    def full_status(
        self, max_parallel: int | None = None
    ) -> tuple[spec.Workflow, dict[str, ModuleStatus], EngineStatus]:
        """Everything resolved and scheduled (no cached status): the workflow, each module's status, the whole."""
        view = self.view(self.head())
        wf = self.workflow(view)
        claims = self.claims()
        statuses = self.resolve(wf, view, claims)
        self.caches.save_meta(view)
        capacity = engine_claims.cluster_capacity(self.state, claims)
        scheduler.schedule(
            wf, statuses, claims, self.state.gates, set(self.state.skipped), max_parallel, None, capacity
        )
        return (
            wf,
            statuses,
            EngineStatus(
                banner=banner(wf, statuses, self.state.skipped),
                job=self.state.job,
                draft=self.draft(),
                modules=[statuses[m] for m in wf.order],
                phase=current_phase(wf, statuses, self.state.skipped),
                max_parallel=max_parallel or wf.max_parallel,
            ),
        )

    def status_text(self, max_parallel: int | None = None) -> str:
        """The status as a JSON text, from the caches when they can tell it (``caches.status_text``)."""
        from gitbench.workflow import caches

        return caches.status_text(self, max_parallel)

    def status_data(self, max_parallel: int | None = None) -> dict[str, Any]:
        import json

        data: dict[str, Any] = json.loads(self.status_text(max_parallel))
        return data

    def draft(self) -> str | None:
        """The workflow's Draft (its ref), if the job has one still."""
        job = drafts.job_record(self.wb, self.state.job) if self.state.job else None
        return job.draft if job is not None and self.wb.git.ref(job.draft) else None

    # -- operator tools ---------------------------------------------------------------------------------------
    def set_gate(self, mid: str, required: bool | None = None, approved: bool | None = None) -> str:
        view = self.view(self.head())
        wf = self.workflow(view)
        require_module(wf, mid)
        with self.wb.changing("workflow gate"):
            self.state = self._load()
            held = self.state.gates.get(mid)
            if approved and not (wf.modules[mid].gate if held is None or held.required is None else held.required):
                # approving it would change nothing, while saying "gate approved"
                raise errors.UsageError(
                    f"{mid} has no gate (gate: false in {spec.PATH}, none set at runtime): there is nothing to "
                    "approve, it runs without one.",
                    [
                        errors.Action(
                            "Hold it for approval first, if that is what you meant",
                            text=f"gitbench workflow gate {mid}",
                        )
                    ],
                )
            gate = self.state.gates.setdefault(mid, Gate(required=wf.modules[mid].gate))
            if required is not None:
                gate.required = required
            seen: dict[str, str | None] = {}
            if approved:
                # An approval is of what the module would run on now: its inputs' ids (and its fingerprint, which
                # covers its version and settings too). New inputs need a new approval.
                statuses = self.resolve(wf, view)
                made_from, _ = resolver.module_inputs(
                    wf.modules[mid], view, {n: statuses[n] for n in wf.modules[mid].needs}
                )
                seen = dict(made_from)
                gate.approved, gate.fingerprint, gate.inputs = True, statuses[mid].fingerprint, seen
            elif approved is not None:
                gate.approved, gate.fingerprint, gate.inputs = False, None, None
            engine_state.save(self.wb.git.gitdir, self.state)
        if approved:
            return (
                f"{mid}: gate approved for its current inputs ({len(seen)} file(s)); if they change, it waits for "
                "a new approval."
            )
        if approved is not None:
            return f"{mid}: gate approval withdrawn."
        return f"{mid}: now needs manual approval before it runs (`gitbench workflow approve {mid}`)."

    def skip(self, mid: str, undo: bool = False) -> str:
        wf = self.workflow(self.view(self.head()))
        require_module(wf, mid)
        if not wf.modules[mid].optional:
            raise errors.UsageError(
                f"{mid} is not optional (optional: true in {spec.PATH}); only optional modules can be skipped."
            )
        with self.wb.changing("workflow skip"):
            self.state = self._load()
            skipped = set(self.state.skipped)
            skipped.discard(mid) if undo else skipped.add(mid)
            self.state.skipped = sorted(skipped)
            engine_state.save(self.wb.git.gitdir, self.state)
        if undo:
            return f"{mid}: back among the targets."
        below = sorted(untargeted(wf, [mid]) - {mid}, key=wf.order.index)
        return f"{mid}: skipped; the engine will not run it." + (
            f" Neither will what needs it, while it is skipped: {', '.join(below)}." if below else ""
        )

    def unset(self, mid: str, keys: list[str] | None = None) -> str:
        """Forget the settings `module-runner --set` / `--config-file` left for ``mid`` (only ``keys``, if given):
        its runs go by the workflow file's config again."""
        require_module(self.workflow(self.view(self.head())), mid)
        with self.wb.changing("workflow unset"):
            self.state = self._load()
            kept = self.state.overrides.get(mid, {})
            unknown = [k for k in keys or [] if k not in kept]
            if unknown:
                held = ", ".join(sorted(kept)) or "none"
                raise errors.UsageError(
                    f"{mid} has no setting {', '.join(unknown)} from module-runner (it has: {held}). Nothing changed.",
                    [errors.Action("See the settings kept", "workflow status")],
                )
            gone = sorted(keys or kept)
            if not gone:
                return f"{mid} has no settings from module-runner --set / --config-file: it runs with the file's."
            for key in gone:
                del kept[key]
            if not kept:
                self.state.overrides.pop(mid, None)
            engine_state.save(self.wb.git.gitdir, self.state)
        return f"{mid}: forgot {', '.join(gone)} from module-runner; its runs use the workflow file's " + (
            "config again." if not kept else f"config for them (still kept: {', '.join(sorted(kept))})."
        )

    # -- running ----------------------------------------------------------------------------------------------
    def run(
        self,
        max_parallel: int | None = None,
        only: list[str] | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        progress: Progress | None = None,
        on_draft: str | None = None,
        executor: str | Executor | None = None,
        again: errors.Action | None = None,
    ) -> OperationResult:
        """Run (or resume: the same thing; every run first settles the claims an interrupted one left).
        ``executor``: where command and model modules run: an address (``gitbench/executors``; None or
        ``local``: threads of this process), opened and closed by the run; or an open Executor (the caller's to
        close). ``again``: the command a scheduler that does not answer offers to run again, without
        ``--executor`` (default: this ``workflow run``, its ``--module`` and ``--on-draft`` kept)."""
        say = progress or events.ignore
        with self.wb.changing("workflow"):
            self.state = self._load()
            # The file and the module names are checked before anything changes: a bad one runs nothing (no
            # checkpoint, no Draft, no journal left behind).
            wf = self.workflow(self.view(self.head()))
            for mid in [*(only or []), *(overrides or {})]:
                require_module(wf, mid)
            before = {mid: dict(self.state.overrides.get(mid, {})) for mid in overrides or {}}
            for mid, values in (overrides or {}).items():
                self.state.overrides.setdefault(mid, {}).update(values)
            if any(self.state.overrides[mid] != was for mid, was in before.items()):
                # saved now, not with the module's claim: a gated module may not run yet, and its approval
                # (`workflow approve`, which reads the state) must see the settings it is to run with
                engine_state.save(self.wb.git.gitdir, self.state)
            from gitbench import executors

            # Opened before anything changes: a scheduler that is not there runs nothing (no checkpoint, no Draft).
            # A local run has no executor: its modules run in the loop's threads, as they always did.
            opened = None
            if isinstance(executor, executors.Executor):
                cluster: Executor | None = executor
            elif executors.parse(executor)[0] != "local":
                if again is None:
                    words = [*(w for mid in only or [] for w in ("--module", mid))]
                    words += ["--on-draft", on_draft] if on_draft else []
                    again = errors.Action("run", "workflow run", tuple(words))
                cluster = opened = executors.open_executor(executor, again=again)
                if opened.capacity() == 0:
                    say(events.Note(f"{opened.address} has no workers yet: its modules wait until one joins."))
            else:
                cluster = None
            try:
                return self._run(max_parallel, only, say, on_draft, cluster)
            finally:
                if self.state.executor is not None:  # the cluster is no longer this Workbench's limit
                    self.state.executor = None
                    engine_state.save(self.wb.git.gitdir, self.state)
                if opened is not None:
                    opened.close()

    def _run(
        self,
        max_parallel: int | None,
        only: list[str] | None,
        say: Progress,
        on_draft: str | None,
        cluster: Executor | None,
    ) -> OperationResult:
        notes = engine_claims.settle(self.wb, self.state, say)
        lost = engine_claims.release_lost(self.state, say)
        if lost:
            engine_state.save(self.wb.git.gitdir, self.state)
            notes.extend(lost)
        unused = steps.unused_workflow_edit(self.wb)
        if unused is not None:
            notes.append(unused)
            say(events.Note(unused))
        if self._job_in_progress() is None:
            idle = self._nothing_to_run(max_parallel, only, notes)
            if idle is not None:
                return idle
        job = self._job(on_draft, notes, say)
        view = self.view(self.head())
        wf = self.workflow(view)  # again: `--on-draft publish` may have moved Published
        self._record_definition(wf, view)
        job.steps_total = len(wf.modules)
        steps.take_operator_edits(self.wb, wf, job, notes, say)
        refused_before = len(job.refused)
        try:
            from gitbench.workflow.loop import Loop

            Loop(self, wf, job, say, cluster).run(max_parallel, set(only) if only else None)
        except KeyboardInterrupt:
            engine_claims.unclaim_all(self.wb.git.gitdir, self.state)
            return jobs.fail(
                self.wb,
                job,
                errors.Cancelled(
                    "The workflow run was cancelled. Finished modules are kept in the Draft; "
                    "`gitbench workflow resume` goes on."
                ),
                notes,
                klass="user-cancel",
            )
        if len(job.refused) > refused_before:  # written by this run's modules: logged, and said here
            notes.append(steps.refused_note(job.refused[refused_before:]))
            say(events.Note(notes[-1]))
        try:
            return self._end(wf, job, notes)
        except errors.GitbenchError as exc:
            if cluster is not None and cluster.remote:
                # a run on a cluster goes on on the same cluster: the offered resume names it
                exc.actions = [_on_cluster(a, cluster.address) for a in exc.actions]
            raise

    def _record_definition(self, wf: spec.Workflow, view: View) -> None:
        """The definition the run goes by, in the state: the file's blob id (the exact text, in Git) and the
        resolved definition (defaults filled in). Written when it changed, or when definition.json did not hold it
        (deleted, or a crash between writing it and state.json)."""
        blob = view.oid(spec.PATH)
        held = self.state.workflow
        if (
            held is None
            or held.get("blob") != blob
            or ("definition" not in held and not engine_state.holds_definition(self.wb.git.gitdir, held))
        ):
            self.state.workflow = {"path": spec.PATH, "blob": blob, "definition": spec.to_json(wf)}
            engine_state.save(self.wb.git.gitdir, self.state)

    def _job_in_progress(self) -> JobRecord | None:
        """The workflow's job whose Draft is still there, if there is one."""
        if self.state.job:
            job = drafts.job_record(self.wb, self.state.job)
            if job is not None and self.wb.git.ref(job.draft) is not None:
                return job
        return None

    def _nothing_to_run(
        self, max_parallel: int | None, only: list[str] | None, notes: list[str]
    ) -> OperationResult | None:
        """A run that would start a new job when no module can run (all up to date, held at a gate, failed with
        nothing changed since): said at once, with no checkpoint taken and no Draft made for nothing (each would
        stay in the history: a checkpoint per `workflow run` typed to check). None: something can run, or the
        operator's edits in the folder are to be taken (they may make a module outdated)."""
        view = self.view(self.head())
        wf = self.workflow(view)
        if self.state.running or steps.operator_edits(self.wb, wf):
            return None
        statuses = self.resolve(wf, view)
        plan = scheduler.schedule(
            wf, statuses, {}, self.state.gates, set(self.state.skipped), max_parallel, set(only) if only else None
        )
        if plan.run:
            return None
        text = banner(wf, statuses, self.state.skipped)
        off = untargeted(wf, self.state.skipped)
        targets = [m for m in wf.order if m not in off and (not only or m in only)]
        failed = [m for m in targets if statuses[m].state == resolver.ModuleState.FAILED]
        if failed:
            raise errors.JobFailed(
                f"{text}: {statuses[failed[0]].reason} (its last run; nothing it is made from has changed since, "
                "so it was not run again). Nothing ran: no checkpoint, no Draft.",
                [
                    errors.Action("See why", "workflow status"),
                    errors.Action("Run it again as it is", "workflow run", ("--module", failed[0])),
                    errors.Action(
                        f"Changed its command in {spec.PATH}? Bump its `version` there too (a module's command is "
                        "not part of its fingerprint), then run"
                    ),
                ],
            )
        left = [m for m in targets if statuses[m].state != resolver.ModuleState.COMPLETE]
        dropped = [m for m in only or [] if m in off]  # named, but skipped (or needing a skipped module)
        if dropped:
            undo = " and ".join(f"gitbench workflow skip {m} --undo" for m in dropped if m in self.state.skipped)
            summary = (
                f"{text}. Nothing to run (no checkpoint taken, no Draft made): {', '.join(dropped)} "
                f"{'is' if len(dropped) == 1 else 'are'} not run while skipped"
                + (f" (back among the targets: {undo})." if undo else " (the modules they need are skipped).")
            )
        elif not left:
            who = "Every module is" if not only else f"{', '.join(only)} {'is' if len(only) == 1 else 'are'}"
            summary = f"{text}. {who} up to date: nothing to run (no checkpoint taken, no Draft made)."
        else:
            gated = [m for m in left if (statuses[m].skip or "").startswith("manual-gate")]
            listed = ", ".join(f"{m} ({waits_for(statuses[m])})" for m in left[:10])
            summary = (
                f"{text}. Nothing can run now (no checkpoint taken, no Draft made): {listed}. {then_resume(gated)}"
            )
        return OperationResult("workflow", summary, notes=notes)

    def _job(self, on_draft: str | None, notes: list[str], say: Progress) -> JobRecord:
        """The workflow's job: the one in progress (its Draft still there), or a new one."""
        job = self._job_in_progress()
        if job is not None:
            if job.status != "running":
                job.status, job.error = JobStatus.RUNNING, None
                self.wb.journal.write({"op": "job", "id": job.id, "draft": job.draft, "pid": os.getpid()})
                drafts.save_job(self.wb, job, note="workflow resumed")
            say(events.Continuing(job.id, job.draft[len(DRAFT_PREFIX) :]))
            return job
        # `--on-draft publish` lets go of the Workbench lock while the open Draft's publish check runs: what this run
        # holds is saved first, and the state read again after, with what another command changed meanwhile.
        engine_state.save(self.wb.git.gitdir, self.state)
        job, more = jobs.start_job(self.wb, "workflow", Scope(), [], "workflow run", on_draft)
        self.state = self._load()
        notes.extend(more)
        job.model = "workflow"
        self.state.job = job.id
        self.state.running.clear()
        engine_state.save(self.wb.git.gitdir, self.state)
        faults.point("workflow.after-job")
        say(events.CheckpointTaken(job.checkpoint, job.id))
        return job

    def _end(self, wf: spec.Workflow, job: JobRecord, notes: list[str]) -> OperationResult:
        view = self.view(str(self.wb.git.ref(job.draft)))
        statuses = self.resolve(wf, view)
        # the skip reasons too, so "Modules left" says why each one did not run (a gate, a full slot, ...)
        scheduler.schedule(wf, statuses, self.state.running, self.state.gates, set(self.state.skipped))
        text = banner(wf, statuses, self.state.skipped)
        failed = [s.id for s in statuses.values() if s.state == resolver.ModuleState.FAILED]
        waiting = [s.id for s in statuses.values() if s.state == resolver.ModuleState.NEEDS_INPUT]
        if failed:
            st = statuses[failed[0]]
            # The actions (workflow status, module-runner, workflow resume, ...) come from jobs.next_actions,
            # the module-runner one for any module: here it names the one that failed.
            try:
                return jobs.fail(
                    self.wb,
                    job,
                    errors.JobFailed(f"{text}: {sentence(st.reason)} Finished modules are kept in the Draft."),
                    notes,
                    klass="module",
                )
            except errors.JobFailed as exc:
                exc.actions = [
                    dataclasses.replace(a, text=f"module-runner --module {st.id}")
                    if a.text.startswith("module-runner")
                    else a
                    for a in exc.actions
                ]
                raise
        off = untargeted(wf, self.state.skipped)
        left = [m for m in wf.order if statuses[m].state != resolver.ModuleState.COMPLETE and m not in off]
        if waiting or left:
            # Not done: waiting for the operator (input, a gate) or run for a few modules only. The job pauses;
            # `gitbench workflow resume` goes on, and the Draft can be reviewed or published meanwhile.
            if waiting:
                why = "Waiting for input: " + "; ".join(
                    f"{w} ({wf.modules[w].input_request}: write {', '.join(wf.modules[w].outputs)} in the "
                    "Workbench folder)"
                    for w in waiting
                )
            else:
                why = "Modules left: " + ", ".join(f"{m} ({statuses[m].skip or statuses[m].state})" for m in left[:10])
            gated = [m for m in left if (statuses[m].skip or "").startswith("manual-gate")]
            job.status = JobStatus.PAUSED
            job.error = {"code": "workflow-paused", "class": "needs-input" if waiting else "paused", "message": why}
            drafts.save_job(self.wb, job, report=jobs.report(job), note="paused")
            self.wb.journal.clear()
            from gitbench.services import review

            return OperationResult(
                "workflow",
                f"{text}. {why}. {then_resume(gated)}",
                draft=job.draft,
                job=job,
                notes=notes,
                review=review.review(self.wb),
            )
        # state.job stays: the finished workflow's Draft is what `workflow status` shows until it is published
        # or discarded (then the engine looks at Published again, and the next run starts a new job).
        engine_state.save(self.wb.git.gitdir, self.state)
        result = jobs.complete(self.wb, job, notes)
        result.summary = f"{text}. {result.summary}"
        return result


def waits_for(st: ModuleStatus) -> str:
    """Why a module that is not complete did not run, in a few words: its gate or slot, what blocks it, a missing
    input (the scheduler's bare ``not-ready`` says none of that)."""
    if st.skip and st.skip != "not-ready":
        return st.skip
    if st.blocked_by:
        return "blocked by " + ", ".join(st.blocked_by)
    return f"{st.state}: {st.reason}" if st.reason else str(st.state)


def sentence(text: str | None) -> str:
    """``text`` ended by one full stop: a module's error is its own words (a provider's message, a command's last
    line of stderr), often with its own stop already."""
    return (text or "").rstrip().rstrip(".") + "."


def then_resume(gated: list[str]) -> str:
    """How a paused run goes on: a resume alone never runs a module held at its gate, so its approval comes first."""
    if not gated:
        return "Then: gitbench workflow resume."
    approve = " and ".join(f"gitbench workflow approve {m}" for m in gated[:10])
    waits = "waits" if len(gated) == 1 else "wait"
    return f"{', '.join(gated[:10])} {waits} for your approval: {approve}, then: gitbench workflow resume."


def banner(wf: spec.Workflow, statuses: dict[str, ModuleStatus], skipped: Collection[str] = ()) -> str:
    off = untargeted(wf, skipped)
    return incremental.banner_of(wf.order, [statuses[m].state for m in wf.order], off)


def current_phase(wf: spec.Workflow, statuses: dict[str, ModuleStatus], skipped: Collection[str] = ()) -> str | None:
    return incremental.phase_of(
        wf.phases,
        wf.order,
        [wf.modules[m].phase for m in wf.order],
        [statuses[m].state for m in wf.order],
        untargeted(wf, skipped),
    )


def untargeted(wf: spec.Workflow, skipped: Collection[str]) -> set[str]:
    """Skipped optional modules and everything that needs them: not targets while they are skipped."""
    if not skipped:
        return set()
    below = wf.dependants()
    return incremental.untargeted([m for m in skipped if m in below], lambda m: below.get(m, ()))


def require_module(wf: spec.Workflow, mid: str) -> None:
    if mid not in wf.modules:
        raise errors.UsageError(
            f"There is no module {mid!r} in {spec.PATH}.",
            [errors.Action("See the modules", "workflow status")],
        )


def _on_cluster(action: errors.Action, address: str) -> errors.Action:
    """``action`` with ``--executor ADDRESS`` when it resumes the workflow (else as it is)."""
    if action.verb != "workflow resume" or "--executor" in action.args:
        return action
    import dataclasses

    return dataclasses.replace(action, args=(*action.args, "--executor", address))
