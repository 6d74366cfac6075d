"""Operation logs: JSON lines under ``.git/gitbench/logs/``, one file per day.

What is logged: operations, model attempts and retries, failures with their class. Never a raw prompt, file
content or key: callers pass only ids, paths, counts and classified reasons. With debug logging switched on
explicitly (``--debug`` or ``GITBENCH_DEBUG=1``) callers may add prompt and answer excerpts; every line is still
passed through ``redact`` so no key known to gitbench is ever written, debug or not.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from typing import Any

_TOKENS_PATTERN = (
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}|\b(sk-[A-Za-z0-9_-]{8,})"
    r"|(x-api-key[\"':\s]+)[^\s\"',]{8,}"
)
_TOKENS: re.Pattern[str] | None = None  # compiled on first need (~0.6 ms): most texts have no mark of a token
_TOKEN_MARKS = ("bearer", "sk-", "x-api-key")  # every match of the pattern holds one, in any case


def debug_enabled() -> bool:
    return os.environ.get("GITBENCH_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    if text.isascii() and not any(mark in text.lower() for mark in _TOKEN_MARKS):
        # Nothing the pattern could match (in ASCII text it ignores the case of ASCII letters only): every log
        # line (JSON, ASCII) of a job that names no token, without compiling or running the pattern.
        return text
    global _TOKENS
    if _TOKENS is None:
        _TOKENS = re.compile(_TOKENS_PATTERN)
    return _TOKENS.sub(lambda m: (m.group(1) or m.group(3) or "") + "[redacted]", text)


class Log:
    """Appends events to today's log file. Logging never fails the operation it describes."""

    def __init__(self, folder: str, secrets: list[str] | None = None, debug: bool | None = None) -> None:
        self.folder = folder
        self.secrets = list(secrets or [])
        self.debug = debug_enabled() if debug is None else debug

    @property
    def path(self) -> str:
        return os.path.join(self.folder, time.strftime("gitbench-%Y-%m-%d.jsonl", time.gmtime()))

    def event(self, name: str, **fields: Any) -> None:
        record = {"time": round(time.time(), 3), "pid": os.getpid(), "event": name, **fields}
        line = redact(json.dumps(record, sort_keys=True, default=str), self.secrets)
        with contextlib.suppress(OSError):  # a full disk must not turn a logged failure into another one
            os.makedirs(self.folder, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def debug_event(self, name: str, **fields: Any) -> None:
        """Only with debug logging on: may carry prompt and answer excerpts (keys still redacted)."""
        if self.debug:
            self.event(name, debug=True, **fields)
