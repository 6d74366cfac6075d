"""``gitbench hook AGENT EVENT``: what an agent runs at each point of its session (installed by ``gitbench agent
install``). Reads the agent's JSON payload on stdin and answers in the agent's own protocol.

A hook must never break the agent's session: anything that goes wrong is said to the user and the agent goes on
(only a worktree the agent asked for and did not get stops it, as the agent requires). Before a tool call this
runs in a new process every time, so it imports almost nothing: see ``core`` for what it reads.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def main(args: list[str]) -> int:
    if len(args) != 2 or args[0] in ("-h", "--help"):
        sys.stderr.write("usage: gitbench hook AGENT EVENT  (run by an agent's hooks; see `gitbench agent install`)\n")
        return 2
    from gitbench.integrations import adapter
    from gitbench.integrations.base import HookReply

    try:
        speaker = adapter(args[0])
    except Exception as exc:  # noqa: BLE001 - an unknown agent: say so, never break the agent
        sys.stderr.write(f"gitbench hook: {_said(exc)}\n")
        return 0
    raw = sys.stdin.buffer.read() if not sys.stdin.isatty() else b""
    try:
        payload: Any = json.loads(raw) if raw.strip() else {}
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    event = speaker.parse(args[1], payload)
    try:
        from gitbench.integrations import core

        reply = core.handle(event)
    except Exception as exc:  # noqa: BLE001 - the agent goes on; the user is told, and the log keeps it
        reply = HookReply(error=f"gitbench: {_said(exc)}")
        _log(event, exc)
    if event.kind == "worktree-create" and reply.worktree is None and reply.error is None:
        reply.error = "gitbench: this folder is not a Workbench (run `gitbench init`), so no Draft worktree was made."
    if event.kind == "session-end" and reply.message and _to_terminal(reply.message):
        reply.message = None
    out, err, code = speaker.render(event, reply)
    if out:
        sys.stdout.write(out)
        sys.stdout.flush()
    if err:
        sys.stderr.write(err)
    return code


def _said(exc: BaseException) -> str:
    from gitbench import errors
    from gitbench.integrations.core import said

    text = said(exc)
    if isinstance(exc, errors.GitbenchError):
        return text
    return f"{text}. The session goes on; run `gitbench recover` if something looks wrong."


def _log(event: Any, exc: BaseException) -> None:
    try:
        from gitbench.integrations.core import locate
        from gitbench.store.layout import Layout
        from gitbench.store.logs import Log

        found = locate(event.cwd)
        if found is not None:
            Log(Layout(found[0]).logs).event(
                "hook.error", agent=event.agent, kind=event.kind, error=f"{type(exc).__name__}: {exc}"
            )
    except Exception:  # noqa: BLE001 - the log is best effort here
        pass


def _to_terminal(text: str) -> bool:
    """The session's review, where the user sees it: agents keep a SessionEnd hook's output to themselves."""
    try:
        fd = os.open("/dev/tty", os.O_WRONLY | os.O_NOCTTY)
    except OSError:
        found = _agents_terminal()
        if found is None:
            return False
        fd = found
    try:
        os.write(fd, (text + "\n").encode())
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _agents_terminal() -> int | None:
    """The terminal the agent writes to, when the hook runs without a controlling terminal (Codex starts each hook
    in a session of its own): the standard error of the nearest ancestor (the agent, or a shell between) whose
    stderr is a terminal. Linux's /proc; None elsewhere or when there is none."""
    pid = os.getppid()
    for _ in range(8):
        if pid <= 1:
            return None
        try:
            target = os.readlink(f"/proc/{pid}/fd/2")
            if target.startswith(("/dev/pts/", "/dev/tty")):
                return os.open(target, os.O_WRONLY | os.O_NOCTTY)
            with open(f"/proc/{pid}/stat", "rb") as fh:
                pid = int(fh.read().rsplit(b")", 1)[1].split()[1])  # the field after the name and state: ppid
        except (OSError, ValueError, IndexError):
            return None
    return None
