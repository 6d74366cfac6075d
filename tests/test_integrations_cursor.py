"""Cursor's hooks (gitbench/integrations/cursor.py).

There is no Cursor binary here (it is an editor; ``cursor-agent`` is not installable offline), so its side is
tested with the payloads and answers of its documentation, copied from https://cursor.com/docs/agent/hooks
("Reference": the common schema, preToolUse, beforeShellExecution, beforeSubmitPrompt, stop, sessionStart,
sessionEnd), and the hook file against the examples of the same page.
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
    command,
)

CURSOR = adapter("cursor")
EVENTS = ["sessionStart", "beforeSubmitPrompt", "preToolUse", "beforeShellExecution", "stop", "sessionEnd"]

# "Input (all hooks)", with the documentation's placeholder values made concrete.
COMMON = {
    "conversation_id": "c0ffee00-1111-2222-3333-444455556666",
    "generation_id": "9e1a0000-1111-2222-3333-444455556666",
    "model": "claude-opus-4-7-thinking-max",
    "model_id": "claude-opus-4-7",
    "model_params": [{"id": "thinking", "value": "true"}],
    "cursor_version": "1.7.2",
    "workspace_roots": ["/project"],
    "user_email": None,
    "transcript_path": "/home/you/.cursor/projects/project/agent-transcripts/c0ffee00.txt",
}


def payload(event: str, **fields: Any) -> dict[str, Any]:
    return {**COMMON, "hook_event_name": event, **fields}


def test_install_into_no_file_writes_every_event_and_uninstall_deletes_it() -> None:
    data = check_empty_install(CURSOR, EVENTS)
    assert data["version"] == 1
    assert data["hooks"]["preToolUse"][0]["matcher"] == "Write|StrReplace|Edit|MultiEdit|Delete|EditNotebook"
    assert CURSOR.config_path("/p", False, "/h") == "/p/.cursor/hooks.json"
    assert CURSOR.config_path("/p", True, "/h") == "/h/.cursor/hooks.json"


def test_the_users_own_hooks_stay_unchanged_and_in_place() -> None:
    # The documentation's example file (user hooks), as a user would have it.
    check_user_hooks_kept(
        CURSOR,
        {
            "version": 1,
            "hooks": {
                "sessionStart": [{"command": "./session-init.sh"}],
                "preToolUse": [{"command": "./hooks/validate-tool.sh", "matcher": "Shell|Read|Write"}],
                "beforeShellExecution": [{"command": "./script.sh"}],
                "afterFileEdit": [{"command": "./format.sh"}],
                "stop": [{"command": "./audit.sh", "loop_limit": 10}],
            },
        },
    )


def test_moved_gitbench_updates_our_commands_in_place() -> None:
    check_moved_gitbench(CURSOR)


def test_a_broken_hooks_file_is_a_usage_error_and_nothing_is_written() -> None:
    check_broken(CURSOR, '{"version": 1, "hooks": {', "the Cursor hooks.json is not valid JSON")
    check_broken(CURSOR, '{"hooks": {"stop": {"command": "x"}}}', '"hooks.stop" is a dict, not a list')


def test_the_installed_command_runs_through_a_shell_with_the_path_quoted() -> None:
    data = json.loads(CURSOR.install(None, command("cursor")))
    assert data["hooks"]["stop"][0]["command"] == "'/opt/gitbench tools/bin/gitbench' hook cursor stop"


def test_session_start_gives_the_worktree_as_context() -> None:
    event = CURSOR.parse(
        "sessionStart",
        payload("sessionStart", session_id=COMMON["conversation_id"], is_background_agent=False, composer_mode="agent"),
    )
    assert (event.kind, event.session, event.cwd, event.model) == (
        "session-start",
        COMMON["conversation_id"],
        "/project",
        "claude-opus-4-7-thinking-max",
    )
    assert event.transcript == COMMON["transcript_path"]
    out, err, code = CURSOR.render(event, HookReply(context="work in /wt", env={"GITBENCH_JOB": "j"}))
    assert (json.loads(out), err, code) == ({"additional_context": "work in /wt"}, "", 0)


def test_an_edit_is_denied_with_a_reason_for_the_agent_and_the_user() -> None:
    # preToolUse's documented input, for the Write tool (the matcher value the documentation names).
    event = CURSOR.parse(
        "preToolUse",
        payload(
            "preToolUse",
            tool_name="Write",
            tool_input={"file_path": "/project/app.py", "contents": "x"},
            tool_use_id="abc123",
            cwd="/project",
            agent_message="Writing app.py",
        ),
    )
    assert (event.kind, event.paths, event.cwd) == ("pre-edit", ["/project/app.py"], "/project")
    out, err, code = CURSOR.render(event, HookReply(deny="write /wt/app.py instead"))
    assert json.loads(out) == {
        "permission": "deny",
        "user_message": "write /wt/app.py instead",
        "agent_message": "write /wt/app.py instead",
    }
    assert code == 0
    # Allowed: no decision at all ("allow" would also skip Cursor's own approval).
    assert json.loads(CURSOR.render(event, HookReply())[0]) == {}


def test_other_tools_are_not_ours_to_judge() -> None:
    # The documentation's own preToolUse example: a Shell tool call (beforeShellExecution judges those).
    event = CURSOR.parse(
        "preToolUse",
        payload(
            "preToolUse",
            tool_name="Shell",
            tool_input={"command": "npm install", "working_directory": "/project"},
            tool_use_id="abc123",
            cwd="/project",
            agent_message="Installing dependencies...",
        ),
    )
    assert event.kind == "other"


def test_a_shell_command_is_judged_before_it_runs() -> None:
    event = CURSOR.parse(
        "beforeShellExecution",
        payload("beforeShellExecution", command="git commit -am x", cwd="/project", sandbox=False),
    )
    assert (event.kind, event.command, event.cwd) == ("pre-shell", "git commit -am x", "/project")
    assert json.loads(CURSOR.render(event, HookReply(deny="cd /wt"))[0])["permission"] == "deny"


def test_the_prompt_is_recorded_and_never_blocked() -> None:
    event = CURSOR.parse(
        "beforeSubmitPrompt",
        payload("beforeSubmitPrompt", prompt="Fix the bug", attachments=[{"type": "file", "file_path": "/p/a.py"}]),
    )
    assert (event.kind, event.prompt) == ("prompt", "Fix the bug")
    assert json.loads(CURSOR.render(event, HookReply())[0]) == {"continue": True}


def test_turn_end_and_session_end_never_send_a_followup_and_tell_the_user_on_stderr() -> None:
    stop = CURSOR.parse("stop", payload("stop", status="completed", loop_count=0))
    assert (stop.kind, stop.session) == ("turn-end", COMMON["conversation_id"])
    out, err, code = CURSOR.render(stop, HookReply(message="gitbench: step 1 on Draft d"))
    assert (json.loads(out), err, code) == ({}, "gitbench: step 1 on Draft d\n", 0)
    end = CURSOR.parse(
        "sessionEnd",
        payload(
            "sessionEnd",
            session_id=COMMON["conversation_id"],
            reason="completed",
            duration_ms=45000,
            is_background_agent=False,
            final_status="completed",
        ),
    )
    assert end.kind == "session-end"
    out, err, code = CURSOR.render(end, HookReply(error="gitbench: could not"))
    assert (json.loads(out), err, code) == ({}, "gitbench: could not\n", 0)
