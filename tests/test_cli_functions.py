"""The CLI's commands as plain functions, called in-process (no subprocess: the fast layer), and the lazy
command group: `--help` lists every command from the table, `gitbench X` imports only X's module, the fast
forms of the everyday commands mean what their typer declarations mean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitbench import __version__
from gitbench.cli import app, checkpoint_cmds, draft_cmds, workbench_cmds
from gitbench.cli.table import COMMANDS, Fast, parse
from tests.conftest import checkpoint_names, git, make_project

# typer 0.24 imports a helper click 8.3 deprecates: not ours, and harmless (the commands' subprocesses never see it)
pytestmark = pytest.mark.filterwarnings("ignore:'click.utils.get_[a-z_]*' is deprecated:DeprecationWarning")


def json_out(capsys: pytest.CaptureFixture[str]) -> Any:
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True
    return data["result"]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project adopted by calling `init` in-process, and the current folder (the test reads and drops what
    init printed)."""
    project = make_project(tmp_path / "project")
    assert workbench_cmds.init(str(project), None, json=True) == 0
    monkeypatch.chdir(project)
    return project


def test_status_log_and_checkpoints_are_functions_returning_their_exit_code(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()  # whatever init printed
    assert workbench_cmds.status(json=True) == 0
    st = json_out(capsys)
    assert st["workbench"] == str(here) and st["draft"] is None

    assert checkpoint_cmds.checkpoint("by a function", json=False) == 0
    assert "Took checkpoint/" in capsys.readouterr().out
    assert len(checkpoint_names(here)) == 2

    assert checkpoint_cmds.checkpoints(json=True) == 0
    items = json_out(capsys)
    assert [c["kind"] for c in items] == ["init", "manual"] and items[1]["message"].endswith("by a function")

    assert checkpoint_cmds.log(limit=5, json=True) == 0
    assert json_out(capsys) == []


def test_a_job_reviewed_and_published_in_process(here: Path, capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    code = "open('src/app.py', 'a').write('# more\\n')"
    assert draft_cmds.exec([sys.executable, "-c", code], files=["src/**"], json=True) == 0
    capfd.readouterr()
    assert draft_cmds.review(json=False) == 0
    assert "M src/app.py" in capfd.readouterr().out
    assert draft_cmds.publish(json=True) == 0
    assert json_out(capfd)["operation"] == "publish"
    assert "# more" in git(here, "show", "HEAD:src/app.py")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["--version"]) == 0
    assert capsys.readouterr().out == f"gitbench {__version__}\n"


def test_help_lists_every_command_of_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--version" in out
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS)


def _declared(name: str) -> Any:
    import click

    from gitbench.cli.lazy import module_commands

    command = module_commands(COMMANDS[name].module).get_command(click.Context(click.Group()), name)
    assert command is not None, name
    return command


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_table_says_what_the_command_says(name: str) -> None:
    """The line `--help` shows is how the command's own help begins (the table cannot drift from it)."""
    declared = " ".join((_declared(name).help or "").split())
    assert declared.startswith(COMMANDS[name].summary), (declared, COMMANDS[name].summary)


@pytest.mark.parametrize("name", [n for n, e in COMMANDS.items() if e.fast is not None])
def test_the_parser_of_an_everyday_command_is_made_from_its_table_declaration(name: str) -> None:
    """What click parses (`--help`, `--opt=value`) means what the table's plain form means: the same options
    (names, kind, minimum, help) and arguments, and the command function's own defaults."""
    import importlib
    import inspect

    fast = COMMANDS[name].fast
    assert isinstance(fast, Fast)
    function = getattr(importlib.import_module(f"gitbench.cli.{COMMANDS[name].module}"), fast.function)
    defaults = {n: p.default for n, p in inspect.signature(function).parameters.items()}
    command = _declared(name)
    assert command.help == inspect.cleandoc(function.__doc__ or "")
    options = {p.name: p for p in command.params if p.param_type_name == "option"}
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    assert {o.dest for o in fast.options} == set(options)
    for opt in fast.options:
        declared = options[opt.dest]
        assert set(opt.names) == set(declared.opts), opt
        kind = "flag" if declared.is_flag else "many" if declared.multiple else declared.type.name.split()[0]
        assert {"flag": "flag", "many": "many", "text": "text", "int": "integer"}[opt.kind] == kind, opt
        assert opt.min == getattr(declared.type, "min", None), opt
        assert declared.help == opt.help, opt
        assert declared.default == (None if opt.kind == "many" else defaults[opt.dest]), opt
    table_args = [*fast.positionals, *([fast.rest] if fast.rest else [])]
    assert [a.dest for a in table_args] == [p.name for p in arguments]
    assert [a.nargs for a in arguments] == [1] * len(fast.positionals) + [-1] * bool(fast.rest)


@pytest.mark.parametrize("module", sorted({e.module for e in COMMANDS.values() if e.fast is not None}))
def test_an_everyday_command_is_declared_only_in_the_table(module: str) -> None:
    """An option is spelled once: no module declares to typer a command whose options the table declares."""
    import importlib

    import typer

    app = typer.Typer()
    declare = getattr(importlib.import_module(f"gitbench.cli.{module}"), "declare", None)
    if declare is not None:
        declare(app)
    declared = {c.name for c in app.registered_commands}
    assert not declared & {n for n, e in COMMANDS.items() if e.fast is not None and e.module == module}


def test_the_fast_form_leaves_anything_unusual_to_click() -> None:
    checkpoints = COMMANDS["checkpoints"].fast
    exec_ = COMMANDS["exec"].fast
    push = COMMANDS["push"].fast
    assert checkpoints is not None and exec_ is not None and push is not None
    assert parse(checkpoints, ["-n", "5", "--json"]) == {"limit": 5, "json": True}
    for unusual in (["--help"], ["-n", "0"], ["-n", "x"], ["--limit=5"], ["-n"], ["extra"], ["--bogus"]):
        assert parse(checkpoints, unusual) is None, unusual
    assert parse(exec_, ["-f", "a", "--files", "b", "--", "cmd", "--json"]) == {
        "files": ["a", "b"],
        "command": ["cmd", "--json"],
    }
    assert parse(exec_, ["cmd", "-x"]) == {"command": ["cmd", "-x"]}
    assert parse(exec_, ["-m", "-x", "--", "cmd"]) is None  # a value like an option: click decides
    assert parse(push, ["origin", "--drafts"]) == {"remote": "origin", "drafts": True}
    assert parse(push, ["origin", "other"]) is None


def _imported_by(args: list[str], cwd: Path) -> set[str]:
    """The modules a real `gitbench ARGS` process has loaded when it exits."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.__stderr__.write('MODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
        "from gitbench.cli.app import main\n"
        f"raise SystemExit(main({args!r}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def test_help_and_status_import_no_other_command_module(here: Path) -> None:
    modules = {e.module for e in COMMANDS.values()}
    helped = _imported_by(["--help"], here)
    assert not {f"gitbench.cli.{m}" for m in modules} & helped
    assert not {"typer", "rich", "pygments", "markdown_it"} & {m.split(".")[0] for m in helped}
    status = _imported_by(["status"], here)
    assert {f"gitbench.cli.{m}" for m in modules} & status == {"gitbench.cli.workbench_cmds"}
    assert not {"typer", "click"} & {m.split(".")[0] for m in status}
    log = _imported_by(["log", "-n", "3"], here)
    assert {f"gitbench.cli.{m}" for m in modules} & log == {"gitbench.cli.checkpoint_cmds"}
    assert not {"typer", "click"} & {m.split(".")[0] for m in log}
