"""gitbench/store/records.py in-process against real repositories: the records chain is read and written as
JSON documents and JSON lines, a broken ref is refused (never a new chain over the old one), and two clones'
chains merge with nothing lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.git.objects import Entry, Mode
from gitbench.git.repo import GitRepo, RefMoved
from gitbench.model import RECORDS_REF
from gitbench.store import records as records_module
from gitbench.store.records import Lines, Records
from tests.conftest import git, make_project


@pytest.fixture
def records(tmp_path: Path) -> Records:
    return Records(GitRepo(str(make_project(tmp_path / "p"))))


def test_before_any_write_there_are_no_records_and_reading_finds_nothing(records: Records) -> None:
    assert records.head() is None and records.tree() is None
    assert records.read("jobs/x.json") is None and records.read_lines("chat/x.jsonl") == []
    assert records.list("jobs") == []


def test_documents_and_lines_are_written_read_listed_and_deleted(records: Records) -> None:
    first = records.write({"jobs/a.json": {"id": "a"}, "chat/c.jsonl": Lines([{"n": 1}, {"n": 2}])}, "write\n")
    assert records.read("jobs/a.json") == {"id": "a"}
    assert records.read_lines("chat/c.jsonl") == [{"n": 1}, {"n": 2}]
    assert records.read("jobs/none.json") is None and records.read_lines("chat/none.jsonl") == []
    assert records.list("jobs") == ["a.json"] and records.list("none") == []
    assert records.read("chat/c.jsonl") is None  # two documents are not one: unreadable as a document
    repo = records.repo
    torn = Entry(repo.create_blob(b'{"n": 1}\n{"n": 2, half a line\n'), Mode.REGULAR)
    records.set_tree(repo.tree_with_changes(records.tree(), {"chat/c.jsonl": torn}), "a torn line\n")
    assert records.read_lines("chat/c.jsonl") == [{"n": 1}]  # the torn line is skipped, the rest read
    records.write({"jobs/a.json": None}, "delete\n")
    assert records.read("jobs/a.json") is None and records.read("jobs/a.json", at=first) == {"id": "a"}
    assert repo.commit(records.head() or "").parents[0] != first  # the chain only grows


def test_a_records_ref_holding_garbage_is_refused_with_how_to_repair_it(records: Records) -> None:
    records.write({"jobs/a.json": {"id": "a"}}, "write\n")
    ref_file = Path(records.repo.gitdir, *RECORDS_REF.split("/"))
    ref_file.write_text("garbage\n")
    with pytest.raises(errors.FileIOError) as info:
        records.head()
    assert "cannot be read: its ref file holds no valid commit id. Nothing was changed." in info.value.message
    assert any(a.text and a.text.startswith(f"rm {ref_file}") for a in info.value.actions)
    with pytest.raises(errors.FileIOError):
        records.write({"jobs/b.json": {}}, "must not start a new chain\n")
    assert ref_file.read_text() == "garbage\n"


def test_two_clones_records_merge_with_nothing_lost(tmp_path: Path) -> None:
    wd = make_project(tmp_path / "p")
    ours = Records(GitRepo(str(wd)))
    base = ours.write(
        {"jobs/same.json": {"v": 0}, "jobs/gone.json": {"v": 0}, "chat/c.jsonl": Lines([{"n": 0}])}, "base\n"
    )
    # Their side: written on another clone, from the same base (a branch of the chain).
    theirs_head = ours.write(
        {
            "jobs/same.json": {"v": "theirs", "updated": 200},
            "jobs/gone.json": {"v": "changed there"},
            "chat/c.jsonl": Lines([{"n": 0}, {"n": "theirs"}]),
            "chat/current.json": {"name": "theirs"},
            "jobs/new-there.json": {"v": 1},
        },
        "theirs\n",
    )
    git(wd, "update-ref", RECORDS_REF, base)
    ours.write(
        {
            "jobs/same.json": {"v": "ours", "updated": 100},
            "jobs/gone.json": None,
            "chat/c.jsonl": Lines([{"n": 0}, {"n": "ours"}]),
            "chat/current.json": {"name": "ours"},
        },
        "ours\n",
    )
    head, both = ours.merge(theirs_head, "merge\n")
    assert sorted(both) == ["chat/c.jsonl", "chat/current.json", "jobs/gone.json", "jobs/same.json"]
    assert ours.repo.commit(head).parents[1] == theirs_head
    assert ours.read("jobs/same.json") == {"v": "theirs", "updated": 200}  # the newer in place
    aside = [p for p in ours.list("conflicts/jobs")]
    assert len(aside) == 1 and ours.read(f"conflicts/jobs/{aside[0]}") == {"v": "ours", "updated": 100}
    assert ours.read("jobs/gone.json") == {"v": "changed there"}  # deleted here, changed there: kept
    assert ours.read_lines("chat/c.jsonl") == [{"n": 0}, {"n": "ours"}, {"n": "theirs"}]
    assert ours.read("chat/current.json") == {"name": "ours"}  # a pointer: this clone's own
    assert ours.read("jobs/new-there.json") == {"v": 1}
    # Merging again changes nothing; a chain that contains ours is taken as it is.
    assert ours.merge(theirs_head, "again\n") == (head, [])
    later = ours.write({"jobs/later.json": {}}, "later\n")
    git(wd, "update-ref", RECORDS_REF, head)
    assert ours.merge(later, "fast-forward\n") == (later, [])


def test_documents_kept_as_ours_stay_in_place_and_theirs_goes_beside_them(tmp_path: Path) -> None:
    """``keep`` (the job records of a Draft a pull keeps as it is here): ours stays in place even when theirs is
    newer, or when only their side changed it (a chain that contains ours is merged, not fast-forwarded); theirs
    goes under conflicts/; a deletion there leaves ours; every other file merges as always."""
    wd = make_project(tmp_path / "p")
    records = Records(GitRepo(str(wd)))
    theirs = branch_chains(
        wd,
        records,
        {"jobs/kept.json": {"v": "ours", "updated": 100}, "jobs/other.json": {"v": "ours", "updated": 100}},
        {
            "jobs/kept.json": {"v": "theirs", "updated": 200},
            "jobs/other.json": {"v": "theirs", "updated": 200},
            "jobs/base.json": None,
        },
    )
    head, both = records.merge(theirs, "merge\n", keep={"jobs/kept.json", "jobs/base.json"})
    assert sorted(both) == ["jobs/base.json", "jobs/kept.json", "jobs/other.json"]
    assert records.read("jobs/kept.json") == {"v": "ours", "updated": 100}
    assert records.read("jobs/other.json") == {"v": "theirs", "updated": 200}  # not kept: the newer, as always
    assert records.read("jobs/base.json") == {"v": 0}  # deleted there, kept here: ours stays
    aside = {name: records.read(f"conflicts/jobs/{name}") for name in records.list("conflicts/jobs")}
    assert sorted(aside.values(), key=str) == [{"v": "ours", "updated": 100}, {"v": "theirs", "updated": 200}]
    # Only their side changed it since: merged (ours in place, theirs beside it), not fast-forwarded.
    later = records.write({"jobs/kept.json": {"v": "theirs again", "updated": 300}, "jobs/new.json": {}}, "later\n")
    git(wd, "update-ref", RECORDS_REF, head)
    merged, both = records.merge(later, "merge\n", keep={"jobs/kept.json"})
    assert both == ["jobs/kept.json"] and list(records.repo.commit(merged).parents) == [head, later]
    assert records.read("jobs/kept.json") == {"v": "ours", "updated": 100} and records.read("jobs/new.json") == {}
    assert {"v": "theirs again", "updated": 300} in [
        records.read(f"conflicts/jobs/{n}") for n in records.list("conflicts/jobs")
    ]
    # A chain that leaves the kept documents alone is fast-forwarded as always.
    plain = records.write({"jobs/plain.json": {}}, "plain\n")
    git(wd, "update-ref", RECORDS_REF, merged)
    assert records.merge(plain, "ff\n", keep={"jobs/kept.json"}) == (plain, [])


def test_merge_over_a_restore_there_keeps_ours_for_what_it_took_back_and_takes_the_rest(tmp_path: Path) -> None:
    """``merge_over`` (push --overwrite-published over a restore there): what their restore took back or turned
    back stays ours, what they changed after it (or beside it) is taken as in any merge, ``leave`` is not taken;
    both chains are parents, and the ref does not move until ``advance``."""
    wd = make_project(tmp_path / "p")
    records = Records(GitRepo(str(wd)))
    base = records.write(
        {"jobs/old.json": {"v": 0}, "jobs/bad.json": {"v": "published"}, "chat/c.jsonl": Lines([{"n": 1}])},
        "base\n",
    )
    before_bad = records.repo.commit(records.write({"jobs/bad.json": None}, "the checkpoint's records\n")).tree
    git(wd, "update-ref", RECORDS_REF, base)
    records.write({"jobs/bad.json": {"v": "published", "updated": 5}}, "bad, later\n")
    theirs = records.set_tree(before_bad, f"{records_module.RESTORE_SUBJECT}checkpoint/x\n")
    theirs = records.write(
        {"chat/c.jsonl": Lines([{"n": 1}, {"n": 2}]), "jobs/after.json": {}, "jobs/theirs.json": {}}, "after\n"
    )
    git(wd, "update-ref", RECORDS_REF, base)
    ours = records.write({"jobs/mine.json": {}}, "mine\n")
    commit, dropped = records.merge_over(theirs, "over\n", leave={"jobs/after.json"})
    assert records.head() == ours  # not yet: the server must take it first
    assert list(records.repo.commit(commit).parents) == [ours, theirs]
    assert dropped == ["jobs/after.json", "jobs/bad.json"]
    assert records.read("jobs/bad.json", at=commit) == {"v": "published"}  # the restore's deletion not taken
    assert records.read("jobs/after.json", at=commit) is None  # left out by the caller
    assert records.read("jobs/theirs.json", at=commit) == {} and records.read("jobs/mine.json", at=commit) == {}
    assert records.read_lines("chat/c.jsonl", at=commit) == [{"n": 1}, {"n": 2}]  # changed after the restore
    records.advance(commit, ours, "over\n")
    assert records.head() == commit
    # A chain already in ours: nothing to merge.
    assert records.merge_over(ours, "again\n") == (commit, [])


def test_put_takes_another_chains_version_of_a_file_byte_for_byte_and_deletes_a_copy(records: Records) -> None:
    theirs = records.write({"jobs/a.json": {"v": "theirs"}}, "theirs\n")
    blob = records.repo.tree_entry(records.repo.commit(theirs).tree, "jobs/a.json")
    assert blob is not None
    records.write({"jobs/a.json": {"v": "ours"}, "conflicts/jobs/a.x.json": {"v": "theirs"}}, "ours\n")
    head = records.put({"jobs/a.json": blob.oid, "conflicts/jobs/a.x.json": None}, "take theirs\n")
    assert records.repo.tree_entry(records.repo.commit(head).tree, "jobs/a.json") == blob
    assert records.read("jobs/a.json") == {"v": "theirs"} and records.list("conflicts") == []


def test_a_clone_with_no_records_takes_the_other_chain_as_it_is(tmp_path: Path) -> None:
    wd = make_project(tmp_path / "p")
    records = Records(GitRepo(str(wd)))
    theirs = records.write({"jobs/a.json": {}}, "theirs\n")
    git(wd, "update-ref", "-d", RECORDS_REF)
    assert records.merge(theirs, "take\n") == (theirs, [])
    assert git(wd, "rev-parse", RECORDS_REF).strip() == theirs


def test_documents_of_a_folder_come_from_one_commit_and_none_before_any_write(records: Records) -> None:
    assert records.documents("jobs") == []
    records.write({"jobs/b.json": {"id": "b"}, "jobs/a.json": {"id": "a"}, "chat/c.jsonl": Lines([{}])}, "w\n")
    assert [p for p, _ in records.documents("jobs")] == ["a.json", "b.json"]
    assert json.loads(dict(records.documents("jobs"))["a.json"]) == {"id": "a"}
    assert records.documents("none") == []


def branch_chains(wd: Path, records: Records, ours: dict[str, object], theirs: dict[str, object]) -> str:
    """Two chains from one base: ``theirs`` written and set aside, then ``ours``; their head."""
    base = records.write({"jobs/base.json": {"v": 0}}, "base\n")
    theirs_head = records.write(theirs, "theirs\n")
    git(wd, "update-ref", RECORDS_REF, base)
    records.write(ours, "ours\n")
    return theirs_head


def test_a_merge_where_both_clones_made_the_same_change_adds_nothing_and_reports_no_conflict(tmp_path: Path) -> None:
    wd = make_project(tmp_path / "p")
    records = Records(GitRepo(str(wd)))
    same = {"jobs/a.json": {"id": "a", "v": 1}}
    theirs = branch_chains(wd, records, dict(same), dict(same))
    ours = records.head()
    head, both = records.merge(theirs, "merge\n")
    assert both == []
    assert list(records.repo.commit(head).parents) == [ours, theirs]
    assert records.repo.commit(head).tree == records.repo.commit(ours or "").tree  # our tree as it is
    assert records.list("conflicts") == []


@pytest.mark.parametrize(
    ("ours_doc", "theirs_doc"),
    [
        ('{"id": torn', '{"id": "b", "updated": 5}'),  # not JSON: counts as oldest
        ('{"id": "a"}', '{"id": "b", "updated": "yesterday", "ended": 7}'),  # a time that is no number: the next
        ('["a", "list"]', '{"id": "b"}'),  # neither has a time: the content decides
    ],
)
def test_a_document_changed_on_both_clones_without_a_usable_time_is_kept_by_a_fixed_rule_and_nothing_is_lost(
    tmp_path: Path, ours_doc: str, theirs_doc: str
) -> None:
    wd = make_project(tmp_path / "p")
    records = Records(GitRepo(str(wd)))
    repo = records.repo
    base = records.write({"jobs/x.json": {"v": 0}}, "base\n")

    def raw(text: str) -> str:  # a commit on ``base`` whose jobs/x.json holds exactly ``text``
        entry = Entry(repo.create_blob(text.encode()), Mode.REGULAR)
        git(wd, "update-ref", RECORDS_REF, base)
        return records.set_tree(repo.tree_with_changes(records.tree(), {"jobs/x.json": entry}), "raw\n")

    theirs = raw(theirs_doc)
    ours = raw(ours_doc)
    head, both = records.merge(theirs, "merge\n")
    assert both == ["jobs/x.json"]
    tree = repo.commit(head).tree
    kept = repo.blob(repo.tree_entry(tree, "jobs/x.json").oid).decode()  # type: ignore[union-attr]
    aside = records.list("conflicts/jobs")
    assert len(aside) == 1 and aside[0].startswith("x.") and aside[0].endswith(".json")
    other = repo.blob(repo.tree_entry(tree, f"conflicts/jobs/{aside[0]}").oid).decode()  # type: ignore[union-attr]
    assert {kept, other} == {ours_doc, theirs_doc}  # one in place, the other beside it
    if "updated" in theirs_doc:  # theirs has a time, ours none: theirs is the newer
        assert kept == theirs_doc
    else:  # no time on either side: the content decides (the higher blob id), the same on every clone
        assert kept == max((ours_doc, theirs_doc), key=lambda d: repo.create_blob(d.encode()))
    # Every clone picks the same: merging the other way round keeps the same document in place.
    git(wd, "update-ref", RECORDS_REF, theirs)
    head2, _ = records.merge(ours, "merge the other way\n")
    assert repo.blob(repo.tree_entry(repo.commit(head2).tree, "jobs/x.json").oid).decode() == kept  # type: ignore[union-attr]


def test_a_records_ref_moved_by_an_outside_writer_during_a_write_is_not_overwritten(
    records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = records.write({"jobs/a.json": {"id": "a"}}, "first\n")
    wd = records.repo.workdir
    outside = git(wd, "commit-tree", "-p", first, "-m", "outside", records.tree() or "").strip()
    real_point = records_module.faults.point

    def outside_writer(name: str) -> None:  # another program moves the ref just before ours is set
        if name == "records.before-ref":
            git(wd, "update-ref", RECORDS_REF, outside)
        real_point(name)

    monkeypatch.setattr(records_module.faults, "point", outside_writer)
    with pytest.raises(RefMoved):
        records.write({"jobs/b.json": {"id": "b"}}, "ours\n")
    assert records.head() == outside  # the outside writer's commit stays; ours was not forced over it
