"""Sharing a Workbench through a Git server: push, pull, publish --remote, remote setup.

What travels: Published (the branch), every checkpoint tag, the records chain, and (``--drafts``) the Drafts.
Only Published is a shared line that can refuse a push. Checkpoint names never collide between clones, so a
teammate's checkpoints live beside ours; records from several clones merge (``Records.merge``); a Draft is one
person's work, pushed and fetched only when asked.

What this clone last saw on the server is kept in tracking refs (``refs/remotes/<remote>/<branch>`` for
Published, as Git itself does; ``refs/gitbench/remotes/<remote>/records`` and ``…/drafts/<label>``). Every ref
is pushed with a lease on that value, so nothing on the server is overwritten that this clone has not seen; a
refused lease on anything but Published is settled by fetching, merging and pushing again.

A fetch overwrites Git's tracking branch, so it cannot tell a teammate's restore there (the server's Published
moved back) from a Published that never moved on. ``refs/gitbench/remotes/<remote>/published`` keeps the newest
server Published this clone followed: it moves forward with every fetch, push and publish, and stays where it is
when the server's moves back, until this clone follows that restore (``pull``) or deliberately puts its own back
over it (``push --overwrite-published``). While it is not an ancestor of the server's Published, a restore there
is unfollowed: ``pull`` follows or refuses it, ``push`` and ``publish --remote`` refuse to undo it.
"""

from __future__ import annotations

from dataclasses import field

from gitbench import errors, events
from gitbench.events import Progress
from gitbench.git import remote as gitremote
from gitbench.lazy_dataclass import dataclass
from gitbench.model import CHECKPOINT_PREFIX, DRAFT_PREFIX, RECORDS_REF, CheckpointKind, OperationResult
from gitbench.services.workbench import Workbench
from gitbench.store.journal_entries import Move, Op

TRACKING = "refs/gitbench/remotes/"


@dataclass
class Remote:
    name: str
    url: str | None
    branch: str

    @property
    def published(self) -> str:
        """Where this clone keeps the server's Published as last seen (Git's own remote-tracking branch)."""
        return f"refs/remotes/{self.name}/{self.branch}"

    @property
    def records(self) -> str:
        return f"{TRACKING}{self.name}/records"

    @property
    def followed(self) -> str:
        """The newest Published of the server's that this clone followed (see the module's docstring)."""
        return f"{TRACKING}{self.name}/published"

    @property
    def drafts(self) -> str:
        return f"{TRACKING}{self.name}/drafts/"

    @property
    def shared(self) -> str:
        """The Drafts this clone pushed there, as pushed: only those may it remove there."""
        return f"{TRACKING}{self.name}/shared/"

    def fetch_specs(self) -> list[str]:
        b = self.branch
        # A missing ref named exactly makes `git fetch` fail as a whole (a new server has no records yet), a
        # pattern that matches nothing does not: each exact name is written as a pattern whose `*` matches the
        # empty string ("mai*n" is "main").
        # The Drafts are fetched apart (``fetch``), with --prune: a Draft removed there is noticed.
        return [
            f"+refs/heads/{b[:-1]}*{b[-1]}:refs/remotes/{self.name}/{b[:-1]}*{b[-1]}",
            f"+refs/gitbench/record*s:{TRACKING}{self.name}/record*s",
            # Never forced: a checkpoint, once made, never changes; a clash is reported, not taken.
            f"{CHECKPOINT_PREFIX}*:{CHECKPOINT_PREFIX}*",
        ]


@dataclass
class Sync:
    """What a push or pull did, for its summary."""

    remote: Remote
    notes: list[str] = field(default_factory=list)
    pushed: list[str] = field(default_factory=list)
    checkpoints_new: int = 0
    records_merged: bool = False
    clashes: list[str] = field(default_factory=list)
    gone_drafts: dict[str, str] = field(default_factory=dict)  # shared Drafts removed on the server: last value
    moved_back: tuple[str, str] | None = None  # the server's Published moved back: (last followed, now)
    overwrite: bool = False  # push --overwrite-published: the push merges the records itself (``_records_over``)
    follows: bool = False  # pull --drafts: the server's Drafts are followed here (``_adopt_drafts``)
    seen_drafts: dict[str, str] = field(default_factory=dict)  # the server's Drafts as last seen, before this fetch
    news: dict[str, str] = field(default_factory=dict)  # Drafts kept here that changed there: what to say (``_news``)


def resolve(wb: Workbench, name: str | None) -> Remote:
    """The remote named, or the Published branch's upstream, or ``origin``, or the only one."""
    names = wb.git.remote_names()
    add = errors.Action("Add your team's server as a remote", text="git remote add origin URL")
    if name:
        if name not in names:
            raise errors.UsageError(
                f"There is no Git remote {name!r} in this Workbench"
                + (f" (there is: {', '.join(names)})." if names else ".")
                + " Nothing was changed.",
                [
                    errors.Action(f"Add your team's server as {name}", text=f"git remote add {name} URL"),
                    *(
                        [errors.Action("Or use one of those: see their addresses", text="git remote -v")]
                        if names
                        else []
                    ),
                ],
                {"remote": name, "remotes": names},
            )
        chosen = name
    else:
        upstream = wb.git.config_get(f"branch.{wb.branch}.remote")
        if upstream in names:
            chosen = str(upstream)
        elif "origin" in names:
            chosen = "origin"
        elif len(names) == 1:
            chosen = names[0]
        elif not names:
            raise errors.UsageError("This Workbench has no Git remote to share it through.", [add])
        else:
            raise errors.UsageError(
                f"This Workbench has several Git remotes ({', '.join(names)}); say which.",
                [errors.Action("Name one", "push", (names[0],))],
            )
    return Remote(chosen, wb.git.config_get(f"remote.{chosen}.url"), wb.branch)


# -- fetching ---------------------------------------------------------------------------------------------------


def fetch(wb: Workbench, r: Remote, sync: Sync, drafts: bool = False) -> None:
    """Fetch Published, checkpoints and records (and Drafts) into their tracking refs, then merge the records,
    unless the server's Published moved back (``sync.moved_back``): the records of a restore are taken only with
    it (``pull``). Called with the Workbench lock held."""
    followed = wb.git.ref(r.followed) or wb.git.ref(r.published)
    res = gitremote.fetch(wb.git.gitdir, r.name, r.fetch_specs(), r.url)
    sync.moved_back = _moved_back(wb, r, followed, wb.git.ref(r.published))
    # Only the checkpoints are fetched into refs/tags/ (and --no-tags follows no other tag): the tags git says
    # it created are the new checkpoints. Counted from its report, not by listing every checkpoint before and
    # after (two reads of thousands of refs, for a number in the summary).
    sync.checkpoints_new += res.new_tags
    if drafts:
        seen = {ref: wb.git.ref_raw(ref) for ref in wb.git.refs(r.drafts)}
        gitremote.fetch(wb.git.gitdir, r.name, [f"+{DRAFT_PREFIX}*:{r.drafts}*"], r.url, prune=True)
        for ref, value in seen.items():
            if value is not None:
                sync.seen_drafts[ref[len(r.drafts) :]] = value
                if wb.git.ref_raw(ref) is None:
                    sync.gone_drafts[ref[len(r.drafts) :]] = value
                    # Shared from here too, maybe: removed there by a teammate, it is no longer this clone's to
                    # remove (a push leased on it would be refused at every try).
                    _set_tracking(wb, r.shared + ref[len(r.drafts) :], None)
    for ref, why in res.rejected:
        name = ref if ref.startswith("refs/") else f"refs/tags/{ref}"
        if name.startswith(CHECKPOINT_PREFIX):
            sync.clashes.append(name[len("refs/tags/") :])
        else:
            sync.notes.append(f"Git did not update {ref} ({why}).")
    if sync.moved_back is None and not sync.overwrite:
        merge_records(wb, r, sync)


def _moved_back(wb: Workbench, r: Remote, followed: str | None, server: str | None) -> tuple[str, str] | None:
    """After a fetch: keep the last followed Published of the server's moving forward; (followed, server) if the
    server's moved back from it (a teammate's restore there), which stays unfollowed until pull follows it."""
    if server is None:
        return None
    if followed is None or wb.git.is_ancestor(followed, server):
        _set_tracking(wb, r.followed, server)
        return None
    _set_tracking(wb, r.followed, followed)  # an older clone had none: what it had seen, kept
    return followed, server


def unfollowed(wb: Workbench, r: Remote) -> tuple[str, str] | None:
    """A restore on the server this clone has seen (fetched) but not followed: (followed, server), or None."""
    followed, server = wb.git.ref(r.followed), wb.git.ref(r.published)
    if followed is None or server is None or followed == server:
        return None
    try:
        return None if wb.git.is_ancestor(followed, server) else (followed, server)
    except Exception:  # noqa: BLE001 - a commit missing here (a shallow clone): nothing to say
        return None


def _restorer(wb: Workbench, seen: str) -> tuple[str | None, str | None]:
    """(who, checkpoint) of the restore on the server that moved its Published back from ``seen``: the newest
    pre-restore checkpoint taken at ``seen`` (a restore's first step), if it was fetched."""
    from gitbench import clock
    from gitbench.services import checkpoints

    for cp in reversed(checkpoints.since(wb, clock.now() - 30 * 86400)):
        if cp.kind == CheckpointKind.PRE_RESTORE and cp.commit == seen:
            return wb.git.tagger_name("refs/tags/" + cp.name), cp.name
    return None, None


def _subject(wb: Workbench, commit: str) -> str:
    try:
        message = wb.git.commit(commit).message
    except (KeyError, ValueError):
        return commit[:12]
    return f"{commit[:12]} “{message.splitlines()[0] if message else ''}”"


def _back(wb: Workbench, r: Remote, seen: str, server: str) -> str:
    """ "origin's Published was moved back to X (by Alice's restore; her checkpoint Y keeps what was there)"."""
    who, cp = _restorer(wb, seen)
    went = "moved back to" if wb.git.is_ancestor(server, seen) else "moved back and on to"
    by = f"by {who}'s restore" if who else "by a restore there"
    keeps = f"; {cp} keeps what was there" if cp else ""
    return (
        f"{r.name}'s Published was {went} {_subject(wb, server)} ({by}{keeps}): this clone last saw it at "
        f"{_subject(wb, seen)}"
    )


def restored_there(wb: Workbench, r: Remote, seen: str, server: str, local: str, doing: str) -> errors.RemoteMoved:
    """A push or publish --remote would undo a restore on the server that this clone has not followed."""
    return errors.RemoteMoved(
        f"{_back(wb, r, seen, server)}. A {doing} from here would put back what that restore took away. "
        "Nothing was put over it"
        + (": your Workbench is untouched." if doing == "publish" else "; nothing of yours was lost."),
        [
            errors.Action("Follow the restore here first (yours before it is kept as a checkpoint)", "pull", (r.name,)),
            errors.Action(
                "Or put your Published back over it, deliberately", "push", ("--overwrite-published", r.name)
            ),
        ],
        {"remote": r.name, "server": server, "seen": seen, "local": local, "restored": True},
    )


def merge_records(wb: Workbench, r: Remote, sync: Sync) -> None:
    theirs = wb.git.ref(r.records)
    if theirs is None:
        return
    old = wb.records.head()
    keep = _kept_records(wb, r, sync) if old is not None else {}
    new, both = wb.records.merge(theirs, f"merge records from {r.name}", keep)
    if new != old:
        sync.records_merged = True
    for label in dict.fromkeys(keep[path] for path in both if path in keep):
        if sync.follows:
            sync.notes.append(
                f"The record of Draft {label}'s job stays this clone's, as the Draft does: {r.name}'s is under "
                "conflicts/."
            )
        else:
            sync.news[label] = _news(wb, r, theirs, label, [p for p in both if keep.get(p) == label])
    both = [path for path in both if path not in keep]
    if both:
        sync.notes.append(
            f"Records changed on both sides were combined, nothing lost: {', '.join(both[:5])}"
            + (f" and {len(both) - 5} more" if len(both) > 5 else "")
            + " (a job record changed on two clones keeps the newer in place and the other under conflicts/)."
        )


def _kept_records(wb: Workbench, r: Remote, sync: Sync) -> dict[str, str]:
    """The job records (path: Draft label) that stay this clone's in a records merge, read before it: those of
    each Draft here that this command leaves where it is, when the server's record would not describe it. Only
    ``pull --drafts`` moves a Draft here (``_adopt_drafts``: one that moved on there and not here follows, one
    gone there and untouched here goes to the trash; their records go with them); it keeps one changed here
    since (``_keeps``) with its records. Any other Draft stays as it is, and so does its job record when the
    server's is of another head (the Draft rebased or moved on there: ``pull --drafts`` brings both), or says
    published or discarded (it is open here), or is gone (a restore there): theirs goes under conflicts/."""
    from gitbench.services import drafts

    theirs = {ref[len(r.drafts) :]: wb.git.ref(ref) for ref in wb.git.refs(r.drafts)}
    records = wb.git.ref(r.records)
    keep: dict[str, str] = {}
    for ref in wb.draft_refs():
        label = ref[len(DRAFT_PREFIX) :]
        here, there, last = wb.git.ref(ref), theirs.get(label), sync.seen_drafts.get(label)
        if sync.follows:
            if _keeps(wb, here, there, last):
                keep.update({f"jobs/{job.id}.json": label for job in drafts.jobs_on(wb, ref)})
                continue
            if here != there and (there is not None or last is not None):
                continue  # followed or trashed here by this pull: the server's records go with it
        for job in drafts.jobs_on(wb, ref):
            path = f"jobs/{job.id}.json"
            if records is not None and not _describes(wb, wb.records.read(path, at=records), here):
                keep[path] = label
    return keep


def _describes(wb: Workbench, record: object, head: str | None) -> bool:
    """Could a job record (the server's) be of a Draft open here at ``head``: not published or discarded, its
    steps ending at ``head`` or before it (a job that an ``ask --on-draft continue`` went on from)?"""
    from gitbench.model import JobStatus

    if not isinstance(record, dict) or record.get("status") in (JobStatus.PUBLISHED, JobStatus.DISCARDED):
        return False
    at = record.get("head")
    if at is None or at == head:
        return True
    try:
        return isinstance(at, str) and head is not None and wb.git.exists(at) and wb.git.is_ancestor(at, head)
    except (KeyError, ValueError):
        return False


def drafts_changed_there(wb: Workbench, r: Remote) -> list[str]:
    """The Drafts open here whose job record in the server's records, as last seen (no network), is newer than
    this clone's and not of this Draft as it is here (moved on or rebased there, published or discarded there):
    ``pull --drafts`` follows them. One record read per Draft, for ``status``."""
    from gitbench.services import drafts

    records = wb.git.ref(r.records)
    if records is None:
        return []
    out = []
    for ref in wb.draft_refs():
        job = drafts.job_of(wb, ref)
        theirs = wb.records.read(f"jobs/{job.id}.json", at=records) if job is not None else None
        if job is None or not isinstance(theirs, dict):
            continue
        newer = isinstance(theirs.get("updated"), int | float) and theirs["updated"] > (job.updated or 0)
        if newer and not _describes(wb, theirs, wb.git.ref(ref)):
            out.append(ref[len(DRAFT_PREFIX) :])
    return out


def _news(wb: Workbench, r: Remote, theirs: str, label: str, paths: list[str]) -> str:
    """What the server's records say of a Draft kept here as it is (a push, or a pull without --drafts), and how
    to follow it."""
    from gitbench.model import JobStatus

    said = [wb.records.read(path, at=theirs) for path in paths]
    statuses = {d.get("status") for d in said if isinstance(d, dict)}
    heads = [str(d["head"]) for d in said if isinstance(d, dict) and isinstance(d.get("head"), str)]
    follow = f"`gitbench pull --drafts {r.name}` brings it"
    aside = f" ({r.name}'s is under conflicts/)"
    if JobStatus.DISCARDED in statuses or JobStatus.PUBLISHED in statuses:
        what = f"was {'published' if JobStatus.PUBLISHED in statuses else 'discarded'} on {r.name}"
        follow += " (a Draft you changed here since stays yours)"
    elif heads:
        what = f"changed on {r.name} (now at {heads[-1][:12]}: new steps, or rebased there)"
    else:
        what, aside = f"has no job record on {r.name} any more (a restore there?)", ""
        follow = "`gitbench drafts` lists it here"
    return f"Draft {label} {what}: it stays as it is here, and so does its job record{aside}; {follow}."


def _follow_records(wb: Workbench, r: Remote, label: str, head: str) -> None:
    """A Draft that came here from the server at ``head`` (new, or followed): its job records become the
    server's versions that describe it. The records merge took them already, unless a clone kept its own in
    place (a Draft it did not move, ``_kept_records``): here, an earlier push or pull without --drafts; there, a
    teammate's push. The version that describes ``head`` is then under conflicts/, where the copy now in place
    is not needed any more (the one it replaces stays in the history)."""
    from gitbench.services import drafts

    theirs = wb.git.ref(r.records)
    if theirs is None:
        return
    tree, mine = wb.git.commit(theirs).tree, wb.records.tree()
    folder = wb.git.tree_entry(tree, "conflicts/jobs")
    aside = [f"conflicts/jobs/{p}" for p, _, _ in wb.git.walk_tree(folder.oid)] if folder else []
    take: dict[str, str | None] = {}
    for job in drafts.jobs_on(wb, DRAFT_PREFIX + label):
        path = f"jobs/{job.id}.json"
        if _describes(wb, wb.records.read(path), head):
            continue
        for candidate in [path, *(p for p in aside if p.startswith(f"conflicts/{path[:-4]}"))]:
            entry = wb.git.tree_entry(tree, candidate)
            if entry is not None and _describes(wb, wb.records.read(candidate, at=theirs), head):
                take[path] = entry.oid
                copy = f"conflicts/jobs/{job.id}.{entry.oid[:8]}.json"
                if mine and wb.git.tree_entry(mine, copy) == entry:
                    take[copy] = None
                break
    if take:
        wb.records.put(take, f"follow {r.name}'s Draft {label}: its job records")


def _keeps(wb: Workbench, here: str | None, there: str | None, last: str | None) -> bool:
    """Does a pull keep this clone's Draft (at ``here``) as it is, not following the server's? ``there``: its
    head on the server now (None: gone from there); ``last``: its head there as last seen before. Kept when it
    changed here since (``_adopt_drafts`` follows a Draft that only moved on there, rebased there too, and
    trashes one gone from there only if it did not change here)."""
    if here is None:
        return False
    if there is not None:
        return here not in (there, last) and not wb.git.is_ancestor(here, there)
    return last is not None and here != last


# -- push -------------------------------------------------------------------------------------------------------


def push(
    wb: Workbench, name: str | None = None, drafts: bool = False, overwrite: bool = False, say: Progress | None = None
) -> OperationResult:
    """`gitbench push`: Published, checkpoints, records (and Drafts) in one atomic push, each ref leased."""
    r = resolve(wb, name)
    sync = Sync(r)
    with wb.changing("push"):
        push_locked(wb, r, sync, drafts, overwrite, say or events.ignore)
    return _result(wb, "push", sync)


def push_locked(wb: Workbench, r: Remote, sync: Sync, drafts: bool, overwrite: bool, say: Progress) -> None:
    fetched = False
    sync.overwrite = overwrite
    if wb.git.ref(r.records) is None and wb.git.ref(r.published) is None:
        # Never talked to this server: learn what it has first (a teammate may have shared the Workbench).
        fetch(wb, r, sync, drafts)
        fetched = True
    # A restore on the server that this clone fetched but did not follow: only a deliberate
    # --overwrite-published may put Published back over it.
    back = sync.moved_back or unfollowed(wb, r)
    if back is not None and not (overwrite and sync.moved_back is None):
        raise restored_there(wb, r, *back, wb.published(), "push")
    # What the user has seen of the server's Published: a retry below fetches, but what that fetch brings was
    # never looked at, so nothing may be put over it (--overwrite-published included).
    seen_before = wb.git.ref(r.published)
    for _ in range(5):
        # --overwrite-published only over the value the user had seen before this command: what a retry's fetch
        # brought is a teammate's publish nobody here has looked at.
        now_seen = wb.git.ref(r.published)
        if overwrite and now_seen not in (seen_before, None) and not wb.git.is_ancestor(now_seen, wb.published()):
            raise moved(wb, r, wb.published(), str(now_seen), "push")
        specs, leases, wanted = _plan(wb, r, sync, drafts, overwrite and now_seen == seen_before)
        say(events.Pushing(r.name, r.url))
        try:
            res = gitremote.push(wb.git.gitdir, r.name, specs, leases, atomic=True, url=r.url)
            if res.atomic_unsupported:
                res = _push_in_order(wb, r, specs, leases)
        except errors.RemoteError as exc:
            raise _cut(wb, r, exc, wanted) from exc
        if res.ok:
            records = wanted.get(RECORDS_REF)
            old = wb.records.head()
            if records is not None and records != old:  # merged over a restore there: ours once the server has it
                wb.records.advance(records, old, f"merge records from {r.name} (push --overwrite-published)")
            _seen(wb, r, wanted)
            sync.pushed = [_describe(line) for line in res.lines if line.flag not in ("=", "!")]
            return
        # Refused: learn what the server has, then decide (only a moved Published stops us).
        fetch(wb, r, sync, drafts)
        fetched = True
        if sync.moved_back is not None:  # a teammate's restore there, never looked at: not undone from here
            raise restored_there(wb, r, *sync.moved_back, wb.published(), "push")
        server = wb.git.ref(r.published)
        if server is not None and server != wanted.get(wb.published_ref, server):
            local = wb.published()
            if server != seen_before and (overwrite or not wb.git.is_ancestor(server, local)):
                raise moved(wb, r, local, server, "push")
        if sync.clashes:
            raise _clash(r, sync)
        # With an atomic push, every ref but the one refused says "atomic push failed" (the client's words) or
        # "atomic transaction failed" (the server's, when its own lease check failed: the reason is only on
        # stderr): those are retried after the fetch above.
        bad = [line for line in res.rejected if "atomic" not in line.summary]
        if bad and all(_permanent(line) for line in bad):
            words = res.server_words
            raise errors.RemoteError(
                f"{r.name} refused the push: "
                + "; ".join(f"{line.dst} ({line.summary})" for line in bad)
                + (f". It said: {words}" if words else "")
                + ". Nothing was changed on the server (the push is all or nothing).",
                [_SERVER_RULES],
                {"refused": [line.dst for line in bad], "server_said": words},
            )
    raise errors.RemoteError(
        f"{r.name} kept changing while gitbench pushed ({'5 tries' if fetched else 'refused'}): teammates are "
        "pushing right now. Nothing of yours was lost; run the push again in a moment.",
        [errors.Action("Push again", "push", (r.name,))],
    )


def _cut(wb: Workbench, r: Remote, exc: errors.RemoteError, wanted: dict[str, str | None]) -> errors.RemoteError:
    """The push broke off (the server stopped, the network went): say what the server has now, if it can be
    asked. Git applies a push only once the whole pack arrived, so each ref there is either as it was or as sent."""
    if gitremote.no_repository(exc):  # there is nothing there to have received any of it
        return exc
    why = exc.message.split(": ", 1)[-1].split(". Nothing")[0]
    try:
        now = gitremote.ls_remote(wb.git.gitdir, r.name, [*wanted, f"{CHECKPOINT_PREFIX}*"], r.url)
    except errors.RemoteError:
        exc.message = (
            f"The push to {r.name} broke off ({why}), and the server cannot be asked what it received. Git applies "
            "a push only once all of it arrived, so each ref there is as it was or as sent; the next "
            "`gitbench push` finds out and finishes it. Your Workbench is as it was."
        )
        exc.actions = [errors.Action("When the server is back", "push", (r.name,))]
        return exc
    got = [ref for ref, value in wanted.items() if now.get(ref) == value]
    missing = [ref for ref in wanted if ref not in got]
    tags = [ref for ref in wb.git.refs(CHECKPOINT_PREFIX) if now.get(ref) != wb.git.ref_raw(ref)]
    if tags:
        missing.append(f"{len(tags)} checkpoint(s)")
    elif any(ref.startswith(CHECKPOINT_PREFIX) for ref in now):
        got.append("the checkpoints")
    for ref in got:  # what the server has, we have seen
        if ref == wb.published_ref:
            _followed(wb, r, wanted[ref])
        elif ref == RECORDS_REF:
            _set_tracking(wb, r.records, wanted[ref])
    saw = (
        "it received all of it"
        if not missing
        else "it received none of it"
        if not got
        else f"it has {', '.join(got)}, not {', '.join(missing)}"
    )
    return errors.RemoteError(
        f"The push to {r.name} broke off ({why}); asked again, {saw}. "
        "Your Workbench is as it was; `gitbench push` finishes what is missing.",
        [errors.Action("Push again", "push", (r.name,))],
        {"remote": r.name, "received": got, "missing": missing},
    )


def _permanent(line: gitremote.PushLine) -> bool:
    """A refusal that fetching and pushing again cannot settle (a server hook, a protected branch)."""
    text = line.summary
    # "failed to update ref" / "cannot lock ref": the server's own compare-and-swap lost to a teammate's push
    # landing at the same moment (without an atomic push the reason is only on stderr).
    retry = ("stale info", "fetch first", "non-fast-forward", "already exists", "failed to update ref", "cannot lock")
    return not any(w in text for w in retry)


def _plan(
    wb: Workbench, r: Remote, sync: Sync, drafts: bool, overwrite: bool
) -> tuple[list[str], dict[str, str | None], dict[str, str | None]]:
    """(refspecs, leases, what each ref will be) of the next push; the server's records merged in first."""
    specs: list[str] = []
    leases: dict[str, str | None] = {}
    wanted: dict[str, str | None] = {}
    local = wb.published()
    seen = wb.git.ref(r.published)
    if seen != local:
        if seen is not None and not wb.git.is_ancestor(seen, local):
            if wb.git.is_ancestor(local, seen) and not overwrite and not _restored(wb, local):
                sync.notes.append(
                    f"{r.name}'s Published ({seen[:12]}) is ahead of yours ({local[:12]}): `gitbench pull` brings it; "
                    "it was left as it is."
                )
            elif wb.git.is_ancestor(local, seen) and not overwrite:
                # Behind what we saw there because of a restore here. Sharing the records of that restore without
                # Published would leave the server half-restored: all or nothing.
                raise errors.RemoteMoved(
                    f"Your Published ({local[:12]}) is behind {r.name}'s ({seen[:12]}), which you have pulled: a "
                    "restore here? Nothing was pushed.",
                    [
                        errors.Action(
                            "Share the restore (refused if the server moved since you saw it)",
                            "push",
                            ("--overwrite-published", r.name),
                        ),
                        errors.Action("Or take the server's Published back", "pull", (r.name,)),
                    ],
                    {"remote": r.name, "server": seen, "local": local},
                )
            elif not overwrite:
                raise moved(wb, r, local, seen, "push")
            else:
                specs.append(f"{local}:{wb.published_ref}")
        else:
            specs.append(f"{local}:{wb.published_ref}")
        if specs:
            leases[wb.published_ref] = wb.git.ref_raw(r.published)
            wanted[wb.published_ref] = local
    # Published put back over a restore there (or over publishes seen there): the records shared must agree.
    over = (
        overwrite
        and wb.published_ref in wanted
        and (unfollowed(wb, r) is not None or (seen is not None and not wb.git.is_ancestor(seen, local)))
    )
    records = wb.records.head()
    seen_records = wb.git.ref(r.records)
    if records is not None and records != seen_records:
        if seen_records is not None and not wb.git.is_ancestor(seen_records, records):
            if over:
                records = _records_over(wb, r, sync, seen_records, local)
            else:
                merge_records(wb, r, sync)
                records = wb.records.head()
        specs.append(f"{records}:{RECORDS_REF}")
        leases[RECORDS_REF] = seen_records
        wanted[RECORDS_REF] = records
    specs.append(f"{CHECKPOINT_PREFIX}*:{CHECKPOINT_PREFIX}*")
    if drafts:
        mine = {ref[len(DRAFT_PREFIX) :]: wb.git.ref(ref) for ref in wb.draft_refs()}
        theirs = {ref[len(r.drafts) :]: wb.git.ref(ref) for ref in wb.git.refs(r.drafts)}
        for label, head in mine.items():
            there = theirs.get(label)
            if head is None or head == there:
                continue
            if there is not None and not wb.git.is_ancestor(there, head) and not _holds(wb, head, there):
                # Went two ways: the server's has steps of a teammate's that this Draft does not hold. Putting ours
                # in its place would drop them there, and from the teammate's Draft at their next pull --drafts.
                # (A Draft rebased here holds them: each step keeps its message and trailers.)
                note = (
                    f"Draft {label} changed both here and on {r.name}: not pushed, as yours would drop the steps "
                    f"{r.name}'s has and yours does not (`git log --oneline {DRAFT_PREFIX}{label}..{r.drafts}{label}` "
                    "lists them). Both are kept."
                )
                if note not in sync.notes:
                    sync.notes.append(note)
                continue
            specs.append(f"{head}:{DRAFT_PREFIX}{label}")
            leases[DRAFT_PREFIX + label] = there
            wanted[DRAFT_PREFIX + label] = head
        shared = {ref[len(r.shared) :]: wb.git.ref(ref) for ref in wb.git.refs(r.shared)}
        for label, head in shared.items():
            # Shared from here, and published or discarded here since: removed there, unless it moved there.
            if label not in mine and head is not None and theirs.get(label, head) == head:
                specs.append(f":{DRAFT_PREFIX}{label}")
                leases[DRAFT_PREFIX + label] = head
                wanted[DRAFT_PREFIX + label] = None
    return specs, leases, wanted


def _holds(wb: Workbench, head: str, there: str) -> bool:
    """Does the Draft at ``head`` hold every step of ``there`` that it does not have as such: the same step
    rebased (its message and trailers, which name its job and step), or in Published?"""
    ours = {c.message for c in wb.git.commits_between(there, head)}
    return all(c.message in ours for c in wb.git.commits_between(head, there))


def _records_over(wb: Workbench, r: Remote, sync: Sync, theirs: str, local: str) -> str:
    """The records to push with ``local`` put back over the server's Published (``push --overwrite-published``):
    ours, merged with the server's less what a restore there took back and less their records of publishes
    ``local`` does not hold, so every job record in place agrees with the Published pushed (a restore's records
    would say its jobs were never there; a teammate's publish it replaces would say it is). The server's records
    are a parent: nothing of theirs leaves the history. Made, not yet ours: ``push_locked`` makes it the records
    head once the server took it, so a refused push leaves ours as they were for a later ``pull``."""
    keep = _kept_records(wb, r, sync)
    leave = _publishes_not_held(wb, theirs, local)
    commit, dropped = wb.records.merge_over(
        theirs, f"merge records from {r.name}, under this clone's Published (push --overwrite-published)", keep, leave
    )
    if commit != wb.records.head():
        sync.records_merged = True
    left = [p for p in dropped if p in leave and p.startswith("jobs/")]
    undone = [p for p in dropped if p not in leave]
    if undone:
        sync.notes.append(
            f"The records {r.name}'s restore took back ({len(undone)} file(s)) are shared as they are here, with "
            f"your Published; {r.name}'s records before this push stay in the records history (a parent)."
        )
    if left:
        ids = [p[len("jobs/") : -len(".json")] for p in left]
        sync.notes.append(
            f"{r.name}'s records of {len(ids)} publish(es) your Published does not hold are left in the records "
            f"history only (`git log --full-history {RECORDS_REF} -- jobs/ID.json`): {', '.join(ids[:5])}"
            + (f" and {len(ids) - 5} more." if len(ids) > 5 else ".")
        )
    return commit


def _publishes_not_held(wb: Workbench, theirs: str, local: str) -> list[str]:
    """The server's records (job record and report) of published jobs whose steps ``local`` does not hold, among
    the job records that differ from ours."""
    import json

    from gitbench.model import JobStatus

    out: list[str] = []
    for change in wb.git.diff_trees(wb.records.tree(), wb.git.commit(theirs).tree):
        path = change.path
        if change.new is None or not path.startswith("jobs/") or not path.endswith(".json") or "/" in path[5:]:
            continue
        try:
            doc = json.loads(wb.git.blob(change.new.oid))
        except (ValueError, KeyError):
            continue
        head = doc.get("head") if isinstance(doc, dict) else None
        if not isinstance(head, str) or doc.get("status") != JobStatus.PUBLISHED:
            continue
        if wb.git.exists(head) and wb.git.is_ancestor(head, local):
            continue
        out += [path, f"reports/{path[len('jobs/') :]}"]
    return out


def _restored(wb: Workbench, local: str) -> bool:
    """Is Published where a restore put it (the newest checkpoint is the pre-restore one taken from later)?"""
    from gitbench.services import checkpoints

    last = checkpoints.latest(wb)
    return last is not None and last.kind == CheckpointKind.PRE_RESTORE and not wb.git.is_ancestor(last.commit, local)


def _push_in_order(wb: Workbench, r: Remote, specs: list[str], leases: dict[str, str | None]) -> gitremote.PushResult:
    """A server without atomic pushes: everything else first, Published last, so a push cut in between leaves
    the server with checkpoints and records it can use and Published as it was."""
    main = [s for s in specs if s.endswith(":" + wb.published_ref)]
    rest = [s for s in specs if s not in main]
    first = gitremote.push(
        wb.git.gitdir,
        r.name,
        rest,
        {k: v for k, v in leases.items() if k != wb.published_ref},
        atomic=False,
        url=r.url,
    )
    if not first.ok or not main:
        return first
    second = gitremote.push(
        wb.git.gitdir, r.name, main, {wb.published_ref: leases.get(wb.published_ref)}, atomic=False, url=r.url
    )
    return gitremote.PushResult(second.ok, first.lines + second.lines, first.stderr + second.stderr)


def _seen(wb: Workbench, r: Remote, wanted: dict[str, str | None]) -> None:
    """After a successful push: the server has what we sent."""
    for ref, value in wanted.items():
        if ref == wb.published_ref:
            _followed(wb, r, value)
            continue
        if ref == RECORDS_REF:
            track = r.records
        else:
            label = ref[len(DRAFT_PREFIX) :]
            _set_tracking(wb, r.shared + label, value)
            track = r.drafts + label
        _set_tracking(wb, track, value)


def _set_tracking(wb: Workbench, track: str, value: str | None) -> bool:
    current = wb.git.ref_raw(track)
    if current != value:
        try:
            wb.git.set_ref(track, value, current, "gitbench: seen on the server")
        except Exception:  # noqa: BLE001 - a tracking ref is only a hint; the next fetch sets it right
            return False
    return True


def _followed(wb: Workbench, r: Remote, value: str | None) -> None:
    """The server's Published is ``value``, put there from here: seen and followed. Followed only once seen: a
    tracking ref left behind (locked) must not look like a restore there."""
    if _set_tracking(wb, r.published, value) and value is not None:
        _set_tracking(wb, r.followed, value)


def _describe(line: gitremote.PushLine) -> str:
    dst = line.dst.removeprefix("refs/tags/").removeprefix("refs/heads/")
    if line.flag == "-":
        return f"{dst} (removed)"
    if line.flag == "*":
        return f"{dst} (new)"
    return dst


def moved(wb: Workbench, r: Remote, local: str, server: str, doing: str) -> errors.RemoteMoved:
    """Published on the server is not an ancestor of ours: a teammate published what we do not have."""
    try:
        info = wb.git.commit(server)
        what = f"{server[:12]} “{info.message.splitlines()[0] if info.message else ''}”"
    except (KeyError, ValueError):  # not fetched (publish --remote only asks the server)
        what = server[:12]
    try:
        behind = wb.git.is_ancestor(local, server)
        ahead = not behind and wb.git.is_ancestor(server, local)
    except Exception:  # noqa: BLE001 - pygit2 raises several kinds for a commit it does not have
        behind, ahead = True, False
    if ahead and doing == "publish":  # it did not move: publishes made here were never pushed
        return errors.RemoteMoved(
            f"{r.name}'s Published ({what}) is behind yours ({local[:12]}): publishes made here are not on "
            f"{r.name} yet, and a publish to {r.name} moves its Published only from yours. Nothing was put "
            "over it: your Workbench is untouched.",
            [
                errors.Action("Share your Published first", "push", (r.name,)),
                errors.Action("Then publish again", "publish", ("--remote", r.name)),
            ],
            {"remote": r.name, "server": server, "local": local},
        )
    if behind:
        detail = f"{r.name} has publishes you do not have yet (its Published is {what})."
        actions = [errors.Action("Bring them here first", "pull", (r.name,))]
    else:
        detail = (
            f"{r.name}'s Published ({what}) and yours ({local[:12]}) have each moved on: a teammate published "
            "there while you published here."
        )
        actions = [
            errors.Action(
                "Bring theirs here and keep yours as a Draft on top (review, then publish again)",
                "pull",
                ("--keep-mine", r.name),
            ),
        ]
    if doing == "publish":
        actions.append(errors.Action("Then rebase the Draft onto it and publish again", "rebase"))
    return errors.RemoteMoved(
        f"Published on {r.name} moved since this clone last saw it: {detail} Nothing was put over it"
        + (": your Workbench is untouched." if doing == "publish" else "; nothing of yours was lost."),
        actions,
        {"remote": r.name, "server": server, "local": local},
    )


def _clash(r: Remote, sync: Sync) -> errors.RemoteError:
    names = ", ".join(sync.clashes[:5])
    return errors.RemoteError(
        f"{r.name} has checkpoints with the same names as yours but other contents: {names}. Two clones share "
        "one clone id (a folder copied instead of cloned?). Nothing was pushed.",
        [
            errors.Action("Give this clone its own id, then push again", text="git config --unset gitbench.clone"),
            errors.Action("Compare them", text=f"git ls-remote {r.name} 'refs/tags/checkpoint/*'"),
        ],
        {"clashes": sync.clashes},
    )


# -- pull -------------------------------------------------------------------------------------------------------


def pull(wb: Workbench, name: str | None = None, drafts: bool = False, keep_mine: bool = False) -> OperationResult:
    """`gitbench pull`: fetch, merge records, fast-forward Published when the folder allows it."""
    from gitbench.services import transaction

    r = resolve(wb, name)
    sync = Sync(r, follows=drafts)
    with wb.changing("pull"):
        fetch(wb, r, sync, drafts)
        if sync.clashes:
            sync.notes.append(str(_clash(r, sync).message))
        if drafts:
            _adopt_drafts(wb, r, sync)
        server = wb.git.ref(r.published)
        local = wb.published()
        back = sync.moved_back or unfollowed(wb, r)
        if back is not None:
            _follow_restore(wb, r, sync, *back, local, keep_mine)
        elif server is None:
            sync.notes.append(f"{r.name} has no Published yet: `gitbench push` shares yours.")
        elif server == local:
            sync.notes.append(f"Published is the same here and on {r.name} ({local[:12]}).")
        elif wb.git.is_ancestor(server, local):
            sync.notes.append(f"Your Published is ahead of {r.name}'s: `gitbench push` shares it.")
        else:
            kept = None
            diverged = not wb.git.is_ancestor(local, server)
            if diverged and not keep_mine:
                raise moved(wb, r, local, server, "pull")
            changes, files = transaction.plan(wb, local, server)
            blocked = transaction.blocked_paths(wb, changes)
            if blocked:
                raise errors.LocalChanges(
                    f"Pulling would overwrite local changes: {'; '.join(f'{p} ({w})' for p, w in blocked)}. "
                    f"Published stays at {local[:12]} (the checkpoints and records were fetched).",
                    [
                        errors.Action(
                            "Set your edits aside, pull, bring them back",
                            text="git stash -u && gitbench pull && git stash pop",
                        ),
                    ],
                    {"paths": [p for p, _ in blocked]},
                )
            if diverged:  # only once nothing stands in the way: a refused pull leaves no Draft behind
                kept = _keep_mine(wb, local, server)
            entry = Move(Op.PULL, wb.new_id(), local, server, files)
            if kept:  # the local publishes were put in a Draft above: a restore-like move, checkpointed first
                from gitbench.services import checkpoints

                why = f"before pulling {r.name}'s Published over yours"
                pre = checkpoints.create(wb, CheckpointKind.PRE_RESTORE, why)
                sync.notes.append(f"Your Published before the pull is {pre.name}.")
            transaction.move_published(wb, entry, changes, "pull")
            transaction.finish_after_commit(wb, entry, lambda: transaction.done(wb, entry))
            sync.notes.insert(0, f"Published moved to {server[:12]} ({r.name}'s), from {local[:12]}.")
            if kept:
                sync.notes.append(
                    f"Your publishes that {r.name} did not have are the Draft {kept}: review it, "
                    f"`gitbench rebase --draft {kept}`, then publish."
                )
        _close_published_drafts(wb, sync)
        stale = [
            d
            for d in wb.draft_refs()
            if _base_of(wb, d) not in (None, wb.published()) and d[len(DRAFT_PREFIX) :] not in sync.news
        ]
        if stale:
            labels = ", ".join(d[len(DRAFT_PREFIX) :] for d in stale)
            sync.notes.append(f"Drafts made from an older Published: {labels} (`gitbench rebase` brings them up).")
    return _result(wb, "pull", sync)


def _follow_restore(wb: Workbench, r: Remote, sync: Sync, seen: str, server: str, local: str, keep_mine: bool) -> None:
    """The server's Published moved back from ``seen`` (a teammate's restore there): follow it here, as a restore
    is done (a pre-restore checkpoint first, then Published and the records), if this clone published nothing
    since it saw ``seen``; otherwise refuse, unless --keep-mine keeps ours as a Draft. Published moves only once
    nothing stands in the way; the server's records are merged only with it."""
    from gitbench.services import checkpoints, transaction

    back = _back(wb, r, seen, server)
    if not wb.git.is_ancestor(local, seen) and not keep_mine:
        raise errors.RemoteMoved(
            f"{back}; you published here since ({_subject(wb, local)}). Nothing was changed here: your Published "
            "and records are as they were (the checkpoints were fetched).",
            [
                errors.Action(
                    "Follow the restore, keeping yours as a Draft (a pre-restore checkpoint first)",
                    "pull",
                    ("--keep-mine", r.name),
                ),
                errors.Action(
                    f"Or put yours back on {r.name} over the restore, deliberately",
                    "push",
                    ("--overwrite-published", r.name),
                ),
            ],
            {"remote": r.name, "server": server, "seen": seen, "local": local, "restored": True},
        )
    if local == server:  # restored here too: only the records of the restore to take
        merge_records(wb, r, sync)
        _set_tracking(wb, r.followed, server)
        sync.notes.insert(0, f"{back}. Your Published is there already.")
        return
    changes, files = transaction.plan(wb, local, server)
    blocked = transaction.blocked_paths(wb, changes)
    if blocked:
        raise errors.LocalChanges(
            f"{back}. Following it would overwrite local changes: "
            f"{'; '.join(f'{p} ({w})' for p, w in blocked)}. Published stays at {local[:12]} (the checkpoints "
            "were fetched).",
            [
                errors.Action(
                    "Set your edits aside, pull, bring them back", text="git stash -u && gitbench pull && git stash pop"
                )
            ],
            {"paths": [p for p, _ in blocked]},
        )
    kept = _keep_mine(wb, local, server) if not wb.git.is_ancestor(local, seen) else None
    pre = checkpoints.create(wb, CheckpointKind.PRE_RESTORE, f"before following {r.name}'s restore to {server[:12]}")
    merge_records(wb, r, sync)  # the records of the restore, after the checkpoint that keeps ours
    entry = Move(Op.PULL, wb.new_id(), local, server, files)
    transaction.move_published(wb, entry, changes, "pull")
    transaction.finish_after_commit(wb, entry, lambda: transaction.done(wb, entry))
    _set_tracking(wb, r.followed, server)
    sync.notes.insert(
        0,
        f"{back}. Published here followed it, from {local[:12]}; {pre.name} keeps what was here: "
        f"`gitbench restore {pre.name}` undoes it.",
    )
    if kept:
        sync.notes.append(
            f"Your publishes that {r.name} did not have are the Draft {kept} (with what the restore took back): "
            f"review it, then publish what you want kept."
        )


def _close_published_drafts(wb: Workbench, sync: Sync) -> None:
    """A Draft whose every step is in Published now (a publish --remote that reached the server before the
    connection broke, a teammate who published the shared Draft) is published: closed as a publish is, with its
    checkpoint, its job marked published, its worktree and branch removed."""
    from gitbench.services import drafts, publish

    published = wb.published()
    for ref in wb.draft_refs():
        head = wb.git.ref(ref)
        if head is None or head == _base_of(wb, ref) or not wb.git.is_ancestor(head, published):
            continue
        if drafts.running_job(wb, ref) is not None:  # its job works in it now: leave it to its end
            continue
        job = drafts.job_of(wb, ref)
        entry = Move(Op.PUBLISH, wb.new_id(), published, published, False, ref, head, job.id if job else None)
        res = publish.finish(wb, entry)
        sync.notes.append(
            f"The Draft {ref[len(DRAFT_PREFIX) :]} is in Published now (published on the server): closed as "
            f"published ({', '.join(res.checkpoints)})."
        )


def _published_already(wb: Workbench, r: Remote, ref: str, head: str) -> bool:
    """Is every step of the Draft ``ref`` (at ``head``) in Published, here or on the server? An empty Draft made
    from that very Published (a session that has not ended a turn yet) is open; one whose head is behind it is
    not, whatever its job record says of its base (a rebase here moves the records of a Draft's jobs)."""
    empty = head == _base_of(wb, ref)
    for p in (wb.published(), wb.git.ref(r.published)):
        if p is not None and wb.git.is_ancestor(head, p) and not (empty and head == p):
            return True
    return False


def _base_of(wb: Workbench, ref: str) -> str | None:
    from gitbench.services import drafts

    try:
        return drafts.info(wb, ref).base
    except errors.GitbenchError:
        return None


def _keep_mine(wb: Workbench, local: str, server: str) -> str:
    """Published diverged: keep ours as a Draft (its base: where the two lines parted), so nothing is lost."""
    from gitbench import clock

    stamp = clock.iso(clock.now())[:10]
    label = f"unshared-{stamp}"
    n = 1
    while wb.git.ref(DRAFT_PREFIX + label) is not None:
        n += 1
        label = f"unshared-{stamp}-{n}"
    wb.git.set_ref(DRAFT_PREFIX + label, local, None, "gitbench pull --keep-mine")
    return label


def _adopt_drafts(wb: Workbench, r: Remote, sync: Sync) -> None:
    """Teammates' Drafts (``--drafts``): a new one becomes a Draft here; one that moved on there, and not here,
    follows (rebased there too); one removed there (published or discarded) and untouched here goes to the trash
    here. ``_keeps`` decides, as it does which job records the records merge keeps."""
    mine = {ref[len(DRAFT_PREFIX) :]: wb.git.ref(ref) for ref in wb.draft_refs()}
    theirs = {ref[len(r.drafts) :]: wb.git.ref(ref) for ref in wb.git.refs(r.drafts)}
    for label, head in theirs.items():
        if head is None:
            continue
        here = mine.get(label)
        if here is None:
            wb.git.set_ref(DRAFT_PREFIX + label, head, None, f"gitbench pull: {r.name}'s Draft")
            if _published_already(wb, r, DRAFT_PREFIX + label, head):
                # A shared Draft published since (`publish --remote` leaves the shared copy there): nothing to
                # review here, and its publish is the teammate's; bringing it would close it with a checkpoint
                # of this clone's, at every pull.
                wb.git.set_ref(DRAFT_PREFIX + label, None, head, f"gitbench pull: {r.name}'s Draft is published")
                continue
            sync.notes.append(f"New Draft from {r.name}: {label}.")
            _follow_records(wb, r, label, head)
        elif here != head:
            if not _keeps(wb, here, head, sync.seen_drafts.get(label)):  # it moved there, not here: it follows
                from gitbench.services import drafts, worktrees

                if drafts.running_job(wb, DRAFT_PREFIX + label) is not None:
                    # A job works in it here: moving it would pull the folder from under that job.
                    sync.notes.append(
                        f"Draft {label} has new steps on {r.name}, but a job works in it here: it stays as it is "
                        f"(`gitbench pull --drafts {r.name}` once the job ended)."
                    )
                    continue

                wb.git.set_ref(DRAFT_PREFIX + label, head, here, f"gitbench pull: {r.name}'s Draft")
                if wb.git.ref(r.shared + label) is not None:
                    # Shared from here, and its teammate's steps taken here: what the server has is what this clone
                    # publishes or discards now, so a later `push --drafts` removes it there as for one never moved.
                    _set_tracking(wb, r.shared + label, head)
                sync.notes.append(
                    f"Draft {label} moved on to {r.name}'s ({head[:12]})"
                    + ("." if wb.git.is_ancestor(here, head) else f", rebased there (it was {here[:12]} here).")
                )
                sync.notes.extend(worktrees.sync(wb, DRAFT_PREFIX + label, here, head))
                _follow_records(wb, r, label, head)
            elif not wb.git.is_ancestor(head, here):
                sync.notes.append(
                    f"Draft {label} changed both here and on {r.name}; yours is kept as it is "
                    f"({r.name}'s is {r.drafts}{label})."
                )
    for label, last in sync.gone_drafts.items():
        here = mine.get(label)
        if here is None:
            continue
        if _keeps(wb, here, None, last):
            sync.notes.append(f"Draft {label} is gone from {r.name} but changed here since: kept.")
            continue
        from gitbench.services import discard, drafts

        if drafts.running_job(wb, DRAFT_PREFIX + label) is not None:
            # A job works in it here: its steps are changes made here. (Discarding waits for the job to end, and
            # would then throw away the step it just recorded as "not changed here".)
            sync.notes.append(f"Draft {label} is gone from {r.name} but a job works in it here: kept.")
            continue

        try:
            res = discard.discard(wb, label)
        except errors.GitbenchError as exc:
            sync.notes.append(
                f"Draft {label} is gone from {r.name} (published or discarded there); kept here: {exc.message}"
            )
            continue
        sync.notes.append(f"Draft {label} is gone from {r.name} (published or discarded there): {res.summary}")


def _result(wb: Workbench, op: str, sync: Sync) -> OperationResult:
    r = sync.remote
    parts = []
    if op == "push":
        parts.append(
            f"Pushed to {r.name}: {', '.join(sync.pushed[:6])}"
            + (f" and {len(sync.pushed) - 6} more" if len(sync.pushed) > 6 else "")
            if sync.pushed
            else f"{r.name} already had everything."
        )
    else:
        parts.append(f"Pulled from {r.name}.")
    if sync.checkpoints_new:
        parts.append(f"{sync.checkpoints_new} new checkpoint(s) from {r.name}.")
    if sync.records_merged:
        parts.append(f"Records merged with {r.name}'s.")
    # Said of the Drafts still open (one the pull closed as published needs no word).
    news = [note for label, note in sync.news.items() if wb.git.ref(DRAFT_PREFIX + label) is not None]
    return OperationResult(
        operation=op,
        summary=" ".join(parts),
        published=wb.git.ref(wb.published_ref),
        notes=list(wb.recovered) + news + sync.notes,
        data={
            "remote": r.name,
            "url": r.url,
            "pushed": sync.pushed,
            "new_checkpoints": sync.checkpoints_new,
            "records_merged": sync.records_merged,
            "server_published": wb.git.ref(r.published),
        },
    )


# -- publish --remote -------------------------------------------------------------------------------------------


def publish_cas(wb: Workbench, r: Remote, old: str, new: str) -> None:
    """Move the server's Published from ``old`` (what ours is, and what the Draft was made from) to ``new``, as a
    compare-and-swap. Raises RemoteMoved (nothing changed anywhere) if the server is not at ``old``."""
    try:
        res = gitremote.push(
            wb.git.gitdir, r.name, [f"{new}:{wb.published_ref}"], {wb.published_ref: old}, atomic=False, url=r.url
        )
    except errors.RemoteError as exc:  # broke off: did the server take it before it went?
        if gitremote.no_repository(exc):  # no repository there: nothing was sent
            raise
        why = exc.message.split(": ", 1)[-1].split(". Nothing")[0]
        try:
            server = gitremote.ls_remote(wb.git.gitdir, r.name, [wb.published_ref], r.url).get(wb.published_ref)
        except errors.RemoteError:
            raise errors.RemoteError(
                f"The publish to {r.name} broke off ({why}), and the server cannot be asked whether it arrived. "
                "Nothing was published here: your Published and the Draft are as they were. Run the same publish "
                "again when the server is back: if it had arrived, the publish finishes here.",
                [errors.Action("When the server is back", "publish", ("--remote", r.name))],
                {"remote": r.name},
            ) from exc
        if server == new:
            _followed(wb, r, new)
            return
        raise errors.RemoteError(
            f"The publish to {r.name} broke off ({why}); asked again, the server's Published is "
            + ("as it was" if server == old else f"at {(server or 'nothing')[:12]}")
            + ". Nothing was published here: your Published and the Draft are as they were.",
            [errors.Action("Publish again", "publish", ("--remote", r.name))],
            {"remote": r.name, "server": server},
        ) from exc
    if res.ok:
        _followed(wb, r, new)
        return
    # Refused: ask what the server has without fetching anything (the Workbench stays exactly as it was).
    server = gitremote.ls_remote(wb.git.gitdir, r.name, [wb.published_ref], r.url).get(wb.published_ref)
    if server == new:  # it went through after all (an answer lost on the way back)
        _followed(wb, r, new)
        return
    if server is None:
        raise errors.RemoteError(
            f"{r.name} has no Published branch ({wb.branch}) yet: share the Workbench first. Nothing was published.",
            [errors.Action("Share it", "push", (r.name,)), errors.Action("Then publish again")],
        )
    if server != old:
        seen = wb.git.ref(r.followed) or wb.git.ref(r.published)
        if seen is not None and wb.git.exists(server) and not wb.git.is_ancestor(seen, server):
            raise restored_there(wb, r, seen, server, old, "publish")  # a teammate's restore there
        raise moved(wb, r, old, server, "publish")
    words = res.server_words
    raise errors.RemoteError(
        f"{r.name} refused the publish: {'; '.join(line.summary for line in res.rejected) or res.stderr.strip()}"
        + (f". It said: {words}" if words else "")
        + ". Nothing was published.",
        [_SERVER_RULES],
        {"server_said": words},
    )


# A server's rule refused (a protected branch or tag, a hook). Its words are in the message; no command here can
# ask it more (`git push --dry-run` never reaches the server's hooks: it says the push would go through).
_SERVER_RULES = errors.Action(
    "Ask whoever runs the server, or change its rules for these refs (a protected branch or tag, a hook): see "
    "docs/teams.md#servers"
)


# -- remote setup -----------------------------------------------------------------------------------------------


def setup(wb: Workbench, name: str | None = None) -> OperationResult:
    """Refspecs in the Git config so plain `git fetch` / `git push` carry gitbench's refs too."""
    r = resolve(wb, name)
    fetch_specs = [
        f"+refs/gitbench/records:{r.records}",
        f"{CHECKPOINT_PREFIX}*:{CHECKPOINT_PREFIX}*",
    ]
    push_specs = [
        f"refs/heads/{wb.branch}:refs/heads/{wb.branch}",
        f"{CHECKPOINT_PREFIX}*:{CHECKPOINT_PREFIX}*",
        f"{RECORDS_REF}:{RECORDS_REF}",
    ]
    added = []
    with wb.changing("remote setup"):
        if not wb.git.config_all(f"remote.{r.name}.fetch"):
            fetch_specs.insert(0, f"+refs/heads/*:refs/remotes/{r.name}/*")
        for spec in fetch_specs:
            if spec not in wb.git.config_all(f"remote.{r.name}.fetch"):
                wb.git.config_add(f"remote.{r.name}.fetch", spec)
                added.append(f"remote.{r.name}.fetch {spec}")
        for spec in push_specs:
            if spec not in wb.git.config_all(f"remote.{r.name}.push"):
                wb.git.config_add(f"remote.{r.name}.push", spec)
                added.append(f"remote.{r.name}.push {spec}")
    return OperationResult(
        operation="remote setup",
        summary=(
            f"Plain `git fetch {r.name}` and `git push {r.name}` now carry Published, checkpoints and records."
            if added
            else f"{r.name} was set up already."
        ),
        notes=[f"Added {a}" for a in added]
        + [
            "`git push` now pushes exactly these refs (Published, checkpoints, records); push other branches by name.",
            "A plain `git push` of the records is refused when a teammate pushed first: `gitbench push` merges and "
            "pushes them.",
        ],
        data={"remote": r.name, "added": added},
    )
