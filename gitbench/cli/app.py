"""The `gitbench` command: parse arguments, call a command function, render its result or its error.

Each command is a plain function (``gitbench/cli/*_cmds.py``) that takes its options as arguments and returns an
exit code; `lazy.COMMANDS` says which module holds which, so a command imports only its own module. The most
frequent forms (`--version`, the everyday commands' plain forms, `workflow status`) skip the parser altogether.

One error handler for everything: a GitbenchError becomes a banner (or ``{"ok": false, ...}`` with
``--json``) and its exit code; anything unexpected becomes a short message, a crash log, and exit 70.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitbench import errors


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


def _fast(args: list[str], as_json: bool) -> Callable[[], int] | None:
    """The everyday commands in their plain forms (cli/table.py's ``Fast``) and a bare `workflow status` run
    without click or typer, whose import and parser cost more than the command itself: the same functions the
    parser would call."""
    from gitbench.cli.table import COMMANDS, parse

    entry = COMMANDS.get(args[0]) if args else None
    fast = entry.fast if entry is not None else None
    if entry is not None and fast is not None:
        kwargs = parse(fast, args[1:])
        if kwargs is not None:
            module = entry.module

            def command() -> int:
                import importlib

                function = getattr(importlib.import_module(f"gitbench.cli.{module}"), fast.function)
                return int(function(**kwargs))

            return command
    if args in (["workflow", "status"], ["workflow", "status", "--json"]):
        # Asked often while a workflow runs, and cheap when cached.
        def workflow_status() -> int:
            from gitbench.cli.workflow_view import show_status

            show_status(as_json)
            return 0

        return workflow_status
    return None


def version() -> int:
    from gitbench import __version__

    sys.stdout.write(f"gitbench {__version__}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        return version()
    if args[:1] == ["hook"]:
        # An agent's hook, run before every tool call: no typer, no rich, no error banner (the agent reads the
        # answer in its own protocol; integrations/entry.py never lets an error break the agent's session).
        from gitbench.integrations.entry import main as hook_main

        return hook_main(args[1:])
    as_json = "--json" in (args[: args.index("--")] if "--" in args else args)  # not the job command's own
    args = _optional_values(args)
    invoke = _fast(args, as_json)
    if invoke is None:

        def invoke() -> int:
            from gitbench.cli import lazy

            code = lazy.group().main(args=args, prog_name="gitbench", standalone_mode=False)
            return code if isinstance(code, int) else 0  # click returns the command's exit code, or Exit's

    return handle(invoke, as_json)


def run_command(command: object, prog: str) -> None:
    """Another console script (`module-runner`) with gitbench's error handling."""
    args = sys.argv[1:]

    def invoke() -> int:
        code = command.main(args=args, prog_name=prog, standalone_mode=False)  # type: ignore[attr-defined]
        return code if isinstance(code, int) else 0

    raise SystemExit(handle(invoke, "--json" in args))


def _click_exit(exc: Exception, as_json: bool) -> int | None:
    """click's own exceptions, by type (click is imported only if a parser ran): a usage error is shown as click
    shows it (or as our usage error with ``--json``), Abort is exit 1 (a Ctrl-C that click made an Abort is
    cancelled, as anywhere else); None for anything else. (click's ``main`` returns an Exit's code itself.)"""
    if "click" not in sys.modules:
        return None
    import click

    if isinstance(exc, click.exceptions.ClickException):  # UsageError, BadParameter, NoSuchOption, ...
        if as_json:  # scripts asked for JSON: a bad option is an error like any other
            from gitbench import errors
            from gitbench.cli import render

            usage = errors.UsageError(exc.format_message(), [errors.Action("Help", text="gitbench --help")])
            render.error(usage, as_json)
            return usage.exit_code
        exc.show()
        return exc.exit_code
    if isinstance(exc, click.exceptions.Abort):
        # click, run with standalone_mode=False, turns a Ctrl-C inside a command into an Abort from it
        return _cancelled(as_json) if isinstance(exc.__cause__, KeyboardInterrupt) else 1
    return None


def _cancelled(as_json: bool) -> int:
    from gitbench import errors
    from gitbench.cli import render

    render.error(errors.Cancelled("Cancelled. Nothing half-done was left: run `gitbench status` to check."), as_json)
    return 130


def handle(invoke: Callable[[], int | None], as_json: bool) -> int:
    """Run ``invoke``; turn every error into a banner (or JSON) and an exit code."""
    from gitbench import errors
    from gitbench.cli import render

    try:
        return invoke() or 0
    except errors.GitbenchError as exc:
        if isinstance(exc, errors.DiskFull):
            _where_space_went(exc)
        render.error(exc, as_json)
        return exc.exit_code
    except KeyboardInterrupt:
        return _cancelled(as_json)
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A file-system error nobody below translated: still a class the user can act on, not a crash.
        from gitbench.services import crash

        err = crash.os_error(exc)
        if isinstance(err, errors.DiskFull):
            _where_space_went(err)
        render.error(err, as_json)
        return err.exit_code
    except Exception as exc:  # noqa: BLE001 - the one place that turns surprises into a message
        code = _click_exit(exc, as_json)
        if code is not None:
            return code
        from gitbench.services import crash

        render.error(crash.internal_error(exc), as_json)
        return 70


def run() -> None:
    raise SystemExit(main())
