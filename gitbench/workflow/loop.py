"""The scheduler loop of one run: resolve, schedule, claim, run side by side, record; until nothing more can run.

Each pass resolves the modules against the Draft's files (after the first pass, only what the finished modules'
steps reached), asks the scheduler what may run, claims it (the module joins the running set in ``state.json``
before it starts), and hands it to a pool of at most ``max_parallel`` worker threads. As each module finishes,
its outcome is recorded in this thread (``steps.py``: the step commit) and the loop goes round again. A failure
stops nothing else that can still run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from gitbench import clock, errors, events, faults
from gitbench.events import Progress
from gitbench.git.repo import Entry
from gitbench.model import JobRecord
from gitbench.workflow import incremental, resolver, runners, scheduler, spec, steps
from gitbench.workflow import state as engine_state
from gitbench.workflow.kinds import ModuleKind
from gitbench.workflow.resolver import ModuleStatus, View
from gitbench.workflow.state import Claim, ClaimStatus, LastRun

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from gitbench.executors import Executor
    from gitbench.workflow.engine import Engine


class Loop:
    """One run's loop over the workflow ``wf`` into ``job``'s Draft, for ``engine`` (its Workbench and state).
    ``executor``: a cluster's, where command and model modules run (None: in the pool's threads, here)."""

    def __init__(
        self, engine: Engine, wf: spec.Workflow, job: JobRecord, say: Progress, executor: Executor | None = None
    ) -> None:
        self.engine = engine
        self.executor = executor
        self.wb = engine.wb
        self.wf = wf
        self.job = job
        self.say = say
        self._home: str | None = None  # the folder the job's modules' folders go in
        self._made_from: dict[str, dict[str, str | None]] = {}  # run id → its inputs' object ids, by path

    @property
    def state(self) -> engine_state.EngineState:
        return self.engine.state

    def run(self, max_parallel: int | None, only: set[str] | None) -> None:
        from concurrent.futures import ThreadPoolExecutor  # not imported by a status

        limit = max_parallel or self.wf.max_parallel
        futures: dict[Future[runners.Outcome], tuple[str, Claim]] = {}
        with ThreadPoolExecutor(max_workers=limit) as pool:
            try:
                self._passes(pool, futures, limit, only)
            except BaseException:
                # Ctrl-C (or a failure of ours): the pool waits for its running modules as it closes, so they are
                # stopped first, with every process they started (the next run settles their claims).
                for fut in futures:
                    fut.cancel()
                if self.executor is not None:
                    self.executor.cancel_all()  # the threads waiting for the cluster's answers go on
                self._stop(mid for mid, _ in futures.values())
                if self.executor is None:
                    self._stop_until_done(futures)
                raise

    def _passes(
        self,
        pool: ThreadPoolExecutor,
        futures: dict[Future[runners.Outcome], tuple[str, Claim]],
        limit: int,
        only: set[str] | None,
    ) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        wf, job = self.wf, self.job
        # Each module runs at most once a run: a module that fails (even one asked for by name, which may run
        # when failed) is not retried in a loop, and a module waiting for input is asked again once a run (its
        # outputs may have arrived since); until then it keeps its place in the running set.
        ran: set[str] = set()
        below = wf.dependants()
        index = incremental.build_index(wf)
        view: View | None = None
        statuses: dict[str, ModuleStatus] = {}
        dirty: set[str] = set()
        while True:
            head = str(self.wb.git.ref(job.draft))
            if view is None:
                view = self.engine.view(head)
            active = {k: v for k, v in self.state.running.items() if v.status != ClaimStatus.NEEDS_INPUT or k in ran}
            # After the first pass, only what the finished modules changed is resolved again: the view is
            # updated with their step's files, and their status and everything downstream recomputed.
            statuses = self.engine.resolve(
                wf, view, active, previous=statuses or None, dirty=dirty if statuses else None
            )
            dirty = set()
            capacity = None
            if self.executor is not None:
                capacity = max(1, self.executor.capacity())
                cluster = {"address": self.executor.address, "capacity": capacity}
                if self.state.executor != cluster:  # saved with the next claim: a status names the limit
                    self.state.executor = cluster
            plan = scheduler.schedule(
                wf, statuses, active, self.state.gates, set(self.state.skipped) | ran, limit, only, capacity, False
            )
            for mid in plan.run:
                ran.add(mid)
                claim = self._claim(wf.modules[mid], statuses, view)
                futures[pool.submit(self._prepare(wf.modules[mid], head, statuses[mid]))] = (mid, claim)
            if not futures:
                return
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for fut in done:
                mid, claim = futures.pop(fut)
                changed = self._finish(mid, claim, fut.result(), statuses[mid])
                last = self.state.last_run.get(mid)
                self._progress(mid, str(last.status or "") if last is not None else "", statuses, 1)
                for path, entry in changed.items():
                    if entry is None:
                        view.files.pop(path, None)
                    else:
                        view.files[path] = entry[0]
                view._sorted = None
                # Resolved again: the module, and every module that reads what its step changed (a glob
                # input may match a new output of a module it does not need), with all downstream of them.
                for touched in {mid, *(index["ids"][i] for i in incremental.touched(index, changed))}:
                    dirty |= incremental.downstream([touched], lambda m: below.get(m, ()))

    def _stop_until_done(self, futures: dict[Future[runners.Outcome], tuple[str, Claim]]) -> None:
        """Stop the running command modules again until each has ended: one whose thread was still starting it
        when we were interrupted notes its group (or starts it) only after the first ``_stop``, and the pool
        would wait for it to end by itself (a module of minutes, a Ctrl-C that is not obeyed)."""
        from concurrent.futures import wait

        pending = {fut: mid for fut, (mid, _) in futures.items() if not fut.done()}
        pending = {f: m for f, m in pending.items() if self.wf.modules[m].kind == ModuleKind.COMMAND}
        while pending:
            wait(list(pending), timeout=0.1)
            pending = {f: m for f, m in pending.items() if not f.done()}
            self._stop(pending.values())

    def _stop(self, modules: Iterable[str]) -> None:
        """Stop the running modules' commands (their process groups, noted beside their folders)."""
        from gitbench.workflow.runners import command

        for mid in modules:
            if self.wf.modules[mid].kind == ModuleKind.COMMAND:
                command.stop_orphans(self.home(), mid)

    def _claim(self, m: spec.ModuleSpec, statuses: dict[str, ModuleStatus], view: View) -> Claim:
        """The module joins the running set (saved before it starts: a crash leaves a claim a resume settles)."""
        st = statuses[m.id]
        self._invalidate(m, st)
        run_id = f"{self.job.id}.{m.id}.{self._runs(m.id) + 1}"
        claim = Claim(
            status=ClaimStatus.RUNNING,
            pid=os.getpid(),
            started=self.engine.started,
            since=clock.now(),
            job=self.job.id,
            run=run_id,
            fingerprint=st.fingerprint,
        )
        self.state.running[m.id] = claim
        engine_state.save(self.wb.git.gitdir, self.state, runs=False)  # a claim ends no run
        # what the fingerprint is made from, for the metadata: a later change names its files
        made_from, _ = resolver.module_inputs(m, view, {n: statuses[n] for n in m.needs})
        self._made_from[run_id] = dict(made_from)
        faults.point("workflow.after-claim")
        self.say(events.ModuleRunning(m.id, m.kind))
        self._progress(m.id, "running", statuses)
        return claim

    def _runs(self, mid: str) -> int:
        """How many runs the module has had (the next run's id counts on)."""
        last = self.state.last_run.get(mid)
        return int(last.count or 0) if last is not None else 0

    def _progress(self, mid: str, state: str, statuses: dict[str, ModuleStatus], just_done: int = 0) -> None:
        if self.engine.on_module is not None:
            done = sum(1 for s in statuses.values() if s.state == resolver.ModuleState.COMPLETE)
            self.engine.on_module(mid, state, done + (just_done if state == "complete" else 0), len(statuses))

    def home(self) -> str:
        """The folder the job's modules get their folders in (read once a run: it comes from the config)."""
        if self._home is None:
            from gitbench.services import worktrees

            self._home = worktrees.modules_folder(self.wb, self.job.id)
        return self._home

    def _prepare(self, m: spec.ModuleSpec, head: str, st: ModuleStatus) -> Callable[[], runners.Outcome]:
        config = {**m.config, **self.state.overrides.get(m.id, {})}
        home = "" if m.kind == ModuleKind.INPUT else self.home()
        return runners.prepare(self.wb, self.wf, m, head, st, config, home, self.executor)

    def _finish(self, mid: str, claim: Claim, raw: runners.Outcome, st: ModuleStatus) -> dict[str, Entry | None]:
        """Record a module's run (its step commit when it completed). Returns the files its step changed."""
        m = self.wf.modules[mid]
        result = steps.collect(self.wb, m, self.job, raw)
        changed: dict[str, Entry | None] = {}
        status, error, finished, commit = result.status, result.error, clock.now(), None
        if result.status == engine_state.RunStatus.COMPLETE:

            def record(commit: str, parent: str) -> None:
                # Written before the Draft moves: if the engine dies between the two, resume fast-forwards the
                # Draft to this commit instead of running the module again.
                self.state.running[m.id] = dataclasses.replace(claim, commit=commit, parent=parent)
                engine_state.save(self.wb.git.gitdir, self.state, runs=False)

            try:
                commit, changed = steps.commit_module(
                    self.wb,
                    m,
                    self.job,
                    str(claim.run),
                    str(claim.fingerprint),
                    self._made_from.pop(str(claim.run), None),
                    result,
                    record,
                )
            except errors.GitbenchError as exc:
                status, error = engine_state.RunStatus.FAILED, exc.message
        # Kept small: one line of runs.log a run.
        self.state.last_run[mid] = LastRun(
            status=status,
            error=error,
            finished=finished,
            since=claim.since,
            seconds=round(result.seconds, 3),
            run=claim.run,
            fingerprint=claim.fingerprint,
            commit=commit,
            count=self._runs(mid) + 1,
            job=claim.job,
            lost=result.lost or None,
            transient=result.transient or None,
            recipe=spec.recipe(m) if status == engine_state.RunStatus.FAILED else None,
        )
        if status == engine_state.RunStatus.NEEDS_INPUT:
            self.state.running[mid] = dataclasses.replace(claim, status=ClaimStatus.NEEDS_INPUT)
            self.say(events.ModuleNeedsInput(mid, str(m.input_request or result.error)))
        else:
            self.state.running.pop(mid, None)
            self.say(events.ModuleEnded(mid, str(status), error or None))
        engine_state.save(self.wb.git.gitdir, self.state)
        faults.point("workflow.after-finish")
        return changed

    def _invalidate(self, m: spec.ModuleSpec, st: ModuleStatus) -> None:
        """Invalidation events reach the module before it reruns (logged; Python modules get a handler call)."""
        stale = [a for a in st.artifacts if a.klass in resolver.STALE]
        if not stale:
            return
        from gitbench.store.logs import Log

        log = Log(self.wb.layout.logs)
        for a in stale:
            log.event("artifact.invalidated", module=m.id, path=a.path, klass=a.klass, reason=a.reason)
