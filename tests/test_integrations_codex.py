"""Codex's hooks (gitbench/integrations/codex.py): the hook file, and its payloads and answers.

The payloads here are Codex 0.171.0's own, captured from a real ``codex exec`` run with a hook that logged its
stdin (tests/test_agent_hooks_codex.py runs the real binary with gitbench's hooks end to end); their fields are
those of the binary's embedded schemas (``pre-tool-use.command.input`` and the rest), which match
https://developers.openai.com/codex/hooks. The ``apply_patch`` tool's payload is built like the shell tool's (its
patch in ``tool_input.command``): codex offered the scripted model no apply_patch tool. The answers are the ones
those schemas accept: Codex rejects ``permissionDecision: allow`` and any output of a SessionEnd hook, so gitbench
says nothing then.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gitbench import errors
from gitbench.integrations import adapter
from gitbench.integrations.base import HookReply
from gitbench.integrations.codex import patch_paths
from tests.hookfiles import (
    check_broken,
    check_empty_install,
    check_moved_gitbench,
    check_user_hooks_kept,
)

CODEX = adapter("codex")
EVENTS = ["SessionStart", "UserPromptSubmit", "PreToolUse", "Stop", "SessionEnd"]
SESSION = "01a23a29-dc75-7e42-9541-edbc2a2606a3"
TRANSCRIPT = f"/home/you/.codex/sessions/2026/12/03/rollout-2026-12-03T04-29-11-{SESSION}.jsonl"
COMMON = {
    "session_id": SESSION,
    "turn_id": "01a23a29-dc8f-7b90-86a5-b9f57fc92758",
    "transcript_path": TRANSCRIPT,
    "cwd": "/work/proj",
    "model": "codex-test-model",
    "permission_mode": "bypassPermissions",
}
PATCH = (
    '*** Begin Patch\n*** Update File: app.py\n@@\n-    return "hello"\n+    return "goodbye"\n'
    "*** Add File: notes.txt\n+Greeting changed by the agent.\n*** End Patch\n"
)


def payload(event: str, **fields: Any) -> dict[str, Any]:
    return {**COMMON, "hook_event_name": event, **fields}


def test_install_into_no_file_writes_every_event_and_uninstall_deletes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = check_empty_install(CODEX, EVENTS)
    (group,) = data["hooks"]["PreToolUse"]
    assert group["matcher"] == "apply_patch|Edit|Write|Bash|shell|local_shell|exec_command|shell_command"
    assert group["hooks"][0]["type"] == "command"
    assert "matcher" not in data["hooks"]["Stop"][0]
    assert CODEX.config_path("/p", False, "/h") == "/p/.codex/hooks.json"
    monkeypatch.delenv("CODEX_HOME", raising=False)
    assert CODEX.config_path("/p", True, "/h") == "/h/.codex/hooks.json"
    monkeypatch.setenv("CODEX_HOME", "/elsewhere")  # where codex itself reads its user config then
    assert CODEX.config_path("/p", True, "/h") == "/elsewhere/hooks.json"


def test_the_users_own_hooks_stay_unchanged_and_in_place() -> None:
    # Codex keys the trust in a hook by its file, event and position: ours go after the user's, so theirs keep it.
    check_user_hooks_kept(
        CODEX,
        {
            "hooks": {
                "SessionStart": [
                    {
                        "matcher": "startup|resume",
                        "hooks": [{"type": "command", "command": "python3 .codex/hooks/session_start.py"}],
                    }
                ],
                "PreToolUse": [
                    {
                        "matcher": "Bash",
                        "hooks": [
                            {"type": "command", "command": "/usr/bin/python3 check.py", "statusMessage": "Checking"}
                        ],
                    }
                ],
                "Stop": [{"hooks": [{"type": "command", "command": "notify-send done", "timeout": 10}]}],
            }
        },
    )


def test_moved_gitbench_updates_our_commands_in_place() -> None:
    check_moved_gitbench(CODEX)


def test_a_broken_hooks_file_is_a_usage_error_and_nothing_is_written() -> None:
    check_broken(CODEX, "{'hooks': {}}", "the Codex hooks.json is not valid JSON")
    check_broken(CODEX, '{"hooks": []}', '"hooks" is a list, not an object')


def test_patch_paths_reads_every_file_operation_once() -> None:
    text = PATCH + "*** Begin Patch\n*** Update File: a.py\n*** Move to: b/c.py\n*** Delete File: app.py\n"
    assert patch_paths(text) == ["app.py", "notes.txt", "a.py", "b/c.py"]


def test_session_start_gives_the_worktree_as_context() -> None:
    event = CODEX.parse("SessionStart", payload("SessionStart", source="startup"))
    assert (event.kind, event.session, event.cwd, event.model, event.transcript) == (
        "session-start",
        SESSION,
        "/work/proj",
        "codex-test-model",
        TRANSCRIPT,
    )
    out, err, code = CODEX.render(event, HookReply(context="work in /wt", env={"GITBENCH_JOB": "j"}))
    assert json.loads(out) == {
        "hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "work in /wt"}
    }
    assert (err, code) == ("", 0)


def test_a_patch_through_the_shell_tool_is_an_edit_and_is_denied() -> None:
    # What codex sent when the model patched through its shell tool.
    event = CODEX.parse(
        "PreToolUse",
        payload(
            "PreToolUse",
            tool_name="Bash",
            tool_input={"command": f"apply_patch <<'EOF'\n{PATCH}EOF\n"},
            tool_use_id="call_dd2004c65ab94c92bfed",
        ),
    )
    assert (event.kind, event.paths) == ("pre-edit", ["app.py", "notes.txt"])
    out, err, code = CODEX.render(event, HookReply(deny="write /wt/app.py instead"))
    assert json.loads(out) == {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "write /wt/app.py instead",
        }
    }
    assert (err, code) == ("", 0)
    assert CODEX.render(event, HookReply()) == ("", "", 0)  # allowed: nothing ("allow" is refused by codex)


def test_the_apply_patch_tool_and_a_patch_after_cd() -> None:
    tool = CODEX.parse(
        "PreToolUse", payload("PreToolUse", tool_name="apply_patch", tool_input={"command": PATCH}, tool_use_id="c")
    )
    assert (tool.kind, tool.paths) == ("pre-edit", ["app.py", "notes.txt"])
    moved = CODEX.parse(
        "PreToolUse",
        payload("PreToolUse", tool_name="Bash", tool_input={"command": f"cd /wt && apply_patch <<'EOF'\n{PATCH}EOF"}),
    )
    assert moved.paths == ["/wt/app.py", "/wt/notes.txt"]


def test_a_shell_command_is_judged_before_it_runs() -> None:
    event = CODEX.parse(
        "PreToolUse", payload("PreToolUse", tool_name="Bash", tool_input={"command": "cat app.py"}, tool_use_id="c")
    )
    assert (event.kind, event.command) == ("pre-shell", "cat app.py")
    other = CODEX.parse("PreToolUse", payload("PreToolUse", tool_name="mcp__docs__search", tool_input={"q": "x"}))
    assert other.kind == "other"


def test_the_prompt() -> None:
    event = CODEX.parse(
        "UserPromptSubmit", payload("UserPromptSubmit", prompt="Make greet() say goodbye instead of hello.")
    )
    assert (event.kind, event.prompt) == ("prompt", "Make greet() say goodbye instead of hello.")
    assert CODEX.render(event, HookReply()) == ("", "", 0)


def test_turn_end_shows_the_step_and_never_blocks() -> None:
    event = CODEX.parse(
        "Stop", payload("Stop", stop_hook_active=False, last_assistant_message="Done: greet() now says goodbye.")
    )
    assert event.kind == "turn-end"
    out, err, code = CODEX.render(event, HookReply(message="gitbench: step 1 on Draft d"))
    assert json.loads(out) == {"systemMessage": "gitbench: step 1 on Draft d"}  # "decision": "block" would continue
    assert (err, code) == ("", 0)


def test_session_end_writes_nothing_codex_would_reject() -> None:
    event = CODEX.parse(
        "SessionEnd",
        {
            "session_id": SESSION,
            "transcript_path": TRANSCRIPT,
            "cwd": "/work/proj",
            "hook_event_name": "SessionEnd",
            "reason": "other",
        },
    )
    assert event.kind == "session-end"
    assert CODEX.render(event, HookReply(message="gitbench: review")) == ("", "gitbench: review\n", 0)


USER_CONFIG = """\
# my codex settings
model = "gpt-5"  # the one I use

[sandbox_workspace_write]
network_access = false
writable_roots = ["/home/you/scratch"]

[projects."/home/you/app"]
trust_level = "trusted"
"""
FOLDER = "/home/you/.local/state/gitbench/worktrees/app-1a2b3c4d"


def test_the_worktrees_become_a_writable_root_of_the_sandbox_keeping_the_users_config() -> None:
    assert CODEX.settings_path("/p", False, "/h") == CODEX.settings_path("/p", True, "/h")  # the user's, always
    allowed = CODEX.allow_in_settings(USER_CONFIG, FOLDER)
    assert allowed == USER_CONFIG.replace(
        'writable_roots = ["/home/you/scratch"]', f'writable_roots = ["/home/you/scratch", "{FOLDER}"]'
    )
    assert CODEX.allow_in_settings(allowed, FOLDER) == allowed  # twice: no change
    assert CODEX.forget_in_settings(allowed, FOLDER) == USER_CONFIG
    assert CODEX.forget_in_settings(USER_CONFIG, FOLDER) == USER_CONFIG


def test_a_config_without_the_table_gets_it_and_loses_it_again() -> None:
    plain = '# mine\nmodel = "gpt-5"\n'
    allowed = CODEX.allow_in_settings(plain, FOLDER)
    assert allowed.startswith(plain) and f'writable_roots = ["{FOLDER}"]' in allowed
    assert CODEX.forget_in_settings(allowed, FOLDER) == plain
    made = CODEX.allow_in_settings(None, FOLDER)
    assert CODEX.forget_in_settings(made, FOLDER) is None  # only ours: the file goes


def test_a_broken_config_toml_is_a_usage_error() -> None:
    with pytest.raises(errors.UsageError) as info:
        CODEX.allow_in_settings('model = "gpt-5\n', FOLDER)
    assert "is not valid TOML" in info.value.message and "nothing was written" in info.value.message
    with pytest.raises(errors.UsageError):
        CODEX.allow_in_settings("sandbox_workspace_write = 3\n", FOLDER)
