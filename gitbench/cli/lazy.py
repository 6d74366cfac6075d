"""The `gitbench` command group, lazily: which command lives in which module is a static table, so
`gitbench --help` lists every command without importing one, and `gitbench X` imports only X's module (and
typer, which declares its options, only then). Subcommand groups (`workflow`, `agent`, `remote`, `export`)
are one entry each: their module declares the whole group."""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from gitbench.cli.table import COMMANDS, HELP


def module_commands(module: str) -> click.Group:
    """The click commands of one ``gitbench.cli.<module>``: its everyday commands from the table, the others from
    its ``declare(app)`` (typer builds them: imported here, not before)."""
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    declare = getattr(importlib.import_module(f"gitbench.cli.{module}"), "declare", None)
    if declare is not None:
        declare(app)
    declare_table(app, module)
    return typer.main.get_group(app)


_TYPES: dict[str, Any] = {"flag": bool, "text": str, "int": int, "many": list[str]}


def declare_table(app: Any, module: str) -> None:
    """Declare to typer the everyday commands of ``module`` that the table declares (``Fast``): each option and
    argument as the table spells it (names, kind, help, minimum, metavar), with the default of the command
    function's own parameter, so the parser and the table's plain forms cannot mean different things."""
    import inspect

    import typer

    functions = importlib.import_module(f"gitbench.cli.{module}")
    for name, entry in COMMANDS.items():
        fast = entry.fast
        if entry.module != module or fast is None:
            continue
        function = getattr(functions, fast.function)
        # a KeyError: the table names an argument the function does not have
        signature = inspect.signature(function).parameters
        default = {n: None if p.default is inspect.Parameter.empty else p.default for n, p in signature.items()}
        params: list[tuple[str, Any, Any]] = [
            (arg.dest, str, typer.Argument(default[arg.dest], help=arg.help)) for arg in fast.positionals
        ]
        if fast.rest is not None:
            rest = fast.rest
            params.append((rest.dest, list[str], typer.Argument(default[rest.dest], help=rest.help)))
        for opt in fast.options:
            info = typer.Option(default[opt.dest], *opt.names, help=opt.help, min=opt.min, metavar=opt.metavar)
            params.append((opt.dest, _TYPES[opt.kind], info))
        settings = {"allow_interspersed_args": False} if fast.rest is not None else {}
        app.command(name, help=function.__doc__, context_settings=settings)(_callback(function, params))


def _callback(function: Any, params: list[tuple[str, Any, Any]]) -> Any:
    """A function typer reads as declaring ``params`` (name, type, typer's Argument or Option), calling
    ``function`` with them."""
    import inspect

    def command(**kwargs: Any) -> int:
        return int(function(**kwargs))

    kind = inspect.Parameter.KEYWORD_ONLY
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, kind, default=info, annotation=typ) for name, typ, info in params],
        return_annotation=int,
    )
    command.__annotations__ = {**{name: typ for name, typ, _ in params}, "return": int}
    return command


class LazyGroup(click.Group):
    """A click group whose commands are the static table's; each is built from its module when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        return module_commands(entry.module).get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table: `--help` imports no command module (and no rich)."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _short(e.summary, limit)) for name, e in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _short(text: str, limit: int) -> str:
    """A summary cut to ``limit`` characters at a word, as click shortens a command's help."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 1)].rsplit(" ", 1)[0] + "..."


def _root(directory: str | None, debug: bool) -> None:
    """The options before the command: where to run, and debug logging."""
    if debug:
        os.environ["GITBENCH_DEBUG"] = "1"
    if directory:
        try:
            os.chdir(directory)
        except OSError as exc:
            from gitbench import errors

            raise errors.UsageError(f"Cannot enter {directory}: {exc.strerror}.") from exc


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from gitbench import __version__

        click.echo(f"gitbench {__version__}")
        ctx.exit(0)


def group() -> LazyGroup:
    """The `gitbench` command."""

    def callback(directory: str | None, debug: bool, **_: Any) -> None:
        _root(directory, debug)

    return LazyGroup(
        name="gitbench",
        help=HELP,
        no_args_is_help=True,
        callback=callback,
        params=[
            click.Option(["-C", "directory"], default=None, help="Run as if gitbench was started in this folder."),
            click.Option(
                ["--debug"],
                is_flag=True,
                default=False,
                help="Debug logging: prompt and answer excerpts go to the logs in .git/gitbench/logs (keys are "
                "still redacted).",
            ),
            click.Option(
                ["--version"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_version,
                help="Print gitbench's version and exit.",
            ),
        ],
    )
