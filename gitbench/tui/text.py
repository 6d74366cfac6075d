"""Text for widgets: messages shown as they are (never read as markup), and a Draft's patch cut per file."""

from __future__ import annotations

from rich.text import Text
from textual.content import Content


def plain(text: str) -> Content:
    """Messages hold brackets (`[Discard: ...]`, `[rate-limit]`): show them, never parse them as markup."""
    return Content(text)


def cell(text: str) -> Text:
    """A table cell shown as it is (a DataTable reads a str as markup, and measures Content wrongly); cut with
    an ellipsis where its column is narrower."""
    return Text(text, no_wrap=True, overflow="ellipsis")


def patch_per_file(patch: str) -> list[str]:
    """The unified patch of a review cut into one patch per file, in the order of the review's file list (the
    diff lists files in one order for both). Every file's patch starts with a `diff --git` line; no other line
    of a patch does (hunk lines start with a space, +, - or \\)."""
    chunks: list[str] = []
    for line in patch.splitlines(keepends=True):
        if line.startswith("diff --git ") or not chunks:
            chunks.append(line)
        else:
            chunks[-1] += line
    return chunks
