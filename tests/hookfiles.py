"""Checks shared by the hook-file tests of each agent (tests/test_integrations_*.py): what ``agent install`` and
``agent uninstall`` make of a file that is missing, that holds the user's own hooks, or that is broken."""

from __future__ import annotations

import json
import shlex
from typing import Any

import pytest

from gitbench import errors
from gitbench.integrations.base import Adapter

GITBENCH = "/opt/gitbench tools/bin/gitbench"  # a space in it: the installed command must quote it


def command(agent: str) -> list[str]:
    return [GITBENCH, "hook", agent]


def commands_in(data: Any) -> list[str]:
    """Every ``command`` string anywhere in a hook file, in order."""
    out: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "command" and isinstance(value, str):
                out.append(value)
            else:
                out += commands_in(value)
    elif isinstance(data, list):
        for item in data:
            out += commands_in(item)
    return out


def ours(data: Any, agent: str) -> dict[str, str]:
    """Our installed commands by the agent event they name (the last word)."""
    found = {}
    for cmd in commands_in(data):
        words = shlex.split(cmd)
        if words[:3] == [GITBENCH, "hook", agent]:
            assert len(words) == 4, cmd
            found[words[3]] = cmd
    return found


def check_empty_install(adapter: Adapter, events: list[str]) -> dict[str, Any]:
    """No file yet: ours for every event, each ``<gitbench> hook AGENT EVENT`` (quoted for the shell)."""
    text = adapter.install(None, command(adapter.name))
    data = json.loads(text)
    assert sorted(ours(data, adapter.name)) == sorted(events)
    assert adapter.install(text, command(adapter.name)) == text, "installing twice changed the file"
    assert adapter.uninstall(text) is None, "a file that held only our hooks should be deleted"
    return dict(data)


def check_user_hooks_kept(adapter: Adapter, user: dict[str, Any]) -> None:
    """The user's hooks and settings stay, unchanged and in place; ours come after theirs; twice is a no-op;
    uninstall gives back exactly the user's file."""
    original = json.dumps(user, indent=2) + "\n"
    installed = adapter.install(original, command(adapter.name))
    data = json.loads(installed)
    for key, value in user.items():  # every other setting as it was
        if key != "hooks":
            assert data[key] == value
    for event, entries in user.get("hooks", {}).items():
        got = data["hooks"][event]
        if isinstance(entries, list):
            assert got[: len(entries)] == entries, f"the user's {event} hooks were changed or moved"
        else:
            assert got == entries
    assert adapter.install(installed, command(adapter.name)) == installed, "installing twice changed the file"
    back = adapter.uninstall(installed)
    assert back is not None
    assert json.loads(back) == user
    assert adapter.uninstall(original) == original, "uninstall without our hooks changed the file"


def check_moved_gitbench(adapter: Adapter) -> None:
    """gitbench installed from elsewhere later: our commands are updated where they are, none is added."""
    text = adapter.install(None, command(adapter.name))
    moved = adapter.install(text, ["/new/place/gitbench", "hook", adapter.name])
    before, after = commands_in(json.loads(text)), commands_in(json.loads(moved))
    assert len(before) == len(after)
    assert all(c.startswith("/new/place/gitbench hook ") for c in after), after


def check_broken(adapter: Adapter, text: str, said: str) -> None:
    with pytest.raises(errors.UsageError) as info:
        adapter.install(text, command(adapter.name))
    assert said in info.value.message, info.value.message
    assert "nothing was written" in info.value.message
    try:  # uninstall either cannot read it either, or finds nothing of ours and leaves it as it is
        left = adapter.uninstall(text)
    except errors.UsageError:
        return
    assert left == text
