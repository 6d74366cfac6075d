"""Structured edits from a model: parsed, then checked one by one before anything is written.

The model answers with one JSON object::

    {"summary": "what I did", "edits": [
        {"op": "write",   "path": "src/a.py", "content": "..."},
        {"op": "replace", "path": "src/b.py", "old": "exact text", "new": "replacement"},
        {"op": "delete",  "path": "src/c.py"}]}

Every edit is refused, with its reason, unless: its path is a safe relative path (no ``..``, no absolute path,
nothing in ``.git``, no NUL or control characters), inside the job's scope, not a symlink, submodule or folder,
not below a file or symlink; it changes only a file that was sent in this request or creates a new one; and
its content is text (no NUL) within the size limit. Refused edits are reported and never written; the others
become blobs in the object database, never files on disk, so a hostile answer has nothing to escape through.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import field
from typing import Any

from gitbench.git.objects import Entry, Mode
from gitbench.lazy_dataclass import dataclass
from gitbench.scope import Scope, UnsafePath, check_path

MAX_EDITS = 500
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.S)


class NoEdits(ValueError):
    """The answer holds no edits object at all (the caller asks the model again)."""


@dataclass
class Plan:
    """What a batch's answer does: new contents (None deletes) and the edits refused, with reasons."""

    writes: dict[str, tuple[bytes | None, int]] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""
    edits: int = 0


def parse(text: str) -> tuple[list[Any], str]:
    """The ``edits`` list and ``summary`` of an answer; NoEdits if there is no such object in it."""
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except (ValueError, RecursionError):  # RecursionError: a hostile answer nested thousands deep
            continue
        if isinstance(data, dict) and isinstance(data.get("edits"), list):
            summary = data.get("summary")
            return data["edits"], " ".join(summary.split())[:500] if isinstance(summary, str) else ""
    raise NoEdits('no JSON object with an "edits" list')


def plan(
    edits: list[Any],
    sent: dict[str, tuple[str, int]],
    scope: Scope,
    lookup: Callable[[str], Entry | None],
    max_bytes: int,
) -> Plan:
    """Check every edit against the files ``sent`` (path → (text, mode)) and the Draft's tree (``lookup``)."""
    out = Plan()
    current: dict[str, tuple[str | None, int]] = {p: (t, m) for p, (t, m) in sent.items()}
    for index, edit in enumerate(edits):
        label = f"edit {index + 1}"
        if index >= MAX_EDITS:
            out.refused.append((label, f"more than {MAX_EDITS} edits in one answer"))
            continue
        if not isinstance(edit, dict):
            out.refused.append((label, "not an object"))
            continue
        raw_path = edit.get("path")
        if not isinstance(raw_path, str):
            out.refused.append((label, "no path"))
            continue
        shown = raw_path if len(raw_path) <= 200 else raw_path[:200] + "..."
        shown = shown.encode("unicode_escape").decode("ascii")
        try:
            raw_path.encode("utf-8")  # JSON can carry a lone surrogate, which no file or tree name can hold
            path = check_path(raw_path)
        except UnicodeEncodeError:
            out.refused.append((shown, "path is not valid text (an unpaired surrogate)"))
            continue
        except UnsafePath as exc:
            out.refused.append((shown, str(exc)))
            continue
        why = _path_problem(path, scope, current, lookup)
        if why:
            out.refused.append((path, why))
            continue
        op = edit.get("op")
        old_text, mode = current.get(path, (None, Mode.REGULAR))
        if op == "delete":
            if old_text is None:
                out.refused.append((path, "delete of a file that does not exist"))
                continue
            current[path] = (None, mode)
            out.writes[path] = (None, mode)
            out.edits += 1
            continue
        if op == "write":
            content = edit.get("content")
            if not isinstance(content, str):
                out.refused.append((path, "write without text content"))
                continue
            new_text = content
        elif op == "replace":
            old, new = edit.get("old"), edit.get("new")
            if not isinstance(old, str) or not isinstance(new, str) or old == "":
                out.refused.append((path, "replace needs the exact text to replace (old) and its replacement (new)"))
                continue
            if old_text is None:
                out.refused.append((path, "replace in a file that does not exist"))
                continue
            count = old_text.count(old)
            if count != 1:
                out.refused.append(
                    (
                        path,
                        "the text to replace was not found"
                        if count == 0
                        else f"the text to replace appears {count} times; it must appear once",
                    )
                )
                continue
            new_text = old_text.replace(old, new, 1)
        else:
            out.refused.append((path, f"unknown op {str(op)[:40]!r} (write, replace or delete)"))
            continue
        data = _encode(new_text, max_bytes)
        if isinstance(data, str):
            out.refused.append((path, data))
            continue
        current[path] = (new_text, mode)
        out.writes[path] = (data, mode)
        out.edits += 1
    return out


def _encode(text: str, max_bytes: int) -> bytes | str:
    if "\x00" in text:
        return "binary content (a NUL byte): models may write text files only"
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        return "content is not valid text (unpaired surrogates)"
    if len(data) > max_bytes:
        return f"content too large ({len(data)} bytes; the limit is {max_bytes})"
    return data


def _path_problem(
    path: str, scope: Scope, current: dict[str, tuple[str | None, int]], lookup: Callable[[str], Entry | None]
) -> str | None:
    if not scope.allows(path):
        return "outside the job's scope (--files)"
    parts = path.split("/")
    for i in range(1, len(parts)):
        parent = "/".join(parts[:i])
        entry = lookup(parent)
        if entry is not None and entry.mode != Mode.TREE:
            kind = "a symlink" if entry.mode == Mode.SYMLINK else "a file"
            return f"{parent} is {kind}, not a folder"
        if parent in current and current[parent][0] is not None:
            return f"{parent} is a file, not a folder"
    below = path + "/"  # a file where an earlier edit put a folder: the tree would silently drop the folder
    if any(p.startswith(below) and text is not None for p, (text, _) in current.items()):
        return "is a folder (an earlier edit of this answer wrote a file below it)"
    if path in current:
        return None  # a file sent in this request, or created by an earlier edit of this answer
    entry = lookup(path)
    if entry is None:
        return None  # a new file inside the scope
    if entry.mode == Mode.SYMLINK:
        return "is a symlink: models may not write through or over symlinks"
    if entry.mode == Mode.GITLINK:
        return "is a submodule"
    if entry.mode == Mode.TREE:
        return "is a folder"
    if entry.mode.is_file:
        return "an existing file that was not sent in this request (the model has not seen it)"
    return "not a regular file"
