"""Audit trailers: write and read ``Key: value`` lines at the end of a commit or tag message.

Follows Git's trailer rules (``git interpret-trailers``): trailers are the last paragraph of the message, one
``Token: value`` per line, keys made of letters, digits and dashes. Values are kept on one line; paths are
C-quoted like ``git diff`` does when they hold spaces, commas, quotes or control characters, so a hostile file
name can never forge another trailer.
"""

from __future__ import annotations

import re

from gitbench.scope import BIDI as _BIDI  # shown as they are, they would make a path read as another

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*\Z")  # \Z: `$` would let a trailing newline through
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):\s?(.*)$")
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9._/+@=~-]+\Z")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
MAX_FILES = 20


def quote_path(path: str) -> str:
    """Quote a path for a trailer value, as Git quotes unusual paths."""
    if _PLAIN_PATH.match(path):
        return path
    out = []
    prev = ""
    for ch in path:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that is not UTF-8 (os.fsdecode's surrogate): as git says it
            out.append(f"\\{ord(ch) - 0xDC00:03o}")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or ch in _BIDI or (ch.isspace() and (ch != " " or prev == " ")):
            # Line separators (U+2028, U+0085...) and whitespace runs would be split or folded by a reader:
            # spell them as octal UTF-8 bytes, as git does.
            out.append("".join(f"\\{b:03o}" for b in ch.encode("utf-8")))
        else:
            out.append(ch)
        prev = ch
    return '"' + "".join(out) + '"'


def unquote_path(text: str) -> str:
    if not (len(text) >= 2 and text.startswith('"') and text.endswith('"')):
        return text
    body, out, i = text[1:-1], bytearray(), 0  # bytes: an octal escape is one byte of UTF-8
    reverse = {v[1]: k for k, v in _ESCAPES.items()}
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in reverse:
                out += reverse[nxt].encode()
                i += 2
                continue
            if re.fullmatch(r"[0-3][0-7][0-7]", body[i + 1 : i + 4]):
                out.append(int(body[i + 1 : i + 4], 8))
                i += 4
                continue
        out += ch.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")


def format_paths(paths: list[str], limit: int = MAX_FILES) -> str:
    """``a.txt, "b c.txt" (+3 more)``: the paths a step touched, capped so trailers stay readable."""
    shown = [quote_path(p) for p in paths[:limit]]
    more = len(paths) - limit
    text = ", ".join(shown) if shown else "(none)"
    return text + (f" (+{more} more)" if more > 0 else "")


def parse_paths(value: str) -> list[str]:
    value = re.sub(r" \(\+\d+ more\)$", "", value.strip())
    if value == "(none)" or not value:
        return []
    parts, cur, quoted, esc = [], "", False, False
    for ch in value:
        if quoted:
            cur += ch
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
            cur += ch
        elif ch == ",":
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return [unquote_path(p) for p in parts]


def _clean(value: str) -> str:
    # A newline in a value would start a new (forged) trailer line: fold it away.
    return " ".join(str(value).split())


def build_message(subject: str, body: str = "", trailers: list[tuple[str, str]] | None = None) -> str:
    """A commit/tag message: subject, optional body, and a final trailer paragraph."""
    subject = _clean(subject) or "gitbench"
    if re.match(r"---(\s|$)", subject):  # `git interpret-trailers` would take it for a patch divider
        subject = "gitbench: " + subject
    parts = [subject]
    if body.strip():
        parts.append(body.strip())
    if trailers:
        lines = []
        for key, value in trailers:
            if not _KEY.match(key):
                raise ValueError(f"bad trailer key {key!r}")
            lines.append(f"{key}: {_clean(value)}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def append(message: str, trailers: list[tuple[str, str]]) -> str:
    """``message`` with these trailers added at its end: to its trailer paragraph if it has one (an agent's
    ``Co-authored-by:``), else as a new paragraph. Later keys win when a reader collapses repeated ones."""
    for key, _ in trailers:
        if not _KEY.match(key):
            raise ValueError(f"bad trailer key {key!r}")
    lines = "\n".join(f"{key}: {_clean(value)}" for key, value in trailers)
    text = message.strip("\n")
    if not text.strip():
        return build_message("gitbench", "", trailers)
    if re.match(r"---(\s|$)", text):
        text = "gitbench: " + text
    if len([p for p in re.split(r"\n\s*\n", text) if p.strip()]) >= 2 and parse(text):
        return text + "\n" + lines + "\n"
    return text + "\n\n" + lines + "\n"


def parse(message: str) -> dict[str, str]:
    """The trailers of a message (last paragraph, if every line in it is a trailer or a continuation)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", message.strip()) if p.strip()]
    if len(paragraphs) < 2:
        return {}
    result: dict[str, str] = {}
    last_key = None
    for line in paragraphs[-1].splitlines():
        m = _LINE.match(line)
        if m:
            last_key = m.group(1)
            result[last_key] = m.group(2).strip()
        elif line[:1].isspace() and last_key:
            result[last_key] += " " + line.strip()
        else:
            return {}
    return result


def subject(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""
