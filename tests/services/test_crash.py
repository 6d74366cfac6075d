"""gitbench/services/crash.py in-process: every unexpected exception becomes an error a user can act on; an
internal error leaves a crash log (in the Workbench, or the temp folder outside one) holding the traceback and
the command's name, never its arguments."""

from __future__ import annotations

import errno
import sys
import tempfile
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.services.crash import as_error
from tests.conftest import make_project


def test_a_typed_error_stays_itself_and_an_os_error_becomes_a_file_or_disk_full_error() -> None:
    typed = errors.UsageError("bad input")
    assert as_error(typed) is typed
    assert isinstance(as_error(OSError(errno.ENOSPC, "No space left on device")), errors.DiskFull)
    err = as_error(OSError(errno.EIO, "Input/output error", "/data/file"))
    assert isinstance(err, errors.FileIOError) and err.exit_code == 14
    assert err.message.startswith("A file could not be read or written (/data/file): Input/output error.")
    assert err.actions[0].command == "gitbench recover"
    assert "could not be read or written: boom." in as_error(OSError("boom")).message  # no file, no errno


def test_an_internal_error_writes_a_crash_log_in_the_workbench_without_the_command_s_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wd = make_project(tmp_path / "p")
    monkeypatch.setattr(sys, "argv", ["gitbench", "ask", "the user's secret prompt"])
    try:
        raise RuntimeError("an unexpected state")
    except RuntimeError as exc:
        err = as_error(exc, str(wd / "src"))
    assert isinstance(err, errors.InternalError)
    log = Path(err.message.split("A crash log was written to ")[1].rstrip("."))
    assert log.parent == wd / ".git" / "gitbench" / "logs"
    text = log.read_text()
    assert text.startswith("gitbench ask\n") and "RuntimeError: an unexpected state" in text
    assert "secret" not in text
    assert err.message.startswith("gitbench hit an internal error (RuntimeError: an unexpected state).")


def test_outside_a_repository_the_crash_log_goes_to_the_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    err = as_error(KeyError("x"), str(tmp_path))
    [log] = (tmp_path / "tmp").glob("crash-*.log")
    assert str(log) in err.message and "KeyError: 'x'" in log.read_text()
