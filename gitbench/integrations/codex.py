"""Codex CLI: its hooks (``.codex/hooks.json``; https://developers.openai.com/codex/hooks).

Codex 0.171.0 reads hooks from ``hooks.json`` (or inline ``[hooks]`` tables of ``config.toml``) next to each
config layer: ``~/.codex`` (``$CODEX_HOME``) and ``<repo>/.codex``, the project's only when the project is trusted.
Hooks are on by default (``[features] hooks``, formerly ``codex_hooks``); a new or changed hook runs only after the
user trusted it in ``/hooks`` (its hash is kept in ``config.toml``, ``[hooks.state]``); an untrusted one is skipped
without a word. Our hooks go in ``hooks.json``; the only line of ours in the user's ``config.toml`` is the Draft
worktrees' folder among the sandbox's writable roots (``allow_in_settings``: codex writes only in its working folder
and those), edited with tomlkit so the user's comments and layout stay.

Events used, and why (the payloads are the binary's own, captured from a real ``codex exec`` run):
  SessionStart      a checkpoint and the session's Draft worktree; its path goes into Codex's context
                    (``additionalContext``). Codex has no worktree hook (``--worktree`` makes Codex's own
                    worktree), so this is the nearest: the session's edits are steered into the Draft's worktree
  UserPromptSubmit  the prompt into the session's conversation record
  PreToolUse        ``apply_patch`` (the tool, or through the shell tool as ``apply_patch <<'EOF'``) aimed at the
                    user's checkout or .git is denied with the path to write instead; git commands that would move
                    the user's branch are denied (``Bash``)
  Stop              the end of a turn: what Codex changed becomes a step (``systemMessage`` says so)
  SessionEnd        the last step and the job's end; the review (Codex shows nothing a SessionEnd hook says: the
                    entry writes it on the terminal)
Not used: PermissionRequest (approvals are Codex's own), PostToolUse, Pre/PostCompact, Subagent*, Interrupt.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from gitbench.integrations import base, jsonhooks
from gitbench.integrations.base import HookEvent, HookReply

EVENTS = {
    "SessionStart": "session-start",
    "UserPromptSubmit": "prompt",
    "PreToolUse": "pre-tool",
    "Stop": "turn-end",
    "SessionEnd": "session-end",
}
# Codex's tools that write files: apply_patch (shown to hooks as "apply_patch"; older builds named the patch
# tool Edit/Write for Claude compatibility) and the shell tool (Bash), through which a model may also patch.
EDIT_TOOLS = ("apply_patch", "Edit", "Write")
SHELL_TOOLS = ("Bash", "shell", "local_shell", "exec_command", "shell_command")
MATCHER = "|".join((*EDIT_TOOLS, *SHELL_TOOLS))
# Seconds. Codex clamps a SessionEnd hook to 3 s (and warns at every start when asked for more); the turn's step
# is taken at Stop, so what is left for SessionEnd is the job's end.
TIMEOUTS = {"SessionStart": 120, "Stop": 300, "SessionEnd": 3}
# The file operations of an apply_patch envelope: "*** Update File: app.py", "*** Move to: new.py"...
_PATCH_PATH = re.compile(r"^\*\*\* (?:Add File|Update File|Delete File|Move to): (.+?)\s*$", re.M)
_LEADING_CD = re.compile(r"^\s*cd\s+(?:'([^']+)'|\"([^\"]+)\"|(\S+))\s*&&")
INSTALL_NOTE = (
    "Codex runs a new hook only after you trust it: start codex, type /hooks and trust the gitbench hooks "
    "(project hooks also need the project trusted). Until then Codex skips them without a word."
)


def patch_paths(text: str) -> list[str]:
    """The files an ``apply_patch`` envelope adds, updates, deletes or moves to, in order, once each."""
    seen: dict[str, None] = {}
    for m in _PATCH_PATH.finditer(text):
        seen[m.group(1)] = None
    return list(seen)


class Codex:
    name = "codex"
    install_note = INSTALL_NOTE

    def parse(self, event: str, payload: dict[str, Any]) -> HookEvent:
        kind = EVENTS.get(event, "other")
        out = HookEvent(
            agent=self.name,
            kind=kind,
            session=base.text(payload.get("session_id")) or "",
            cwd=base.text(payload.get("cwd")) or os.getcwd(),
            model=base.text(payload.get("model")),
            transcript=base.text(payload.get("transcript_path")),
            raw=payload,
        )
        if kind == "prompt":
            out.prompt = base.text(payload.get("prompt"))
        elif kind == "pre-tool":
            tool = payload.get("tool_name")
            args = payload.get("tool_input")
            command = args.get("command") if isinstance(args, dict) else args
            if isinstance(command, list):  # an argv, as the older shell tool sent it
                command = " ".join(str(w) for w in command)
            command = command if isinstance(command, str) else ""
            if tool in EDIT_TOOLS or (tool in SHELL_TOOLS and "*** Begin Patch" in command):
                out.kind = "pre-edit"
                out.paths = patch_paths(command)
                if isinstance(args, dict):
                    out.paths += [p for p in (base.text(args.get("file_path")), base.text(args.get("path"))) if p]
                cd = _LEADING_CD.match(command) if tool in SHELL_TOOLS else None
                if cd:  # "cd DIR && apply_patch ...": the patch's relative paths are DIR's
                    where = next(g for g in cd.groups() if g)
                    where = where if os.path.isabs(where) else os.path.join(out.cwd, where)
                    out.paths = [p if os.path.isabs(p) else os.path.join(where, p) for p in out.paths]
            elif tool in SHELL_TOOLS:
                out.kind, out.command = "pre-shell", command or None
            else:
                out.kind = "other"
        return out

    def render(self, event: HookEvent, reply: HookReply) -> tuple[str, str, int]:
        name = event.raw.get("hook_event_name") or _event_name(event.kind)
        shown = reply.error or reply.message
        if event.kind == "session-end":
            # Codex has no output for SessionEnd (no schema; nothing is shown): the message goes to stderr.
            return "", (shown + "\n") if shown else "", 0
        out: dict[str, Any] = {}
        if reply.deny and event.kind in ("pre-edit", "pre-shell"):
            # Codex refuses "allow" here (only deny is supported): allowing is saying nothing.
            out["hookSpecificOutput"] = {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reply.deny,
            }
        elif reply.context and name in ("SessionStart", "UserPromptSubmit"):
            out["hookSpecificOutput"] = {"hookEventName": name, "additionalContext": reply.context}
        if shown:
            out["systemMessage"] = shown
        return (json.dumps(out) + "\n") if out else "", "", 0

    def config_path(self, root: str, user: bool, home: str) -> str:
        if user:
            codex_home = os.environ.get("CODEX_HOME") or os.path.join(home, ".codex")
            return os.path.join(codex_home, "hooks.json")
        return os.path.join(root, ".codex", "hooks.json")

    def install(self, text: str | None, command: list[str]) -> str:
        return jsonhooks.install_nested(text, "the Codex hooks.json", self.name, command, _wanted())

    # -- the sandbox: Codex may write in the Draft worktrees (its config.toml) ------------------------------------

    def settings_path(self, root: str, user: bool, home: str) -> str:
        """Codex's user ``config.toml``, where the sandbox's writable roots go, for a project install too: the
        folder is this machine's, and a project's ``.codex/config.toml`` is often the team's, in Git."""
        return os.path.join(os.path.dirname(self.config_path(root, True, home)), "config.toml")

    def allow_in_settings(self, text: str | None, folder: str) -> str:
        """``folder`` (the Draft worktrees) added to ``[sandbox_workspace_write] writable_roots``: Codex's sandbox
        lets it write only in its working folder and those roots, and a session started in the checkout edits
        its Draft's worktree. The user's own settings, comments and layout stay as they are (tomlkit)."""
        import tomlkit

        doc = _load_toml(text)
        table = doc.get("sandbox_workspace_write")
        if table is None:
            table = tomlkit.table()
            doc["sandbox_workspace_write"] = table
        if not isinstance(table, dict):
            raise _bad_toml("[sandbox_workspace_write] is not a table")
        roots = table.get("writable_roots")
        if roots is None:
            roots = tomlkit.array()
            table["writable_roots"] = roots
        if not isinstance(roots, list):
            raise _bad_toml("sandbox_workspace_write.writable_roots is not a list")
        if folder in roots:
            return text or ""
        roots.append(folder)
        return tomlkit.dumps(doc)

    def forget_in_settings(self, text: str, folder: str) -> str | None:
        """``folder`` taken out of the writable roots again (and the table install made for it, when it holds
        nothing else); None when nothing is left in the file."""
        doc = _load_toml(text)
        table = doc.get("sandbox_workspace_write")
        roots = table.get("writable_roots") if isinstance(table, dict) else None
        if not isinstance(table, dict) or not isinstance(roots, list) or folder not in roots:
            return text
        if len(roots) > 1:
            roots.remove(folder)
        else:
            del table["writable_roots"]
            if not table:
                del doc["sandbox_workspace_write"]
                out = doc.as_string().rstrip("\n")  # and the blank line install put before the table
                return out + "\n" if out.strip() else None
        out = doc.as_string()
        return out if out.strip() else None

    def uninstall(self, text: str) -> str | None:
        return jsonhooks.uninstall_nested(text, "the Codex hooks.json", self.name)


def _load_toml(text: str | None) -> Any:
    import tomlkit

    try:
        return tomlkit.parse(text or "")
    except tomlkit.exceptions.ParseError as exc:
        raise _bad_toml(f"is not valid TOML ({exc})") from exc


def _bad_toml(what: str) -> Exception:
    from gitbench import errors

    return errors.UsageError(
        f"The Codex config.toml {what}; nothing was written.", [errors.Action("Fix it, then install again")]
    )


def _wanted() -> list[jsonhooks.Hook]:
    out = []
    for event in EVENTS:
        extra: dict[str, Any] = {"timeout": TIMEOUTS[event]} if event in TIMEOUTS else {}
        out.append(jsonhooks.Hook(event, MATCHER if event == "PreToolUse" else None, extra))
    return out


def _event_name(kind: str) -> str:
    for name, k in EVENTS.items():
        if k == kind:
            return name
    return "PreToolUse" if kind in ("pre-edit", "pre-shell") else ""


ADAPTER = Codex()
