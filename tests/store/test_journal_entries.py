"""store/journal.py, journal_entries.py: typed entries in the JSON every earlier version wrote (in-process)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitbench.store.journal import Journal
from gitbench.store.journal_entries import Attempts, Discard, Gc, JobRun, Move, Op, Torn, from_json, to_json

# Entries exactly as gitbench wrote them before they were typed (key order included).
OLD: list[tuple[dict[str, Any], type]] = [
    (
        {
            "op": "publish",
            "id": "20261203-101010-ab12",
            "old": "a" * 40,
            "new": "b" * 40,
            "draft": "refs/heads/gitbench/draft/fix-1",
            "draft_head": "b" * 40,
            "job": None,
            "files": True,
            "check": {"id": "c1", "command": "true", "status": "passed", "result": "passed"},
            "hidden": [],
            "submodules": [],
            "submodule_moves": [],
            "changes": [["src/a.py", ["c" * 40, 33188], ["d" * 40, 33188]]],
            "ref": "refs/heads/main",
            "untouched": [],
        },
        Move,
    ),
    (
        {
            "op": "restore",
            "id": "r1",
            "old": "a" * 40,
            "new": "b" * 40,
            "files": False,
            "checkpoint": "checkpoint/261203-101010-k3mq",
            "records_tree": None,
            "pre": None,
            "hidden": [],
            "submodules": [],
            "submodule_moves": [],
            "changes": [],
            "ref": "refs/heads/main",
            "untouched": [],
        },
        Move,
    ),
    ({"op": "fileop", "kind": "add", "id": "f1", "old": "a" * 40, "new": "b" * 40, "files": True}, Move),
    ({"op": "pull", "id": "p1", "old": "a" * 40, "new": "b" * 40, "files": True}, Move),
    (
        {
            "op": "discard",
            "id": "d1",
            "draft": "refs/heads/gitbench/draft/x",
            "draft_head": None,
            "rescued": "e" * 40,
            "trash": "refs/gitbench/trash/1764756610/x",
        },
        Discard,
    ),
    ({"op": "job", "id": "j1", "draft": "refs/heads/gitbench/draft/x", "pid": 4242}, JobRun),
    (
        {
            "op": "job",
            "id": "j1",
            "draft": "refs/heads/gitbench/draft/x",
            "pid": 4242,
            "end": {"status": "failed", "error": {"class": "disk-full"}},
        },
        JobRun,
    ),
    ({"op": "gc", "id": "g1", "time": 1764756610.5}, Gc),
    ({"op": "try", "jobs": ["j1", "j2"], "pid": 4242}, Attempts),
]


@pytest.mark.parametrize(("data", "kind"), OLD, ids=[f"{d['op']}-{i}" for i, (d, _) in enumerate(OLD)])
def test_an_entry_of_every_earlier_version_reads_as_its_type_and_is_written_back_the_same(
    data: dict[str, Any], kind: type, tmp_path: Path
) -> None:
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(data))
    entry = Journal(str(path)).read()
    assert isinstance(entry, kind)
    assert entry.op == Op(data["op"])
    assert to_json(entry) == data
    Journal(str(path)).write(entry)
    assert json.loads(path.read_text()) == data


def test_a_typed_move_writes_the_keys_an_older_gitbench_reads() -> None:
    publish = Move(Op.PUBLISH, "p", "a", "b", True, "refs/heads/gitbench/draft/x", "b", None)
    assert to_json(publish) == {
        "op": "publish",
        "id": "p",
        "old": "a",
        "new": "b",
        "files": True,
        "draft": "refs/heads/gitbench/draft/x",
        "draft_head": "b",
        "job": None,  # read as entry["job"] before: written although None
    }
    restore = Move(Op.RESTORE, "r", None, "b", False, checkpoint="checkpoint/1")
    assert to_json(restore) == {
        "op": "restore",
        "id": "r",
        "old": None,
        "new": "b",
        "files": False,
        "checkpoint": "checkpoint/1",
        "records_tree": None,
        "pre": None,
    }
    with pytest.raises(ValueError):
        Move(Op.JOB, "j", "a", "b")


def test_a_journal_that_cannot_be_acted_on_is_torn_and_no_journal_is_none(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    journal = Journal(str(path))
    assert journal.read() is None
    for text in ('{"op": "pub', "[1, 2]", "{}", '{"op": "rebase-v9", "id": "x"}', '{"op": "publish", "id": "x"}'):
        path.write_text(text)
        assert isinstance(journal.read(), Torn), text
    journal.clear()
    journal.clear()  # twice: nothing to remove is not an error
    assert journal.read() is None


def test_a_jobs_end_is_written_into_its_own_entry_only(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "journal.json"))
    end = {"status": "failed", "error": {"class": "disk-full"}}
    assert not journal.record_end("j1", end)  # no journal
    journal.write(Gc("g1", 1.0))
    assert not journal.record_end("j1", end)  # another operation's
    journal.write(JobRun("j2", "refs/heads/gitbench/draft/x", 7))
    assert not journal.record_end("j1", end)  # another job's
    journal.write({"op": "job", "id": "j1", "draft": "refs/heads/gitbench/draft/x", "pid": 7})  # the on-disk form
    assert journal.record_end("j1", end)
    entry = journal.read()
    assert isinstance(entry, JobRun) and entry.end == end and entry.pid == 7


keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10).map(lambda k: f"x_{k}")  # not a field
values = st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.lists(st.text(max_size=4), max_size=3)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.sampled_from([d for d, _ in OLD]), extra=st.dictionaries(keys, values, max_size=4))
def test_keys_a_version_does_not_know_are_kept_as_they_were(data: dict[str, Any], extra: dict[str, Any]) -> None:
    # A journal a newer gitbench wrote, read and rewritten by this one (record_end), keeps what it did not know.
    full = {**extra, **data}
    assert to_json(from_json(full)) == full
