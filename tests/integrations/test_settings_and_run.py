"""The user's own agent settings met by `gitbench agent install|uninstall` (integrations/base.py's JSON helpers),
in-process on a real Workbench: hooks of the user's that only look like gitbench's, folders lists of odd shapes,
are left exactly as they were. And `gitbench agent run`'s command line (integrations/run.py): how the agent finds
this gitbench, the flags each agent gets, and an empty command refused before anything is made."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.integrations import base, run
from gitbench.integrations.install import install, uninstall
from tests.conftest import git


@pytest.fixture
def here(workbench: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(workbench)
    return workbench


def claude_settings(here: Path, data: dict[str, object]) -> Path:
    path = here / ".claude" / "settings.local.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


USERS_HOOKS = [
    {"type": "command", "command": 'echo "unclosed quote'},  # not a command line shlex can read
    {"type": "command", "command": 42},  # not a command at all
    {"type": "command", "command": ["/usr/bin/env", "gitbench", "hook", "codex", "Stop"]},  # another agent's
    {"type": "command", "command": "notify gitbench hook"},  # too short to be ours
    {"type": "command", "command": "/opt/bin/my-gitbench hook claude-code Stop"},  # another program
]


def test_install_and_uninstall_keep_the_users_hooks_that_only_look_like_ours(here: Path) -> None:
    settings = claude_settings(here, {"hooks": {"Stop": [{"hooks": USERS_HOOKS}]}})
    install("claude-code", False)
    data = json.loads(settings.read_text())
    stop = [h for group in data["hooks"]["Stop"] for h in group["hooks"]]
    assert stop[: len(USERS_HOOKS)] == USERS_HOOKS
    assert any(base.is_ours(h["command"], "claude-code") for h in stop[len(USERS_HOOKS) :])
    uninstall("claude-code", False)
    assert json.loads(settings.read_text()) == {"hooks": {"Stop": [{"hooks": USERS_HOOKS}]}}


def test_is_ours_reads_a_command_given_as_a_list_of_words() -> None:
    assert base.is_ours(["/usr/local/bin/gitbench", "hook", "cursor", "stop"], "cursor")
    assert base.is_ours(["python", "/venv/bin/gitbench", "hook", "cursor", "stop"], "cursor")
    assert not base.is_ours(["gitbench", "hook", "gemini", "AfterAgent"], "cursor")


def test_a_permissions_entry_that_is_no_object_is_left_as_the_user_wrote_it(here: Path) -> None:
    settings = claude_settings(here, {"permissions": "ask me"})
    text = settings.read_text()
    assert base.add_folder(text, str(settings), "permissions", "additionalDirectories", "/w/gitbench/worktrees") == text
    assert base.forget_folders(text, str(settings), "permissions", "additionalDirectories") == text


def test_uninstall_keeps_the_users_own_additional_folders(here: Path) -> None:
    mine = ["/home/me/shared", 7, "/srv/gitbench/worktrees-not"]  # none of them gitbench's worktrees folder
    settings = claude_settings(here, {"permissions": {"additionalDirectories": mine}})
    install("claude-code", False)
    assert json.loads(settings.read_text())["permissions"]["additionalDirectories"][:3] == mine
    uninstall("claude-code", False)
    assert json.loads(settings.read_text()) == {"permissions": {"additionalDirectories": mine}}
    text = settings.read_text()
    assert base.forget_folders(text, str(settings), "permissions", "additionalDirectories") == text


def test_worktrees_folders_are_gitbenchs_folders_only() -> None:
    assert base.worktrees_folder("/home/u/.local/state/gitbench/worktrees/")
    assert base.worktrees_folder("/home/u/.local/state/gitbench/worktrees/app-1234abcd")
    assert not base.worktrees_folder("/home/u/gitbench/other")
    assert not base.worktrees_folder(None) and not base.worktrees_folder(["/x/gitbench/worktrees"])


# -- gitbench agent run ----------------------------------------------------------------------------------------


def test_the_agent_runs_the_gitbench_it_was_started_as(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "bin" / "gitbench"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["bin/gitbench", "agent", "run", "claude"])
    assert run.executable() == [str(script)]  # absolute: the agent runs hooks from its own folder


def test_without_a_gitbench_beside_python_the_one_on_path_or_the_module_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/site-packages/gitbench/__main__.py"])
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert run.executable() == [str(venv / "python"), "-m", "gitbench"]
    onpath = tmp_path / "tools"
    onpath.mkdir()
    (onpath / "gitbench").write_text("#!/bin/sh\n")
    (onpath / "gitbench").chmod(0o755)
    monkeypatch.setenv("PATH", str(onpath))
    assert run.executable() == [str(onpath / "gitbench")]


def test_each_agent_gets_its_flags_and_the_users_own_are_not_repeated(tmp_path: Path) -> None:
    assert run.flags(["aider", "--model", "x"], str(tmp_path)) == [
        "aider",
        "--model",
        "x",
        "--no-gitignore",
        "--no-check-update",
    ]
    assert run.flags(["aider", "--no-check-update"], str(tmp_path)) == ["aider", "--no-check-update", "--no-gitignore"]
    assert run.flags(["vim", "app.py"], str(tmp_path)) == ["vim", "app.py"]  # an agent gitbench has no hooks for
    # Codex has hooks, but no way to be given them for one run: its installed hooks (if any) do the work.
    assert run.flags(["codex", "exec", "hi"], str(tmp_path)) == ["codex", "exec", "hi"]
    assert list(tmp_path.iterdir()) == []
    claude = run.flags(["claude", "-p", "hi"], str(tmp_path))
    assert claude[:3] == ["claude", "-p", "hi"] and str(tmp_path / "claude-code-settings.json") in claude


def test_agent_run_without_an_agent_is_refused_before_anything_is_made(workbench: Path) -> None:
    from gitbench.services.workbench import Workbench

    before = git(workbench, "for-each-ref")
    with pytest.raises(errors.UsageError) as caught:
        run.run_agent(Workbench(str(workbench)), [])
    assert caught.value.message.startswith("agent run needs the agent to start")
    assert [a.command for a in caught.value.actions] == ["gitbench agent run --help"]
    assert git(workbench, "for-each-ref") == before
    assert not os.path.exists(workbench / ".git" / "gitbench" / "sessions")
