"""Merging gitbench's hooks into an agent's JSON hook file, and taking exactly them out again.

Two shapes are in use:

- nested (Claude Code, Codex's ``hooks.json``, Gemini CLI's ``settings.json``):
  ``{"hooks": {"Event": [{"matcher": "...", "hooks": [{"type": "command", "command": "..."}]}]}}``
- flat (Cursor's ``hooks.json``): ``{"version": 1, "hooks": {"event": [{"command": "..."}]}}``

The rules, for every agent: the user's hooks and other settings are never dropped, reordered or rewritten (our
groups go after theirs, so the position of each of theirs stays: Codex keys its trust in a hook by that position);
installing twice changes nothing (the text comes back byte for byte); uninstalling removes exactly the hooks whose
command is ``.../gitbench hook AGENT ...`` (``base.is_ours``), and the file goes when nothing of the user's is
left in it.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from gitbench.integrations import base
from gitbench.lazy_dataclass import dataclass


@dataclass(frozen=True)
class Hook:
    """One hook gitbench installs: the agent's event, an optional matcher, and extra fields of the hook."""

    event: str
    matcher: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _bad(path: str, what: str) -> Exception:
    from gitbench import errors

    return errors.UsageError(
        f"{path}: {what}; nothing was written.", [errors.Action(f"Fix {path}, then install again")]
    )


def _hooks_of(data: dict[str, Any], path: str) -> dict[str, Any]:
    hooks = data.setdefault("hooks", {})
    if not isinstance(hooks, dict):  # base.load_json refuses this already; kept for a caller that did not use it
        raise _bad(path, '"hooks" is not an object')
    return hooks


def _list_of(hooks: dict[str, Any], event: str, path: str) -> list[Any]:
    entries = hooks.setdefault(event, [])
    if not isinstance(entries, list):
        raise _bad(path, f'"hooks.{event}" is a {type(entries).__name__}, not a list')
    return entries


def install_nested(text: str | None, path: str, agent: str, command: list[str], wanted: list[Hook]) -> str:
    """``text`` with a group ``{"matcher": ..., "hooks": [{"type": "command", "command": ...}]}`` for each of
    ``wanted`` that is not there yet; ours already there with another command (gitbench moved) are updated in
    place. Nothing to do: ``text`` itself."""
    data = base.load_json(text, path)
    hooks = _hooks_of(data, path)
    changed = False
    for hook in wanted:
        cmd = base.shell_command(command, hook.event)
        groups = _list_of(hooks, hook.event, path)
        mine = [
            h
            for g in groups
            if isinstance(g, dict) and isinstance(g.get("hooks"), list) and g.get("matcher") == hook.matcher
            for h in g["hooks"]
            if isinstance(h, dict) and base.is_ours(h.get("command"), agent)
        ]
        if mine:
            for h in mine:
                if h.get("command") != cmd:
                    h["command"], changed = cmd, True
            continue
        entry: dict[str, Any] = {"type": "command", "command": cmd, **hook.extra}
        group: dict[str, Any] = {"hooks": [entry]}
        if hook.matcher is not None:
            group = {"matcher": hook.matcher, **group}
        groups.append(group)
        changed = True
    if not changed and text is not None and text.strip():
        return text
    return base.dump_json(data)


def uninstall_nested(text: str, path: str, agent: str) -> str | None:
    """``text`` without gitbench's hooks for ``agent``; None when nothing else is left (delete the file)."""
    data = base.load_json(text, path)
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return text
    changed = False
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept: list[Any] = []
        here = False
        for group in groups:
            inner = group.get("hooks") if isinstance(group, dict) else None
            if isinstance(inner, list):
                left = [h for h in inner if not (isinstance(h, dict) and base.is_ours(h.get("command"), agent))]
                if len(left) != len(inner):
                    here = True
                    if not left:
                        continue  # the group held only ours
                    group = {**group, "hooks": left}
            kept.append(group)
        if here:
            changed = True
            if kept:
                hooks[event] = kept
            else:
                del hooks[event]
    if not changed:
        return text
    if not hooks:
        del data["hooks"]
    return base.dump_json(data) if data else None


def install_flat(
    text: str | None, path: str, agent: str, command: list[str], wanted: list[Hook], top: dict[str, Any]
) -> str:
    """Cursor's shape: ``{"command": ..., "matcher": ...}`` entries straight in each event's list; ``top``: the
    fields a new file starts with (``{"version": 1}``)."""
    data = base.load_json(text, path)
    if not data:
        data = dict(top)
    hooks = _hooks_of(data, path)
    changed = False
    for hook in wanted:
        cmd = base.shell_command(command, hook.event)
        entries = _list_of(hooks, hook.event, path)
        mine = [
            e
            for e in entries
            if isinstance(e, dict) and e.get("matcher") == hook.matcher and base.is_ours(e.get("command"), agent)
        ]
        if mine:
            for e in mine:
                if e.get("command") != cmd:
                    e["command"], changed = cmd, True
            continue
        entry: dict[str, Any] = {"command": cmd, **hook.extra}
        if hook.matcher is not None:
            entry["matcher"] = hook.matcher
        entries.append(entry)
        changed = True
    if not changed and text is not None and text.strip():
        return text
    return base.dump_json(data)


def uninstall_flat(text: str, path: str, agent: str, top: dict[str, Any]) -> str | None:
    """``text`` without gitbench's entries; None when only ``top`` (e.g. ``{"version": 1}``) would be left."""
    data = base.load_json(text, path)
    hooks = data.get("hooks")
    if not isinstance(hooks, dict):
        return text
    changed = False
    for event in list(hooks):
        entries = hooks[event]
        if not isinstance(entries, list):
            continue
        kept = [e for e in entries if not (isinstance(e, dict) and base.is_ours(e.get("command"), agent))]
        if len(kept) != len(entries):
            changed = True
            if kept:
                hooks[event] = kept
            else:
                del hooks[event]
    if not changed:
        return text
    if not hooks:
        del data["hooks"]
    left = {k: v for k, v in data.items() if not (k in top and top[k] == v)}
    return base.dump_json(data) if left else None
