"""The scheduler: which ready modules may run now, and why each other one may not.

Skip reasons (as the seed names them): ``not-ready`` (the resolver says it is not ready), ``manual-gate`` (it
needs approval), ``concurrency`` (``max parallel N reached``, an exclusive module, or on a cluster ``the cluster's
N worker threads are busy``), ``already-running``.
Only ``ready`` modules ever run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gitbench.workflow.kinds import ON_EXECUTOR
from gitbench.workflow.resolver import ModuleState, ModuleStatus
from gitbench.workflow.spec import Workflow
from gitbench.workflow.state import Claim, ClaimStatus, Gate


@dataclass
class Plan:
    run: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # module → "reason: detail"


def gated(wf: Workflow, gates: Mapping[str, Gate], mid: str, fingerprint: str | None = None) -> bool:
    """Does the module wait for approval? A gate from the file or set at runtime, not yet approved, or approved
    for other inputs: an approval is of the inputs it saw (their fingerprint), not of whatever comes later."""
    gate = gates.get(mid)
    if gate is None:
        return wf.modules[mid].gate
    required = wf.modules[mid].gate if gate.required is None else gate.required
    if not required:
        return False
    if not gate.approved:
        return True
    return stale_approval(gate, fingerprint)


def stale_approval(gate: Gate | None, fingerprint: str | None) -> bool:
    """Approved, but for inputs of another fingerprint than ``fingerprint``."""
    if gate is None:
        return False
    seen = gate.fingerprint
    return gate.approved and seen is not None and fingerprint is not None and seen != fingerprint


def schedule(
    wf: Workflow,
    statuses: dict[str, ModuleStatus],
    running: Mapping[str, Claim],
    gates: Mapping[str, Gate],
    skipped: set[str],
    max_parallel: int | None = None,
    only: set[str] | None = None,
    capacity: int | None = None,
    reasons: bool = True,
) -> Plan:
    """``capacity``: the worker threads of the cluster command and model modules run on (None: they run here).
    ``reasons`` False (the run's loop, which only starts ``plan.run``): stop looking once every slot is taken,
    instead of saying why each module after it waits (a pass per finished module over thousands of modules)."""
    limit = max_parallel or wf.max_parallel
    plan = Plan()
    # A module waiting for the operator's input holds no slot: it runs nothing until its outputs arrive.
    # Nor does a claim whose process is gone (``interrupted``): nothing runs it until a resume settles it.
    busy = {r for r, claim in running.items() if claim.status not in (ClaimStatus.NEEDS_INPUT, ClaimStatus.INTERRUPTED)}
    exclusive_busy = [r for r in busy if r in wf.modules and wf.modules[r].exclusive]
    complete, ready = ModuleState.COMPLETE, ModuleState.READY  # looked up once: a loop over every module
    on_cluster = (
        0 if capacity is None else sum(1 for r in busy if r in wf.modules and wf.modules[r].kind in ON_EXECUTOR)
    )
    for mid in wf.order:
        if not reasons and len(busy) + len(plan.run) >= limit:
            break  # no module after this one can start: each would wait for a slot, or for another reason
        if mid in skipped or (only is not None and mid not in only):
            continue
        st = statuses[mid]
        if mid in running:
            interrupted = running[mid].status == ClaimStatus.INTERRUPTED
            plan.skipped[mid] = "interrupted" if interrupted else "already-running"
        elif st.state == complete:
            continue
        elif st.state != ready and not (only and st.state == ModuleState.FAILED):
            plan.skipped[mid] = "not-ready"  # a failed module runs again only when asked for by name
        elif gated(wf, gates, mid, st.fingerprint):
            plan.skipped[mid] = (
                f"manual-gate: approved for other inputs or settings, they changed since (which: gitbench workflow "
                f"status --why {mid}); approve again: gitbench workflow approve {mid}"
                if stale_approval(gates.get(mid), st.fingerprint)
                else "manual-gate"
            )
        elif exclusive_busy:
            plan.skipped[mid] = f"concurrency: exclusive {exclusive_busy[0]} is running"
        elif wf.modules[mid].exclusive and (busy or plan.run):
            plan.skipped[mid] = "concurrency: exclusive, waits for the others to finish"
        elif len(busy) + len(plan.run) >= limit:
            plan.skipped[mid] = f"concurrency: max parallel {limit} reached"
        elif capacity is not None and wf.modules[mid].kind in ON_EXECUTOR and on_cluster >= capacity:
            plan.skipped[mid] = f"concurrency: the cluster's {capacity} worker threads are busy"
        else:
            plan.run.append(mid)
            if capacity is not None:
                on_cluster += wf.modules[mid].kind in ON_EXECUTOR
            if wf.modules[mid].exclusive:
                exclusive_busy = [mid]
    for mid, reason in plan.skipped.items():
        statuses[mid].skip = reason
    return plan
