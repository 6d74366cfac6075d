"""Checkpoints: annotated tags ``refs/tags/checkpoint/<name>`` on Published, naming the records commit of that
moment. How names are made: services/checkpoint_names.py.

Nothing here reads every checkpoint unless asked to (``history`` without a limit): taking one, the newest one
(``status``), the newest page (``gitbench checkpoints``) and a name cost the same beside 10 checkpoints or
5,000. Only the names are listed (from packed-refs and the loose folder, git/refdb.py); a tag is read when its
checkpoint is shown, or (``newest_of``) back to the checkpoint of Published, no further than the commit's date.
"""

from __future__ import annotations

from gitbench import errors, faults, trailers
from gitbench.git.repo import RefMoved
from gitbench.model import CHECKPOINT_PREFIX, Checkpoint, CheckpointKind
from gitbench.services import checkpoint_names as names
from gitbench.services.workbench import Workbench

PAGE = 30  # `gitbench checkpoints` shows the newest this many
PACK_AFTER = 64  # loose checkpoint tags past which they go into packed-refs (as `git gc` would put them)
SKEW = 24 * 3600  # how far another clone's clock may be behind ours, for `since`


def create(
    wb: Workbench,
    kind: CheckpointKind,
    message: str = "",
    job: str | None = None,
    operation: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> Checkpoint:
    """Tag Published as a new checkpoint (``extra``: more trailers for its message, such as a publish's check
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
        clone = names.clone_id(wb)
        stamp = names.next_stamp(wb)
        for attempt in range(50):
            tail = names.tail(stamp, clone)
            try:
                wb.git.create_tag(f"checkpoint/{tail}", commit, text)
            except RefMoved:
                # The name is taken: this clone's last stamp was lost (or the repository was copied). Go past the
                # newest name this clone made, found once by listing its names, then one second at a time.
                stamp = max(stamp + 1, _after_own(wb, clone)) if attempt == 0 else stamp + 1
                continue
            faults.point("checkpoint.after-tag")
            names.remember(wb, stamp)
            if wb.git.loose_refs(CHECKPOINT_PREFIX) > PACK_AFTER:
                wb.git.pack_tags()  # a failure leaves them loose: as good, only slower to list
            cp = _load(wb, tail)
            if cp is None:  # pragma: no cover - the tag was just written
                raise errors.CheckpointFailed(f"checkpoint/{tail} cannot be read back.", [errors.RECOVER])
            return cp
        raise errors.CheckpointFailed("Could not find a free checkpoint name.", [errors.RECOVER])
    except (errors.CheckpointError, errors.DiskFull):
        raise
    except errors.GitbenchError as exc:
        raise errors.CheckpointFailed(
            f"Could not take {_a(kind)} checkpoint: {exc.message}", exc.actions or [errors.RECOVER]
        ) from exc
    except OSError as exc:
        if errors.is_disk_full(exc):
            raise errors.disk_full(f"taking a {kind} checkpoint") from exc
        raise errors.CheckpointFailed(f"Could not take {_a(kind)} checkpoint: {exc}", [errors.RECOVER]) from exc


def _after_own(wb: Workbench, clone: str) -> int:
    """One second after the newest checkpoint this clone made."""
    own = wb.git.refs(CHECKPOINT_PREFIX, names.STAMPED + clone)
    stamps = [names.stamp_of(ref[len(CHECKPOINT_PREFIX) :]) for ref in own[-1:]]
    return max((s + 1 for s in stamps if s is not None), default=0)


def _a(kind: CheckpointKind) -> str:
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


def _load(wb: Workbench, tail: str) -> Checkpoint | None:
    ref = CHECKPOINT_PREFIX + tail
    info = wb.git.tag_message(ref)
    if info is None:
        target = wb.git.ref(ref)
        if target is None:
            return None
        return Checkpoint(f"checkpoint/{tail}", CheckpointKind.UNKNOWN, target, None, 0, "(lightweight tag)")
    message, target, date = info
    t = trailers.parse(message)
    records = t.get("Gitbench-Records")
    return Checkpoint(
        name=f"checkpoint/{tail}",
        kind=CheckpointKind(t.get("Gitbench-Checkpoint-Kind", CheckpointKind.UNKNOWN)),
        commit=target,
        records=None if records in (None, "none") else records,
        date=float(date),
        message=trailers.subject(message),
        job=t.get("Gitbench-Job"),
    )


def tails(wb: Workbench) -> list[str]:
    """Every checkpoint's name after ``checkpoint/``, in history order (oldest first). Names that are neither
    gitbench's nor an older gitbench's (a ``checkpoint/v1`` made by hand) are not checkpoints."""
    found = wb.git.refs(CHECKPOINT_PREFIX, f"(?:{names.NEW}|{names.OLD})")
    return names.history_order([ref[len(CHECKPOINT_PREFIX) :] for ref in found])


def history_page(wb: Workbench, limit: int | None = PAGE) -> tuple[list[Checkpoint], int]:
    """The newest ``limit`` checkpoints (all of them for None), oldest first, and how many older ones there are."""
    every = tails(wb)
    shown = every if limit is None else every[max(0, len(every) - limit) :]
    out = [cp for cp in (_load(wb, t) for t in shown) if cp is not None]
    return out, len(every) - len(shown)


def history(wb: Workbench) -> list[Checkpoint]:
    """Every checkpoint, oldest first (reads every tag: for a page, use ``history_page``)."""
    return history_page(wb, None)[0]


def latest(wb: Workbench) -> Checkpoint | None:
    for tail in reversed(tails(wb)):
        cp = _load(wb, tail)
        if cp is not None:
            return cp
    return None


def newest_of(wb: Workbench, commit: str, made: float) -> Checkpoint | None:
    """The newest checkpoint of ``commit`` (made at ``made``, its commit time), or None: what ``status`` names.

    After a publish here it is the newest of all. After a pull that followed the server's Published it is the
    checkpoint a teammate's publish took there, which can be older than one this clone took meanwhile (of its
    Published then). So the names are read from the newest back, each tag's target only, as far as the
    checkpoints taken before the commit was made (a day's leeway, ``SKEW``, for clocks behind): none of those
    can be of it. The newest is always looked at, whatever the clocks say."""
    for i, tail in enumerate(reversed(tails(wb))):
        stamp = names.stamp_of(tail)
        if i and stamp is not None and stamp < made - SKEW:
            break
        ref = CHECKPOINT_PREFIX + tail
        info = wb.git.tag_message(ref)
        if (info[1] if info else wb.git.ref(ref)) == commit:
            return _load(wb, tail)
        if i and stamp is None and info is not None and info[2] < made - SKEW:  # an older Workbench's number
            break
    return None


def since(wb: Workbench, when: float) -> list[Checkpoint]:
    """The checkpoints taken at ``when`` or after, oldest first (and some from up to a day before, for clones
    whose clocks are behind): read from the newest back, as far as ``when``, not every one."""
    out = []
    for tail in reversed(tails(wb)):
        stamp = names.stamp_of(tail)
        if stamp is not None and stamp < when - SKEW:
            break
        cp = _load(wb, tail)
        if cp is None:
            continue
        if stamp is None and cp.date < when - SKEW:  # the numbers of an older Workbench: taken in order
            break
        out.append(cp)
    return out[::-1]


def find_by_operation(wb: Workbench, operation: str) -> Checkpoint | None:
    """The checkpoint an interrupted operation already took, if any (recovery must not take two): one of the
    newest few, for it was taken just before the interruption."""
    for tail in reversed(tails(wb)[-20:]):
        info = wb.git.tag_message(CHECKPOINT_PREFIX + tail)
        if info and trailers.parse(info[0]).get("Gitbench-Operation") == operation:
            return _load(wb, tail)
    return None


def named(wb: Workbench, name: str) -> Checkpoint | None:
    """The checkpoint of exactly this name (``checkpoint/…``, or without ``checkpoint/``), if it exists: for names
    gitbench wrote itself (a trailer, a record), where a beginning must not stand for another checkpoint."""
    tail = name.strip().removeprefix("refs/tags/").removeprefix("checkpoint/")
    return _load(wb, tail) if names.is_new(tail) or names.is_old(tail) else None


def resolve(wb: Workbench, name: str) -> Checkpoint:
    """The checkpoint ``name`` names: ``checkpoint/261203-072105-k3mq`` or ``261203-072105-k3mq``, any unique
    beginning of that (``261203-0721``), or an older Workbench's ``checkpoint/3`` or ``3``."""
    text = name.strip()
    tail = text.removeprefix("refs/tags/").removeprefix("checkpoint/").lower()
    candidates: list[str] = []
    if tail and all(c.isascii() and (c.isalnum() or c == "-") for c in tail):  # never a path: no `/`, no `..`
        cp = named(wb, tail)
        if cp is not None:
            return cp
        found = wb.git.refs(CHECKPOINT_PREFIX + tail)
        candidates = [t for t in (ref[len(CHECKPOINT_PREFIX) :] for ref in found) if names.is_new(t)]
        if len(candidates) == 1:
            cp = _load(wb, candidates[0])
            if cp is not None:
                return cp
    if len(candidates) > 1:
        shown = ", ".join(f"checkpoint/{t}" for t in candidates[:5]) + (
            f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
        )
        raise errors.CheckpointNotFound(
            f"{text!r} begins {len(candidates)} checkpoints: {shown}. Name one of them.",
            [errors.Action("List the checkpoints", "checkpoints", ("--all",))],
            {"candidates": [f"checkpoint/{t}" for t in candidates]},
        )
    raise errors.CheckpointNotFound(
        f"There is no checkpoint {text!r}.",
        [errors.Action("List the checkpoints", "checkpoints")],
    )
