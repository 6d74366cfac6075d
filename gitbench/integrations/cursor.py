"""Cursor (the editor's Agent and ``cursor-agent``): its hooks (``.cursor/hooks.json``;
https://cursor.com/docs/agent/hooks).

Project hooks live in ``<project>/.cursor/hooks.json`` (run from the project root, in a trusted workspace), user
hooks in ``~/.cursor/hooks.json``; Cursor reloads the file when it changes. Each entry is ``{"command": ...}``,
run through a shell, JSON in on stdin and out on stdout; exit 2 blocks.

Events used, and why:
  sessionStart          a checkpoint and the conversation's Draft worktree; its path goes into the agent's
                        context (``additional_context``). Cursor has no worktree hook and no way to move the
                        agent's folder, so this is the nearest: the edits are steered into the Draft's worktree
  beforeSubmitPrompt    the prompt into the session's conversation record (Cursor takes no context here)
  preToolUse            Write/StrReplace/Edit/Delete aimed at the user's checkout or .git are denied
                        (``permission: deny``, the reason in ``agent_message`` and ``user_message``)
  beforeShellExecution  git commands that would move the user's branch are denied the same way
  stop                  the end of a turn: what the agent changed becomes a step. Cursor shows nothing a ``stop``
                        hook says (its only output, ``followup_message``, would be sent as the user's next
                        prompt), so the message goes to stderr: Cursor's Hooks output channel
  sessionEnd            the last step and the job's end; fire-and-forget in Cursor (stderr, as for stop)
Not used: afterFileEdit (the step is taken per turn, from the worktree), beforeReadFile, the MCP and Tab hooks.
"""

from __future__ import annotations

import json
import os
from typing import Any

from gitbench.integrations import base, jsonhooks
from gitbench.integrations.base import HookEvent, HookReply

EVENTS = {
    "sessionStart": "session-start",
    "beforeSubmitPrompt": "prompt",
    "preToolUse": "pre-tool",
    "beforeShellExecution": "pre-shell",
    "stop": "turn-end",
    "sessionEnd": "session-end",
}
EDIT_TOOLS = ("Write", "StrReplace", "Edit", "MultiEdit", "Delete", "EditNotebook")
MATCHER = "|".join(EDIT_TOOLS)
PATH_KEYS = ("file_path", "path", "target_file", "filePath", "target_notebook")
TIMEOUTS = {"sessionStart": 120, "stop": 300, "sessionEnd": 300}  # seconds
TOP = {"version": 1}


class Cursor:
    name = "cursor"

    def parse(self, event: str, payload: dict[str, Any]) -> HookEvent:
        kind = EVENTS.get(event, "other")
        roots = payload.get("workspace_roots")
        root = base.text(roots[0]) if isinstance(roots, list) and roots else None
        out = HookEvent(
            agent=self.name,
            kind=kind,
            # sessionStart/sessionEnd name it session_id, every hook has conversation_id: the same value
            session=base.text(payload.get("conversation_id")) or base.text(payload.get("session_id")) or "",
            cwd=base.text(payload.get("cwd")) or root or base.text(os.environ.get("CURSOR_PROJECT_DIR")) or os.getcwd(),
            model=base.text(payload.get("model")),
            transcript=base.text(payload.get("transcript_path")),
            raw=payload,
        )
        if kind == "prompt":
            out.prompt = base.text(payload.get("prompt"))
        elif kind == "pre-shell":
            out.command = base.text(payload.get("command"))
        elif kind == "pre-tool":
            args = payload.get("tool_input")
            if payload.get("tool_name") in EDIT_TOOLS and isinstance(args, dict):
                out.kind = "pre-edit"
                out.paths = [p for p in (base.text(args.get(k)) for k in PATH_KEYS) if p]
            else:
                out.kind = "other"
        return out

    def render(self, event: HookEvent, reply: HookReply) -> tuple[str, str, int]:
        out: dict[str, Any] = {}
        if reply.deny and event.kind in ("pre-edit", "pre-shell"):
            out = {"permission": "deny", "user_message": reply.deny, "agent_message": reply.deny}
        elif event.kind == "session-start" and reply.context:
            out["additional_context"] = reply.context
        elif event.kind == "prompt":
            out["continue"] = True
        # No decision is no opinion: "allow" would also skip the user's own approval of a shell command.
        shown = reply.error or reply.message
        return json.dumps(out) + "\n", (shown + "\n") if shown else "", 0

    def config_path(self, root: str, user: bool, home: str) -> str:
        return os.path.join(home if user else root, ".cursor", "hooks.json")

    def install(self, text: str | None, command: list[str]) -> str:
        return jsonhooks.install_flat(text, "the Cursor hooks.json", self.name, command, _wanted(), TOP)

    def uninstall(self, text: str) -> str | None:
        return jsonhooks.uninstall_flat(text, "the Cursor hooks.json", self.name, TOP)


def _wanted() -> list[jsonhooks.Hook]:
    out = []
    for event in EVENTS:
        extra: dict[str, Any] = {"timeout": TIMEOUTS[event]} if event in TIMEOUTS else {}
        out.append(jsonhooks.Hook(event, MATCHER if event == "preToolUse" else None, extra))
    return out


ADAPTER = Cursor()
