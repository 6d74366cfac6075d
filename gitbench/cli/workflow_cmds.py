"""`gitbench workflow ...` and the headless `module-runner`."""

from __future__ import annotations

import json as jsonlib
import os
import sys
import time
from typing import Any

import typer

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.workflow_view import open_engine, show_status
from gitbench.events import Event, describe
from gitbench.model import to_json


def _run_shown(engine: Any, json: bool, run: Any) -> Any:
    """Call ``run(say)``; on a terminal with a rich progress bar (modules complete of all, what is running)."""
    from gitbench.cli.app import interactive

    if json or not interactive():
        return run(_say(json))
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    running: set[str] = set()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=render.console(),
        transient=True,
    ) as progress:
        task = progress.add_task("workflow", total=None)

        def on_module(mid: str, state: str, done: int, total: int) -> None:
            (running.add if state == "running" else running.discard)(mid)
            shown = ", ".join(sorted(running)[:3]) + (" ..." if len(running) > 3 else "")
            progress.update(task, total=total, completed=done, description=f"running: {shown or '-'}")

        engine.on_module = on_module
        return run(lambda event: progress.console.print(f"· {describe(event)}", markup=False, highlight=False))


def _say(json: bool) -> Any:
    return render.progress(json)


def register(app: typer.Typer) -> None:
    wf = typer.Typer(
        help="Run multi-module workflows (.gitbench/workflow.yaml) as jobs into the Draft.", no_args_is_help=True
    )
    app.add_typer(wf, name="workflow")

    @wf.command("status")
    def status(
        json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
        why: str = typer.Option(None, "--why", help="Why MODULE is not up to date: from the changed files to it."),
    ) -> None:
        """The banner, each module's state, last run, artifacts, blockers and skip reason."""
        if why:
            from gitbench.cli.workflow_view import show_why

            show_why(why, json)
        else:
            show_status(json)

    @wf.command("modules")
    def modules(json: bool = typer.Option(False, "--json", help="Print the path and text as JSON.")) -> None:
        """Write .gitbench/modules/MODULES.md: every module with its contract (the registry)."""
        from gitbench.workflow import protocol

        engine = open_engine()
        wf_spec = engine.workflow(engine.view(engine.head()))
        text = protocol.registry_markdown(wf_spec)
        root = engine.wb.git.workdir or engine.wb.git.gitdir
        path = os.path.join(root, ".gitbench", "modules", "MODULES.md")
        from gitbench.store import atomic

        atomic.write_bytes(path, text.encode())
        render.ok_json({"path": path, "text": text}) if json else render.out(f"Wrote {path}")

    @wf.command("run")
    def run(
        max_parallel: int = typer.Option(None, "--max-parallel", "-j", min=1, help="Modules run at once."),
        module: list[str] = typer.Option(None, "--module", "-m", help="Run only these modules (repeatable)."),
        on_draft: str = typer.Option(None, "--on-draft", help="If another Draft is open: publish or discard it."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Run every ready module (and those that become ready) in the workflow's Draft."""
        engine = open_engine()
        res = _run_shown(
            engine, json, lambda say: engine.run(max_parallel, list(module or []) or None, None, say, on_draft)
        )
        render.ok_json(res) if json else render.result(res)

    @wf.command("resume")
    def resume(
        max_parallel: int = typer.Option(None, "--max-parallel", "-j", min=1, help="Modules run at once."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Reload the engine's state after a failure, restart or crash, refresh from the files, and go on."""
        engine = open_engine()
        res = _run_shown(engine, json, lambda say: engine.run(max_parallel, None, None, say, None))
        render.ok_json(res) if json else render.result(res)

    @wf.command("gate")
    def gate(module: str, off: bool = typer.Option(False, "--off", help="Remove the gate.")) -> None:
        """Require manual approval before MODULE runs."""
        render.out(open_engine().set_gate(module, required=not off))

    @wf.command("approve")
    def approve(module: str, undo: bool = typer.Option(False, "--undo", help="Withdraw the approval.")) -> None:
        """Approve a gated MODULE so it can run."""
        render.out(open_engine().set_gate(module, approved=not undo))

    @wf.command("skip")
    def skip(module: str, undo: bool = typer.Option(False, "--undo", help="Put it back among the targets.")) -> None:
        """Skip an optional MODULE: the engine stops trying to run it."""
        render.out(open_engine().skip(module, undo))


def _overrides(module: str, config_file: str | None, sets: list[str]) -> dict[str, dict[str, Any]]:
    values: dict[str, Any] = {}
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            raise errors.UsageError(f"Cannot read --config-file {config_file}: {exc.strerror}.") from exc
        try:
            import yaml

            data = yaml.safe_load(raw)  # JSON is YAML too
        except Exception as exc:  # noqa: BLE001 - any parse error is the user's file: say so
            raise errors.UsageError(f"--config-file {config_file} is not YAML or JSON: {exc}.") from exc
        if not isinstance(data, dict):
            raise errors.UsageError(f"--config-file {config_file} must hold a mapping of settings.")
        values.update(data)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise errors.UsageError(f"--set takes key=value, not {item!r}.")
        try:
            values[key.strip()] = jsonlib.loads(value)
        except ValueError:
            values[key.strip()] = value
    return {module: values} if values else {}


def module_runner(
    project: str = typer.Option(".", "--project", "-p", help="The Workbench."),
    module: str = typer.Option(..., "--module", "-m", help="The module to run."),
    config_file: str = typer.Option(None, "--config-file", help="YAML or JSON settings for the module."),
    set_: list[str] = typer.Option(None, "--set", help="key=value setting (repeatable; JSON values allowed)."),
    wait: float = typer.Option(0, "--wait", help="For an input module: poll this many seconds for its outputs."),
    json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run one workflow module headlessly, with the same registry and config as `gitbench workflow`."""
    try:
        os.chdir(project)
    except OSError as exc:
        raise errors.UsageError(f"Cannot enter --project {project}: {exc.strerror}.") from exc
    overrides = _overrides(module, config_file, list(set_ or []))
    deadline = time.monotonic() + wait
    engine = open_engine()
    res = engine.run(None, [module], overrides, _say(json))  # the state, printed once
    if wait > 0 and _asked(engine, module):
        res = _wait_for(engine, module, wait, deadline, json)
    if json:
        render.ok_json(to_json(res))
    else:
        render.result(res)


def _asked(engine: Any, module: str) -> bool:
    """Does ``module`` still wait for its outputs? (The job also pauses when other modules are simply left.)"""
    return bool(engine.state.running.get(module, {}).get("status") == "needs-input")


def _wait_for(engine: Any, module: str, wait: float, deadline: float, json: bool) -> Any:
    """Poll until the module's outputs arrive or the time is up (then InputTimeout). Progress: one updating
    line on a terminal, a line every 10 s otherwise; what each quiet poll would say is shown only for the last."""
    tty = not json and sys.stderr.isatty()
    if not json:
        sys.stderr.write(f"Waiting for {module} outputs… (up to {wait:g} s)\n")
        sys.stderr.flush()
    last_line = time.monotonic()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(1.0, left))
        lines: list[Event] = []
        engine = open_engine()
        res = engine.run(None, [module], None, lines.append)
        if not _asked(engine, module):
            if tty:
                sys.stderr.write("\r\033[K")
            say = _say(json)
            for line in lines if say is not None else ():
                say(line)
            return res
        left = max(0.0, deadline - time.monotonic())
        if tty:
            sys.stderr.write(f"\r\033[KWaiting for {module} outputs… {left:.0f} s left")
            sys.stderr.flush()
        elif not json and time.monotonic() - last_line >= 10:
            sys.stderr.write(f"Still waiting for {module} outputs… {left:.0f} s left\n")
            sys.stderr.flush()
            last_line = time.monotonic()
    if tty:
        sys.stderr.write("\n")
    wanted = ", ".join(engine.workflow(engine.view(engine.head())).modules[module].outputs)
    raise errors.InputTimeout(
        f"{module} still waits for its input after {wait:g} s: {wanted} did not appear in the Workbench "
        "folder. Nothing was lost; the workflow's Draft keeps every finished module.",
        [
            errors.Action(
                f"Write {wanted} in the Workbench folder, then wait again",
                text=f"module-runner --module {module} --wait {wait:g}",
            ),
            errors.Action("Or go on once it is there", "workflow resume"),
        ],
    )


def module_runner_main() -> None:
    import typer as _typer

    from gitbench.cli.app import run_command

    app = _typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(module_runner)
    run_command(_typer.main.get_command(app), "module-runner")
