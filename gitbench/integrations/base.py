"""What every agent's hooks share: one event, one reply, and the adapter that speaks an agent's own protocol.

An agent (Claude Code, Codex, Cursor, Gemini CLI) runs ``gitbench hook AGENT EVENT`` at points of its session and
writes a JSON payload on its standard input. The agent's adapter turns that payload into a ``HookEvent`` (what
happened, in words that are the same for every agent), ``core.handle`` decides (``HookReply``), and the adapter
writes the reply back the way that agent reads it (JSON on stdout, an exit code, a message on stderr).
"""

from __future__ import annotations

import json
from dataclasses import field
from typing import Any, Protocol

from gitbench.lazy_dataclass import dataclass

# What an event is, whatever the agent calls it:
#   session-start    the agent's session begins (or resumes): a checkpoint and a Draft worktree for it
#   worktree-create  the agent asks for a worktree for its session (Claude Code's --worktree): the Draft's
#   worktree-remove  the agent is done with that worktree
#   prompt           the user sent a prompt: it goes into the session's conversation record
#   pre-edit         a tool is about to write files: refused when they are the user's checkout or .git
#   pre-shell        a shell command is about to run: refused when it would move the user's branch
#   turn-end         the agent finished its turn: what it changed becomes a step on the Draft
#   session-end      the session ends: the last step, the job's end, the review
KINDS = (
    "session-start",
    "worktree-create",
    "worktree-remove",
    "prompt",
    "pre-edit",
    "pre-shell",
    "turn-end",
    "session-end",
)


@dataclass
class HookEvent:
    agent: str  # "claude-code", "codex", "cursor", "gemini"
    kind: str  # one of KINDS, or "other" (ignored: the reply allows)
    session: str  # the agent's session (conversation) id; "" when it gives none
    cwd: str  # the agent's working folder
    model: str | None = None
    prompt: str | None = None  # "prompt": the user's prompt
    paths: list[str] = field(default_factory=list)  # "pre-edit": the files the tool will write, as given
    command: str | None = None  # "pre-shell": the shell command line
    transcript: str | None = None  # the agent's transcript file, when given
    name: str | None = None  # "worktree-create": the name asked for
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class HookReply:
    deny: str | None = None  # pre-edit / pre-shell: refuse the tool call, with this reason for the agent
    context: str | None = None  # text added to the agent's context (session-start, prompt)
    message: str | None = None  # text shown to the user (turn-end, session-end)
    worktree: str | None = None  # worktree-create: the folder made
    error: str | None = None  # gitbench could not do its part: shown to the user; blocks only worktree-create
    env: dict[str, str] = field(default_factory=dict)  # session-start: variables for the agent's shell commands


class Adapter(Protocol):
    name: str  # "claude-code"

    def parse(self, event: str, payload: dict[str, Any]) -> HookEvent: ...

    def render(self, event: HookEvent, reply: HookReply) -> tuple[str, str, int]: ...

    def config_path(self, root: str, user: bool, home: str) -> str: ...

    def install(self, text: str | None, command: list[str]) -> str: ...

    def uninstall(self, text: str) -> str | None: ...


def text(value: Any) -> str | None:
    """A payload field as a non-empty string, or None."""
    return value if isinstance(value, str) and value else None


# -- the JSON hook files of Claude Code, Codex, Cursor and Gemini CLI: {"hooks": {"Event": [groups or hooks]}} ----


def load_json(text_: str | None, path: str) -> dict[str, Any]:
    """A JSON settings file's object; a clear error when it is not one (nothing is written then)."""
    from gitbench import errors

    if text_ is None or not text_.strip():
        return {}
    try:
        data = json.loads(text_)
    except json.JSONDecodeError as exc:
        raise errors.UsageError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); nothing was written.",
            [errors.Action(f"Fix {path}, then install again")],
        ) from exc
    if not isinstance(data, dict):
        raise errors.UsageError(
            f"{path} holds a JSON {type(data).__name__}, not an object; nothing was written.",
            [errors.Action(f"Fix {path}, then install again")],
        )
    hooks = data.get("hooks", {})
    if not isinstance(hooks, dict):
        raise errors.UsageError(
            f'{path}: "hooks" is a {type(hooks).__name__}, not an object; nothing was written.',
            [errors.Action(f"Fix {path}, then install again")],
        )
    return data


def dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def is_ours(command: Any, agent: str) -> bool:
    """A hook command gitbench installed: ``<...>/gitbench hook AGENT EVENT``."""
    import shlex

    if isinstance(command, list):
        words = [str(w) for w in command]
    elif isinstance(command, str):
        try:
            words = shlex.split(command)
        except ValueError:
            return False
    else:
        return False
    for i, word in enumerate(words[:-2]):
        if word.rsplit("/", 1)[-1] == "gitbench" and words[i + 1] == "hook" and words[i + 2] == agent:
            return True
    return False


def shell_command(command: list[str], event: str) -> str:
    import shlex

    return " ".join(shlex.quote(w) for w in [*command, event])


# -- the Draft worktrees' folder in an agent's own list of folders it may work in ---------------------------------


def worktrees_folder(value: Any) -> bool:
    """A folder of gitbench's Draft worktrees (``.../gitbench/worktrees[/<project>-<hash>]``)."""
    if not isinstance(value, str):
        return False
    parts = value.rstrip("/").split("/")
    return parts[-2:] == ["gitbench", "worktrees"] or parts[-3:-1] == ["gitbench", "worktrees"]


def add_folder(text: str, path: str, section: str, key: str, folder: str) -> str:
    """``text`` with ``folder`` in the list ``section.key`` (made if missing); unchanged when it is there."""
    data = load_json(text, path)
    holder = data.setdefault(section, {})
    if not isinstance(holder, dict):
        return text
    folders = holder.setdefault(key, [])
    if not isinstance(folders, list) or folder in folders:
        return text
    folders.append(folder)
    return dump_json(data)


def forget_folders(text: str, path: str, section: str, key: str) -> str | None:
    """``text`` without the worktrees folders in ``section.key`` (empty containers go; None: nothing is left)."""
    data = load_json(text, path)
    holder = data.get(section)
    folders = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or not isinstance(folders, list):
        return text
    kept = [f for f in folders if not worktrees_folder(f)]
    if len(kept) == len(folders):
        return text
    if kept:
        holder[key] = kept
    else:
        del holder[key]
        if not holder:
            del data[section]
    return dump_json(data) if data else None
