"""Cursor and Gemini CLI sessions through the real `gitbench hook` entry point, in a real Workbench.

Neither agent can run here (Cursor is an editor and ``cursor-agent`` talks to Cursor's servers; Gemini CLI needs
Google's), so each session is played with the payloads of the agent's documentation, in the order the agent sends
them: Cursor's from https://cursor.com/docs/agent/hooks (common schema, sessionStart, beforeSubmitPrompt,
preToolUse for Write, beforeShellExecution, stop, sessionEnd), Gemini's from
https://geminicli.com/docs/hooks/reference (base input schema, SessionStart, BeforeAgent, BeforeTool for
write_file and run_shell_command, AfterAgent, SessionEnd). What the agent's own tools would have done (write the
file the agent was told to write) is done by the test between the events.

Each: the session gets a checkpoint and a Draft worktree, named in the context the agent gets; a write aimed at
the user's checkout and a git commit there are denied with a reason naming the worktree; the turn's change
becomes one step with the trailers; the session's end ends the job and says how to review; the user's folder and
.git are byte for byte as before. And `gitbench agent install`/`uninstall` through the CLI, with a broken file.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, gitbench, make_project, run_hook
from tests.invariants import assert_same, check_invariants, fingerprint

APP = 'def greet():\n    return "hello"\n'
DRAFTS = "refs/heads/gitbench/draft/"


def hook(repo: Path, agent: str, event: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    res = run_hook(repo, agent, event, payload)
    assert res.returncode == 0, res.stderr
    return res


def trailers(repo: Path, commit: str) -> dict[str, str]:
    out = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    repo = make_project(tmp_path / "project", {"app.py": APP, "README.md": "# p\n"})
    res = gitbench(repo, "init")
    assert res.returncode == 0, res.stderr
    return repo


def the_worktree(repo: Path) -> Path:
    (draft,) = git(repo, "for-each-ref", "--format=%(refname)", DRAFTS).split()
    for block in git(repo, "worktree", "list", "--porcelain").split("\n\n"):
        if f"branch {draft}" in block:
            return Path(block.split("\n", 1)[0][len("worktree ") :])
    raise AssertionError("the Draft has no worktree")


def check_session(bench: Path, job_model: str | None, assisted: str | None) -> None:
    """After the session: one Draft, one step holding the turn's change, the job complete."""
    (draft,) = git(bench, "for-each-ref", "--format=%(refname)", DRAFTS).split()
    (step,) = git(bench, "rev-list", f"main..{draft}").split()
    assert git(bench, "show", f"{step}:app.py") == APP.replace("hello", "goodbye")
    tr = trailers(bench, step)
    assert tr["Gitbench-Checkpoint"].startswith("checkpoint/")
    assert tr.get("Assisted-by") == assisted, tr
    program = assisted.split(":")[0] if assisted and job_model else None
    assert tr["Gitbench-Model"] == (f"{program}:{job_model}" if program else tr["Gitbench-Agent"]), tr
    job = json.loads(git(bench, "show", f"refs/gitbench/records:jobs/{tr['Gitbench-Job']}.json"))
    assert job["status"] == "complete" and job["steps_completed"] == 1
    assert job["agent_model"] == job_model
    check_invariants(bench)


def test_a_cursor_session_from_its_documented_payloads(bench: Path) -> None:
    before = fingerprint(bench)
    common = {
        "conversation_id": "c0ffee00-1111-2222-3333-444455556666",
        "generation_id": "9e1a0000-1111-2222-3333-444455556666",
        "model": "claude-opus-4-7-thinking-max",
        "cursor_version": "1.7.2",
        "workspace_roots": [str(bench)],
        "user_email": None,
        "transcript_path": None,
    }
    start = hook(
        bench,
        "cursor",
        "sessionStart",
        {
            **common,
            "hook_event_name": "sessionStart",
            "session_id": common["conversation_id"],
            "is_background_agent": False,
            "composer_mode": "agent",
        },
    )
    tree = the_worktree(bench)
    assert str(tree) in json.loads(start.stdout)["additional_context"]
    res = hook(
        bench,
        "cursor",
        "beforeSubmitPrompt",
        {**common, "hook_event_name": "beforeSubmitPrompt", "prompt": "Say goodbye", "attachments": []},
    )
    assert json.loads(res.stdout) == {"continue": True}

    def pre_write(path: Path) -> dict[str, Any]:
        payload = {
            **common,
            "hook_event_name": "preToolUse",
            "tool_name": "Write",
            "tool_input": {"file_path": str(path), "contents": "x"},
            "tool_use_id": "abc123",
            "cwd": str(bench),
            "agent_message": "Writing app.py",
        }
        return dict(json.loads(hook(bench, "cursor", "preToolUse", payload).stdout))

    denied = pre_write(bench / "app.py")
    assert denied["permission"] == "deny" and str(tree / "app.py") in denied["agent_message"]
    assert pre_write(tree / "app.py") == {}
    shell = hook(
        bench,
        "cursor",
        "beforeShellExecution",
        {**common, "hook_event_name": "beforeShellExecution", "command": "git commit -am wip", "cwd": str(bench)},
    )
    assert json.loads(shell.stdout)["permission"] == "deny"
    (tree / "app.py").write_text(APP.replace("hello", "goodbye"))  # what Cursor's Write tool did
    stop = hook(bench, "cursor", "stop", {**common, "hook_event_name": "stop", "status": "completed", "loop_count": 0})
    assert json.loads(stop.stdout) == {} and "step 1" in stop.stderr  # no followup_message: nothing is sent
    end = hook(
        bench,
        "cursor",
        "sessionEnd",
        {
            **common,
            "hook_event_name": "sessionEnd",
            "session_id": common["conversation_id"],
            "reason": "completed",
            "duration_ms": 45000,
            "is_background_agent": False,
            "final_status": "completed",
        },
    )
    assert "gitbench review --draft" in end.stderr
    assert_same(before, fingerprint(bench), "the user's folder and .git")
    check_session(bench, "claude-opus-4-7-thinking-max", "cursor-agent:claude-opus-4-7-thinking-max")


def test_a_gemini_session_from_its_documented_payloads(bench: Path) -> None:
    before = fingerprint(bench)
    base = {
        "session_id": "abc123",
        "transcript_path": "/path/to/transcript.jsonl",
        "cwd": str(bench),
        "timestamp": "2025-12-01T10:30:00Z",
    }
    start = hook(bench, "gemini", "SessionStart", {**base, "hook_event_name": "SessionStart", "source": "startup"})
    tree = the_worktree(bench)
    assert str(tree) in json.loads(start.stdout)["hookSpecificOutput"]["additionalContext"]
    hook(bench, "gemini", "BeforeAgent", {**base, "hook_event_name": "BeforeAgent", "prompt": "Say goodbye"})

    def before_tool(tool: str, args: dict[str, Any]) -> dict[str, Any]:
        payload = {**base, "hook_event_name": "BeforeTool", "tool_name": tool, "tool_input": args}
        return dict(json.loads(hook(bench, "gemini", "BeforeTool", payload).stdout))

    denied = before_tool("write_file", {"file_path": str(bench / "app.py"), "content": "..."})
    assert denied["decision"] == "deny" and str(tree / "app.py") in denied["reason"]
    assert before_tool("write_file", {"file_path": "app.py", "content": "..."})["decision"] == "deny"  # relative
    assert before_tool("replace", {"file_path": str(tree / "app.py"), "old_string": "a", "new_string": "b"}) == {}
    assert before_tool("run_shell_command", {"command": "git commit -am wip"})["decision"] == "deny"
    assert before_tool("run_shell_command", {"command": "git status", "dir_path": str(tree)}) == {}
    (tree / "app.py").write_text(APP.replace("hello", "goodbye"))  # what Gemini's replace tool did
    after = hook(
        bench,
        "gemini",
        "AfterAgent",
        {
            **base,
            "hook_event_name": "AfterAgent",
            "prompt": "Say goodbye",
            "prompt_response": "Done.",
            "stop_hook_active": False,
        },
    )
    shown = json.loads(after.stdout)
    assert "step 1" in shown["systemMessage"] and "decision" not in shown
    end = hook(bench, "gemini", "SessionEnd", {**base, "hook_event_name": "SessionEnd", "reason": "exit"})
    assert "gitbench review --draft" in json.loads(end.stdout)["systemMessage"]
    assert_same(before, fingerprint(bench), "the user's folder and .git")
    check_session(bench, None, "gemini-cli")  # Gemini's payloads name no model: the agent alone


@pytest.mark.parametrize(
    ("agent", "path", "theirs"),
    [
        ("cursor", ".cursor/hooks.json", {"version": 1, "hooks": {"afterFileEdit": [{"command": "./format.sh"}]}}),
        (
            "gemini",
            ".gemini/settings.json",
            {"general": {"vimMode": True}, "hooks": {"AfterTool": [{"hooks": [{"type": "command", "command": "x"}]}]}},
        ),
        ("codex", ".codex/hooks.json", {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say"}]}]}}),
    ],
)
def test_install_and_uninstall_through_the_cli(
    bench: Path, agent: str, path: str, theirs: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CODEX_HOME", raising=False)  # codex's user config.toml: this test's HOME, never the real one
    target = bench / path
    target.parent.mkdir()
    target.write_text(json.dumps(theirs, indent=2) + "\n")
    res = gitbench(bench, "agent", "install", agent)
    assert res.returncode == 0, res.stderr
    once = target.read_text()
    assert f"hook {agent} " in once
    assert json.loads(once)["hooks"] != theirs["hooks"]
    res = gitbench(bench, "agent", "install", agent)
    assert res.returncode == 0 and "already" in res.stdout and target.read_text() == once
    assert gitbench(bench, "agent", "uninstall", agent).returncode == 0
    assert json.loads(target.read_text()) == theirs
    assert not (Path(os.environ["HOME"]) / ".codex" / "config.toml").exists()  # codex: its sandbox entry went too
    target.write_text('{"hooks": {')
    res = gitbench(bench, "agent", "install", agent, "--json")
    assert res.returncode == 2 and "not valid JSON" in json.loads(res.stdout)["error"]["message"]
    assert target.read_text() == '{"hooks": {'
    assert os.path.relpath(target, bench) in (bench / ".git" / "info" / "exclude").read_text()
