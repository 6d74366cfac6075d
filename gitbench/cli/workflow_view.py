"""`gitbench workflow status` for a person or a script: kept free of typer so the bare command starts fast."""

from __future__ import annotations

from typing import Any

from gitbench import clock
from gitbench.cli import render
from gitbench.cli.common import open_for_reading


def open_engine() -> Any:
    from gitbench.workflow.engine import Engine

    wb = open_for_reading()
    return Engine(wb)


def render_status(st: dict[str, Any]) -> None:
    """The status (as `Engine.status_data` gives it) for a person."""
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
                + (f": {last['error']}" if last.get("error") and last["status"] != "complete" else "")
            )
        # why an artifact is not ready (a fingerprint mismatch, a new version, upstream), unless the module's
        # own reason below says it already or the class says it all
        arts = ", ".join(
            f"{a['path']}={a['klass']}"
            + (
                f" ({a['reason']})"
                if a.get("reason") and a["klass"] not in ("ready", "missing") and a["reason"] != m.get("reason")
                else ""
            )
            for a in m["artifacts"]
        )
        parts.append(f"artifacts: {arts}")
        if m.get("blocked_by"):
            parts.append("Blocked by: " + ", ".join(m["blocked_by"]))
        if m.get("reason") and (m["state"] != "failed" or m["reason"].startswith("InvalidMetadata")):
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
