"""`gitbench workflow ...` and the headless `module-runner`."""

from __future__ import annotations

import json as jsonlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.opening import shown
from gitbench.cli.workflow_view import open_engine, show_status
from gitbench.model import to_json

if TYPE_CHECKING:
    import typer

    from gitbench.workflow.headless import Waiting


def _run_shown(engine: Any, json: bool, run: Any) -> Any:
    """Call ``run(say)``; on a terminal with a rich progress bar (modules complete of all, what is running)."""
    from gitbench.cli.prompts import interactive

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
        from gitbench.events import describe

        return run(lambda event: progress.console.print(f"· {describe(event)}", markup=False, highlight=False))


def _say(json: bool) -> Any:
    return render.progress(json)


def status(json: bool = False, why: str | None = None) -> int:
    """The banner, each module's state, last run, artifacts, blockers and skip reason."""
    if why:
        from gitbench.cli.workflow_view import show_why

        show_why(why, json)
    else:
        show_status(json)
    return 0


def modules(json: bool = False) -> int:
    """Write .gitbench/modules/MODULES.md: every module with its contract (the registry)."""
    from gitbench.workflow.headless import write_registry

    path, text = write_registry(open_engine())
    return shown({"path": path, "text": text}, json, lambda _: render.out(f"Wrote {path}"))


def run(
    max_parallel: int | None = None,
    module: list[str] | None = None,
    on_draft: str | None = None,
    json: bool = False,
    executor: str | None = None,
) -> int:
    """Run every ready module (and those that become ready) in the workflow's Draft."""
    from gitbench.cli.prompts import users_only_on_draft

    users_only_on_draft(on_draft, "workflow run")
    engine = open_engine()
    address = _executor(engine, executor)
    res = _run_shown(
        engine, json, lambda say: engine.run(max_parallel, list(module or []) or None, None, say, on_draft, address)
    )
    return shown(res, json)


def resume(max_parallel: int | None = None, json: bool = False, executor: str | None = None) -> int:
    """Reload the engine's state after a failure, restart or crash, refresh from the files, and go on."""
    engine = open_engine()
    address = _executor(engine, executor)
    again = errors.Action("resume", "workflow resume")
    res = _run_shown(engine, json, lambda say: engine.run(max_parallel, None, None, say, None, address, again))
    return shown(res, json)


def _executor(engine: Any, option: str | None) -> str:
    """Where command and model modules run: ``--executor``, else ``[workflow] executor`` of the config files."""
    from gitbench.providers import config

    return config.choose_executor(option, config.load(engine.wb.root if engine.wb.git.workdir else None))


def gate(module: str, off: bool = False) -> int:
    """Require manual approval before MODULE runs."""
    render.out(open_engine().set_gate(module, required=not off))
    return 0


def approve(module: str, undo: bool = False) -> int:
    """Approve a gated MODULE so it can run."""
    render.out(open_engine().set_gate(module, approved=not undo))
    return 0


def unset(module: str, keys: list[str] | None = None) -> int:
    """Forget the settings module-runner --set / --config-file kept for MODULE (only KEYS, if named)."""
    render.out(open_engine().unset(module, keys or None))
    return 0


def skip(module: str, undo: bool = False) -> int:
    """Skip an optional MODULE: the engine stops trying to run it."""
    render.out(open_engine().skip(module, undo))
    return 0


EXECUTOR_HELP = (
    "Where command and model modules run: local (this machine's threads, the default), dask://local (a Dask "
    "LocalCluster) or dask://HOST:PORT (a Dask scheduler); beats [workflow] executor in the config."
)


def declare(app: typer.Typer) -> None:
    """The commands' options and help, for typer (imported only when `gitbench workflow ...` is parsed)."""
    import typer

    wf = typer.Typer(
        help="Run multi-module workflows (.gitbench/workflow.yaml) as jobs into the Draft.", no_args_is_help=True
    )
    app.add_typer(wf, name="workflow")

    @wf.command("status", help=status.__doc__)
    def _status(
        json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
        why: str = typer.Option(None, "--why", help="Why MODULE is not up to date: from the changed files to it."),
    ) -> int:
        return status(json, why)

    @wf.command("modules", help=modules.__doc__)
    def _modules(json: bool = typer.Option(False, "--json", help="Print the path and text as JSON.")) -> int:
        return modules(json)

    @wf.command("run", help=run.__doc__)
    def _run(
        max_parallel: int = typer.Option(None, "--max-parallel", "-j", min=1, help="Modules run at once."),
        module: list[str] = typer.Option(None, "--module", "-m", help="Run only these modules (repeatable)."),
        on_draft: str = typer.Option(None, "--on-draft", help="If another Draft is open: publish or discard it."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        executor: str = typer.Option(None, "--executor", help=EXECUTOR_HELP),
    ) -> int:
        return run(max_parallel, module, on_draft, json, executor)

    @wf.command("resume", help=resume.__doc__)
    def _resume(
        max_parallel: int = typer.Option(None, "--max-parallel", "-j", min=1, help="Modules run at once."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        executor: str = typer.Option(None, "--executor", help=EXECUTOR_HELP),
    ) -> int:
        return resume(max_parallel, json, executor)

    @wf.command("gate", help=gate.__doc__)
    def _gate(module: str, off: bool = typer.Option(False, "--off", help="Remove the gate.")) -> int:
        return gate(module, off)

    @wf.command("approve", help=approve.__doc__)
    def _approve(module: str, undo: bool = typer.Option(False, "--undo", help="Withdraw the approval.")) -> int:
        return approve(module, undo)

    @wf.command("unset", help=unset.__doc__)
    def _unset(module: str, keys: list[str] = typer.Argument(None, help="Settings to forget (default: all).")) -> int:
        return unset(module, keys)

    @wf.command("skip", help=skip.__doc__)
    def _skip(module: str, undo: bool = typer.Option(False, "--undo", help="Put it back among the targets.")) -> int:
        return skip(module, undo)


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
    project: str = ".",
    module: str = "",
    config_file: str | None = None,
    set_: list[str] | None = None,
    wait: float = 0,
    json: bool = False,
    executor: str | None = None,
) -> int:
    """Run one workflow module headlessly, with the same registry and config as `gitbench workflow`."""
    from gitbench.workflow.headless import wait_for_outputs, waits_for_input

    try:
        os.chdir(project)
    except OSError as exc:
        raise errors.UsageError(f"Cannot enter --project {project}: {exc.strerror}.") from exc
    overrides = _overrides(module, config_file, list(set_ or []))
    deadline = time.monotonic() + wait
    engine = open_engine()
    address = _executor(engine, executor)
    import shlex

    words = ["module-runner", "--project", project, "--module", module]
    words += [*(["--config-file", config_file] if config_file else []), *(w for s in set_ or [] for w in ("--set", s))]
    again = errors.Action("run", text=" ".join(shlex.quote(w) for w in words))  # not a gitbench command: its text
    res = engine.run(None, [module], overrides, _say(json), None, address, again)  # the state, printed once
    if wait > 0 and waits_for_input(engine, module):
        res, lines = wait_for_outputs(engine, open_engine, module, wait, deadline, _WaitLine(json))
        say = _say(json)
        for line in lines if say is not None else ():
            say(line)
    _ran_or_waits(module, again)
    if json:
        render.ok_json(to_json(res))
    else:
        render.result(res)
    return 0


def _ran_or_waits(module: str, again: errors.Action) -> None:
    """module-runner is asked for one module: that it did not run (held at a gate, an input missing) is an error
    naming why and what to do, not a success that a script would take for the module's run."""
    from gitbench.workflow.resolver import ModuleState

    st = next(m for m in open_engine().status().modules if m.id == module)
    if st.state in (ModuleState.COMPLETE, ModuleState.NEEDS_INPUT, ModuleState.RUNNING):
        return
    why = st.skip or st.reason or st.state
    actions = [errors.Action("See why", "workflow status", ("--why", module))]
    if (st.skip or "").startswith("manual-gate"):
        actions = [errors.Action("Approve it (for these inputs and settings)", "workflow approve", (module,))]
    raise errors.UsageError(
        f"{module} did not run: {why}. Nothing of it changed.",
        [*actions, errors.Action("Then run it again", text=again.text)],
    )


class _WaitLine:
    """`module-runner --wait` on stderr: one updating line on a terminal, a line every 10 s otherwise; what each
    quiet poll would say is shown only for the last (by the caller)."""

    def __init__(self, json: bool) -> None:
        self.json = json
        self.tty = not json and sys.stderr.isatty()
        self.last_line = time.monotonic()

    def __call__(self, event: Waiting) -> None:
        write = sys.stderr.write
        if event.kind == "start":
            if not self.json:
                write(f"Waiting for {event.module} outputs… (up to {event.left:g} s)\n")
        elif event.kind == "arrived":
            if self.tty:
                write("\r\033[K")
        elif event.kind == "gave-up":
            if self.tty:
                write("\n")
        elif self.tty:
            write(f"\r\033[KWaiting for {event.module} outputs… {event.left:.0f} s left")
        elif not self.json and time.monotonic() - self.last_line >= 10:
            write(f"Still waiting for {event.module} outputs… {event.left:.0f} s left\n")
            self.last_line = time.monotonic()
        sys.stderr.flush()


def module_runner_main() -> None:
    import typer

    from gitbench.cli.app import run_command

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.command(help=module_runner.__doc__)
    def _module_runner(
        project: str = typer.Option(".", "--project", "-p", help="The Workbench."),
        module: str = typer.Option(..., "--module", "-m", help="The module to run."),
        config_file: str = typer.Option(None, "--config-file", help="YAML or JSON settings for the module."),
        set_: list[str] = typer.Option(None, "--set", help="key=value setting (repeatable; JSON values allowed)."),
        wait: float = typer.Option(0, "--wait", help="For an input module: poll this many seconds for its outputs."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        executor: str = typer.Option(None, "--executor", help=EXECUTOR_HELP),
    ) -> int:
        return module_runner(project, module, config_file, set_, wait, json, executor)

    run_command(typer.main.get_command(app), "module-runner")
