"""why, export agent-trace: where each line came from, for people and for other tools."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitbench import clock, errors
from gitbench.cli import render
from gitbench.cli.opening import open_workbench

if TYPE_CHECKING:
    import typer

    from gitbench.services.why import Origin, WhyResult
    from gitbench.services.workbench import Workbench


def why(target: str, rev: str | None = None, json: bool = False) -> int:
    """Who wrote these lines: the job, agent, model, step, checkpoint and prompt, or "by hand"."""
    from gitbench.services import why as why_service

    wb = open_workbench()
    result = why_service.why(wb, _from_here(wb, target), rev)
    if json:
        render.ok_json(result.to_json())
    else:
        show(result)
    return 0


def agent_trace(rev: str | None = None, output: str | None = None, json: bool = False) -> int:
    """The jobs' steps as Agent Trace records (JSON Lines, one record a line; agent-trace.dev v0.1.0)."""
    import json as json_module

    from gitbench.services import agent_trace as trace

    wb = open_workbench()
    records = trace.export(wb, rev)
    lines = "".join(json_module.dumps(r, sort_keys=True) + "\n" for r in records)
    if output:
        _write(output, lines)
    if json:
        render.ok_json({"records": records, "count": len(records), "output": output})
    elif output:
        render.out(f"Wrote {len(records)} Agent Trace record(s), one per step, to {output}.")
    else:
        import sys

        sys.stdout.write(lines)
    return 0


def declare(app: typer.Typer) -> None:
    """The commands' options and help, for typer (imported only when one of these commands is parsed)."""
    import typer

    @app.command("why", help=why.__doc__)
    def _why(
        target: str = typer.Argument(..., help="PATH, PATH:LINE or PATH:FROM-TO (e.g. src/app.py:10-20)."),
        rev: str = typer.Option(
            None, "--rev", help="Published (default), a Draft's label, a checkpoint, or any commit (main~3, an id)."
        ),
        json: bool = typer.Option(False, "--json", help="Print the answer as JSON."),
    ) -> int:
        return why(target, rev, json)

    export = typer.Typer(help="Export gitbench's records in formats other tools read.", no_args_is_help=True)
    app.add_typer(export, name="export")

    @export.command("agent-trace", help=agent_trace.__doc__)
    def _agent_trace(
        rev: str = typer.Option(
            None, "--rev", help="The steps to export: A..B, or one revision and its history (default: Published)."
        ),
        output: str = typer.Option(None, "--output", "-o", help="Write the records to this file, not to stdout."),
        json: bool = typer.Option(False, "--json", help='Print {"ok": true, "result": {"records": [...]}}.'),
    ) -> int:
        return agent_trace(rev, output, json)


def _from_here(wb: Workbench, target: str) -> str:
    """A path typed in a sub-folder of the Workbench is relative to that folder, as for Git."""
    folder = wb.opened_in
    if folder is None or os.path.isabs(target):
        return target
    try:
        here = os.path.relpath(os.getcwd(), folder)
    except (OSError, ValueError):
        return target
    if here == "." or here.startswith(".."):
        return target
    return os.path.join(here, target).replace(os.sep, "/")


def _write(path: str, text: str) -> None:
    """Write the file whole or not at all (a temp file renamed over it)."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".agent-trace-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise errors.file_error(exc, f"writing {path}") from exc


def show(result: WhyResult) -> None:
    if not result.origins:
        render.out(f"{result.path} at {result.rev}, commit {result.commit[:12]}, is empty.")
        return
    span = (
        f"line {result.first} of {result.line_count}"
        if result.first == result.last
        else f"lines {result.first}-{result.last} of {result.line_count}"
    )
    render.out(f"{result.path} at {result.rev}, commit {result.commit[:12]}: {span}")
    width = len(str(result.last))
    for o in result.origins:
        render.out("")
        for line in _header(o):
            render.out(line)
        for n, text in enumerate(o.lines, o.start):
            render.out(f"  {str(n).rjust(width)} │ {text}")


def _header(o: Origin) -> list[str]:
    where = f"line {o.start}" if o.start == o.end else f"lines {o.start}-{o.end}"
    when = clock.iso(o.date)
    if o.by_hand:
        how = f"`gitbench {o.operation}`" if o.operation else "by hand"
        return [
            f"{where}: written {how} (no gitbench job) · commit {o.commit[:12]} by {o.author} <{o.author_email}>, "
            f"{when}",
            f"    {o.subject}",
        ]
    who = o.assisted_by or (f"command {o.model}" if o.model else "a command")
    out = [f"{where}: {who} · job {o.job}, step {o.step} · commit {o.commit[:12]}, {when}"]
    if o.checkpoint:
        out.append(f"    checkpoint before the job: {o.checkpoint} (gitbench restore {o.checkpoint})")
    if o.prompt is not None:
        out.append(f"    prompt: {_one_line(o.prompt)}")
    elif o.command:
        import shlex

        out.append(f"    command: {_one_line(shlex.join(o.command))}")
    if o.message:
        out.append(f"    message: {_one_line(o.message)}")
    if o.status and o.status != "complete":
        out.append(f"    step status: {o.status}")
    return out


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
