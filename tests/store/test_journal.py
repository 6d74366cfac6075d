"""gitbench/store/journal.py: an unfinished operation is known to the next command, even from a torn write."""

from __future__ import annotations

from pathlib import Path

from gitbench.store.journal import Journal
from gitbench.store.journal_entries import Move, Op, Torn, to_json


def test_no_journal_means_nothing_unfinished_and_clear_is_idempotent(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "journal.json"))
    assert journal.read() is None
    journal.clear()
    journal.write(Move(Op.PUBLISH, "p1", "a", "b"))
    assert journal.read() == Move(Op.PUBLISH, "p1", "a", "b")
    journal.clear()
    assert journal.read() is None


def test_a_journal_that_cannot_be_parsed_is_a_torn_write_of_the_journal_itself(tmp_path: Path) -> None:
    (tmp_path / "journal.json").write_text('{"op": "pub')
    assert Journal(str(tmp_path / "journal.json")).read() == Torn()


def test_a_job_end_is_recorded_only_in_that_job_entry(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "journal.json"))
    assert journal.record_end("j1", {"status": "failed"}) is False  # no journal
    journal.write({"op": "publish"})
    assert journal.record_end("j1", {"status": "failed"}) is False  # another operation's
    journal.write({"op": "job", "id": "j2"})
    assert journal.record_end("j1", {"status": "failed"}) is False  # another job's
    journal.write({"op": "job", "id": "j1", "draft": "refs/heads/gitbench/draft/x"})
    assert journal.record_end("j1", {"status": "failed", "error": "boom"}) is True
    entry = journal.read()
    assert entry is not None and to_json(entry) == {
        "op": "job",
        "id": "j1",
        "draft": "refs/heads/gitbench/draft/x",
        "end": {"status": "failed", "error": "boom"},
    }
