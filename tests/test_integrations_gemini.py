"""Gemini CLI's hooks (gitbench/integrations/gemini.py).

There is no Gemini CLI here (and it would need Google's servers), so its side is tested with the payloads and
answers of its documentation, copied from https://geminicli.com/docs/hooks/reference (base input schema,
BeforeTool, BeforeAgent, AfterAgent, SessionStart, SessionEnd) and https://geminicli.com/docs/hooks (the
configuration schema, the BeforeTool example with ``write_file``, the matcher ``write_file|replace``).
"""

from __future__ import annotations

import json
from typing import Any

from gitbench.integrations import adapter
from gitbench.integrations.base import HookReply
from tests.hookfiles import (
    check_broken,
    check_empty_install,
    check_moved_gitbench,
    check_user_hooks_kept,
)

GEMINI = adapter("gemini")
EVENTS = ["SessionStart", "BeforeAgent", "BeforeTool", "AfterAgent", "SessionEnd"]

# "Base input schema" (every hook), with the documentation's example values.
BASE = {
    "session_id": "abc123",
    "transcript_path": "/path/to/transcript.jsonl",
    "cwd": "/path/to/project",
    "timestamp": "2025-12-01T10:30:00Z",
}


def payload(event: str, **fields: Any) -> dict[str, Any]:
    return {**BASE, "hook_event_name": event, **fields}


def test_install_into_no_file_writes_every_event_and_uninstall_deletes_it() -> None:
    data = check_empty_install(GEMINI, EVENTS)
    (group,) = data["hooks"]["BeforeTool"]
    assert group["matcher"] == "write_file|replace|run_shell_command"
    (hook,) = group["hooks"]
    assert (hook["type"], hook["name"]) == ("command", "gitbench-BeforeTool")
    assert data["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] == 300_000  # milliseconds
    assert GEMINI.config_path("/p", False, "/h") == "/p/.gemini/settings.json"
    assert GEMINI.config_path("/p", True, "/h") == "/h/.gemini/settings.json"


def test_the_users_settings_and_hooks_stay_unchanged_and_in_place() -> None:
    check_user_hooks_kept(
        GEMINI,
        {
            "general": {"vimMode": True},
            "tools": {"enableHooks": True},
            "hooks": {
                "disabled": ["secret-scanner"],
                "BeforeTool": [
                    {
                        "matcher": "write_file|replace",
                        "hooks": [
                            {
                                "name": "secret-scanner",
                                "type": "command",
                                "command": "$GEMINI_PROJECT_DIR/.gemini/hooks/block-secrets.sh",
                                "description": "Prevent committing secrets",
                            }
                        ],
                    }
                ],
                "SessionStart": [{"matcher": "startup", "hooks": [{"type": "command", "command": "./init.sh"}]}],
            },
        },
    )


def test_moved_gitbench_updates_our_commands_in_place() -> None:
    check_moved_gitbench(GEMINI)


def test_a_broken_settings_file_is_a_usage_error_and_nothing_is_written() -> None:
    check_broken(GEMINI, '{"hooks": {"BeforeTool": [}', "the Gemini CLI settings.json is not valid JSON")
    check_broken(GEMINI, '["not", "an", "object"]', "holds a JSON list, not an object")


def test_session_start_gives_the_worktree_as_context() -> None:
    event = GEMINI.parse("SessionStart", payload("SessionStart", source="startup"))
    assert (event.kind, event.session, event.cwd, event.transcript) == (
        "session-start",
        "abc123",
        "/path/to/project",
        "/path/to/transcript.jsonl",
    )
    assert event.model is None  # Gemini's payloads name no model
    out, err, code = GEMINI.render(event, HookReply(context="work in /wt"))
    assert json.loads(out) == {
        "hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "work in /wt"}
    }
    assert (err, code) == ("", 0)


def test_a_write_is_denied_with_the_reason_sent_to_the_model() -> None:
    # The documentation's BeforeTool input.
    event = GEMINI.parse(
        "BeforeTool",
        payload("BeforeTool", tool_name="write_file", tool_input={"file_path": "/path/to/file.ts", "content": "..."}),
    )
    assert (event.kind, event.paths) == ("pre-edit", ["/path/to/file.ts"])
    out, err, code = GEMINI.render(event, HookReply(deny="write /wt/file.ts instead"))
    assert (json.loads(out), err, code) == ({"decision": "deny", "reason": "write /wt/file.ts instead"}, "", 0)
    assert json.loads(GEMINI.render(event, HookReply())[0]) == {}


def test_replace_and_shell_commands() -> None:
    edit = GEMINI.parse(
        "BeforeTool",
        payload(
            "BeforeTool",
            tool_name="replace",
            tool_input={"file_path": "src/app.py", "old_string": "hello", "new_string": "bye"},
        ),
    )
    assert (edit.kind, edit.paths) == ("pre-edit", ["src/app.py"])
    shell = GEMINI.parse(
        "BeforeTool",
        payload(
            "BeforeTool", tool_name="run_shell_command", tool_input={"command": "git commit -am x", "dir_path": "sub"}
        ),
    )
    assert (shell.kind, shell.command, shell.cwd) == ("pre-shell", "git commit -am x", "/path/to/project/sub")
    read = GEMINI.parse("BeforeTool", payload("BeforeTool", tool_name="read_file", tool_input={"file_path": "a"}))
    assert read.kind == "other"


def test_the_prompt_and_its_context() -> None:
    event = GEMINI.parse("BeforeAgent", payload("BeforeAgent", prompt="Fix the authentication bug"))
    assert (event.kind, event.prompt) == ("prompt", "Fix the authentication bug")
    assert json.loads(GEMINI.render(event, HookReply())[0]) == {}


def test_turn_end_shows_the_step_and_never_asks_for_a_retry() -> None:
    event = GEMINI.parse(
        "AfterAgent",
        payload("AfterAgent", prompt="Fix it", prompt_response="Done.", stop_hook_active=False),
    )
    assert event.kind == "turn-end"
    out, err, code = GEMINI.render(event, HookReply(message="gitbench: step 1 on Draft d"))
    assert json.loads(out) == {"systemMessage": "gitbench: step 1 on Draft d"}  # no "decision": deny would retry
    assert (err, code) == ("", 0)


def test_session_end_shows_the_review() -> None:
    event = GEMINI.parse("SessionEnd", payload("SessionEnd", reason="exit"))
    assert event.kind == "session-end"
    out, _err, code = GEMINI.render(event, HookReply(message="gitbench: review: gitbench review --draft d"))
    assert (json.loads(out), code) == ({"systemMessage": "gitbench: review: gitbench review --draft d"}, 0)


def test_the_worktrees_join_geminis_workspace_and_leave_it_with_our_hooks() -> None:
    folder = "/home/you/.local/state/gitbench/worktrees/app-1a2b3c4d"
    user = {"context": {"fileName": "GEMINI.md", "includeDirectories": ["../shared"]}}
    installed = GEMINI.allow_folder(GEMINI.install(json.dumps(user), ["/bin/gitbench", "hook", "gemini"]), folder)
    assert json.loads(installed)["context"]["includeDirectories"] == ["../shared", folder]
    assert GEMINI.allow_folder(installed, folder) == installed
    assert json.loads(GEMINI.uninstall(installed) or "") == user
    alone = GEMINI.allow_folder(GEMINI.install(None, ["/bin/gitbench", "hook", "gemini"]), folder)
    assert GEMINI.uninstall(alone) is None
