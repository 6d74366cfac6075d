"""Step commits: what a module's run becomes on the workflow's Draft.

A module that completed is one step whose ``Gitbench-Step`` names it: its outputs, and its metadata
(``.gitbench/meta/<id>.json``: version, fingerprint, the inputs it was made from, the run). The operator's edits
in the Workbench's folder to what the workflow reads or writes are one step too. And the other way: which runs
finished, read back from the Draft's steps (a resume never runs a finished module twice).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable
from typing import Any

from gitbench import clock, events, trailers
from gitbench.events import Progress
from gitbench.git import export
from gitbench.git.repo import BLOB, COMMIT_MODE, TREE, Entry
from gitbench.model import JobRecord
from gitbench.scope import Scope
from gitbench.services import drafts, jobs
from gitbench.services.workbench import Workbench
from gitbench.workflow import resolver, spec
from gitbench.workflow.kinds import ModuleKind
from gitbench.workflow.runners import Outcome, Provided, Result
from gitbench.workflow.state import RunStatus

NOT_AN_OUTPUT = "not among the module's outputs"


def refused_note(refused: list[dict[str, str]]) -> str:
    """The files modules wrote that were not taken (outside their outputs, into .git, too large...), by module."""
    listed = "; ".join(f"{r['path']} ({r.get('module', '?')}: {r['reason']})" for r in refused[:10])
    more = f"; and {len(refused) - 10} more" if len(refused) > 10 else ""
    return f"Not taken into the Draft, {len(refused)} file(s) modules wrote: {listed}{more}."


def collect(wb: Workbench, m: spec.ModuleSpec, job: JobRecord, raw: Outcome) -> Result:
    """Turn what the worker did into a Result (Git writes happen here, in the main thread)."""
    if isinstance(raw, Result):
        return raw
    if isinstance(raw, Provided):
        changes: dict[str, Entry | None] = {
            p: Entry(wb.git.create_blob_as(data, p), BLOB) for p, data in raw.files.items()
        }
        return Result(RunStatus.COMPLETE, changes=changes)
    folder, snap, status, error, seconds = raw.folder, raw.snap, raw.status, raw.error, raw.seconds
    cap = export.capture(wb.git, folder, snap, Scope(tuple(m.outputs)))
    cap.refused.extend(raw.refused)  # what a cluster's worker saw written and did not send back
    # A module's scope is its outputs (there is no --files): say so. Kept on the job, so the run names them.
    cap.refused = [(p, NOT_AN_OUTPUT if why == export.OUTSIDE_SCOPE else why) for p, why in cap.refused]
    job.refused.extend({"path": p, "reason": why, "module": m.id} for p, why in cap.refused)
    shutil.rmtree(folder, ignore_errors=True)
    if status != RunStatus.COMPLETE:
        if status == RunStatus.FAILED and error and m.kind == ModuleKind.COMMAND and not raw.lost:
            error = explain_missing(wb, m, job, folder, snap, error)
        return Result(status, error=error, seconds=seconds, lost=raw.lost, transient=raw.transient)
    # an output it deleted is as missing as one it never wrote: committing the deletion would leave the module
    # forever not complete
    missing = [o for o in m.outputs if (cap.changes[o] is None if o in cap.changes else o not in snap)]
    if missing:
        error = "it did not write " + ", ".join(missing)
        if cap.refused:  # what it wrote instead, elsewhere: often the very mistake (a wrong path)
            error += " (it wrote, outside its outputs, refused: " + ", ".join(p for p, _ in cap.refused[:5]) + ")"
        return Result(RunStatus.FAILED, error=error, seconds=seconds)
    if cap.refused:
        from gitbench.store.logs import Log

        for path, why in cap.refused:
            Log(wb.layout.logs).event("workflow.refused", module=m.id, path=path, reason=why)
    return Result(RunStatus.COMPLETE, changes=cap.changes, refused=cap.refused, seconds=seconds)


def explain_missing(
    wb: Workbench, m: spec.ModuleSpec, job: JobRecord, folder: str, snap: export.Snapshot, error: str
) -> str:
    """A command that failed on a file it could not find, where the file is in the Workbench but not among
    the module's inputs (so not in its folder): say so, and how to list it."""
    import re

    tree = wb.git.commit(str(wb.git.ref(job.draft))).tree
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
        entry = wb.git.tree_entry(tree, rel)
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


def commit_module(
    wb: Workbench,
    m: spec.ModuleSpec,
    job: JobRecord,
    run: str,
    fingerprint: str,
    made_from: dict[str, str | None] | None,
    result: Result,
    before_ref: Callable[[str, str], None],
) -> tuple[str, dict[str, Entry | None]]:
    """The module's step: its outputs and its metadata (``made_from``: its inputs' ids, by path). ``before_ref``
    (commit, parent) is called once the commit is written, before the Draft moves. Returns the Draft's new head
    and the files the step changed."""
    head = str(wb.git.ref(job.draft))
    tree = wb.git.commit(head).tree
    outputs: dict[str, str | None] = {}
    for path in m.outputs:
        entry = result.changes.get(path) if path in result.changes else wb.git.tree_entry(tree, path)
        outputs[path] = entry[0] if entry else None
    meta = {
        "module": m.id,
        "version": m.version,
        "fingerprint": fingerprint,
        "inputs": made_from,
        "outputs": outputs,
        "run": run,
        "job": job.id,
        "time": clock.now(),
    }
    data = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()
    changes = {**result.changes, resolver.meta_path(m.id): Entry(wb.git.create_blob(data), BLOB)}
    job.model = f"workflow:{m.kind}"
    commit = jobs.commit_step(
        wb,
        job,
        changes,
        m.id,
        "complete",
        f"workflow {job.id}: {m.id}",
        number=job.steps_completed + 1,
        attempts=1,
        before_ref=before_ref,
    )
    # The job record is stored when the run ends (or fails): per module it would rewrite a growing file
    # list every time. Until then the Draft's step commits are the record of what finished.
    return commit or head, changes


def finished_runs(wb: Workbench, job: JobRecord, head: str) -> dict[str, str]:
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
            meta: Any = json.loads(wb.git.blob(entry[0]))
            if isinstance(meta, dict) and meta.get("run"):
                out.setdefault(str(meta["run"]), c.oid)
    return out


def operator_edits(wb: Workbench, wf: spec.Workflow) -> list[str]:
    """The files of the Workbench's folder that differ from its checkout and that the workflow reads or writes
    (its inputs, outputs and metadata): what a run takes into its Draft first."""
    if not wb.git.workdir:
        return []
    scope = Scope(tuple({p for m in wf.modules.values() for p in (*m.inputs, *m.outputs, resolver.meta_path(m.id))}))
    return [p for p in wb.git.status_changes(untracked=True) if p != spec.PATH and scope.allows(p)]


def unused_workflow_edit(wb: Workbench) -> str | None:
    """A note when the workflow file in the Workbench's folder differs from Published's: a run goes by the file
    in Published (and in its Draft, which never changes it), so those edits are not used (and, before this note,
    were ignored without a word)."""
    if not wb.git.workdir or spec.PATH not in wb.git.status_changes(untracked=True):
        return None
    return (
        f"{spec.PATH} in the folder has edits this run does not use: a workflow runs by the file in Published. "
        f"To run by your edits: gitbench add {spec.PATH} (no Draft may be open: publish or discard it first), "
        "then run again."
    )


def take_operator_edits(wb: Workbench, wf: spec.Workflow, job: JobRecord, notes: list[str], say: Progress) -> None:
    """Edits the operator made in the Workbench's folder to what the workflow reads or writes (its inputs,
    outputs and metadata) since Published: taken into the Draft as one step, so the resolver counts them
    (a fixed metadata file, a changed input). A file that already matches the Draft is not an edit."""
    paths = operator_edits(wb, wf)
    if not paths:
        return
    draft_tree = wb.git.commit(str(wb.git.ref(job.draft))).tree
    cap = export.read_paths(wb.git, wb.root, paths)
    changes = {p: e for p, e in cap.changes.items() if e != wb.git.tree_entry(draft_tree, p)}
    for path, why in cap.refused:
        notes.append(f"Not taken from the folder: {path} ({why}).")
        say(events.Note(notes[-1]))
    if not changes:
        return
    listed = ", ".join(sorted(changes))
    if jobs.commit_step(wb, job, changes, "operator-edits", "complete", f"workflow: operator edits to {listed}"[:200]):
        drafts.save_job(wb, job, note="operator edits taken")
        notes.append(f"Your edits in the folder were taken into the Draft: {listed}.")
        say(events.Note(notes[-1]))
