"""The agents people run, using Drafts by themselves: their hooks (``gitbench hook``, ``gitbench agent
install``) and how ``gitbench agent run`` starts each one."""

from __future__ import annotations

import importlib

from gitbench.integrations.base import Adapter

# `gitbench agent install NAME` -> the module that speaks that agent's hooks
MODULES = {"claude-code": "claude", "codex": "codex", "cursor": "cursor", "gemini": "gemini"}


def adapter(name: str) -> Adapter:
    from gitbench import errors

    module = MODULES.get(name)
    if module is None:
        known = {"claude": "claude-code", "cursor-agent": "cursor", "gemini-cli": "gemini"}.get(name)
        actions = [errors.Action(f"The hooks of {known}", "agent install", (known,))] if known else []
        raise errors.UsageError(
            f"gitbench has no hooks for {name!r}; it has them for: {', '.join(MODULES)}.",
            [
                *actions,
                errors.Action(
                    f"{'Or run' if actions else 'Run'} the agent in a Draft for one run", "agent run", (name,)
                ),
            ],
        )
    adapter_: Adapter = importlib.import_module(f"gitbench.integrations.{module}").ADAPTER
    return adapter_
