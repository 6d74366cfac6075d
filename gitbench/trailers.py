"""Audit trailers: write and read ``Key: value`` lines at the end of a commit or tag message.

Follows Git's trailer rules (``git interpret-trailers``): trailers are the last paragraph of the message, one
``Token: value`` per line, keys made of letters, digits and dashes. Values are kept on one line; paths are
C-quoted like ``git diff`` does when they hold spaces, commas, quotes or control characters, so a hostile file
name can never forge another trailer.
"""

from __future__ import annotations

import re

# Patterns given to re.match, which compiles (and keeps) them at their first use: most commands only read
# trailers (parse, subject) and never build a message or quote a path, so they are not compiled at every start.
_KEY = r"^[A-Za-z0-9][A-Za-z0-9-]*\Z"  # \Z: `$` would let a trailing newline through
_PLAIN_PATH = r"^[A-Za-z0-9._/+@=~-]+\Z"
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
MAX_FILES = 20


def quote_path(path: str) -> str:
    """Quote a path for a trailer value, as Git quotes unusual paths."""
    if re.match(_PLAIN_PATH, path):
        return path
    from gitbench.scope import BIDI  # shown as they are, they would make a path read as another

    out = []
    prev = ""
    for ch in path:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that is not UTF-8 (os.fsdecode's surrogate): as git says it
            out.append(f"\\{ord(ch) - 0xDC00:03o}")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F or ch in BIDI or (ch.isspace() and (ch != " " or prev == " ")):
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
    # `git interpret-trailers` would take it for a patch divider (the pattern is compiled only for such a subject)
    if subject.startswith("---") and re.match(r"---(\s|$)", subject):
        subject = "gitbench: " + subject
    parts = [subject]
    if body.strip():
        parts.append(body.strip())
    if trailers:
        lines = []
        for key, value in trailers:
            if not re.match(_KEY, key):
                raise ValueError(f"bad trailer key {key!r}")
            lines.append(f"{key}: {_clean(value)}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def append(message: str, trailers: list[tuple[str, str]]) -> str:
    """``message`` with these trailers added at its end: to its trailer paragraph if it has one (an agent's
    ``Co-authored-by:``), else as a new paragraph. Later keys win when a reader collapses repeated ones."""
    for key, _ in trailers:
        if not re.match(_KEY, key):
            raise ValueError(f"bad trailer key {key!r}")
    lines = "\n".join(f"{key}: {_clean(value)}" for key, value in trailers)
    text = message.strip("\n")
    if not text.strip():
        return build_message("gitbench", "", trailers)
    if re.match(r"---(\s|$)", text):
        text = "gitbench: " + text
    if parse(text):
        return text + "\n" + lines + "\n"
    return text + "\n\n" + lines + "\n"


# -- reading: git's trailer rules (trailer.c, commit.c and pretty.c of git 2.39, as `git log --format=%(trailers)`
# reads a stored commit message), byte for byte. libgit2's git_message_trailers is a port of an older trailer.c: it
# keeps a `\r` in a value, does not unfold continuation lines, cuts the message at a `---` line and knows no
# scissors line, so it disagrees with `git log` on messages people write; and it wants a commit, where `parse` reads
# any message (a tag's, or one not yet committed).

_SPACE = " \t\n\r"  # git's isspace(): not \v or \f, and no Unicode space
_GIT_GENERATED = ("Signed-off-by: ", "(cherry picked from commit ")
_COMMENT = "#"  # core.commentChar's default
_CUT_LINE = f"\n{_COMMENT} ------------------------ >8 ------------------------\n"


def _lines(text: str) -> list[str]:
    """``text`` cut after each newline, each line keeping it (git's lines; not str.splitlines, which also cuts at
    \r, \x85, U+2028 and others that git keeps inside a line)."""
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def _blank(line: str) -> bool:
    return not line.strip(_SPACE)


# trailer.c's find_separator: a token of ASCII letters, digits and dashes, then optional blanks (not at the start
# of the line), then the separator.
_SEPARATOR = re.compile(r"(?:[A-Za-z0-9-]+[ \t]*)?:")


def _separator(line: str) -> int:
    """Where the `:` of a `Token: value` line is, or -1."""
    m = _SEPARATOR.match(line)
    return m.end() - 1 if m else -1


def _ignored_tail(message: str) -> int:
    """How many characters at the end of ``message`` are not part of it for the trailer reader (commit.c's
    ignore_non_trailer): everything from a scissors line on, and a trailing run of comment lines, empty lines and
    an old-style `Conflicts:` block."""
    cutoff = 0 if message.startswith(_CUT_LINE[1:]) else len(message)
    if cutoff and (at := message.find(_CUT_LINE)) >= 0:
        cutoff = at + 1
    start_of_tail = 0  # 0 is also "none", as in git: a message that starts with a comment keeps its tail
    conflicts = False
    bol = 0
    for line in _lines(message):
        if bol >= cutoff:
            break
        if line.startswith((_COMMENT, "\n")):
            start_of_tail = start_of_tail or bol
        elif line.startswith("Conflicts:\n"):
            conflicts = True
            start_of_tail = start_of_tail or bol
        elif conflicts and line.startswith("\t"):
            pass
        elif start_of_tail:
            start_of_tail, conflicts = 0, False
        bol += len(line)
    return len(message) - start_of_tail if start_of_tail else len(message) - cutoff


def _block_start(lines: list[str]) -> int:
    """The index of the first line of the trailer block, or len(lines) if there is none (trailer.c's
    find_trailer_block_start). The block is the last paragraph after the title, if all its lines are trailers, or
    if at least 25 % are and one is git-generated (`Signed-off-by: `, `(cherry picked from commit `)."""
    title_end = next((i for i, line in enumerate(lines) if not line.startswith(_COMMENT) and _blank(line)), len(lines))
    only_spaces, recognized = True, False
    trailer_lines = non_trailer_lines = possible_continuations = 0
    for i in range(len(lines) - 1, title_end - 1, -1):
        line = lines[i]
        if line.startswith(_COMMENT):
            non_trailer_lines += possible_continuations
            possible_continuations = 0
        elif _blank(line):
            if only_spaces:
                continue
            non_trailer_lines += possible_continuations
            if (recognized and trailer_lines * 3 >= non_trailer_lines) or (trailer_lines and not non_trailer_lines):
                return i + 1
            return len(lines)
        else:
            only_spaces = False
            if line.startswith(_GIT_GENERATED):
                trailer_lines += 1
                possible_continuations = 0
                recognized = True
            elif _separator(line) >= 1 and line[0] not in _SPACE:
                trailer_lines += 1
                possible_continuations = 0
            elif line[0] in _SPACE:
                possible_continuations += 1
            else:
                non_trailer_lines += 1 + possible_continuations
                possible_continuations = 0
    return len(lines)


def _unfold(value: str) -> str:
    """A value's continuation lines joined with one space (trailer.c's unfold_value)."""
    if "\n" in value:
        value = re.sub(r"\n[ \t\n\r]*", " ", value)
    return value.strip(_SPACE)


_TRAILER_LINE = re.compile(r"([A-Za-z0-9-]+)[ \t]*:(.*)", re.DOTALL)


def _all_trailers(text: str) -> list[tuple[str, str]] | None:
    """The common case, quickly (what gitbench writes): a last paragraph after the title of trailer lines only, no
    comment line, no Conflicts: block. None for any other message, which the full rules read."""
    if not text or text[0] in _SPACE or text.startswith(_COMMENT) or f"\n{_COMMENT}" in text or "Conflicts:\n" in text:
        return None
    lines = text.rstrip("\n").split("\n")
    found = []
    i = len(lines) - 1
    while i > 0 and (m := _TRAILER_LINE.match(lines[i])):
        found.append((m.group(1), m.group(2).strip(_SPACE)))
        i -= 1
    if not found or lines[i].strip(_SPACE):
        return None  # not a paragraph of trailers only, or the title's
    return found[::-1]


def parse_all(message: str) -> list[tuple[str, str]]:
    """The trailers of a commit or tag message, in order, as ``git log --format=%(trailers:only,unfold)`` reads
    them from a commit holding this message."""
    start = 0  # pretty.c skips blank lines before the subject
    while start < len(message):
        end = message.find("\n", start)
        end = len(message) if end < 0 else end + 1
        if message[start:end].strip(_SPACE):
            break
        start = end
    text = message[start:]
    quick = _all_trailers(text)
    if quick is not None:
        return quick
    if text.startswith(_COMMENT) or f"\n{_COMMENT}" in text or "Conflicts:\n" in text:
        text = text[: len(text) - _ignored_tail(text)]
    else:  # no comment line, no Conflicts: block: what git leaves out is only a run of empty lines at the end
        text = text[: len(text) - max(0, len(text) - len(text.rstrip("\n")) - 1)]
    lines = _lines(text)
    found: list[list[str]] = []  # [key, value] of each trailer, its continuation lines added to its value
    continues = False  # whether a continuation line belongs to the item before (a trailer)
    for line in lines[_block_start(lines) :]:
        if continues and line[0] in _SPACE:
            found[-1][1] += line
            continue
        at = _separator(line)
        continues = at >= 1
        if continues:
            found.append([line[:at], line[at + 1 :]])
    return [(key.strip(_SPACE), _unfold(value.strip(_SPACE))) for key, value in found]


def parse(message: str) -> dict[str, str]:
    """The trailers of a message as Git reads them (``parse_all``); a key given twice keeps its last value."""
    return dict(parse_all(message))


def subject(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""
