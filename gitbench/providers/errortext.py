"""A model server's error text, made safe to keep: a short excerpt with nothing of what we sent in it.

Some servers and proxies quote the request back in their error body (a validation error that echoes its input,
a gateway that dumps what it could not route): the prompt, the system prompt, the files. Whatever the provider
says becomes part of an error that is shown, logged, and stored in job records, reports and the conversation on
the records ref, which a team pushes to its Git server. So only an excerpt is kept, and before it is cut:

- quoted strings (JSON's ``"..."``, Python's ``'...'``) longer than ``LONG_STRING`` characters are elided,
  whatever they hold: an error's own words are short, a quoted request is not;
- any run of ``MIN_RUN`` or more letters and digits (spaces, punctuation and escapes aside) that also appears
  in what was sent is replaced, so a quote of the prompt or of a file is taken out however the server spaced,
  escaped or wrapped it;
- known keys are redacted (``store/logs.redact``).

What this cannot see: a fragment shorter than ``MIN_RUN`` letters and digits (a quoted word or two), which
names nothing by itself. The full text is written only to the local debug log, with ``--debug``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from gitbench.store.logs import redact

EXCERPT = 200  # characters of the provider's message kept
SCAN = 1000  # characters looked at (after elision): a message is not searched beyond
LONG_STRING = 40  # a quoted string longer than this is elided
MIN_RUN = 12  # letters and digits in a row that, found in what was sent, count as a quote of it
SENT = "[request text]"
ELIDED = "[elided]"

# A quoted string, escapes honoured; one that the text cuts off counts up to its end. A single quote starts a
# string only after a non-word character, so an apostrophe ("model's") does not.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)|(?<!\w)\'(?:[^\'\\]|\\.)*(?:\'(?!\w)|$)', re.S)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[nrtbf\"'\\/])")
_UNESCAPED = {"n": "\n", "r": "\r", "t": "\t", "b": " ", "f": " "}
_NOT_ALNUM = re.compile(r"[\W_]+")
_MARKS = re.compile(r"(?:\[request text\][\s\W]*){2,}")


def excerpt(message: str, sent: Sequence[str], secrets: Sequence[str] = (), limit: int = EXCERPT) -> str:
    """The provider's ``message``, safe to store: long quoted strings elided, anything quoted from ``sent``
    (the system prompt, the user message with its files) replaced, keys redacted, at most ``limit`` chars."""
    text = _STRING.sub(_elide, message[: SCAN * 32])
    text = _ESCAPE.sub(_unescape, text)
    text = " ".join(text.split())
    cut = len(text) > SCAN or len(message) > SCAN * 32
    text = _scrub(text[:SCAN], [_NOT_ALNUM.sub("", s) for s in sent if s], cut)
    text = _MARKS.sub(SENT + " ", text).strip()
    text = redact(text, [s for s in secrets if s])
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _elide(m: re.Match[str]) -> str:
    s = m.group(0)
    if len(s) <= LONG_STRING:
        return s
    q = s[0]
    return f"{q}{ELIDED}{q}"


def _unescape(m: re.Match[str]) -> str:
    c = m.group(1)
    if c.startswith("u"):
        return chr(int(c[1:], 16))
    return _UNESCAPED.get(c, c)


def _scrub(text: str, hay: list[str], cut: bool) -> str:
    """``text`` with every run of MIN_RUN+ letters and digits that appears in one of ``hay`` replaced."""
    if not hay:
        return text
    where = [i for i, c in enumerate(text) if c.isalnum()]
    norm = "".join(text[i] for i in where)
    marked = [False] * len(text)

    def mark(a: int, b: int) -> None:  # the letters a..b of norm (inclusive), and what lies between them
        for i in range(where[a], where[b] + 1):
            marked[i] = True

    n = len(norm)
    a = 0
    while a <= n - MIN_RUN:
        window = norm[a : a + MIN_RUN]
        hit = next(((h, p) for h in hay if (p := h.find(window)) >= 0), None)
        if hit is None:
            a += 1
            continue
        # A quote goes on as long as the text goes on as there: followed letter by letter, not searched again.
        h, p = hit
        b = a + MIN_RUN - 1
        while b + 1 < n and p + b + 1 - a < len(h) and norm[b + 1] == h[p + b + 1 - a]:
            b += 1
        mark(a, b)
        a = b + 1
    if cut:  # the text stops mid-quote: a shorter tail that starts a run of what was sent goes too
        for a in range(max(0, n - MIN_RUN + 1), n - 3):
            if any(norm[a:] in h for h in hay):
                mark(a, n - 1)
                break
    out: list[str] = []
    i = 0
    while i < len(text):
        if marked[i]:
            while i < len(text) and marked[i]:
                i += 1
            out.append(SENT)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
