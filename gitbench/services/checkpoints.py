"""Checkpoints: annotated tags ``checkpoint/<n>`` on Published, naming the records commit of that moment."""

from __future__ import annotations

import errno
import re

from gitbench import errors, faults, trailers
from gitbench.git.repo import RefMoved
from gitbench.model import CHECKPOINT_PREFIX, Checkpoint
from gitbench.services.workbench import Workbench

_NAME = re.compile(r"^(?:refs/tags/)?(?:checkpoint/)?(\d+)$")


def _numbers(wb: Workbench) -> list[int]:
    out = []
    for ref in wb.git.refs(CHECKPOINT_PREFIX):
        tail = ref[len(CHECKPOINT_PREFIX) :]
        if tail.isdigit():
            out.append(int(tail))
    return sorted(out)


def create(
    wb: Workbench,
    kind: str,
    message: str = "",
    job: str | None = None,
    operation: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> Checkpoint:
    """Tag Published as the next checkpoint (``extra``: more trailers for its message, such as a publish's check
    result). Raises CheckpointFailed (nothing changed) if it cannot."""
    try:
        commit = wb.published()
        records = wb.records.head()
        pairs = [
            ("Gitbench-Checkpoint-Kind", kind),
            ("Gitbench-Published", wb.published_ref),
            ("Gitbench-Records", records or "none"),
        ]
        if job:
            pairs.append(("Gitbench-Job", job))
        if operation:
            pairs.append(("Gitbench-Operation", operation))
        pairs += extra or []
        text = trailers.build_message(f"{kind} checkpoint" + (f": {message}" if message else ""), "", pairs)
        faults.point("checkpoint.before-tag")
        for _ in range(50):  # another writer may take the number first: take the next one
            numbers = _numbers(wb)
            n = (numbers[-1] + 1) if numbers else 1
            try:
                wb.git.create_tag(f"checkpoint/{n}", commit, text)
            except RefMoved:
                continue
            faults.point("checkpoint.after-tag")
            return resolve(wb, str(n))
        raise errors.CheckpointFailed("Could not find a free checkpoint number.")
    except (errors.CheckpointError, errors.DiskFull):
        raise
    except errors.GitbenchError as exc:
        raise errors.CheckpointFailed(
            f"Could not take {_a(kind)} checkpoint: {exc.message}", exc.actions or [errors.RECOVER]
        ) from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            raise errors.disk_full(f"taking a {kind} checkpoint") from exc
        raise errors.CheckpointFailed(f"Could not take {_a(kind)} checkpoint: {exc}", [errors.RECOVER]) from exc


def _a(kind: str) -> str:
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _load(wb: Workbench, number: int) -> Checkpoint | None:
    info = wb.git.tag_message(f"{CHECKPOINT_PREFIX}{number}")
    if info is None:
        target = wb.git.ref(f"{CHECKPOINT_PREFIX}{number}")
        if target is None:
            return None
        return Checkpoint(f"checkpoint/{number}", number, "unknown", target, None, 0, "(lightweight tag)")
    message, target, date = info
    t = trailers.parse(message)
    records = t.get("Gitbench-Records")
    return Checkpoint(
        name=f"checkpoint/{number}",
        number=number,
        kind=t.get("Gitbench-Checkpoint-Kind", "unknown"),
        commit=target,
        records=None if records in (None, "none") else records,
        date=float(date),
        message=trailers.subject(message),
        job=t.get("Gitbench-Job"),
    )


def history(wb: Workbench) -> list[Checkpoint]:
    out = []
    for n in _numbers(wb):
        cp = _load(wb, n)
        if cp is not None:
            out.append(cp)
    return out


def latest(wb: Workbench) -> Checkpoint | None:
    numbers = _numbers(wb)
    return _load(wb, numbers[-1]) if numbers else None


def find_by_operation(wb: Workbench, operation: str) -> Checkpoint | None:
    """The checkpoint an interrupted operation already took, if any (recovery must not take two)."""
    for n in reversed(_numbers(wb)[-20:]):
        info = wb.git.tag_message(f"{CHECKPOINT_PREFIX}{n}")
        if info and trailers.parse(info[0]).get("Gitbench-Operation") == operation:
            return _load(wb, n)
    return None


def resolve(wb: Workbench, name: str) -> Checkpoint:
    m = _NAME.match(name.strip())
    cp = _load(wb, int(m.group(1))) if m else None
    if cp is None:
        raise errors.CheckpointNotFound(
            f"There is no checkpoint {name!r}.",
            [errors.Action("List the checkpoints", "gitbench checkpoints")],
        )
    return cp
