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
HAY_STEPS = 200_000  # positions of a request looked at, at most (a larger one is looked at every few letters)
SENT = "[request text]"
ELIDED = "[elided]"

# A quoted string, escapes honoured; one that the text cuts off counts up to its end. A single quote starts a
# string only after a non-word character, so an apostrophe ("model's") does not.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)|(?<!\w)\'(?:[^\'\\]|\\.)*(?:\'(?!\w)|$)', re.S)
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[nrtbf\"'\\/])")
_UNESCAPED = {"n": "\n", "r": "\r", "t": "\t", "b": " ", "f": " "}
# Letters and digits only, for comparing a quote with what was sent: ASCII punctuation and spaces go (a
# translate, not a regex: a request can be megabytes); other characters stay, on both sides alike.
_DROP = {c: None for c in range(128) if not chr(c).isalnum()}
_MARKS = re.compile(r"(?:\[request text\][\s\W]*){2,}")


def excerpt(message: str, sent: Sequence[str], secrets: Sequence[str] = (), limit: int = EXCERPT) -> str:
    """The provider's ``message``, safe to store: long quoted strings elided, anything quoted from ``sent``
    (the system prompt, the user message with its files) replaced, keys redacted, at most ``limit`` chars."""
    text = _STRING.sub(_elide, message[: SCAN * 32])
    text = _ESCAPE.sub(_unescape, text)
    text = " ".join(text.split())
    cut = len(text) > SCAN or len(message) > SCAN * 32
    text = _scrub(text[:SCAN], [s.translate(_DROP) for s in sent if s], cut)
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
        code = int(c[1:], 16)
        # A lone surrogate (half of an escaped emoji) cannot be written as UTF-8: it stays escaped.
        return m.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)
    return _UNESCAPED.get(c, c)


def _scrub(text: str, hay: list[str], cut: bool) -> str:
    """``text`` with every run of MIN_RUN+ letters and digits that appears in one of ``hay`` replaced."""
    where = [i for i, c in enumerate(text) if c.isalnum() or ord(c) >= 128]
    norm = "".join(text[i] for i in where)
    n = len(norm)
    covered = bytearray(n)  # letters of norm found in what was sent
    windows: dict[str, list[int]] = {}
    for a in range(n - MIN_RUN + 1):
        windows.setdefault(norm[a : a + MIN_RUN], []).append(a)
    for h in hay:
        # One pass over what was sent, looking its windows up among the text's (not the text's windows searched
        # in it: that is one scan of the request per window, seconds for a large batch). A large request is
        # looked at every few letters, so quotes a little longer than MIN_RUN are still found in it.
        step = max(1, len(h) // HAY_STEPS)
        for p in range(0, len(h) - MIN_RUN + 1, step):
            for a in windows.get(h[p : p + MIN_RUN], ()):
                if covered[a] and covered[a + MIN_RUN - 1]:
                    continue
                # The quote goes on as long as the text and the request go on alike: followed letter by letter.
                lo, hi, q = a, a + MIN_RUN - 1, p
                while lo > 0 and q > 0 and norm[lo - 1] == h[q - 1]:
                    lo, q = lo - 1, q - 1
                while hi + 1 < n and p + hi + 1 - a < len(h) and norm[hi + 1] == h[p + hi + 1 - a]:
                    hi += 1
                covered[lo : hi + 1] = b"\x01" * (hi + 1 - lo)
    if cut:  # the text stops mid-quote: a shorter tail that starts a run of what was sent goes too
        for a in range(max(0, n - MIN_RUN + 1), n - 3):
            if not covered[a] and any(norm[a:] in h for h in hay):
                covered[a:] = b"\x01" * (n - a)
                break
    # Back to the text: a covered run of letters, with what lies between them and the punctuation that clings
    # to its ends (``<file``, ``)``), becomes one marker.
    out: list[str] = []
    pos = 0
    a = 0
    while a < n:
        if not covered[a]:
            a += 1
            continue
        b = a
        while b + 1 < n and covered[b + 1]:
            b += 1
        lo, hi = where[a], where[b] + 1
        while lo > pos and not text[lo - 1].isspace() and not text[lo - 1].isalnum():
            lo -= 1
        while hi < len(text) and not text[hi].isspace() and not text[hi].isalnum():
            hi += 1
        out += [text[pos:lo], SENT]
        pos = hi
        a = b + 1
    out.append(text[pos:])
    return "".join(out)
