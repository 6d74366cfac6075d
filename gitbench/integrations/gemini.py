"""Gemini CLI: its hooks (``hooks`` in ``.gemini/settings.json``; https://geminicli.com/docs/hooks/reference).

Project hooks live in ``<project>/.gemini/settings.json``, user hooks in ``~/.gemini/settings.json``, both beside
the user's other settings (kept as they are). Each event holds groups ``{"matcher": ..., "hooks": [{"type":
"command", "command": ..., "name": ...}]}``; JSON in on stdin, JSON out on stdout, exit 2 blocks with stderr as the
reason. The hooks system must be on (``/settings``, "Enable Hooks System"; ``tools.enableHooks`` in older
releases): gitbench does not switch it on for the user.

Events used, and why:
  SessionStart  a checkpoint and the session's Draft worktree; its path goes into Gemini's context
                (``hookSpecificOutput.additionalContext``). Gemini CLI has no worktree hook and no way to move
                its folder, so this is the nearest: the edits are steered into the Draft's worktree
  BeforeAgent   the prompt into the session's conversation record
  BeforeTool    write_file/replace aimed at the user's checkout or .git are denied (``decision: deny``, the
                ``reason`` goes to the model as the tool's error); run_shell_command that would move the user's
                branch likewise
  AfterAgent    the end of a turn: what Gemini changed becomes a step (``systemMessage``; never ``deny``, which
                would make Gemini retry)
  SessionEnd    the last step and the job's end; the review (``systemMessage``, shown at shutdown)
Gemini's file tools write only inside its workspace, so install also adds the Draft worktrees' folder to
``context.includeDirectories`` (uninstall takes it out).
Not used: AfterTool, the model hooks (BeforeModel, AfterModel, BeforeToolSelection), PreCompress, Notification.
"""

from __future__ import annotations

import json
import os
from typing import Any

from gitbench.integrations import base, jsonhooks
from gitbench.integrations.base import HookEvent, HookReply

EVENTS = {
    "SessionStart": "session-start",
    "BeforeAgent": "prompt",
    "BeforeTool": "pre-tool",
    "AfterAgent": "turn-end",
    "SessionEnd": "session-end",
}
EDIT_TOOLS = ("write_file", "replace")
SHELL_TOOLS = ("run_shell_command",)
MATCHER = "|".join((*EDIT_TOOLS, *SHELL_TOOLS))
TIMEOUTS = {"SessionStart": 120_000, "AfterAgent": 300_000, "SessionEnd": 300_000}  # milliseconds


class Gemini:
    name = "gemini"

    def parse(self, event: str, payload: dict[str, Any]) -> HookEvent:
        kind = EVENTS.get(event, "other")
        out = HookEvent(
            agent=self.name,
            kind=kind,
            session=base.text(payload.get("session_id")) or base.text(os.environ.get("GEMINI_SESSION_ID")) or "",
            cwd=base.text(payload.get("cwd")) or base.text(os.environ.get("GEMINI_PROJECT_DIR")) or os.getcwd(),
            model=base.text(payload.get("model")),  # not in Gemini's payloads today; kept should it come
            transcript=base.text(payload.get("transcript_path")),
            raw=payload,
        )
        if kind == "prompt":
            out.prompt = base.text(payload.get("prompt"))
        elif kind == "pre-tool":
            tool = payload.get("tool_name")
            given = payload.get("tool_input")
            args: dict[str, Any] = given if isinstance(given, dict) else {}
            if tool in EDIT_TOOLS:
                out.kind = "pre-edit"
                out.paths = [p for p in (base.text(args.get("file_path")), base.text(args.get("path"))) if p]
            elif tool in SHELL_TOOLS:
                out.kind, out.command = "pre-shell", base.text(args.get("command"))
                where = base.text(args.get("dir_path")) or base.text(args.get("directory"))
                if where:  # the command runs there, not in the session's folder
                    out.cwd = where if os.path.isabs(where) else os.path.join(out.cwd, where)
            else:
                out.kind = "other"
        return out

    def render(self, event: HookEvent, reply: HookReply) -> tuple[str, str, int]:
        name = event.raw.get("hook_event_name") or _event_name(event.kind)
        out: dict[str, Any] = {}
        if reply.deny and event.kind in ("pre-edit", "pre-shell"):
            out = {"decision": "deny", "reason": reply.deny}
        elif reply.context and name in ("SessionStart", "BeforeAgent"):
            out["hookSpecificOutput"] = {"hookEventName": name, "additionalContext": reply.context}
        shown = reply.error or reply.message
        if shown:
            out["systemMessage"] = shown
        return json.dumps(out) + "\n", "", 0

    def config_path(self, root: str, user: bool, home: str) -> str:
        return os.path.join(home if user else root, ".gemini", "settings.json")

    def install(self, text: str | None, command: list[str]) -> str:
        return jsonhooks.install_nested(text, "the Gemini CLI settings.json", self.name, command, _wanted())

    def uninstall(self, text: str) -> str | None:
        left = jsonhooks.uninstall_nested(text, "the Gemini CLI settings.json", self.name)
        if left is None:
            return None
        return base.forget_folders(left, "the Gemini CLI settings.json", "context", "includeDirectories")

    def allow_folder(self, text: str, folder: str) -> str:
        """The Draft worktrees in Gemini's workspace (``context.includeDirectories``): its file tools write only
        inside the workspace's folders, and a session started in the checkout edits its Draft's worktree."""
        return base.add_folder(text, "the Gemini CLI settings.json", "context", "includeDirectories", folder)


def _wanted() -> list[jsonhooks.Hook]:
    out = []
    for event in EVENTS:
        extra: dict[str, Any] = {"name": f"gitbench-{event}"}
        if event in TIMEOUTS:
            extra["timeout"] = TIMEOUTS[event]
        out.append(jsonhooks.Hook(event, MATCHER if event == "BeforeTool" else None, extra))
    return out


def _event_name(kind: str) -> str:
    for name, k in EVENTS.items():
        if k == kind:
            return name
    return "BeforeTool" if kind in ("pre-edit", "pre-shell") else ""


ADAPTER = Gemini()
