"""`gitbench workflow status` for a person or a script: kept free of typer so the bare command starts fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitbench import clock
from gitbench.cli import render
from gitbench.cli.opening import open_for_reading

if TYPE_CHECKING:
    from gitbench.workflow.engine import Engine


def open_engine() -> Engine:
    from gitbench.workflow.engine import Engine

    wb = open_for_reading()
    return Engine(wb)


def render_status(st: dict[str, Any]) -> None:
    """The status (as `Engine.status_data` gives it) for a person."""
    from gitbench.workflow.resolver import ArtifactClass, ModuleState
    from gitbench.workflow.state import RunStatus

    says_it_all = (ArtifactClass.READY, ArtifactClass.MISSING)
    out = render.out
    out(st["banner"] + (f"  (phase: {st['phase']})" if st.get("phase") else ""))
    if st.get("draft"):
        out(f"Draft {st['draft'].rsplit('/', 1)[-1]} (job {st['job']}) · max parallel {st['max_parallel']}")
    width = max((len(m["id"]) for m in st["modules"]), default=0)
    for m in st["modules"]:
        parts = [f"{m['id'].ljust(width)}  {m['state']:<11}"]
        last = m.get("last_run") or {}
        if last.get("status"):
            when = clock.iso(float(last.get("finished") or last.get("since") or 0))
            parts.append(
                f"last run: {last['status']} ({when})"
                + (f": {last['error']}" if last.get("error") and last["status"] != RunStatus.COMPLETE else "")
            )
        # why an artifact is not ready (a fingerprint mismatch, a new version, upstream), unless the module's
        # own reason below says it already or the class says it all
        arts = ", ".join(
            f"{a['path']}={a['klass']}"
            + (
                f" ({a['reason']})"
                if a.get("reason") and a["klass"] not in says_it_all and a["reason"] != m.get("reason")
                else ""
            )
            for a in m["artifacts"]
        )
        parts.append(f"artifacts: {arts}")
        if m.get("blocked_by"):
            parts.append("Blocked by: " + ", ".join(m["blocked_by"]))
        if m.get("reason") and (m["state"] != ModuleState.FAILED or m["reason"].startswith("InvalidMetadata")):
            parts.append(m["reason"])
        if m.get("skip") and m["skip"] != "not-ready":
            parts.append(f"skipped:{m['skip'].removeprefix('concurrency: ')}")
        out("  " + " · ".join(parts))


def show_status(json: bool) -> None:
    """`gitbench workflow status`; app.main calls it directly for a bare `workflow status [--json]`."""
    import gc

    # A status of 10,000 modules makes a few hundred thousand objects and no garbage cycles: the collector's
    # passes over them were a tenth of a full resolve. The process ends right after.
    gc.disable()
    engine = open_engine()
    if json:
        import sys

        sys.stdout.write('{"ok":true,"result":' + engine.status_text() + "}\n")
    else:
        render_status(engine.status_data())
        kept = {m: v for m, v in engine.state.overrides.items() if v}
        if kept:
            # settings a `module-runner --set` (or --config-file) gave: kept in the state, so every later run of
            # the module uses them, though the workflow file says otherwise
            import json as jsonlib

            given = "; ".join(
                f"{m}: " + ", ".join(f"{k}={jsonlib.dumps(v)}" for k, v in sorted(values.items()))
                for m, values in sorted(kept.items())
            )
            render.out(
                f"Settings from module-runner --set / --config-file, used by every run over the file's: {given} "
                "(`gitbench workflow unset M` forgets them)"
            )


def why_chain(engine: Engine, module: str) -> dict[str, Any]:
    """Why ``module`` is not up to date: the changed files and the chain of modules from the first one they reach
    down to ``module`` (each with its state and reason), as data."""
    from gitbench.workflow import engine as engine_mod
    from gitbench.workflow import resolver

    wf = engine.workflow(engine.view(engine.head()))
    engine_mod.require_module(wf, module)
    st = {m["id"]: m for m in engine.status_data()["modules"]}
    me = st[module]
    out: dict[str, Any] = {"module": module, "state": me["state"], "cause": me.get("cause"), "chain": []}
    gate = engine.state.gates.get(module)
    if gate is not None and gate.approved and isinstance(gate.inputs, dict) and gate.fingerprint != me["fingerprint"]:
        # its approval was for other inputs: which of them changed since
        view = engine.view(engine.head())
        statuses = engine.resolve(wf, view)
        now, _ = resolver.module_inputs(wf.modules[module], view, {n: statuses[n] for n in wf.modules[module].needs})
        seen, current = gate.inputs, dict(now)
        out["approval_for_other_inputs"] = sorted(p for p in {*seen, *current} if seen.get(p) != current.get(p))
    cause = me.get("cause")
    if cause is None:
        return out
    # The path from the cause's module down to this one, through modules that carry the same cause.
    root = cause["module"]
    parents: dict[str, str | None] = {root: None}
    queue = [root]
    below = wf.dependants()
    while queue and module not in parents:
        here = queue.pop(0)
        for d in below.get(here, ()):
            if d not in parents and st[d].get("cause") == cause:
                parents[d] = here
                queue.append(d)
    path: list[str] = []
    at: str | None = module if module in parents else None
    while at is not None:
        path.append(at)
        at = parents[at]
    for mid in reversed(path) if path else [root, module]:
        m = st[mid]
        outdated = [a for a in m["artifacts"] if a["klass"] == resolver.ArtifactClass.OUTDATED]
        reasons = [a["reason"] for a in outdated if a.get("reason")]
        out["chain"].append({"id": mid, "state": m["state"], "reason": reasons[0] if reasons else m.get("reason")})
    out["summary"] = resolver.cause_text(cause)
    return out


def show_why(module: str, json: bool) -> None:
    """`gitbench workflow status --why M`: from the changed file(s) to M."""
    data = why_chain(open_engine(), module)
    if json:
        render.ok_json(data)
        return
    out = render.out
    cause = data["cause"]
    if "approval_for_other_inputs" in data:
        changed = ", ".join(data["approval_for_other_inputs"]) or "its settings"
        out(
            f"{module}'s gate was approved for other inputs: {changed} changed since the approval. "
            f"Approve again: gitbench workflow approve {module}"
        )
    if cause is None:
        out(f"{module} is {data['state']}: no changed input makes it outdated.")
        return
    out(f"Why {module} is not up to date: {data['summary']}")
    if cause.get("files"):
        out(f"  {', '.join(cause['files'])}  changed")
    width = max(len(c["id"]) for c in data["chain"])
    for c in data["chain"]:
        out(f"  → {c['id'].ljust(width)}  {c['state']:<11}" + (f" · {c['reason']}" if c.get("reason") else ""))
    out(f"Rerun from {cause['module']}: gitbench workflow run (or resume); it reruns everything on this chain.")
