"""The Draft: the prompts on opening (corrupted, stale), Publish (and its conflict prompt), Discard, Keep."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from gitbench import clock, errors
from gitbench.events import Event, describe
from gitbench.model import DraftInfo, OperationResult
from gitbench.services.workbench import Workbench
from gitbench.tui import calls
from gitbench.tui.flows.common import CANCEL, done, refresh, require_idle, which_draft

if TYPE_CHECKING:
    from gitbench.tui.app import GitbenchApp


async def opening(app: GitbenchApp) -> None:
    """The seed: on open, a corrupted Draft offers discard or restore, a Draft idle for 7 days asks Discard / Keep,
    and Review opens when a Draft is there. A Draft older than 24 h gets its reminder in the status bar."""
    await refresh(app)
    assert app.overview is not None
    st = app.overview.status
    if st.draft_problem:
        await corrupt_draft(app, None)
        return
    await stale_drafts(app, st.drafts)
    app.show_view("review" if app.overview.status.draft is not None else "menu")
    app.prefetch()


async def stale_drafts(app: GitbenchApp, infos: list[DraftInfo]) -> None:
    """The seed's stale-Draft prompt: Discard / Keep for each Draft idle for 7 days. With several Drafts open,
    each prompt lists every stale one (its label, when it was last modified, how long it has been idle) and
    asks about one of them by name, its buttons naming it too. Escape stops asking (nothing changes)."""
    stale = [d for d in infos if d.stale]
    for n, info in enumerate(stale):
        if len(infos) == 1:
            question = f"A stale Draft was found (last modified {clock.iso(info.last_activity)}). Discard it?"
            choices = [("discard", "Discard"), ("keep", "Keep")]
        else:
            now = clock.now()
            listed = "\n".join(
                f"  • {d.label}: last modified {clock.iso(d.last_activity)}, idle "
                f"{clock.human_age(now - d.last_activity)}" + ("  ← this one" if d is info else "")
                for d in stale[n:]  # those not answered yet
            )
            which = f" ({n + 1} of {len(stale)})" if len(stale) > 1 else ""
            left = len(stale) - n
            found = f"{left} stale Drafts were found" if left > 1 else "A stale Draft was found"
            question = f"{found}:\n{listed}\n\nDraft {info.label}{which}: discard it or keep it?"
            choices = [("discard", f"Discard {info.label}"), ("keep", f"Keep {info.label}")]
        # Each prompt its own id: the one just answered may still be leaving the screen as the next one comes.
        answer = await app.ask_choice(question, choices, "stale-draft" if n == 0 else f"stale-draft-{n + 1}")
        if answer == "discard":
            from gitbench.services import discard as discard_service

            done(app, await app.call(partial(discard_service.discard, label=info.label)))
        elif answer == "keep":
            done(app, await app.call(partial(_keep, label=info.label)))
        else:
            break
    if stale:
        await refresh(app)


def _keep(wb: Workbench, label: str | None) -> OperationResult:
    """`gitbench keep`."""
    from gitbench.services import drafts

    with wb.changing("keep"):
        label = drafts.label_of(drafts.require_draft(wb, label))
        drafts.keep(wb, label)
    return OperationResult("keep", f"Keeping the Draft {label}; you will not be asked for 7 days.")


async def corrupt_draft(app: GitbenchApp, exc: errors.DraftCorrupt | None) -> None:
    """The seed's "Draft missing or corrupted": publishing is blocked; offer discard or restore."""
    if exc is None:
        try:
            await app.call(calls.review)
            return
        except errors.DraftCorrupt as found:
            exc = found
    answer = await app.ask_choice(
        exc.message,
        [
            ("discard", "Discard the broken Draft"),
            ("restore", "Discard it, then restore a checkpoint"),
            ("cancel", "Not now"),
        ],
        "corrupt-draft",
    )
    if answer in ("discard", "restore"):
        from gitbench.services import discard as discard_service

        label = exc.details.get("draft")
        done(app, await app.call(lambda wb: discard_service.discard(wb, label)))
        if answer == "restore":
            app.show_view("checkpoints")
    else:
        app.show_error(exc)


# -- the Draft --------------------------------------------------------------------------------------------------
async def publish(app: GitbenchApp, label: str | None = None, no_check: bool = False) -> None:
    """Publish, through the same gate as the CLI: the configured check runs first (its progress in the status
    bar); a failure shows in the error banner with the check's last lines. Skipping the check (the banner's
    "Publish without the check") asks again first, and is recorded."""
    from gitbench.services import publish as publish_service

    require_idle(app, "publishing")
    if label is None:
        label = await which_draft(app, "publish")
    if label == CANCEL:
        app.say("Cancelled: nothing was changed.")
        return
    if no_check:
        answer = await app.ask_choice(
            "Publish without running the check? Published moves to the Draft untested; the skip is recorded "
            "(in the publish checkpoint's message and on the records ref).",
            [("publish", "Publish without the check"), ("cancel", "Cancel")],
            "confirm-no-check",
        )
        if answer != "publish":
            app.say("Cancelled: nothing was changed; the Draft is as it was.")
            return

    def say(event: Event) -> None:
        app.call_from_thread(app.say, describe(event))

    try:
        res = await app.call(lambda wb: publish_service.publish(wb, label, no_check=no_check, progress=say))
    except errors.PublishConflict as exc:
        resolved = await publish_conflict(app, exc, label, no_check)
        if resolved is None:
            return
        res = resolved
    except errors.DraftCorrupt as exc:
        await corrupt_draft(app, exc)
        return
    done(app, res)


async def publish_conflict(
    app: GitbenchApp, exc: errors.PublishConflict, label: str | None, no_check: bool = False
) -> OperationResult | None:
    """The seed's prompt on a publish conflict: Discard the Draft, or Restore Published from a checkpoint."""
    from gitbench.services import discard as discard_service
    from gitbench.services import publish as publish_service
    from gitbench.services import restore as restore_service

    # As the CLI's prompt: the checkpoint is the one the error's `restore ... --keep-draft` action names.
    where = exc.restore_point()
    choices = [("discard", "Discard the Draft")]
    if where:
        # The checkpoint taken where the Draft started; its name is long: the button says no more (the question
        # says where the Draft was made from).
        choices.append(("restore", f"Restore Published from {where}, then publish"))
    choices.append(("cancel", "Cancel"))
    answer = await app.ask_choice(exc.message, choices, "publish-conflict")
    if answer == "discard":
        return await app.call(lambda wb: discard_service.discard(wb, label))
    if answer == "restore" and where:
        app.show_result(await app.call(lambda wb: restore_service.restore(wb, where, keep_draft=True)))
        return await app.call(lambda wb: publish_service.publish(wb, label, no_check=no_check))
    app.say("Cancelled: nothing was changed; the Draft is as it was.")
    return None


async def discard(app: GitbenchApp) -> None:
    from gitbench.services import discard as discard_service
    from gitbench.services import drafts

    require_idle(app, "discarding")
    chosen = await which_draft(app, "discard")
    if chosen == CANCEL:
        app.say("Cancelled: nothing was changed.")
        return
    label = drafts.label_of(await app.call(lambda wb: drafts.require_draft(wb, chosen)))
    answer = await app.ask_choice(
        f"Discard the Draft {label}? (recoverable for 14 days)",
        [("discard", "Discard"), ("cancel", "Cancel")],
        "confirm-discard",
    )
    if answer != "discard":
        app.say("Cancelled: the Draft is as it was.")
        return
    done(app, await app.call(lambda wb: discard_service.discard(wb, label)))


async def undo_discard(app: GitbenchApp) -> None:
    from gitbench.services import discard as discard_service

    require_idle(app, "bringing back the Draft")
    done(app, await app.call(discard_service.undo))


async def keep(app: GitbenchApp) -> None:
    require_idle(app, "keeping the Draft")
    done(app, await app.call(lambda wb: _keep(wb, None)))
