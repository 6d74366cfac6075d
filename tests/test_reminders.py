"""Draft age reminders (24 h) and the stale-Draft prompt (7 days idle), driven by GITBENCH_NOW only; the
interactive prompts (stale Draft: Discard / Keep; a job while a Draft is open: Publish / Discard / Cancel)
answered on a real pseudo-terminal."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from gitbench import clock
from tests.conftest import Snapshot, check_invariants, git, gitbench
from tests.terminal import Terminal

T0 = 1_767_225_600  # 2026-01-01 00:00 UTC: when the job ran
HOUR = 3600
DAY = 24 * HOUR


def at(ts: float) -> dict[str, str]:
    return {"GITBENCH_NOW": str(int(ts)), "COLUMNS": "250"}


def open_draft(repo: Path, when: float = T0, name: str = "note.txt", text: str = "draft\n") -> dict[str, Any]:
    res = gitbench(
        repo,
        "exec",
        "--json",
        "--",
        sys.executable,
        "-c",
        f"import pathlib; pathlib.Path({name!r}).write_text({text!r})",
        env=at(when),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)["result"]["job"]


def status(repo: Path, when: float) -> dict[str, Any]:
    res = gitbench(repo, "status", "--json", env=at(when))
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["result"]


def drafts(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()


REMINDER = f"You have an open Draft from {clock.iso(T0)}. Review and publish or discard?"


def stale(last: float) -> str:
    return f"A stale Draft was found (last modified {clock.iso(last)}). Discard it?"


# -- reminders in status ------------------------------------------------------------------------------------------


def test_a_draft_younger_than_24_hours_gets_no_reminder(workbench: Path) -> None:
    open_draft(workbench)
    st = status(workbench, T0 + 23 * HOUR + 59 * 60)
    assert st["reminders"] == [] and st["draft"]["reminder"] is None and st["draft"]["stale"] is False
    text = gitbench(workbench, "status", env=at(T0 + 23 * HOUR)).stdout
    assert "reminder:" not in text and "Draft found" not in text


def test_a_draft_older_than_24_hours_gets_the_gentle_reminder_with_its_date(workbench: Path) -> None:
    open_draft(workbench)
    text = gitbench(workbench, "status", env=at(T0 + 25 * HOUR)).stdout
    assert REMINDER in text
    assert "2026-01-01 00:00 UTC" in text
    st = status(workbench, T0 + 3 * DAY)
    assert [r for r in st["reminders"] if REMINDER in r] == st["reminders"] and len(st["reminders"]) == 1
    assert st["draft"]["reminder"].startswith(REMINDER)
    assert st["draft"]["stale"] is False


def test_a_draft_idle_for_7_days_asks_discard_or_keep(workbench: Path) -> None:
    open_draft(workbench)
    text = gitbench(workbench, "status", env=at(T0 + 7 * DAY)).stdout
    assert stale(T0) in text
    assert "Discard: `gitbench discard`" in text and "Keep: `gitbench keep`" in text
    assert REMINDER not in text  # the stale prompt replaces the gentle reminder
    st = status(workbench, T0 + 8 * DAY)
    assert st["draft"]["stale"] is True
    assert len(st["reminders"]) == 1 and st["reminders"][0].startswith(stale(T0))


def test_activity_on_the_draft_resets_the_stale_clock(workbench: Path) -> None:
    job = open_draft(workbench)
    # Another step on the Draft two days later (made with git, as a job's second step would be).
    env = {"GIT_COMMITTER_DATE": f"@{T0 + 2 * DAY} +0000", "GIT_AUTHOR_DATE": f"@{T0 + 2 * DAY} +0000"}
    tree = git(workbench, "rev-parse", f"{job['draft']}^{{tree}}").strip()
    head = git(workbench, "rev-parse", job["draft"]).strip()
    step = git(workbench, "commit-tree", tree, "-p", head, "-m", "more work", env=env).strip()
    git(workbench, "update-ref", job["draft"], step, head)
    st = status(workbench, T0 + 8 * DAY)
    assert st["draft"]["stale"] is False and st["reminders"] == [st["draft"]["reminder"]]
    assert st["draft"]["reminder"].startswith(REMINDER)
    st = status(workbench, T0 + 9 * DAY)
    assert st["draft"]["stale"] is True
    assert st["reminders"][0].startswith(stale(T0 + 2 * DAY))


def test_keep_silences_the_stale_prompt_for_7_more_days(workbench: Path) -> None:
    job = open_draft(workbench)
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "keep", "--json", env=at(T0 + 7 * DAY))
    assert res.returncode == 0, res.stderr
    assert job["id"] in json.loads(res.stdout)["result"]["summary"]
    for day in (7, 10, 13):
        st = status(workbench, T0 + day * DAY + HOUR)
        assert st["draft"]["stale"] is False, day
        assert all("stale" not in r for r in st["reminders"])
        assert st["reminders"] == [st["draft"]["reminder"]] and REMINDER in st["reminders"][0]
    st = status(workbench, T0 + 14 * DAY)
    assert st["draft"]["stale"] is True and st["reminders"][0].startswith(stale(T0))
    check_invariants(workbench, before, published_may_change=False)
    assert drafts(workbench) == list(before.drafts)


def test_no_reminder_without_a_draft(workbench: Path) -> None:
    st = status(workbench, T0 + 30 * DAY)
    assert st["draft"] is None and st["reminders"] == []


# -- on a real terminal -------------------------------------------------------------------------------------------


def terminal(repo: Path, *args: str, when: float) -> Terminal:
    return Terminal(repo, list(args), at(when))


def test_on_a_terminal_answering_keep_to_the_stale_prompt_keeps_the_draft(workbench: Path) -> None:
    open_draft(workbench)
    before = Snapshot.take(workbench)
    term = terminal(workbench, "status", when=T0 + 8 * DAY)
    term.expect(stale(T0))
    term.expect("[discard/keep]")
    term.type("keep")
    assert term.finish() == 0
    assert "Kept. You will not be asked again for 7 days." in term.screen
    assert drafts(workbench) == list(before.drafts)
    assert status(workbench, T0 + 9 * DAY)["draft"]["stale"] is False
    check_invariants(workbench, before, published_may_change=False)


def test_on_a_terminal_answering_discard_to_the_stale_prompt_discards_it_recoverably(workbench: Path) -> None:
    job = open_draft(workbench)
    before = Snapshot.take(workbench)
    term = terminal(workbench, "status", when=T0 + 8 * DAY)
    term.expect(stale(T0))
    term.type("discard")
    assert term.finish() == 0
    assert f"Discarded the Draft {job['id']}" in term.screen
    assert drafts(workbench) == []
    check_invariants(workbench, before, published_may_change=False)
    res = gitbench(workbench, "discard", "--undo", env=at(T0 + 8 * DAY))
    assert res.returncode == 0, res.stderr
    assert drafts(workbench) == [job["draft"]]
    assert git(workbench, "show", f"{job['draft']}:note.txt") == "draft\n"


def test_on_a_terminal_the_stale_prompt_does_not_appear_for_a_fresh_draft(workbench: Path) -> None:
    open_draft(workbench)
    term = terminal(workbench, "status", when=T0 + HOUR)
    assert term.finish() == 0
    assert "Draft found" not in term.screen and "[discard/keep]" not in term.screen
    assert "Draft " in term.screen


@pytest.mark.parametrize("answer", ["publish", "discard", "cancel"])
def test_on_a_terminal_a_job_with_a_draft_open_asks_publish_discard_or_cancel(workbench: Path, answer: str) -> None:
    first = open_draft(workbench, name="first.txt", text="one\n")
    before = Snapshot.take(workbench)
    term = terminal(
        workbench,
        "exec",
        "--",
        sys.executable,
        "-c",
        "import pathlib; pathlib.Path('second.txt').write_text('two\\n')",
        when=T0 + HOUR,
    )
    term.expect("A Draft is open. Publish it, discard it, or cancel this job?")
    term.expect("[publish/discard/cancel]")
    term.type(answer)
    code = term.finish()
    now = drafts(workbench)
    if answer == "cancel":
        assert code == 130
        assert "Cancelled" in term.screen
        assert now == [first["draft"]]
        assert Snapshot.take(workbench).published == before.published
        assert not (workbench / "first.txt").exists()
        check_invariants(workbench, before, published_may_change=False)
        return
    assert code == 0, term.screen
    assert len(now) == 1 and now != [first["draft"]]  # the new job's Draft, and only it
    assert git(workbench, "show", f"{now[0]}:second.txt") == "two\n"
    if answer == "publish":
        assert (workbench / "first.txt").read_text() == "one\n"
        assert git(workbench, "show", "main:first.txt") == "one\n"
    else:
        assert not (workbench / "first.txt").exists()
        trash = git(workbench, "for-each-ref", "--format=%(objectname)", "refs/gitbench/trash/").split()
        assert before.drafts[first["draft"]] in trash
        assert Snapshot.take(workbench).published == before.published
    check_invariants(workbench, before)


def test_without_a_terminal_a_job_with_a_draft_open_fails_naming_the_three_choices(workbench: Path) -> None:
    open_draft(workbench)
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "exec", "--json", "--", "true", env={"CI": ""})
    assert res.returncode == 4
    err = json.loads(res.stdout)["error"]
    commands = " ".join(a["command"] for a in err["actions"])
    labels = " ".join(a["label"] for a in err["actions"])
    assert "--on-draft publish" in commands and "--on-draft discard" in commands and "Cancel" in labels
    check_invariants(workbench, before, published_may_change=False)
