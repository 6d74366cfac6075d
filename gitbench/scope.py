"""Path safety and job file scope.

Every path a job writes is checked here before anything touches the object database or the disk. libgit2's
index turns ``/abs`` into ``abs`` and accepts ``a\\..\\b`` (DESIGN.md §7), so it is no guard: we refuse
absolute paths, ``..``, any ``.git`` component (in any letter case, as on case-insensitive file systems),
backslashes, NUL and control characters.
"""

# No `from __future__ import annotations` (see model.py): a dataclass field annotated with a string costs
# a pattern match at import and again when its __init__ is made.
import fnmatch
import re

from gitbench.lazy_dataclass import dataclass

MAX_PATH = 4096
BIDI = set(  # bidirectional-text controls
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


class UnsafePath(ValueError):
    """A path a job may not write; the message says why."""


def check_path(path: str) -> str:
    """Return the normalised relative POSIX path, or raise UnsafePath naming the problem."""
    if not isinstance(path, str) or path == "":
        raise UnsafePath("empty path")
    if "\x00" in path:
        raise UnsafePath("path contains a NUL byte")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in path):
        raise UnsafePath("path contains a control character")
    if any(c in BIDI for c in path):  # would make a review show another name than the real one
        raise UnsafePath("path contains a bidirectional-text control character")
    if "\\" in path:
        raise UnsafePath("path contains a backslash")
    if len(path.encode("utf-8", "surrogateescape")) > MAX_PATH:
        raise UnsafePath("path is too long")
    if path.startswith("/"):
        raise UnsafePath("absolute path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts:
        raise UnsafePath("path names the Workbench itself")
    for part in parts:
        if part == "..":
            raise UnsafePath("path climbs out with '..'")
        if part.lower() == ".git" or part.lower().startswith(".git~") or part.rstrip(". ").lower() == ".git":
            raise UnsafePath("path goes into .git")
    return "/".join(parts)


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Git-style globs: ``*`` stays within a folder, ``**`` crosses folders, a folder name matches below it."""
    pattern = pattern.strip("/")
    i, out = 0, ""
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif c == "*":
            out += "[^/]*"
            i += 1
        elif c == "?":
            out += "[^/]"
            i += 1
        elif c == "[":
            j = pattern.find("]", i)
            if j == -1:
                out += re.escape(c)
                i += 1
            else:
                out += fnmatch.translate(pattern[i : j + 1])[4:-3]
                i = j + 1
        else:
            out += re.escape(c)
            i += 1
    return re.compile(rf"^{out}(?:/.*)?$")


@dataclass(frozen=True)
class Scope:
    """The files a job may read and write; no patterns means the whole Workbench."""

    patterns: tuple[str, ...] = ()

    @classmethod
    def of(cls, patterns: list[str] | tuple[str, ...] | None) -> "Scope":
        cleaned = []
        for p in patterns or ():
            if p.startswith("/") or ".." in p.split("/") or "\x00" in p:
                raise UnsafePath(f"scope pattern {p!r} reaches outside the Workbench")
            cleaned.append(p.strip())
        return cls(tuple(c for c in cleaned if c))

    @property
    def everything(self) -> bool:
        return not self.patterns

    def allows(self, path: str) -> bool:
        if not self.patterns:
            return True
        return any(_compiled(p).match(path) for p in self.patterns)

    def may_contain(self, folder: str) -> bool:
        """Could a path below ``folder`` be allowed? False only when no pattern can match there.

        A match starts with the pattern's literal head (the text before its first ``*``, ``?`` or ``[``), so
        a folder is out of reach when neither its path nor that head is a prefix of the other.
        """
        if not self.patterns:
            return True
        below = folder.strip("/") + "/"
        return any(below.startswith(head) or head.startswith(below) for head in map(_literal_head, self.patterns))


_CACHE: dict[str, re.Pattern[str]] = {}


def _literal_head(pattern: str) -> str:
    pattern = pattern.strip("/")
    cut = min((i for i in (pattern.find(c) for c in "*?[") if i != -1), default=len(pattern))
    return pattern[:cut]


def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern not in _CACHE:
        _CACHE[pattern] = _glob_regex(pattern)
    return _CACHE[pattern]
