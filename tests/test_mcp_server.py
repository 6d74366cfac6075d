"""gitbench/mcp_server.py's own functions, called in-process on real Workbenches: what a tool answers when its
service fails unexpectedly, and what publish and restore do when the Workbench moved while the user was being asked
(tests/test_mcp.py drives the real server through the SDK's client)."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import anyio
import pytest

from gitbench import errors, mcp_server
from tests.conftest import checkpoint_names, git, gitbench


@pytest.fixture
def here(workbench: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The Workbench as the server's current folder, with no repository kept open by an earlier test's server
    (``mcp_server.workbench`` keeps one per thread)."""
    monkeypatch.chdir(workbench)
    monkeypatch.setattr(mcp_server, "_opened", threading.local())
    yield workbench


def make_draft(wb: Path) -> None:
    res = gitbench(wb, "exec", "--", "sh", "-c", "echo bye > src/app.py")
    assert res.returncode == 0, res.stderr


def answered(work: Any) -> dict[str, Any]:
    """The structured content of a tool's answer to ``work``, which must be an error."""
    res = anyio.run(mcp_server.run, work)
    assert res.is_error and res.structured_content is not None
    assert res.structured_content["ok"] is False
    err: dict[str, Any] = res.structured_content["error"]
    return err


def test_a_file_error_in_a_tool_is_the_clis_file_error_with_its_next_step(here: Path) -> None:
    def work() -> NoReturn:
        raise PermissionError(errno.EACCES, "Permission denied", str(here / "src" / "app.py"))

    err = answered(work)
    assert (err["code"], err["exit_code"]) == ("file-io", 14)
    assert "src/app.py" in err["message"] and "Permission denied" in err["message"]
    assert [a["command"] for a in err["actions"]] == ["gitbench recover"]


def test_a_full_disk_in_a_tool_says_so(here: Path) -> None:
    def work() -> NoReturn:
        raise OSError(errno.ENOSPC, "No space left on device")

    err = answered(work)
    assert (err["code"], err["exit_code"]) == ("disk-full", errors.DiskFull.exit_code)
    assert "Free some disk space" in err["actions"][0]["label"]


def test_a_surprise_in_a_tool_is_an_internal_error_with_a_crash_log_in_the_workbench(here: Path) -> None:
    def work() -> NoReturn:
        raise ValueError("unexpected")

    err = answered(work)
    assert (err["code"], err["exit_code"]) == ("internal", 70)
    assert "ValueError: unexpected" in err["message"]
    logs = list((here / ".git" / "gitbench" / "logs").glob("crash-*"))
    assert len(logs) == 1 and str(logs[0]) in err["message"]
    assert "ValueError: unexpected" in logs[0].read_text()


def test_a_draft_discarded_while_the_user_was_asked_is_not_published(here: Path) -> None:
    make_draft(here)
    plan = mcp_server.plan_publish(None, None, False)
    assert plan.error is None and "Publish the Draft" in plan.question
    published = git(here, "rev-parse", "main")
    assert gitbench(here, "discard", "--yes").returncode == 0

    with pytest.raises(errors.ApprovalDeclined, match="Something moved while the user was being asked") as caught:
        mcp_server.do_publish(plan, None, False)
    assert [a.command for a in caught.value.actions] == ["gitbench status"]
    assert git(here, "rev-parse", "main") == published
    assert gitbench(here, "discard", "--undo").returncode == 0  # the Draft is still there to come back


def test_published_moved_while_the_user_was_asked_restores_nothing(here: Path) -> None:
    first = checkpoint_names(here)[0]
    plan = mcp_server.plan_restore(first, False)
    assert plan.error is None and plan.checkpoint == first
    make_draft(here)
    assert gitbench(here, "publish").returncode == 0
    published, tags = git(here, "rev-parse", "main"), checkpoint_names(here)

    with pytest.raises(errors.ApprovalDeclined, match="Something moved"):
        mcp_server.do_restore(plan, False)
    assert git(here, "rev-parse", "main") == published and checkpoint_names(here) == tags  # no pre-restore either


def test_restore_keeping_the_draft_is_asked_with_a_draft_open_and_the_command_says_keep_draft(here: Path) -> None:
    make_draft(here)
    first = checkpoint_names(here)[0]
    assert mcp_server.plan_restore(first, False).error is not None  # a Draft is open: refused before asking
    plan = mcp_server.plan_restore(first, True)
    assert plan.error is None and f"Restore {first}" in plan.question
    assert plan.command.command == f"gitbench restore {first} --yes --keep-draft"


def test_serving_a_folder_that_is_not_there_names_it_and_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(errors.NotAWorkbench, match="--workbench .*nowhere: No such file or directory") as caught:
        mcp_server.serve(str(missing))
    assert "gitbench init" in caught.value.actions[0].label
