"""gitbench/services/checks.py in-process: a check run on a real Workbench's commit, each way its log and its
result can go (the publish gate through the real CLI is in tests/services/test_checks.py)."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.providers.config import JobSettings
from gitbench.services import checks
from gitbench.services.workbench import Workbench
from tests.conftest import git

SECRET = "sk-check-SECRET-value-1234"


def opened(workbench: Path) -> tuple[Workbench, str]:
    wb = Workbench(str(workbench))
    return wb, git(workbench, "rev-parse", "main").strip()


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_check_reads_the_workbench_settings_itself_and_a_key_it_prints_is_redacted_in_its_log(
    workbench: Path,
) -> None:
    (workbench / ".gitbench").mkdir(exist_ok=True)
    (workbench / ".gitbench" / "config.toml").write_text('[job]\nsetup = "echo set up > ready.txt"\n')
    wb, head = opened(workbench)
    res = checks.run(wb, head, f"cat ready.txt; echo using {SECRET}; cat src/app.py", 30, secrets=[SECRET])
    assert res.status == "passed" and res.exit_code == 0 and res.setup is None
    # the Workbench's [job] setup ran first
    assert res.tail == "$ echo set up > ready.txt    ([job] setup)\nset up\nusing [redacted]\nprint('hello')"
    assert res.log is not None
    text = Path(res.log).read_text()
    assert SECRET not in text and "using [redacted]" in text  # the file itself was rewritten
    assert res.log_sha256 == sha256(res.log)  # the digest is of the file as kept
    assert not (workbench / "ready.txt").exists()  # it ran in a throw-away worktree


def test_a_setup_stopped_at_the_time_limit_ends_the_check_before_the_command_runs(
    workbench: Path, tmp_path: Path
) -> None:
    wb, head = opened(workbench)
    ran = tmp_path / "ran"
    res = checks.run(wb, head, f"touch {ran}", 0.5, settings=JobSettings(setup="sleep 30"))
    assert res.status == "timed-out" and res.exit_code is None and res.stopped == "timeout"
    assert res.setup is None  # the setup did not fail: it was stopped
    assert res.result == "timed out (stopped after 0.5 s)"
    assert not ran.exists()
    assert res.seconds < 10


def test_a_huge_log_is_not_rewritten_but_its_tail_is_redacted(workbench: Path) -> None:
    wb, head = opened(workbench)
    big = checks.REDACT_MAX + 1024 * 1024
    res = checks.run(
        wb, head, f"head -c {big} /dev/zero | tr '\\0' x; echo; echo last line {SECRET}", 60, secrets=[SECRET]
    )
    assert res.passed and res.log is not None
    assert res.tail.endswith("last line [redacted]") and SECRET not in res.tail
    assert len(res.tail) <= checks.TAIL_CHARS
    assert os.path.getsize(res.log) > checks.REDACT_MAX  # kept whole, as written
    with open(res.log, "rb") as fh:
        fh.seek(-200, os.SEEK_END)
        assert SECRET.encode() in fh.read()
    assert res.log_sha256 == sha256(res.log)


def test_a_log_removed_while_the_check_ran_gives_a_result_without_its_output(workbench: Path) -> None:
    wb, head = opened(workbench)
    res = checks.run(wb, head, 'echo some output; rm -f "$LOGS"/*.log', 30, env={"LOGS": wb.layout.checks})
    assert res.status == "passed" and res.exit_code == 0
    assert res.tail == "" and res.log_sha256 is None
    assert res.log is not None and not os.path.exists(res.log)


def test_a_check_whose_log_cannot_be_opened_is_a_file_error_and_runs_nothing(workbench: Path, tmp_path: Path) -> None:
    wb, head = opened(workbench)
    folder = Path(wb.layout.checks)
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the checks' folder goes\n")
    ran = tmp_path / "ran"
    with pytest.raises(errors.FileIOError) as info:
        checks.run(wb, head, f"touch {ran}", 30)
    assert info.value.message.startswith(f"File error while opening the check's log {folder}/")
    assert info.value.actions == [errors.RECOVER]
    assert not ran.exists()
    assert git(workbench, "worktree", "list", "--porcelain").count("worktree ") == 1  # no worktree was made


def test_old_logs_that_cannot_be_listed_or_removed_do_not_stop_a_check(
    workbench: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wb, head = opened(workbench)
    folder = Path(wb.layout.checks)
    folder.mkdir(parents=True)
    stuck = folder / "0000-00.log"
    stuck.mkdir()  # the oldest "log" is a folder: unlink refuses it
    for n in range(1, 60):
        (folder / f"0000-{n:02d}.log").write_text("old\n")
    res = checks.run(wb, head, "echo pruned", 30)
    assert res.passed and res.tail == "pruned"
    assert stuck.is_dir()  # skipped, not fatal
    kept = sorted(p.name for p in folder.glob("*.log"))
    assert len(kept) == checks.KEEP_LOGS + 1 and Path(str(res.log)).name in kept  # the folder besides the 50

    real_listdir = os.listdir

    def unreadable(path: str | os.PathLike[str] = ".") -> list[str]:
        if os.fspath(path) == str(folder):
            raise OSError(errno.EIO, "Input/output error", str(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", unreadable)
    res = checks.run(wb, head, "echo still runs", 30)
    assert res.passed and res.tail == "still runs"
    monkeypatch.undo()
    assert len(list(folder.glob("*.log"))) == checks.KEEP_LOGS + 2  # nothing was pruned this time
