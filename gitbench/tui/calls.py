"""What the screens read, each a plain function of a Workbench (run in a thread by ``GitbenchApp.call``).

The same service calls as the CLI's read-only commands (`status`, `review`, `checkpoints`, `chat`, `models`,
`workflow status`, `report`), bundled the way the screens show them. No Git access of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitbench import errors
from gitbench.model import Checkpoint, Review, Status
from gitbench.services.workbench import Workbench

if TYPE_CHECKING:
    from gitbench.workflow.engine import Engine


@dataclass
class Overview:
    """The status bar, the menu and the Restore buttons: what `gitbench status` and `workflow status` say."""

    status: Status
    restore_blocked: str | None  # why Restore is disabled (a Draft is open), in the service's words
    workflow: dict[str, Any] | None  # `gitbench workflow status --json`, None without a workflow
    resume: tuple[str, str] | None  # the menu's Resume Work: ("workflow", phase) or ("ask", job id)


def overview(wb: Workbench) -> Overview:
    from gitbench.services import drafts, jobs
    from gitbench.services import status as status_service

    st = status_service.status(wb)
    try:
        drafts.require_no_draft(wb, "restore")
        blocked = None
    except errors.DraftOpen as exc:
        blocked = exc.message
    workflow = workflow_status(wb)
    resume: tuple[str, str] | None = None
    job = drafts.job_record(wb, str(workflow["job"])) if workflow and workflow.get("job") else None
    if job is not None and workflow and workflow.get("draft") and job.status in jobs.STOPPED:
        resume = ("workflow", str(workflow.get("phase") or "workflow"))
    elif st.last_job is not None and st.last_job.kind == "ask" and st.last_job.status in jobs.STOPPED:
        resume = ("ask", st.last_job.id)
    return Overview(st, blocked, workflow, resume)


def workflow_status(wb: Workbench) -> dict[str, Any] | None:
    """The engine's status (as `gitbench workflow status --json`), or None when there is no workflow."""
    try:
        data: dict[str, Any] = engine(wb).status_data()
        return data
    except errors.GitbenchError:
        return None  # no workflow file, or a broken one: the workflow view says which


def engine(wb: Workbench) -> Engine:
    """The workflow engine, after finishing an interrupted operation (as `gitbench workflow` opens it)."""
    from gitbench.workflow.engine import Engine

    wb.recover_if_idle()
    return Engine(wb)


@dataclass
class WorkflowData:
    """The workflow view's data: the status, and each module's gate and whether it may be skipped."""

    status: dict[str, Any]
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)  # module → {"required", "approved"}
    optional: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def workflow(wb: Workbench) -> WorkflowData:
    eng = engine(wb)
    data = eng.status_data()  # raises the engine's error (no workflow, a bad file) for the view to show
    wf = eng.workflow(eng.view(eng.head()))
    gates = {}
    for mid, m in wf.modules.items():
        gate = eng.state.gates.get(mid)
        required = bool(m.gate if gate is None or gate.required is None else gate.required)
        if required or gate is not None:
            gates[mid] = {"required": required, "approved": gate is not None and gate.approved}
    return WorkflowData(data, gates, [m for m in wf.order if wf.modules[m].optional], list(eng.state.skipped))


def draft_labels(wb: Workbench) -> list[str]:
    """Every open Draft (v1.5: several), as `gitbench drafts` names them."""
    from gitbench.services import drafts

    return [drafts.label_of(r) for r in wb.draft_refs()]


def review(wb: Workbench, label: str | None = None) -> Review | None:
    """A Draft's review with its patch (``label``: which one; default the first), or None without a Draft.
    DraftCorrupt propagates."""
    from gitbench.services import review as review_service

    wb.recover_if_idle()
    labels = draft_labels(wb)
    if not labels:
        return None
    return review_service.review(wb, patch=True, label=label if label in labels else labels[0])


def checkpoints(wb: Workbench) -> list[Checkpoint]:
    from gitbench.services import checkpoints as cps

    wb.recover_if_idle()
    return cps.history(wb)


def newest_checkpoints(wb: Workbench) -> tuple[list[Checkpoint], int]:
    """The newest page of checkpoints (as `gitbench checkpoints` shows), and how many older ones there are: the
    first rows on screen at once, however long the history."""
    from gitbench.services import checkpoints as cps

    wb.recover_if_idle()
    return cps.history_page(wb)


def conversation(wb: Workbench) -> dict[str, Any]:
    from gitbench.services import chat

    return chat.show(wb)


def models(wb: Workbench, check: bool) -> list[tuple[str, str]]:
    """The model picker: (label, provider:model). The default first, then aliases, then what each configured
    provider says it serves (``check``: ask them, as `gitbench models` does)."""
    from gitbench.services import models as models_service

    data = models_service.models(wb, check)
    default = data["default_model"]
    out: list[tuple[str, str]] = [
        (f"{default} (default)", default) if default else ("(no default model: pick one, or configure it)", "")
    ]
    seen = {default}
    for alias, target in sorted(data["aliases"].items()):
        out.append((f"{alias} = {target}", alias))
        seen.add(alias)
    for p in data["providers"]:
        for name in p["models"] if p["ok"] else []:
            spec = f"{p['name']}:{name}"
            if spec not in seen:
                out.append((spec, spec))
                seen.add(spec)
    return out


def report(wb: Workbench, job: str | None) -> dict[str, Any]:
    from gitbench.services import reports

    wb.recover_if_idle()
    return reports.report(wb, job)
