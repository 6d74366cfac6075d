"""gitbench/integrations/entry.py, `gitbench hook AGENT EVENT`, called in-process: whatever goes wrong, the agent's
session goes on and the user is told what happened and what to do (only a worktree the agent asked for and did
not get stops it)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest

from gitbench import errors
from gitbench.integrations import MODULES, core, entry
from gitbench.integrations.run import HOOKED


def hook(monkeypatch: pytest.MonkeyPatch, args: list[str], payload: bytes | dict[str, Any]) -> int:
    data = json.dumps(payload).encode() if isinstance(payload, dict) else payload
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    return entry.main(args)


def test_without_agent_and_event_it_prints_its_usage(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hook(monkeypatch, ["claude-code"], b"") == 2
    assert "usage: gitbench hook AGENT EVENT" in capsys.readouterr().err


def test_an_unknown_agent_is_named_with_the_install_to_run_and_the_agent_goes_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hook(monkeypatch, ["claude", "PreToolUse"], {}) == 0
    err = capsys.readouterr().err
    assert "no hooks for 'claude'" in err and "gitbench agent install claude-code" in err
    assert "Or run the agent in a Draft for one run: gitbench agent run claude" in err


def test_an_agent_with_no_hooks_at_all_is_offered_a_run_in_a_draft_as_the_first_action(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hook(monkeypatch, ["nope", "Stop"], {}) == 0
    err = capsys.readouterr().err
    assert "no hooks for 'nope'" in err and "Next: Run the agent in a Draft for one run: gitbench agent run nope" in err


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b"   "])
def test_a_payload_that_is_no_json_object_is_read_as_empty_and_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], payload: bytes
) -> None:
    monkeypatch.chdir(tmp_path)
    assert hook(monkeypatch, ["claude-code", "PreToolUse"], payload) == 0
    assert capsys.readouterr() == ("", "")


def test_a_worktree_asked_for_outside_a_workbench_is_refused_saying_to_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hook(monkeypatch, ["claude-code", "WorktreeCreate"], {"cwd": str(tmp_path), "name": "w"}) == 1
    out = capsys.readouterr()
    assert out.out == "" and "not a Workbench (run `gitbench init`)" in out.err


def crashing(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    def handle(_event: Any) -> NoReturn:
        raise exc

    monkeypatch.setattr(core, "handle", handle)


def test_a_crash_in_the_hook_is_told_to_the_user_and_logged_and_the_agent_goes_on(
    workbench: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crashing(monkeypatch, RuntimeError("boom"))
    assert hook(monkeypatch, ["claude-code", "Stop"], {"cwd": str(workbench), "session_id": "s1"}) == 0
    shown = json.loads(capsys.readouterr().out)["systemMessage"]
    assert (
        shown == "gitbench: RuntimeError: boom. The session goes on; run `gitbench recover` if something looks wrong."
    )
    logged = [
        json.loads(line)
        for f in (workbench / ".git/gitbench/logs").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert any(e.get("event") == "hook.error" and e.get("error") == "RuntimeError: boom" for e in logged), logged


def test_a_gitbench_error_in_the_hook_is_said_with_its_next_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crashing(monkeypatch, errors.Busy("Another gitbench command is running.", [errors.RECOVER]))
    assert hook(monkeypatch, ["claude-code", "Stop"], {"cwd": str(tmp_path)}) == 0  # not a repository: no log
    shown = json.loads(capsys.readouterr().out)["systemMessage"]
    assert shown == (
        "gitbench: Another gitbench command is running. Next: Finish or roll back the interrupted operation: "
        "gitbench recover."
    )
    assert not (tmp_path / ".git").exists()


def test_every_agent_run_hooks_is_one_whose_hooks_gitbench_speaks() -> None:
    assert set(HOOKED.values()) <= set(MODULES)
