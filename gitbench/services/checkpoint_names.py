"""Checkpoint names: ``checkpoint/YYMMDD-HHMMSS-CCCC``, in time order, never the same on two clones.

A team shares a Workbench through a Git server, so two clones take checkpoints without seeing each other; a name
must never be made twice (the second push of ``checkpoint/6`` would be refused, or worse, taken for the first):

- ``YYMMDD-HHMMSS`` is when it was taken (UTC, gitbench's clock): names sort by time as plain text, so
  ``git tag -l 'checkpoint/*'`` lists them in order and the newest is the last name;
- ``CCCC`` is this clone's id, four characters of ALPHABET drawn at random once per clone and kept in the
  repository's own Git config (``gitbench.clone``): a clone's ``.git/config`` is never pushed or cloned, so every
  clone draws its own, and two clones taking a checkpoint in the same second still make two names;
- within one clone, a checkpoint in the same second as the last one takes the next second: the last stamp is
  kept in ``.git/gitbench/checkpoint-stamp``, and a name found taken (that file lost, a copy of the repository)
  moves on to the next free second. Names never need the list of checkpoints: taking one costs the same beside
  10 checkpoints or 5,000.

Workbenches from before keep their names (``checkpoint/1``, ``checkpoint/2``…): they come first in the history,
by number, and are accepted wherever a checkpoint is named.
"""

from __future__ import annotations

import os
import re
import time

from gitbench import clock, errors
from gitbench.services.workbench import Workbench
from gitbench.store import atomic

ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no l, o, 0 or 1: read aloud or copied by hand, never confused
STAMPED = r"[0-9]{6}-[0-9]{6}-"  # a new name after ``checkpoint/``, up to its clone id
NEW = STAMPED + r"[a-km-np-z2-9]{4}"
OLD = r"[0-9]+"  # the numbers of Workbenches from before
CONFIG_KEY = "gitbench.clone"
STAMP = "%y%m%d-%H%M%S"
_NEW = re.compile(NEW)
_CLONE = re.compile(r"[a-km-np-z2-9]{4}")


def is_new(tail: str) -> bool:
    return _NEW.fullmatch(tail) is not None


def is_old(tail: str) -> bool:
    return tail.isascii() and tail.isdigit()


def clone_id(wb: Workbench) -> str:
    """This clone's id: ``GITBENCH_CLONE`` (for tests), else ``gitbench.clone`` in the repository's own config,
    drawn and written there on first need."""
    forced = os.environ.get("GITBENCH_CLONE")
    if forced:
        if not _CLONE.fullmatch(forced):
            raise errors.UsageError(
                f"GITBENCH_CLONE={forced!r} is not a clone id: four characters of {ALPHABET}.",
                [errors.Action("Unset it (it is for tests)", "unset GITBENCH_CLONE")],
            )
        return forced
    kept = wb.git.config_get(CONFIG_KEY)
    if kept is not None and _CLONE.fullmatch(kept):
        return kept
    import secrets  # here: once per clone, not at every command's start-up

    new = "".join(secrets.choice(ALPHABET) for _ in range(4))
    try:
        wb.git.config_set(CONFIG_KEY, new)
    except (OSError, ValueError) as exc:
        raise errors.FileIOError(f"Could not write {CONFIG_KEY} to .git/config: {exc}", [errors.RECOVER]) from exc
    return new


def tail(stamp: int, clone: str) -> str:
    """The name after ``checkpoint/`` for a checkpoint taken at ``stamp`` (seconds since the epoch)."""
    # time.gmtime, not datetime: the same text for whole seconds, without importing datetime (start-up)
    return time.strftime(STAMP, time.gmtime(stamp)) + "-" + clone


def stamp_of(name: str) -> int | None:
    """When a new-scheme name says it was taken (seconds since the epoch), None for other names."""
    if not is_new(name):
        return None
    from datetime import UTC, datetime

    return int(datetime.strptime(name[:13], STAMP).replace(tzinfo=UTC).timestamp())


def next_stamp(wb: Workbench) -> int:
    """The stamp of this clone's next checkpoint: now, or one second after its last one if that is not before."""
    now = int(clock.now())
    try:
        with open(wb.layout.checkpoint_stamp, "rb") as fh:
            last = int(fh.read().strip() or 0)
    except (OSError, ValueError):  # lost or torn: a name found taken moves on instead
        last = 0
    return max(now, last + 1)


def remember(wb: Workbench, stamp: int) -> None:
    """Keep the stamp of the checkpoint just taken. Not kept (a full disk): the next one finds its name taken
    and moves on, so this never fails a checkpoint that exists."""
    try:
        atomic.write_bytes(wb.layout.checkpoint_stamp, b"%d\n" % stamp, fsync=False)
    except OSError:
        pass


def history_order(tails: list[str]) -> list[str]:
    """Names after ``checkpoint/`` in history order: the numbers first, by number, then the new names (by
    time, which their text order is)."""
    old = sorted((t for t in tails if "-" not in t), key=int)
    return old + sorted(t for t in tails if "-" in t)
