"""Claude Code: its hooks (``hooks`` in ``.claude/settings*.json``; https://code.claude.com/docs/en/hooks).

Events used, and why:
  SessionStart      a checkpoint and the session's Draft worktree; its path goes into Claude's context, and the
                    job's variables into its shell commands (``CLAUDE_ENV_FILE``) so the git hooks guard the refs
  WorktreeCreate    ``claude --worktree``: the session's folder *is* the Draft's worktree (the hook prints it)
  UserPromptSubmit  the prompt into the session's conversation record (``gitbench why`` shows it)
  PreToolUse        Write/Edit/MultiEdit/NotebookEdit aimed at the user's checkout or .git are denied with the
                    path to write instead; git commands that would move the user's branch are denied (Bash)
  Stop              the end of a turn: what Claude changed becomes a step, shown to the user (systemMessage)
  SessionEnd        the last step and the job's end; the review is printed
WorktreeRemove is not used: the Draft outlives Claude's worktree (publish or discard it).
"""

from __future__ import annotations

import os
from typing import Any

from gitbench.integrations import base
from gitbench.integrations.base import HookEvent, HookReply

EVENTS = {
    "SessionStart": "session-start",
    "WorktreeCreate": "worktree-create",
    "UserPromptSubmit": "prompt",
    "PreToolUse": "pre-tool",
    "Stop": "turn-end",
    "SessionEnd": "session-end",
}
EDIT_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit")
MATCHER = "|".join((*EDIT_TOOLS, "Bash"))
TIMEOUTS = {"SessionStart": 120, "WorktreeCreate": 120, "Stop": 300, "SessionEnd": 300}


class Claude:
    name = "claude-code"

    def parse(self, event: str, payload: dict[str, Any]) -> HookEvent:
        kind = EVENTS.get(event, "other")
        out = HookEvent(
            agent=self.name,
            kind=kind,
            session=base.text(payload.get("session_id")) or "",
            cwd=base.text(payload.get("cwd")) or os.getcwd(),
            model=_model(payload.get("model")),
            transcript=base.text(payload.get("transcript_path")),
            raw=payload,
        )
        if kind == "prompt":
            out.prompt = base.text(payload.get("prompt"))
        elif kind == "worktree-create":
            out.name = base.text(payload.get("name")) or base.text(payload.get("worktree_name"))
        elif kind == "pre-tool":
            tool = payload.get("tool_name")
            given = payload.get("tool_input")
            args: dict[str, Any] = given if isinstance(given, dict) else {}
            if tool in EDIT_TOOLS:
                out.kind = "pre-edit"
                out.paths = [p for p in (base.text(args.get("file_path")), base.text(args.get("notebook_path"))) if p]
            elif tool == "Bash":
                out.kind, out.command = "pre-shell", base.text(args.get("command"))
            else:
                out.kind = "other"
        return out

    def render(self, event: HookEvent, reply: HookReply) -> tuple[str, str, int]:
        import json

        name = event.raw.get("hook_event_name") or _event_name(event.kind)
        if event.kind == "worktree-create":
            if reply.worktree:
                return reply.worktree + "\n", "", 0
            return "", reply.error or "gitbench could not make the session's Draft worktree.", 1
        out: dict[str, Any] = {}
        if reply.deny:
            out["hookSpecificOutput"] = {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reply.deny,
            }
        elif reply.context and name in ("SessionStart", "UserPromptSubmit"):
            out["hookSpecificOutput"] = {"hookEventName": name, "additionalContext": reply.context}
        if reply.env:
            _write_env(reply.env)
        shown = reply.error or reply.message
        if shown:
            out["systemMessage"] = shown
        if event.kind == "session-end" and shown:
            return "", shown + "\n", 0  # SessionEnd's output is not shown in Claude Code: the terminal gets it
        return (json.dumps(out) + "\n") if out else "", "", 0

    def config_path(self, root: str, user: bool, home: str) -> str:
        # Project: the local settings (not committed): the hook command holds this machine's path to gitbench.
        if user:
            return os.path.join(home, ".claude", "settings.json")
        return os.path.join(root, ".claude", "settings.local.json")

    def install(self, text: str | None, command: list[str]) -> str:
        from gitbench.integrations import jsonhooks

        wanted = [
            jsonhooks.Hook(
                event,
                MATCHER if event == "PreToolUse" else None,
                {"timeout": TIMEOUTS[event]} if event in TIMEOUTS else {},
            )
            for event in EVENTS
        ]
        return jsonhooks.install_nested(text, "the Claude Code settings", self.name, command, wanted)

    def uninstall(self, text: str) -> str | None:
        from gitbench.integrations import jsonhooks

        left = jsonhooks.uninstall_nested(text, "the Claude Code settings", self.name)
        if left is None:
            return None
        return base.forget_folders(left, "the Claude Code settings", "permissions", "additionalDirectories")

    def allow_folder(self, text: str, folder: str) -> str:
        """Let Claude work in the Draft worktrees as in the project folder (``permissions.additionalDirectories``):
        without it, a session started in the checkout may not read or edit its own worktree."""
        return base.add_folder(text, "the Claude Code settings", "permissions", "additionalDirectories", folder)

    def run_flags(self, command: list[str], folder: str) -> list[str]:
        """``gitbench agent run claude``: the same hooks for this run only (``--settings`` adds to the user's
        settings, it replaces nothing), from a file in ``folder`` so the command line stays readable."""
        path = os.path.join(folder, "claude-code-settings.json")
        text = self.install(None, command)
        from gitbench.store import atomic

        os.makedirs(folder, exist_ok=True)
        atomic.write_bytes(path, text.encode("utf-8"))
        return ["--settings", path]


def _event_name(kind: str) -> str:
    for name, k in EVENTS.items():
        if k == kind:
            return name
    return "PreToolUse" if kind in ("pre-edit", "pre-shell") else ""


def _model(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict):  # {"id": ..., "display_name": ...} in some payloads
        return base.text(value.get("id")) or base.text(value.get("display_name"))
    return None


def _write_env(env: dict[str, str]) -> None:
    """SessionStart hooks may add ``export`` lines to ``$CLAUDE_ENV_FILE``: Claude's shell commands get them."""
    import shlex

    path = os.environ.get("CLAUDE_ENV_FILE")
    if not path:
        return
    try:
        with open(path, "a") as fh:
            for key, value in env.items():
                fh.write(f"export {key}={shlex.quote(value)}\n")
    except OSError:
        pass


ADAPTER = Claude()
