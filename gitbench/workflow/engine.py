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

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gitbench
from gitbench import clock, errors, faults, trailers
from gitbench.git import export
from gitbench.git.repo import BLOB, COMMIT_MODE, TREE, Entry
from gitbench.model import DRAFT_PREFIX, JobRecord, OperationResult
from gitbench.scope import Scope
from gitbench.services import drafts, jobs
from gitbench.services.workbench import Workbench
from gitbench.store import atomic
from gitbench.workflow import incremental, resolver, scheduler, spec
from gitbench.workflow import state as engine_state
from gitbench.workflow.kinds import ModuleKind
from gitbench.workflow.resolver import ModuleStatus, View

if TYPE_CHECKING:
    from concurrent.futures import Future

Progress = Callable[[str], None]


@dataclass
class Result:
    """What one module run produced (built in the main thread from what its process did)."""

    status: str  # complete | failed | needs-input
    changes: dict[str, Entry | None] = field(default_factory=dict)
    error: str | None = None
    refused: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class EngineStatus:
    banner: str
    job: str | None
    draft: str | None
    modules: list[ModuleStatus]
    phase: str | None = None
    max_parallel: int = 2


class Engine:
    _compiled: incremental.Compiled | None = None  # the workflow last read, with the parts a snapshot takes of it

    def __init__(self, wb: Workbench) -> None:
        self.wb = wb
        self.state = self._load()
        # Progress for a display: (module, its new state, modules complete, modules in all). The core never
        # prints; the CLI draws a progress bar from these.
        self.on_module: Callable[[str, str, int, int], None] | None = None
        self._modules: tuple[str, str] | None = None  # (job, the folder its modules' folders go in)
        self._made_from: dict[str, dict[str, str | None]] = {}  # run id → its inputs' object ids, by path
        from gitbench.services.supervisor import start_time

        self._started = start_time(os.getpid())  # claims name it: a later process with the same pid is not us

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
        cache = atomic.read_json(self._cache("meta.json"))
        return View(listing, self.wb.git.blob, cache if isinstance(cache, dict) else {})

    def _cache(self, name: str) -> str:
        return os.path.join(self.wb.git.gitdir, "gitbench", "workflow", "cache", name)

    def _save_cache(self, view: View) -> None:
        """Parsed metadata by blob id: only ever a speed-up (deleting it changes nothing but the time)."""
        if view.meta_cache_changed:
            with contextlib.suppress(OSError):  # compact: json's C encoder (indented, 10,000 entries took 4× as long)
                data = json.dumps(view.meta_cache, separators=(",", ":")).encode()
                atomic.write_bytes(self._cache("meta.json"), data, fsync=False)

    def workflow(self, view: View) -> spec.Workflow:
        oid = view.oid(spec.PATH)
        if oid is None:
            raise errors.UsageError(
                f"This Workbench has no workflow: {spec.PATH} is not in Published.",
                [errors.Action(f"Write {spec.PATH} (docs/workflow.md), then add it", f"gitbench add {spec.PATH}")],
            )
        # Parsed once per version of the file (its blob id), with what a status snapshot needs of it (each
        # module's spec as text, the path index): YAML is slow to parse at thousands of modules, and so is
        # turning thousands of specs into text.
        path = self._cache("workflow.bin")
        with contextlib.suppress(OSError):
            with open(path, "rb") as fh:
                compiled = incremental.load_compiled(fh.read(), oid, gitbench.__version__)
            if compiled is not None:
                self._compiled = compiled
                return compiled.wf
        wf = spec.parse(view.read(oid).decode("utf-8", "replace"), spec.PATH)
        compiled = incremental.compile_workflow(wf)
        self._compiled = compiled
        with contextlib.suppress(OSError):
            data = incremental.dump_compiled(compiled, oid, gitbench.__version__)
            if data is not None:
                atomic.write_bytes(path, data, fsync=False)
        return wf

    def resolve(
        self,
        wf: spec.Workflow,
        view: View,
        running: dict[str, dict[str, Any]] | None = None,
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

    def claims(self) -> dict[str, dict[str, Any]]:
        """The running set as it is now: a claim whose process is gone is marked ``interrupted`` (it shows as
        such until `gitbench workflow resume` settles it). A claim waiting for input belongs to no process."""
        out = dict(self.state.running)
        for mid, claim in self.state.running.items():
            if claim.get("status") == "running" and claim.get("pid") and not _claim_alive(claim):
                out[mid] = {**claim, "status": "interrupted"}
        return out

    def status(self, max_parallel: int | None = None) -> EngineStatus:
        return self._full_status(max_parallel)[2]

    def _full_status(
        self, max_parallel: int | None = None
    ) -> tuple[spec.Workflow, dict[str, ModuleStatus], EngineStatus]:
        view = self.view(self.head())
        wf = self.workflow(view)
        claims = self.claims()
        statuses = self.resolve(wf, view, claims)
        self._save_cache(view)
        scheduler.schedule(wf, statuses, claims, self.state.gates, set(self.state.skipped), max_parallel)
        return (
            wf,
            statuses,
            EngineStatus(
                banner=banner(wf, statuses, self.state.skipped),
                job=self.state.job,
                draft=self._draft(),
                modules=[statuses[m] for m in wf.order],
                phase=current_phase(wf, statuses, self.state.skipped),
                max_parallel=max_parallel or wf.max_parallel,
            ),
        )

    def status_text(self, max_parallel: int | None = None) -> str:
        """The status as a JSON text. An unchanged tree and state answer from the printed text kept in the
        cache; a changed tree is answered from the status snapshot of the last one, resolving again only the
        modules the change reaches (gitbench/workflow/incremental.py); anything else resolves everything."""
        import hashlib

        tree = self.wb.git.commit(self.head()).tree
        try:
            with open(engine_state.path(self.wb.git.gitdir), "rb") as fh:
                state_bytes = fh.read()
        except FileNotFoundError:
            state_bytes = b""
        draft = self._draft()
        claims = self.claims()  # which claims' processes are gone is part of what the status depends on
        dead = ",".join(sorted(m for m, c in claims.items() if c.get("status") == "interrupted"))
        base = hashlib.sha1(
            b"\0".join(
                [
                    state_bytes,
                    dead.encode(),
                    gitbench.__version__.encode(),
                    str(max_parallel).encode(),
                    str(draft).encode(),
                    str(incremental.FORMAT).encode(),
                ]
            )
        ).hexdigest()
        key = hashlib.sha1(f"{base}\0{tree}".encode()).hexdigest()
        path = self._cache("status.cache")
        with contextlib.suppress(OSError):
            with open(path, encoding="utf-8") as fh:
                if fh.readline().strip() == key:
                    text = fh.read()
                    if text.startswith("{") and text.rstrip().endswith("}"):
                        return text.rstrip()
        snap: incremental.Snapshot | None = None
        old: incremental.Snapshot | None = None
        with contextlib.suppress(OSError):
            with open(self._cache("status.snap"), "rb") as fb:
                old = incremental.loads(fb.read())
        if old is not None and old.head.get("base") == base:
            if old.head.get("tree") == tree:
                snap = old
            else:
                changed = [c.path for c in self.wb.git.diff_trees(str(old.head["tree"]), tree)]
                snap = incremental.update(
                    old,
                    changed,
                    self._tree_view(tree),
                    {**old.head, "tree": tree},
                    claims,
                    self.state.last_run,
                    self.state.overrides,
                    self.state.skipped,
                    self.state.gates,
                    max_parallel,
                )
        if snap is None:
            wf, statuses, st = self._full_status(max_parallel)
            snap = incremental.build(
                wf,
                statuses,
                {
                    "base": base,
                    "tree": tree,
                    "banner": st.banner,
                    "draft": draft,
                    "job": st.job,
                    "max_parallel": st.max_parallel,
                    "phase": st.phase,
                },
                self._compiled if self._compiled is not None and self._compiled.wf is wf else None,
            )
        text = incremental.document(snap.head, snap.texts)
        with contextlib.suppress(OSError):  # caches: a torn one is a miss
            if snap is not old:
                atomic.write_bytes(self._cache("status.snap"), incremental.dumps(snap), fsync=False)
            atomic.write_bytes(path, f"{key}\n{text}\n".encode(), fsync=False)
        return text

    def _tree_view(self, tree: str) -> View:
        git = self.wb.git

        def lookup(path: str) -> str | None:
            entry = git.tree_entry(tree, path)
            return entry[0] if entry is not None and entry[1] not in (TREE, COMMIT_MODE) else None

        def walk(descend: Callable[[str], bool]) -> Iterator[tuple[str, str]]:
            return ((p, o) for p, o, _ in git.walk_tree(tree, descend=descend))

        return incremental.TreeView(lookup, walk, git.blob)

    def status_data(self, max_parallel: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.status_text(max_parallel))
        return data

    def _draft(self) -> str | None:
        job = drafts.job_record(self.wb, self.state.job) if self.state.job else None
        return job.draft if job is not None and self.wb.git.ref(job.draft) else None

    # -- operator tools ---------------------------------------------------------------------------------------
    def set_gate(self, mid: str, required: bool | None = None, approved: bool | None = None) -> str:
        view = self.view(self.head())
        wf = self.workflow(view)
        _known(wf, mid)
        with self.wb.changing("workflow gate"):
            self.state = self._load()
            gate = self.state.gates.setdefault(mid, {"required": wf.modules[mid].gate, "approved": False})
            if required is not None:
                gate["required"] = required
            seen: dict[str, str | None] = {}
            if approved:
                # An approval is of what the module would run on now: its inputs' ids (and its fingerprint, which
                # covers its version and settings too). New inputs need a new approval.
                statuses = self.resolve(wf, view)
                made_from, _ = resolver.module_inputs(
                    wf.modules[mid], view, {n: statuses[n] for n in wf.modules[mid].needs}
                )
                seen = dict(made_from)
                gate.update(approved=True, fingerprint=statuses[mid].fingerprint, inputs=seen)
            elif approved is not None:
                gate["approved"] = False
                gate.pop("fingerprint", None)
                gate.pop("inputs", None)
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
        _known(wf, mid)
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

    # -- running ----------------------------------------------------------------------------------------------
    def run(
        self,
        max_parallel: int | None = None,
        only: list[str] | None = None,
        overrides: dict[str, dict[str, Any]] | None = None,
        progress: Progress | None = None,
        on_draft: str | None = None,
    ) -> OperationResult:
        """Run (or resume: the same thing; every run first settles the claims an interrupted one left)."""
        say = progress or (lambda text: None)
        with self.wb.changing("workflow"):
            self.state = self._load()
            # The file and the module names are checked before anything changes: a bad one runs nothing (no
            # checkpoint, no Draft, no journal left behind).
            wf = self.workflow(self.view(self.head()))
            for mid in [*(only or []), *(overrides or {})]:
                _known(wf, mid)
            for mid, values in (overrides or {}).items():
                self.state.overrides.setdefault(mid, {}).update(values)
            notes = self._settle_claims(say)
            job = self._job(on_draft, notes, say)
            view = self.view(self.head())
            wf = self.workflow(view)  # again: `--on-draft publish` may have moved Published
            self._record_definition(wf, view)
            job.steps_total = len(wf.modules)
            self._take_operator_edits(wf, job, notes, say)
            try:
                self._loop(wf, job, max_parallel, set(only) if only else None, say)
            except KeyboardInterrupt:
                self._unclaim_all()
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
            return self._end(wf, job, notes)

    def _record_definition(self, wf: spec.Workflow, view: View) -> None:
        """The definition the run goes by, in the state: the file's blob id (the exact text, in Git) and the
        resolved definition (defaults filled in). Saved with the next claim; rewritten only when it changed."""
        blob = view.oid(spec.PATH)
        if self.state.workflow is None or self.state.workflow.get("blob") != blob:
            self.state.workflow = {"path": spec.PATH, "blob": blob, "definition": spec.to_json(wf)}
            engine_state.save(self.wb.git.gitdir, self.state)

    def _job(self, on_draft: str | None, notes: list[str], say: Progress) -> JobRecord:
        """The workflow's job: the one in progress (its Draft still there), or a new one."""
        if self.state.job:
            job = drafts.job_record(self.wb, self.state.job)
            if job is not None and self.wb.git.ref(job.draft) is not None:
                if job.status != "running":
                    job.status, job.error = "running", None
                    self.wb.journal.write({"op": "job", "id": job.id, "draft": job.draft, "pid": os.getpid()})
                    drafts.save_job(self.wb, job, note="workflow resumed")
                say(f"Continuing workflow job {job.id} in Draft {job.draft[len(DRAFT_PREFIX) :]}.")
                return job
        job, more = jobs.start_job(self.wb, "workflow", Scope(), [], "workflow run", on_draft)
        notes.extend(more)
        job.model = "workflow"
        self.state.job = job.id
        self.state.running.clear()
        engine_state.save(self.wb.git.gitdir, self.state)
        faults.point("workflow.after-job")
        say(f"Checkpoint {job.checkpoint} taken; Draft {job.id} created.")
        return job

    def _take_operator_edits(self, wf: spec.Workflow, job: JobRecord, notes: list[str], say: Progress) -> None:
        """Edits the operator made in the Workbench's folder to what the workflow reads or writes (its inputs,
        outputs and metadata) since Published: taken into the Draft as one step, so the resolver counts them
        (a fixed metadata file, a changed input). A file that already matches the Draft is not an edit."""
        if not self.wb.git.workdir:
            return
        scope = Scope(
            tuple({p for m in wf.modules.values() for p in (*m.inputs, *m.outputs, resolver.meta_path(m.id))})
        )
        paths = [p for p in self.wb.git.status_changes(untracked=True) if p != spec.PATH and scope.allows(p)]
        if not paths:
            return
        draft_tree = self.wb.git.commit(str(self.wb.git.ref(job.draft))).tree
        cap = export.read_paths(self.wb.git, self.wb.root, paths)
        changes = {p: e for p, e in cap.changes.items() if e != self.wb.git.tree_entry(draft_tree, p)}
        for path, why in cap.refused:
            notes.append(f"Not taken from the folder: {path} ({why}).")
            say(notes[-1])
        if not changes:
            return
        listed = ", ".join(sorted(changes))
        if jobs.commit_step(
            self.wb, job, changes, "operator-edits", "complete", f"workflow: operator edits to {listed}"[:200]
        ):
            drafts.save_job(self.wb, job, note="operator edits taken")
            notes.append(f"Your edits in the folder were taken into the Draft: {listed}.")
            say(notes[-1])

    def _settle_claims(self, say: Progress) -> list[str]:
        """Claims left by a process that is gone: finished (its step is on the Draft) or free to run again."""
        notes: list[str] = []
        job = drafts.job_record(self.wb, self.state.job) if self.state.job else None
        head = self.wb.git.ref(job.draft) if job is not None else None
        finished = _finished_runs(self.wb, job, head) if job is not None and head else {}
        for mid, claim in list(self.state.running.items()):
            if claim.get("status") == "needs-input":
                continue  # waits for the operator, whoever claimed it
            if claim.get("pid") != os.getpid() and _claim_alive(claim):
                continue
            del self.state.running[mid]
            _stop_orphans(self.wb, job, mid)
            if (
                job is not None
                and head
                and claim.get("commit")
                and claim.get("parent") == head
                and claim.get("run") not in finished
                and self.wb.git.exists(str(claim["commit"]))
            ):
                # Its step commit was written, the Draft had not moved yet: finish that move.
                self.wb.git.set_ref(job.draft, str(claim["commit"]), head, f"gitbench workflow: {mid} (resumed)")
                head = str(claim["commit"])
                finished[str(claim["run"])] = head
            if claim.get("run") in finished:
                self.state.last_run[mid] = {
                    **claim,
                    "status": "complete",
                    "finished": clock.now(),
                    "commit": finished[claim["run"]],
                }
                notes.append(
                    f"{mid} had finished before the interruption (step {finished[claim['run']][:12]}); "
                    "it is not run again."
                )
            else:
                notes.append(f"{mid} was interrupted before it finished; it will run again.")
        if notes:
            engine_state.save(self.wb.git.gitdir, self.state)
            for n in notes:
                say(n)
        return notes

    def _loop(
        self, wf: spec.Workflow, job: JobRecord, max_parallel: int | None, only: set[str] | None, say: Progress
    ) -> None:
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait  # not imported by a status

        limit = max_parallel or wf.max_parallel
        futures: dict[Future[Result], tuple[str, dict[str, Any]]] = {}
        # Each module runs at most once a run: a module that fails (even one asked for by name, which may run
        # when failed) is not retried in a loop, and a module waiting for input is asked again once a run (its
        # outputs may have arrived since); until then it keeps its place in the running set.
        ran: set[str] = set()
        below = wf.dependants()
        index = incremental.build_index(wf)
        view: View | None = None
        statuses: dict[str, ModuleStatus] = {}
        dirty: set[str] = set()
        with ThreadPoolExecutor(max_workers=limit) as pool:
            while True:
                head = str(self.wb.git.ref(job.draft))
                if view is None:
                    view = self.view(head)
                active = {k: v for k, v in self.state.running.items() if v.get("status") != "needs-input" or k in ran}
                # After the first pass, only what the finished modules changed is resolved again: the view is
                # updated with their step's files, and their status and everything downstream recomputed.
                statuses = self.resolve(wf, view, active, previous=statuses or None, dirty=dirty if statuses else None)
                dirty = set()
                plan = scheduler.schedule(
                    wf, statuses, active, self.state.gates, set(self.state.skipped) | ran, limit, only
                )
                for mid in plan.run:
                    ran.add(mid)
                    m = wf.modules[mid]
                    st = statuses[mid]
                    self._invalidate(m, st)
                    run_id = f"{job.id}.{mid}.{int(self.state.last_run.get(mid, {}).get('count', 0)) + 1}"
                    claim = {
                        "pid": os.getpid(),
                        "started": self._started,
                        "since": clock.now(),
                        "job": job.id,
                        "run": run_id,
                        "fingerprint": st.fingerprint,
                        "status": "running",
                    }
                    self.state.running[mid] = claim
                    engine_state.save(self.wb.git.gitdir, self.state)
                    # what the fingerprint is made from, for the metadata: a later change names its files
                    made_from, _ = resolver.module_inputs(m, view, {n: statuses[n] for n in m.needs})
                    self._made_from[run_id] = dict(made_from)
                    faults.point("workflow.after-claim")
                    say(f"{mid}: running ({m.kind})")
                    self._progress(mid, "running", statuses)
                    futures[pool.submit(*self._start(wf, m, job, head, st))] = (mid, claim)
                if not futures:
                    return
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for fut in done:
                    mid, claim = futures.pop(fut)
                    changed = self._finish(wf, job, mid, claim, fut.result(), statuses[mid], say)
                    self._progress(mid, str(self.state.last_run.get(mid, {}).get("status", "")), statuses, 1)
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

    def _progress(self, mid: str, state: str, statuses: dict[str, ModuleStatus], just_done: int = 0) -> None:
        if self.on_module is not None:
            done = sum(1 for s in statuses.values() if s.state == "complete")
            self.on_module(mid, state, done + (just_done if state == "complete" else 0), len(statuses))

    def _modules_home(self, job: JobRecord) -> str:
        if self._modules is None or self._modules[0] != job.id:
            from gitbench.services import worktrees

            self._modules = (job.id, worktrees.modules_folder(self.wb, job.id))
        return self._modules[1]

    def _start(
        self, wf: spec.Workflow, m: spec.ModuleSpec, job: JobRecord, head: str, st: ModuleStatus
    ) -> tuple[Any, ...]:
        """Prepare a module's run in this thread (Git access); return the callable for a worker thread."""
        if m.kind == ModuleKind.INPUT:
            return (_check_input, m, self.wb.root if self.wb.git.workdir else None)
        folder = os.path.join(self._modules_home(job), m.id)
        scope = Scope((*m.inputs, *[o for n in m.needs for o in wf.modules[n].outputs], *m.outputs))
        snap = export.export(self.wb.git, self.wb.git.commit(head).tree, folder, scope)
        for out in m.outputs:  # the folders its outputs go in exist, as they would in the project
            os.makedirs(os.path.dirname(os.path.join(folder, out)), exist_ok=True)
        config = {**m.config, **self.state.overrides.get(m.id, {})}
        if m.kind == ModuleKind.COMMAND:
            return (_run_command, m, folder, snap, config)
        if m.kind == ModuleKind.MODULE:
            stale = [(a.path, a.klass, a.reason) for a in st.artifacts if a.klass in ("outdated", "invalid", "error")]
            return (_run_python, m, folder, snap, config, sorted(snap), stale)
        return (_run_model, m, folder, snap, config, self.wb.git.workdir, self.wb.layout.logs)

    def _finish(
        self,
        wf: spec.Workflow,
        job: JobRecord,
        mid: str,
        claim: dict[str, Any],
        raw: Any,
        st: ModuleStatus,
        say: Progress,
    ) -> dict[str, Entry | None]:
        """Record a module's run (its step commit when it completed). Returns the files its step changed."""
        m = wf.modules[mid]
        result = self._collect(m, job, raw)
        changed: dict[str, Entry | None] = {}
        run = {
            **claim,
            "status": result.status,
            "finished": clock.now(),
            "error": result.error,
            "seconds": round(result.seconds, 3),
        }
        if result.status == "complete":
            try:
                commit, changed = self._commit(m, job, claim, result, st)
            except errors.GitbenchError as exc:
                run.update(status="failed", error=exc.message)
            else:
                run["commit"] = commit
        # Kept small: the state is rewritten at every claim and finish, with the last run of every module.
        run["count"] = int(self.state.last_run.get(mid, {}).get("count", 0)) + 1
        self.state.last_run[mid] = {
            k: run[k]
            for k in ("status", "error", "finished", "since", "seconds", "run", "fingerprint", "commit", "count", "job")
            if k in run
        }
        if run["status"] == "needs-input":
            self.state.running[mid] = {**claim, "status": "needs-input"}
            say(f"{mid}: needs input: {m.input_request or result.error}")
        else:
            self.state.running.pop(mid, None)
            say(f"{mid}: {run['status']}" + (f": {run['error']}" if run.get("error") else ""))
        engine_state.save(self.wb.git.gitdir, self.state)
        faults.point("workflow.after-finish")
        return changed

    def _collect(self, m: spec.ModuleSpec, job: JobRecord, raw: Any) -> Result:
        """Turn what the worker did into a Result (Git writes happen here, in the main thread)."""
        if isinstance(raw, Result):
            return raw
        kind, payload = raw
        if kind == "input":
            files: dict[str, bytes] = payload
            changes: dict[str, Entry | None] = {
                p: (self.wb.git.create_blob_as(data, p), BLOB) for p, data in files.items()
            }
            return Result("complete", changes=changes)
        folder, snap, status, error, seconds = payload
        cap = export.capture(self.wb.git, folder, snap, Scope(tuple(m.outputs)))
        shutil.rmtree(folder, ignore_errors=True)
        if status != "complete":
            if status == "failed" and error and m.kind == ModuleKind.COMMAND:
                error = self._explain_missing(m, job, folder, snap, error)
            return Result(status, error=error, seconds=seconds)
        # an output it deleted is as missing as one it never wrote: committing the deletion would leave the module
        # forever not complete
        missing = [o for o in m.outputs if (cap.changes[o] is None if o in cap.changes else o not in snap)]
        if missing:
            return Result("failed", error="it did not write " + ", ".join(missing), seconds=seconds)
        if cap.refused:
            from gitbench.store.logs import Log

            for path, why in cap.refused:
                Log(self.wb.layout.logs).event("workflow.refused", module=m.id, path=path, reason=why)
        return Result("complete", changes=cap.changes, refused=cap.refused, seconds=seconds)

    def _explain_missing(self, m: spec.ModuleSpec, job: JobRecord, folder: str, snap: Any, error: str) -> str:
        """A command that failed on a file it could not find, where the file is in the Workbench but not among
        the module's inputs (so not in its folder): say so, and how to list it."""
        import re

        tree = self.wb.git.commit(str(self.wb.git.ref(job.draft))).tree
        absent: list[str] = []
        for token in re.findall(r"[\w./@+-]+", error):
            token = token.rstrip(".")
            if token.startswith(folder + "/"):
                rel = token[len(folder) + 1 :]
            elif token.startswith("/"):
                continue  # a file outside its folder: not the Workbench's
            else:
                rel = token.removeprefix("./")
            if rel in absent or rel in snap:
                continue
            entry = self.wb.git.tree_entry(tree, rel)
            if entry is not None and entry[1] not in (TREE, COMMIT_MODE):
                absent.append(rel)
        if not absent:
            return error
        listed = ", ".join(absent)
        return (
            f"{error} · {listed} {'is' if len(absent) == 1 else 'are'} in the Workbench but not "
            f"{'an input' if len(absent) == 1 else 'inputs'} of module {m.id}, so not in its folder: add "
            f"{listed} to its `inputs` in {spec.PATH}"
        )

    def _commit(
        self, m: spec.ModuleSpec, job: JobRecord, claim: dict[str, Any], result: Result, st: ModuleStatus
    ) -> tuple[str, dict[str, Entry | None]]:
        head = str(self.wb.git.ref(job.draft))
        tree = self.wb.git.commit(head).tree
        outputs: dict[str, str | None] = {}
        for path in m.outputs:
            entry = result.changes.get(path) if path in result.changes else self.wb.git.tree_entry(tree, path)
            outputs[path] = entry[0] if entry else None
        meta = {
            "module": m.id,
            "version": m.version,
            "fingerprint": claim["fingerprint"],
            "inputs": self._made_from.pop(str(claim["run"]), None),
            "outputs": outputs,
            "run": claim["run"],
            "job": job.id,
            "time": clock.now(),
        }
        data = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()
        changes = {**result.changes, resolver.meta_path(m.id): (self.wb.git.create_blob(data), BLOB)}
        job.model = f"workflow:{m.kind}"

        def record(commit: str, parent: str) -> None:
            # Written before the Draft moves: if the engine dies between the two, resume fast-forwards the
            # Draft to this commit instead of running the module again.
            self.state.running[m.id] = {**claim, "commit": commit, "parent": parent}
            engine_state.save(self.wb.git.gitdir, self.state)

        commit = jobs.commit_step(
            self.wb,
            job,
            changes,
            m.id,
            "complete",
            f"workflow {job.id}: {m.id}",
            number=job.steps_completed + 1,
            attempts=1,
            before_ref=record,
        )
        # The job record is stored when the run ends (or fails): per module it would rewrite a growing file
        # list every time. Until then the Draft's step commits are the record of what finished.
        return commit or head, changes

    def _invalidate(self, m: spec.ModuleSpec, st: ModuleStatus) -> None:
        """Invalidation events reach the module before it reruns (logged; Python modules get a handler call)."""
        stale = [a for a in st.artifacts if a.klass in ("outdated", "invalid", "error")]
        if not stale:
            return
        from gitbench.store.logs import Log

        log = Log(self.wb.layout.logs)
        for a in stale:
            log.event("artifact.invalidated", module=m.id, path=a.path, klass=a.klass, reason=a.reason)

    def _unclaim_all(self) -> None:
        self.state.running = {k: v for k, v in self.state.running.items() if v.get("status") == "needs-input"}
        engine_state.save(self.wb.git.gitdir, self.state)

    def _end(self, wf: spec.Workflow, job: JobRecord, notes: list[str]) -> OperationResult:
        view = self.view(str(self.wb.git.ref(job.draft)))
        statuses = self.resolve(wf, view)
        # the skip reasons too, so "Modules left" says why each one did not run (a gate, a full slot, ...)
        scheduler.schedule(wf, statuses, self.state.running, self.state.gates, set(self.state.skipped))
        text = banner(wf, statuses, self.state.skipped)
        failed = [s.id for s in statuses.values() if s.state == "failed"]
        waiting = [s.id for s in statuses.values() if s.state == "needs-input"]
        if failed:
            st = statuses[failed[0]]
            # The actions (workflow status, module-runner, workflow resume, ...) come from jobs.next_actions.
            return jobs.fail(
                self.wb,
                job,
                errors.JobFailed(f"{text}: {st.reason}. Finished modules are kept in the Draft."),
                notes,
                klass="module",
            )
        off = untargeted(wf, self.state.skipped)
        left = [m for m in wf.order if statuses[m].state != "complete" and m not in off]
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
            job.status = "paused"
            job.error = {"code": "workflow-paused", "class": "needs-input" if waiting else "paused", "message": why}
            drafts.save_job(self.wb, job, report=jobs.report(job), note="paused")
            self.wb.journal.clear()
            from gitbench.services import review

            return OperationResult(
                "workflow",
                f"{text}. {why}. Then: gitbench workflow resume.",
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


def _known(wf: spec.Workflow, mid: str) -> None:
    if mid not in wf.modules:
        raise errors.UsageError(
            f"There is no module {mid!r} in {spec.PATH}.",
            [errors.Action("See the modules", "gitbench workflow status")],
        )


def _alive(pid: int, started: Any = None) -> bool:
    """Is the claim's process still running? Not if it is gone or a zombie, nor if the pid now belongs to a later
    process (its start time differs from the one the claim recorded)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = data[data.rfind(b")") + 2 :].split()
    if not fields or fields[0] in (b"Z", b"X"):
        return False
    return started is None or len(fields) <= 19 or int(fields[19]) == started


def _claim_alive(claim: dict[str, Any]) -> bool:
    pid = claim.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    return pid == os.getpid() or _alive(pid, claim.get("started"))


def _finished_runs(wb: Workbench, job: JobRecord, head: str) -> dict[str, str]:
    """run id → step commit, for every module step of the job on its Draft."""
    out: dict[str, str] = {}
    for c in wb.git.first_parent_chain(head, job.base):
        t = trailers.parse(c.message)
        if t.get("Gitbench-Job") != job.id:
            continue
        step = t.get("Gitbench-Step", "")
        module = step.split(" ", 1)[1] if " " in step else ""
        entry = wb.git.tree_entry(c.tree, resolver.meta_path(module)) if module else None
        if entry is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            meta = json.loads(wb.git.blob(entry[0]))
            if isinstance(meta, dict) and meta.get("run"):
                out.setdefault(str(meta["run"]), c.oid)
    return out


# -- worker-thread functions: no Git access here (pygit2 objects are not shared across threads) ----------------
def _run_command(m: spec.ModuleSpec, folder: str, snap: Any, config: dict[str, Any]) -> tuple[str, Any]:
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_CEILING_DIRECTORIES": os.path.dirname(folder),
            "GITBENCH_MODULE": m.id,
            "GITBENCH_MODULE_CONFIG": json.dumps(config, sort_keys=True),
        }
    )
    timeout = float(m.run.get("timeout") or 0) or None
    # Its own process group, noted beside its folder: a timeout stops the whole group, and a resume after a
    # crash stops what an interrupted run left behind, so no orphan writes on while the module runs again.
    proc = subprocess.Popen(
        ["/bin/sh", "-c", m.run["command"]],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    with contextlib.suppress(OSError):
        with open(folder + ".pgid", "w") as fh:
            fh.write(str(proc.pid))
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        return "captured", (folder, snap, "failed", f"timed out after {timeout:g} s", time.monotonic() - started)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(folder + ".pgid")
    if proc.returncode == 0:
        return "captured", (folder, snap, "complete", None, time.monotonic() - started)
    tail = stderr.decode("utf-8", "replace").strip().splitlines()
    error = tail[-1][:300] if tail else f"the command exited with status {proc.returncode}"
    return "captured", (folder, snap, "failed", error, time.monotonic() - started)


def _kill_group(pgid: int) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _stop_orphans(wb: Workbench, job: JobRecord | None, mid: str) -> None:
    """Stop what an interrupted run of ``mid`` left running (its process group), before it runs again."""
    if job is None:
        return
    from gitbench.services import worktrees

    note = os.path.join(worktrees.modules_folder(wb, job.id), mid) + ".pgid"
    try:
        with open(note) as fh:
            pgid = int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return
    if pgid > 1:
        _kill_group(pgid)
    with contextlib.suppress(OSError):
        os.unlink(note)


def _run_python(
    m: spec.ModuleSpec,
    folder: str,
    snap: Any,
    config: dict[str, Any],
    inputs: list[str],
    stale: list[tuple[str, str, str | None]],
) -> tuple[str, Any]:
    from gitbench.workflow import protocol

    started = time.monotonic()
    ctx = protocol.ModuleContext(m.id, folder, config, inputs, list(m.outputs))
    error: str | None = None
    try:
        obj = protocol.load(str(m.run["module"]))
        if stale and hasattr(obj, "on_invalidated"):  # the invalidation event reaches it before the rerun
            obj.on_invalidated(ctx, stale)
        status = str(obj.run(ctx) or "complete")
        if status == "complete" and not protocol.is_complete(obj, ctx):
            status, error = "failed", "it reported complete, but its outputs are not all there"
        else:
            error = None if status == "complete" else f"it returned {status}"
    except Exception as exc:  # noqa: BLE001 - a module's own failure is its run's error, not ours
        status, error = "failed", f"{type(exc).__name__}: {exc}"[:300]
    if status not in ("complete", "failed", "needs-input"):
        status, error = "failed", f"it returned {status!r} (complete, failed or needs-input)"
    return "captured", (folder, snap, status, error, time.monotonic() - started)


def _run_model(
    m: spec.ModuleSpec, folder: str, snap: Any, config: dict[str, Any], workdir: str | None, logs: str
) -> tuple[str, Any]:
    """A model module: its inputs sent with the prompt; the structured edits it answers are written to its
    outputs in the folder (edits to anything else are refused), then captured like a command's."""
    from gitbench.providers import config as provider_config
    from gitbench.providers import transport
    from gitbench.services import edits
    from gitbench.store.logs import Log

    started = time.monotonic()
    try:
        cfg = provider_config.load(workdir)
        model_spec = cfg.resolve(str(m.run["model"]))
        sent: dict[str, tuple[str, int]] = {}
        for rel in sorted(snap):
            with open(os.path.join(folder, rel), "rb") as fh:
                data = fh.read()
            with contextlib.suppress(UnicodeDecodeError):
                if len(data) <= cfg.settings.max_file_bytes and b"\x00" not in data:
                    sent[rel] = (data.decode("utf-8"), BLOB)
        prompt = str(m.run["prompt"])
        if config:
            prompt += "\nSettings: " + json.dumps(config, sort_keys=True)
        from gitbench.services.ask import SYSTEM, request_text

        scope = Scope(tuple(m.outputs))
        user = request_text(prompt, "", sent, scope, 1, 1)

        def use(text: str) -> Any:
            try:
                return edits.parse(text)
            except edits.NoEdits as exc:
                raise transport.Unusable(str(exc)) from exc

        def on_debug(name: str, fields: dict[str, Any]) -> None:  # only with --debug: may quote the request
            Log(logs, cfg.secrets).debug_event(name, module=m.id, **fields)

        with transport.client(cfg.settings, model_spec.provider.base_url) as http:
            outcome = transport.complete(http, model_spec, cfg.settings, SYSTEM, user, use, on_debug=on_debug)
        raw, _summary = outcome.value
        plan = edits.plan(
            raw, {p: v for p, v in sent.items() if p in m.outputs}, scope, lambda p: None, cfg.settings.max_edit_bytes
        )
        for path, (content, _mode) in plan.writes.items():
            full = os.path.join(folder, path)
            if content is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(full)
                continue
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as out:
                out.write(content)
        status, error = "complete", None
    except errors.GitbenchError as exc:
        status, error = "failed", exc.message
    return "captured", (folder, snap, status, error, time.monotonic() - started)


def _check_input(m: spec.ModuleSpec, root: str | None) -> Any:
    """An input module is complete once the operator has put its outputs in the Workbench's folder."""
    if root is None:
        return Result("needs-input", error="a bare Workbench has no folder to put inputs in")
    files: dict[str, bytes] = {}
    for path in m.outputs:
        full = os.path.join(root, path)
        if not os.path.isfile(full) or os.path.islink(full):
            return Result("needs-input", error=f"waiting for {path}")
        with open(full, "rb") as fh:
            files[path] = fh.read()
    return "input", files
