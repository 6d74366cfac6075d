"""gitbench/cli/app.py, the entry point's one error handler, in-process through the real ``main(argv)``: every
failure becomes a banner (or ``--json`` data) naming the problem and the next action, and its exit code; the forms
that skip the parser (the everyday commands' plain forms) and those that go through click end the same way."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any, NoReturn

import pytest

from gitbench.cli import app
from gitbench.services import status as status_service
from tests.conftest import gitbench

# typer 0.24 imports a helper click 8.3 deprecates: not ours, and harmless
pytestmark = pytest.mark.filterwarnings("ignore:'click.utils.get_[a-z_]*' is deprecated:DeprecationWarning")

# `status` runs without the parser; `-C . status` goes through click and typer to the same function.
FORMS = {"plain": ["status"], "parsed": ["-C", ".", "status"]}


@pytest.fixture
def here(workbench: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(workbench)
    return workbench


def failing(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """`status`'s service meets ``exc`` (what cannot be made real here: a Ctrl-C, a crash, a file error)."""

    def status(*_: Any, **__: Any) -> NoReturn:
        raise exc

    monkeypatch.setattr(status_service, "status", status)


def json_error(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False
    err: dict[str, Any] = data["error"]
    return err


@pytest.mark.parametrize("form", FORMS)
def test_ctrl_c_in_a_command_is_cancelled_with_exit_130_and_says_to_check_status(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    failing(monkeypatch, KeyboardInterrupt())
    assert app.main(FORMS[form]) == 130
    err = capsys.readouterr().err
    assert "error: cancelled (exit 130)" in err and "gitbench status" in err

    assert app.main([*FORMS[form], "--json"]) == 130
    assert json_error(capsys)["code"] == "cancelled"


@pytest.mark.parametrize("form", FORMS)
def test_a_file_error_nobody_translated_names_the_file_and_says_to_recover(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    failing(monkeypatch, PermissionError(errno.EACCES, "Permission denied", "src/app.py"))
    assert app.main([*FORMS[form], "--json"]) == 14
    err = json_error(capsys)
    assert err["code"] == "file-io" and "(src/app.py): Permission denied" in err["message"]
    assert [a["command"] for a in err["actions"]] == ["gitbench recover"]


@pytest.mark.parametrize("form", FORMS)
def test_a_surprise_is_exit_70_with_a_crash_log_in_the_workbench(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    failing(monkeypatch, ZeroDivisionError("a bug"))
    assert app.main(FORMS[form]) == 70
    err = capsys.readouterr().err
    assert "error: internal (exit 70)" in err and "ZeroDivisionError: a bug" in err
    (log,) = (here / ".git" / "gitbench" / "logs").glob("crash-*")
    assert "ZeroDivisionError: a bug" in log.read_text() and "Traceback" in log.read_text()
    assert "Traceback" not in err


def test_a_closed_pipe_ends_the_command_quietly(here: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    failing(monkeypatch, BrokenPipeError(errno.EPIPE, "Broken pipe"))
    assert app.main(["status"]) == 0
    assert capsys.readouterr().err == ""


def test_a_full_disk_outside_a_workbench_is_said_without_the_space_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    def invoke() -> NoReturn:
        raise OSError(errno.ENOSPC, "No space left on device")

    assert app.handle(invoke, as_json=True) == 13
    err = json_error(capsys)
    assert err["code"] == "disk-full" and "space" not in err["details"]
    assert err["actions"][0]["label"] == "Free some disk space, then run the command again"


def test_a_bad_option_is_clicks_usage_message_or_with_json_our_usage_error(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert app.main(["status", "--bogus"]) == 2
    assert "No such option '--bogus'" in capsys.readouterr().err

    assert app.main(["status", "--bogus", "--json"]) == 2
    err = json_error(capsys)
    assert err["code"] == "usage" and "No such option '--bogus'" in err["message"]
    assert [(a["label"], a["command"]) for a in err["actions"]] == [("Help", "gitbench --help")]


def test_an_unknown_command_is_a_usage_error_naming_it(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["publsh"]) == 2
    assert "No such command 'publsh'" in capsys.readouterr().err


def test_dash_c_into_a_folder_that_is_not_there_says_so(tmp_path: Path) -> None:
    res = gitbench(tmp_path, "-C", "nowhere", "status", "--json")
    assert res.returncode == 2
    err = json.loads(res.stdout)["error"]
    assert err["code"] == "usage" and err["message"] == "Cannot enter nowhere: No such file or directory."


def test_debug_turns_on_the_debug_log_for_the_command(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITBENCH_DEBUG", raising=False)
    seen: list[str | None] = []
    real = status_service.status

    def status(*args: Any, **kwargs: Any) -> Any:
        import os

        seen.append(os.environ.get("GITBENCH_DEBUG"))
        return real(*args, **kwargs)

    monkeypatch.setattr(status_service, "status", status)
    assert app.main(["--debug", "status", "--json"]) == 0
    assert seen == ["1"]


def test_version_through_the_parser_is_the_same_as_the_fast_form(capsys: pytest.CaptureFixture[str]) -> None:
    assert app.main(["--version"]) == 0
    fast = capsys.readouterr().out
    assert app.main(["--debug", "--version"]) == 0
    assert capsys.readouterr().out == fast and fast.startswith("gitbench ")
