"""The `gitbench` command: parse arguments, call a service, render its result or its error.

One error handler for everything: a GitbenchError becomes a banner (or ``{"ok": false, ...}`` with
``--json``) and its exit code; anything unexpected becomes a short message, a crash log, and exit 70.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

    from gitbench import errors

_app: typer.Typer | None = None


def _typer_app() -> typer.Typer:
    """The typer application, built on first use: a bare `gitbench status` never imports typer (start-up)."""
    global _app
    if _app is None:
        import typer

        _app = typer.Typer(
            name="gitbench",
            help="Safe, reviewable, reversible AI edits, using nothing but Git.",
            no_args_is_help=True,
            add_completion=False,
            pretty_exceptions_enable=False,
        )
    return _app


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty() and not os.environ.get("CI")


def _register() -> None:
    from gitbench.cli import (
        agent_cmds,
        attempt_cmds,
        checkpoint_cmds,
        draft_cmds,
        file_cmds,
        gc_cmds,
        mcp_cmds,
        model_cmds,
        provenance_cmds,
        remote_cmds,
        tui_cmds,
        workbench_cmds,
        workflow_cmds,
    )

    for module in (
        workbench_cmds,
        draft_cmds,
        model_cmds,
        attempt_cmds,
        checkpoint_cmds,
        file_cmds,
        gc_cmds,
        workflow_cmds,
        provenance_cmds,
        remote_cmds,
        tui_cmds,
        agent_cmds,
        mcp_cmds,
    ):
        module.register(_typer_app())


def _crash_log(exc: BaseException, where: str | None = None) -> str:
    """Write ``exc``'s traceback to a crash log in the Workbench at ``where`` (default: the current folder's),
    or in the temp folder outside a repository; return its path."""
    import tempfile
    import time
    import traceback

    folder = tempfile.gettempdir()
    try:
        from gitbench.git.repo import GitRepo

        folder = os.path.join(GitRepo(where or os.getcwd()).gitdir, "gitbench", "logs")
        os.makedirs(folder, exist_ok=True)
    except Exception:  # noqa: BLE001 - outside a repository the log goes to the temp folder
        pass
    path = os.path.join(folder, f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log")
    with open(path, "w") as fh:
        fh.write(f"gitbench {' '.join(sys.argv[1:2])}\n")  # the command name only: arguments may hold secrets
        fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return path


def _os_error(exc: OSError) -> errors.GitbenchError:

    from gitbench import errors

    if errors.is_disk_full(exc):
        return errors.disk_full("writing")
    where = f" ({exc.filename})" if exc.filename else ""
    return errors.FileIOError(
        f"A file could not be read or written{where}: {exc.strerror or exc}. Published was not changed by a "
        "half-done write; the next gitbench command finishes or rolls back whatever was under way.",
        [errors.Action("Fix the file-system problem (permissions, space), then check", "gitbench recover")],
    )


def _where_space_went(exc: errors.DiskFull) -> None:
    """A full disk: say how much gitbench's own files and the jobs' folders take, and what frees them (every
    disk-full error, whichever command met it)."""
    from gitbench import errors
    from gitbench.services import space
    from gitbench.services.workbench import Workbench

    try:
        use = space.measure(Workbench("."))
    except (errors.GitbenchError, OSError):
        return  # not in a Workbench, or it cannot be read: the error says enough
    text, actions = space.explain(use)
    exc.message = f"{exc.message}\n{text}"
    exc.actions = [*actions, *exc.actions]
    exc.details["space"] = use.to_dict()


def _remote_fast(args: list[str]) -> bool:
    from gitbench.cli.remote_cmds import fast

    return fast(args)


def _optional_values(args: list[str]) -> list[str]:
    """`publish --remote` takes an optional value (the remote's name): alone, it means the usual remote. click
    cannot say that for an option whose value is free text, so an `--remote` followed by nothing or by another
    option gets the placeholder the command reads as "the usual one"."""
    if args[:1] != ["publish"] or "--remote" not in args:
        return args
    out = list(args)
    i = out.index("--remote")
    if i + 1 >= len(out) or out[i + 1].startswith("-"):
        out.insert(i + 1, "@default")
    return out


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["hook"]:
        # An agent's hook, run before every tool call: no typer, no rich, no error banner (the agent reads the
        # answer in its own protocol; integrations/entry.py never lets an error break the agent's session).
        from gitbench.integrations.entry import main as hook_main

        return hook_main(args[1:])
    as_json = "--json" in (args[: args.index("--")] if "--" in args else args)  # not the job command's own
    args = _optional_values(args)
    if args in (["status"], ["status", "--json"]):
        # The most frequent command, without typer: importing it and building the parser cost more than the
        # status itself. Same function as `gitbench status` through typer.
        from gitbench.cli.common import show_status

        def invoke() -> None:
            show_status(as_json)
    elif args[:1] in (["push"], ["pull"]) and _remote_fast(args):

        def invoke() -> None:
            from gitbench.cli.remote_cmds import run_fast

            run_fast(args)
    elif args in (["workflow", "status"], ["workflow", "status", "--json"]):
        # Asked often while a workflow runs, and cheap when cached: without typer too.
        def invoke() -> None:
            from gitbench.cli.workflow_view import show_status as show_workflow_status

            show_workflow_status(as_json)
    else:
        import typer

        _register()
        command = typer.main.get_command(_typer_app())

        def invoke() -> None:
            code = command.main(args=args, prog_name="gitbench", standalone_mode=False)
            if isinstance(code, int) and code:  # a command's typer.Exit(N): click returns N here, not raises
                raise typer.Exit(code)

    return handle(invoke, as_json)


def run_command(command: object, prog: str) -> None:
    """Another console script (`module-runner`) with gitbench's error handling."""
    args = sys.argv[1:]

    def invoke() -> None:
        command.main(args=args, prog_name=prog, standalone_mode=False)  # type: ignore[attr-defined]

    raise SystemExit(handle(invoke, "--json" in args))


def handle(invoke: Callable[[], None], as_json: bool) -> int:
    """Run ``invoke``; turn every error into a banner (or JSON) and an exit code."""
    from gitbench import errors
    from gitbench.cli import render

    try:
        invoke()
        return 0
    except errors.GitbenchError as exc:
        if isinstance(exc, errors.DiskFull):
            _where_space_went(exc)
        render.error(exc, as_json)
        return exc.exit_code
    except KeyboardInterrupt:
        render.error(
            errors.Cancelled("Cancelled. Nothing half-done was left: run `gitbench status` to check."), as_json
        )
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A file-system error nobody below translated: still a class the user can act on, not a crash.
        err = _os_error(exc)
        if isinstance(err, errors.DiskFull):
            _where_space_went(err)
        render.error(err, as_json)
        return err.exit_code
    except Exception as exc:  # noqa: BLE001 - the one place that turns surprises into a message
        if hasattr(exc, "exit_code") and hasattr(exc, "show"):  # typer/click usage errors
            if as_json:  # scripts asked for JSON: a bad option is an error like any other
                text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
                usage = errors.UsageError(str(text), [errors.Action("Help", "gitbench --help")])
                render.error(usage, as_json)
                return usage.exit_code
            exc.show()
            return int(exc.exit_code)
        if type(exc).__name__ == "Abort":
            return 1
        if type(exc).__name__ == "Exit":
            return int(getattr(exc, "exit_code", 0))
        log = _crash_log(exc)
        render.error(
            errors.InternalError(
                f"gitbench hit an internal error ({type(exc).__name__}: {exc}). A crash log was written to {log}.",
                [
                    errors.Action("Check and repair the Workbench", "gitbench recover"),
                    errors.Action("Report the bug with the crash log"),
                ],
            ),
            as_json,
        )
        return 70


def run() -> None:
    raise SystemExit(main())
