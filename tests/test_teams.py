"""A Workbench shared by a team through a real Git server on 127.0.0.1 (issue 13's "Proof"), over `git daemon`
and `git http-backend` (tests/gitserver.py): two and three clones running jobs, checkpoints, publishes (here and
--remote), restores, pushes and pulls, in turn and at once; pushes interrupted by a killed server or a cut
network. After each step the server lost nothing and overwrote nothing unseen (tests/teams.py).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import Started, git, gitbench, make_project, start_gitbench
from tests.gitserver import GitServer
from tests.invariants import check_invariants
from tests.teams import (
    DRAFTS,
    PUBLISHED,
    RECORDS,
    TAGS,
    Clone,
    Outcome,
    ServerModel,
    check_checkpoints_usable,
    check_restore,
    make_team,
)

# Tests of gitbench's own logic run on one flavour of server, those of the transport on both.
ONE_FLAVOUR = pytest.mark.parametrize("git_server", ["daemon"], indirect=True)
OTHER_FLAVOUR = pytest.mark.parametrize("git_server", ["http"], indirect=True)


def tags_of(clone: Clone) -> dict[str, str]:
    return clone.refs(TAGS)


def at_once(*calls: tuple[Clone, tuple[str, ...]]) -> list[Outcome]:
    """Run gitbench commands in several clones at the same moment (threads, each a real process)."""
    barrier = threading.Barrier(len(calls))
    results: list[Outcome | BaseException] = [RuntimeError("did not run")] * len(calls)

    def run(i: int, clone: Clone, args: tuple[str, ...]) -> None:
        barrier.wait()
        try:
            results[i] = clone.run(*args)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c, a)) for i, (c, a) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if isinstance(r, Outcome)]


def background(clone: Clone, *args: str) -> Started:
    """`gitbench ARGS --json` in the clone, in a process of its own that runs while the test goes on."""
    return start_gitbench(clone.path, *args, "--json")


def finish(proc: Started, clone: Clone) -> Outcome:
    import json

    res = proc.communicate(timeout=120)
    out, err = res.stdout, res.stderr
    try:
        data = json.loads(out) if out.strip() else {}
    except ValueError:
        data = {}
    return Outcome(res.returncode, data, f"in {clone.name} -> {res.returncode}\n{out}{err}")


# -- sharing and adopting ---------------------------------------------------------------------------------------


def test_push_shares_published_checkpoints_and_records_and_a_clone_adopts_them(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob = make_team(git_server, tmp_path)
    refs = git_server.refs()
    assert refs[PUBLISHED] == alice.published
    assert refs[RECORDS] == alice.records
    assert {r: o for r, o in refs.items() if r.startswith(TAGS)} == tags_of(alice)
    # Bob's init took the server's Published and records: one records chain, the same checkpoints, no new root.
    assert bob.published == alice.published
    assert bob.records == alice.records
    assert [c["name"] for c in bob.checkpoints()] == [c["name"] for c in alice.checkpoints()]
    assert bob.git("config", "gitbench.published").strip() == "main"
    assert bob.git("rev-list", "--max-parents=0", RECORDS) == alice.git("rev-list", "--max-parents=0", RECORDS)
    check_restore(bob, bob.checkpoints()[0])


def test_init_in_a_clone_of_a_server_whose_head_names_a_missing_branch(git_server: GitServer, tmp_path: Path) -> None:
    """`git clone` leaves HEAD unborn when the server's HEAD names a branch it does not have (here `trunk`);
    init must adopt the server's Published and records, check its files out, and make no `master` or new root."""
    (alice,) = make_team(git_server, tmp_path, ("alice",))
    alice.job("alice was here")
    alice.ok("publish", "--remote")
    git_server.set_head("refs/heads/trunk")
    git(tmp_path, "clone", "-q", git_server.url, str(tmp_path / "bob"))
    bob = Clone("bob", tmp_path / "bob")
    out = bob.run("init")
    assert out.code == 0, out.text
    assert bob.published == git_server.refs()[PUBLISHED] == alice.published
    assert bob.records == git_server.refs()[RECORDS]
    assert bob.git("symbolic-ref", "HEAD").strip() == PUBLISHED
    assert (bob.path / "f.txt").read_text() == "alice was here\n"
    assert bob.git("status", "--porcelain") == ""
    assert bob.git("for-each-ref", "--format=%(refname)", "refs/heads/") == f"{PUBLISHED}\n"
    assert [c["name"] for c in bob.checkpoints()] == [c["name"] for c in alice.checkpoints()]


@ONE_FLAVOUR
def test_only_gitbench_refs_travel_and_a_clone_adopts_a_published_branch_that_is_not_the_servers_head(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Published is `develop` (the server's HEAD names `main`, which it does not have): a clone adopts
    `develop`. The user's own branches and tags stay home."""
    project = make_project(tmp_path / "alice")
    git(project, "checkout", "-q", "-b", "develop")
    alice = Clone("alice", project)
    alice.ok("init", "--published", "develop")
    alice.job("on develop")
    alice.ok("publish")
    git(project, "tag", "v1")
    git(project, "branch", "private")
    git(project, "remote", "add", "origin", git_server.url)
    alice.ok("push")
    refs = git_server.refs()
    assert refs["refs/heads/develop"] == alice.ref("develop")
    assert not {"refs/heads/main", "refs/heads/private", "refs/tags/v1"} & set(refs)
    git(tmp_path, "clone", "-q", git_server.url, str(tmp_path / "bob"))
    bob = Clone("bob", tmp_path / "bob")
    bob.ok("init")
    assert bob.git("config", "gitbench.published").strip() == "develop"
    assert bob.git("symbolic-ref", "HEAD").strip() == "refs/heads/develop"
    assert (bob.path / "f.txt").read_text() == "on develop\n"
    assert bob.refs("refs/heads/") == {"refs/heads/develop": alice.ref("develop")}


# -- teammates never refuse my push; a moved Published does --------------------------------------------------------


@OTHER_FLAVOUR
def test_teammates_checkpoints_jobs_and_conversations_never_refuse_my_push(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob, carol = make_team(git_server, tmp_path, ("alice", "bob", "carol"))
    model = ServerModel.of(git_server)
    jobs = {}
    for clone in (alice, bob, carol):  # each: a job (a checkpoint, a job record), a manual checkpoint; no pull
        jobs[clone.name] = clone.job(f"{clone.name}'s line", f"{clone.name}.txt")["job"]["id"]
        clone.ok("checkpoint", "-m", f"{clone.name}'s own")
    for clone in (carol, alice, bob):
        before = model.published
        out = clone.run("push")
        assert out.code == 0, out.text
        refs = model.check(published_may_move=False, why=f"{clone.name}'s push")
        assert refs[PUBLISHED] == before
        assert set(tags_of(clone)) <= set(refs), f"{clone.name}'s checkpoints did not all reach the server"
        assert clone.is_ancestor(clone.records or "", refs[RECORDS]) or clone.records == refs[RECORDS]
    # Every job record is readable in every clone after a pull, and every checkpoint listed is usable.
    for clone in (alice, bob, carol):
        out = clone.run("pull")
        assert out.code == 0, out.text
        for name, job_id in jobs.items():
            record = clone.job_record(job_id)
            assert record is not None, f"{clone.name} cannot read {name}'s job {job_id}"
            assert record["id"] == job_id
        assert set(tags_of(clone)) == set(model.tags)
        check_checkpoints_usable(clone)
    assert len({c.records for c in (alice, bob, carol)}) <= 2  # the last pusher's merge may be newer


@ONE_FLAVOUR
def test_a_moved_published_refuses_my_push_saying_what_moved_and_what_to_run(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob = make_team(git_server, tmp_path)
    model = ServerModel.of(git_server)
    alice.job("alice")
    alice.ok("publish", "--remote")
    model.check(published_may_move=True, why="alice's publish --remote")
    theirs = model.published
    assert theirs is not None
    bob.job("bob", "b.txt")
    bob.ok("publish")  # here only
    mine = bob.published
    out = bob.run("push")
    assert out.code == 19 and out.error["code"] == "remote-moved", out.text
    assert theirs[:12] in out.message, out.text  # what moved: the server's Published
    assert "gitbench pull" in out.message, out.text  # what to run
    model.check(published_may_move=False, why="bob's refused push")
    assert bob.published == mine
    # The documented way out: pull --keep-mine, rebase, publish --remote; nothing lost on either side.
    assert bob.run("pull", "--keep-mine").code == 0
    assert bob.run("rebase").code == 0
    out = bob.run("publish", "--remote")
    assert out.code == 0, out.text
    refs = model.check(published_may_move=True, why="bob's publish --remote after pull")
    assert git_server.git("show", f"{refs[PUBLISHED]}:f.txt") == "alice\n"
    assert git_server.git("show", f"{refs[PUBLISHED]}:b.txt") == "bob\n"


def documented_banners(code: str) -> list[str]:
    """The error banners of ``code`` that docs/teams.md shows, commit ids as ``ID``."""
    text = (Path(__file__).parent.parent / "docs" / "teams.md").read_text(encoding="utf-8")
    return [re.sub(r"\b[0-9a-f]{12}\b", "ID", b) for b in re.findall(rf"╭─ error: {code} .*?╯", text, re.S)]


@ONE_FLAVOUR
def test_the_remote_moved_errors_docs_teams_shows_are_what_push_and_publish_remote_print(
    git_server: GitServer, tmp_path: Path
) -> None:
    """The trial found docs/teams.md naming the server's Published with a subject where the command printed a
    commit id alone (publish --remote fetches nothing). Each banner it shows is printed as shown, ids aside: a
    push after publishing here (it fetched: the subject is known), a publish --remote (it did not: id alone)."""
    alice, bob, carol = make_team(git_server, tmp_path, ("alice", "bob", "carol"))
    alice.ok("exec", "--", "sh", "-c", "printf 'def parse(text):\\n    pass\\n' > src/parser.py")
    alice.ok("publish", "--remote")
    for clone in (bob, carol):
        assert clone.run("pull").code == 0
    alice.ok("exec", "--", "sed", "-i", "s/pass/return/", "src/parser.py")  # the subject the doc shows
    alice.ok("publish", "--remote")
    bob.job("bob", "b.txt")
    bob.ok("publish")  # here only
    carol.job("carol", "c.txt")
    printed = []
    for clone, args in ((bob, ("push",)), (carol, ("publish", "--remote"))):
        res = gitbench(clone.path, *args, env={"COLUMNS": "100"})
        assert res.returncode == 19, res.stderr
        printed.append(re.sub(r"\b[0-9a-f]{12}\b", "ID", res.stderr[res.stderr.index("╭─ error:") :].rstrip()))
    words = [" ".join(re.sub("[│╭╮╰╯─]", " ", p).split()) for p in printed]  # the banners unwrapped
    assert "(ID “exec: sed -i s/pass/return/ src/parser.py”)" in words[0], words
    assert "(its Published is ID)." in words[1] and "“" not in words[1], words
    assert documented_banners("remote-moved") == printed


@ONE_FLAVOUR
def test_sharing_a_restore_never_overwrites_a_publish_this_clone_has_not_seen(
    git_server: GitServer, tmp_path: Path
) -> None:
    """`push --overwrite-published` shares a restore, "still refused if the server moved since you last saw
    it": a teammate's publish made after my last pull must stay on the server."""
    alice, bob = make_team(git_server, tmp_path)
    alice.job("first")
    alice.ok("publish", "--remote")
    assert bob.run("pull").code == 0
    seen = bob.published
    back = next(c for c in bob.checkpoints() if c["commit"] != seen and bob.is_ancestor(c["commit"], seen))
    check_restore(bob, back)  # Bob goes back in time, here
    alice.job("second")
    alice.ok("publish", "--remote")  # ...while Alice publishes again, which Bob has not seen
    model = ServerModel.of(git_server)
    theirs = model.published
    out = bob.run("push", "--overwrite-published")
    model.check(published_may_move=True, backwards=True, why="bob's push --overwrite-published")
    assert git_server.refs()[PUBLISHED] == theirs, f"Alice's publish, unseen by Bob, was overwritten: {out.text}"
    assert out.code == 19, out.text


def _restored_on_the_server(git_server: GitServer, tmp_path: Path) -> tuple[Clone, Clone, str, str, str]:
    """Alice publishes a bad change with --remote, Bob pulls it, Alice restores the checkpoint before it and
    shares that restore (docs/teams.md). (alice, bob, the bad commit, the restored one, the bad job's id)."""
    alice, bob = make_team(git_server, tmp_path)
    bad_job = alice.job("bad")["job"]["id"]
    alice.ok("publish", "--remote")
    assert bob.run("pull").code == 0
    bad = bob.published
    assert bob.job_record(bad_job) is not None
    before = next(c for c in alice.checkpoints() if c["commit"] != bad and alice.is_ancestor(c["commit"], bad))
    check_restore(alice, before)
    assert alice.run("push", "--overwrite-published").code == 0
    restored = git_server.refs()[PUBLISHED]
    assert restored == before["commit"] != bad
    return alice, bob, bad, restored, bad_job


@ONE_FLAVOUR
def test_a_teammates_shared_restore_is_followed_by_pull_never_called_ahead(
    git_server: GitServer, tmp_path: Path
) -> None:
    """The trial's bug: after Alice's shared restore Bob's pull said "Your Published is ahead of origin's" and
    Bob's push put the bad change back on the server. Bob published nothing since: pull follows the restore,
    with a pre-restore checkpoint that undoes it."""
    alice, bob, bad, restored, bad_job = _restored_on_the_server(git_server, tmp_path)
    bob.git("fetch", "origin")  # what status says, as last seen, once the restore was fetched
    out = bob.run("status")
    assert "ahead" not in json.dumps(out.data), out.text
    assert "moved back" in json.dumps(out.data), out.text
    out = bob.run("pull")
    assert out.code == 0, out.text
    said = " ".join(out.result["notes"])
    assert "ahead" not in said, out.text
    assert "moved back" in said and restored[:12] in said, out.text
    # Who moved it back: the restore's own checkpoint on the server (Alice's), which keeps what was there.
    theirs = next(c for c in alice.checkpoints() if c["kind"] == "pre-restore")
    assert f"restore; {theirs['name']} keeps what was there" in said, out.text
    assert bob.published == restored
    assert not (bob.path / "f.txt").exists()  # the bad change is gone from the files too
    assert bob.job_record(bad_job) is None  # the records of the restore, with it
    assert bob.git("status", "--porcelain", "--untracked-files=no") == ""
    # Bob's push now changes nothing on the server's Published.
    assert bob.run("push").code == 0
    assert git_server.refs()[PUBLISHED] == restored
    # Undoable: the pre-restore checkpoint the pull took keeps Bob's Published and records as they were.
    pre = next(c for c in bob.checkpoints() if c["name"] in said and c["kind"] == "pre-restore" and c["commit"] == bad)
    check_restore(bob, pre)
    assert bob.published == bad and bob.job_record(bad_job) is not None


@ONE_FLAVOUR
def test_a_draft_open_during_a_teammates_shared_restore_is_rebased_onto_it_and_published(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Bob has a Draft open (made from Alice's publish) when Alice restores the checkpoint before that publish and
    shares the restore. Bob's pull follows it and says `gitbench rebase` brings his Draft up: the rebase puts his
    Draft's own changes on the restored Published (refused only for a file both changed), and he publishes it.
    Before, the rebase refused a Published that was "moved back" and offered only to discard his work, and
    publish called the restore a change "outside gitbench" and offered to restore Alice's publish back."""
    alice, bob = make_team(git_server, tmp_path)
    alice.job("bad")
    alice.ok("publish", "--remote")
    bob.ok("pull")
    bad = bob.published
    draft = bob.job("bob's work", "bob.txt")["draft"]
    label = draft.removeprefix(DRAFTS)
    before = next(c for c in alice.checkpoints() if c["commit"] != bad and alice.is_ancestor(c["commit"], bad))
    check_restore(alice, before)
    alice.ok("push", "--overwrite-published")
    restored = git_server.refs()[PUBLISHED]

    out = bob.run("pull")
    assert out.code == 0, out.text
    said = " ".join(out.result["notes"])
    assert f"{label} (`gitbench rebase` brings them up)" in said, out.text
    out = bob.run("publish")
    assert out.code == 7, out.text
    assert "outside gitbench" not in out.message and "moved back" in out.message, out.text
    assert "gitbench rebase" in out.message, out.text
    assert bob.published == restored
    out = bob.run("rebase")
    assert out.code == 0, out.text
    assert bob.git("rev-parse", f"{draft}~1").strip() == restored
    assert bob.git("show", f"{draft}:bob.txt") == "bob's work\n"
    assert bob.git("ls-tree", "--name-only", draft, "f.txt") == ""  # what the restore took back stays out
    bob.ok("publish", "--remote")
    assert git_server.refs()[PUBLISHED] == bob.published
    assert (bob.path / "bob.txt").read_text() == "bob's work\n" and not (bob.path / "f.txt").exists()
    check_invariants(bob.path)


@ONE_FLAVOUR
def test_pull_refuses_a_teammates_restore_when_this_clone_published_since(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob, bad, restored, bad_job = _restored_on_the_server(git_server, tmp_path)
    bob.job("bob", "b.txt")
    bob.ok("publish")  # here only, after seeing the bad change
    mine, records = bob.published, bob.records
    out = bob.run("pull")
    assert out.code == 19 and out.error["code"] == "remote-moved", out.text
    assert "moved back" in out.message and restored[:12] in out.message and mine[:12] in out.message, out.text
    commands = [a.get("command") for a in out.error["actions"]]
    assert "gitbench pull --keep-mine origin" in commands, out.text
    assert "gitbench push --overwrite-published origin" in commands, out.text
    assert bob.published == mine and bob.records == records  # nothing changed here
    assert git_server.refs()[PUBLISHED] == restored
    # Asked again, the same answer: a fetch did not make the restore forgotten.
    assert bob.run("pull").code == 19
    assert bob.run("push").code == 19 and git_server.refs()[PUBLISHED] == restored
    # The first way out: follow it, Bob's publishes kept as a Draft, a pre-restore checkpoint first.
    out = bob.run("pull", "--keep-mine")
    assert out.code == 0, out.text
    assert bob.published == restored
    assert [bob.ref(d) for d in bob.drafts()] == [mine]
    assert any(c["kind"] == "pre-restore" and c["commit"] == mine for c in bob.checkpoints())


@ONE_FLAVOUR
def test_overwrite_published_after_a_refused_pull_puts_mine_back_deliberately(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob, bad, restored, bad_job = _restored_on_the_server(git_server, tmp_path)
    bob.job("bob", "b.txt")
    bob.ok("publish")
    mine = bob.published
    assert bob.run("pull").code == 19
    out = bob.run("push", "--overwrite-published")
    assert out.code == 0, out.text
    assert git_server.refs()[PUBLISHED] == mine
    assert alice.run("pull").code == 0 and alice.published == mine  # for Alice it is a publish, not a restore


@ONE_FLAVOUR
def test_overwrite_published_over_a_teammates_restore_shares_records_that_agree_with_my_published(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Bob puts his Published back over Alice's shared restore (`push --overwrite-published`). The records he
    shares agree with it: the bad job's record, which her restore took out, is there (his Published holds that
    job), and her record of a publish his Published does not hold is not; what she did beside it (a Draft's job)
    is kept, and her records as the server had them stay in the history (a parent of the records shared)."""
    alice, bob, bad, restored, bad_job = _restored_on_the_server(git_server, tmp_path)
    after = alice.job("after the restore", "after.txt")["job"]["id"]
    alice.ok("publish", "--remote")  # a publish over her restore: "moved back and on to"
    aside = alice.job("a draft of hers", "aside.txt")["job"]["id"]
    alice.ok("push")  # her Draft's job record, not the Draft
    bob_job = bob.job("bob", "b.txt")["job"]["id"]
    bob.ok("publish")  # here only, after seeing the bad change
    mine = bob.published
    assert bob.run("pull").code == 19
    model = ServerModel.of(git_server)
    theirs = model.records
    assert theirs is not None
    out = bob.run("push", "--overwrite-published")
    assert out.code == 0, out.text
    refs = model.check(published_may_move=True, backwards=True, why="bob's push --overwrite-published")
    assert refs[PUBLISHED] == mine and refs[RECORDS] == bob.records, out.text
    assert bob.is_ancestor(theirs, bob.records)  # nothing of the server's records lost from the history
    assert (bob.job_record(bad_job) or {}).get("status") == "published", out.text
    assert (bob.job_record(bob_job) or {}).get("status") == "published", out.text
    assert bob.job_record(after) is None and bob.job_in_history(after), out.text
    assert bob.job_record(aside) is not None, out.text
    said = " ".join(out.result["notes"])
    assert "restore" in said and "history" in said, out.text
    # Alice follows: Bob's Published and the records that go with it.
    assert alice.run("pull").code == 0
    assert alice.published == mine
    assert (alice.job_record(bad_job) or {}).get("status") == "published"
    assert alice.job_record(after) is None and alice.job_record(aside) is not None
    assert alice.records == bob.records


@ONE_FLAVOUR
def test_push_and_publish_remote_never_undo_a_restore_this_clone_has_not_followed(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob, bad, restored, bad_job = _restored_on_the_server(git_server, tmp_path)
    # Bob has not pulled since Alice's restore: a plain git fetch does not make it seen either.
    bob.git("fetch", "origin")
    out = bob.run("push")
    assert out.code == 19 and out.error["code"] == "remote-moved", out.text
    assert "moved back" in out.message and "gitbench pull origin" in out.message, out.text
    assert git_server.refs()[PUBLISHED] == restored
    assert bob.published == bad
    out = bob.run("push", "--overwrite-published")  # the restore is known now: this is deliberate
    assert out.code == 0, out.text
    assert git_server.refs()[PUBLISHED] == bad


@ONE_FLAVOUR
def test_publish_remote_never_undoes_a_restore_this_clone_has_not_followed(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob, bad, restored, bad_job = _restored_on_the_server(git_server, tmp_path)
    bob.job("bob", "b.txt")
    draft = bob.drafts()
    out = bob.run("publish", "--remote")
    assert out.code == 19 and out.error["code"] == "remote-moved", out.text
    assert "moved back" in out.message and "gitbench pull origin" in out.message, out.text
    assert git_server.refs()[PUBLISHED] == restored
    assert bob.published == bad and bob.drafts() == draft
    out = bob.run("push")  # and the push the publish would have offered is refused too
    assert out.code == 19 and git_server.refs()[PUBLISHED] == restored


@ONE_FLAVOUR
def test_push_drafts_never_removes_a_teammates_draft_this_clone_never_had(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Bob shares his Draft; Alice, who never pulled Drafts, pushes hers after Bob's push moved the records
    (her first try is refused, she fetches and tries again): Bob's Draft stays on the server and at Bob's."""
    alice, bob = make_team(git_server, tmp_path)
    bob.job("bob's draft", "b.txt")
    assert bob.run("push", "--drafts").code == 0
    (bobs,) = bob.drafts()
    assert bobs in git_server.refs()
    alice.job("alice's draft", "a.txt")
    out = alice.run("push", "--drafts")
    assert out.code == 0, out.text
    refs = git_server.refs()
    assert alice.drafts()[0] in refs
    assert bobs in refs, f"alice's push --drafts removed Bob's Draft from the server: {out.text}"
    assert bob.run("pull", "--drafts").code == 0
    assert bobs in bob.refs(), "Bob's own Draft was taken away from him"


@ONE_FLAVOUR
def test_a_plain_pull_keeps_the_record_of_a_shared_draft_it_does_not_move_and_says_how_to_follow_it(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Alice rebases a Draft she shared and pushes it again. Bob's plain `gitbench pull` (no --drafts) leaves his
    copy of the Draft where it was, and now its job record too (it took hers, "rebased onto the new Published",
    while the branch stayed at the old head); it says the Draft moved on there and that `pull --drafts` brings
    it, which then brings the branch and her record together. Carol, who never had the Draft, gets it with the
    record of her head even after Bob's push put his in place on the server."""
    alice, bob, carol = make_team(git_server, tmp_path, ("alice", "bob", "carol"))
    bob.job("mine", "mine.txt")
    bob.ok("publish", "--remote")
    published = bob.published
    job = alice.job("shared", "shared.txt")["job"]["id"]  # made from the older Published
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    (draft,) = bob.drafts()
    label = draft.removeprefix(DRAFTS)
    old, old_base = bob.ref(draft), (bob.job_record(job) or {}).get("base")
    assert old_base != published
    alice.ok("pull")
    alice.ok("rebase")
    alice.ok("push", "--drafts")
    rebased = alice.ref(draft)
    assert rebased != old and git_server.refs()[draft] == rebased

    out = bob.run("pull")
    assert out.code == 0, out.text
    assert bob.ref(draft) == old
    record = bob.job_record(job) or {}
    assert (record.get("head"), record.get("base")) == (old, old_base), out.text
    said = " ".join(out.result["notes"])
    assert f"Draft {label} changed on origin" in said and "gitbench pull --drafts origin" in said, out.text
    assert "gitbench rebase" not in said, out.text  # a rebase here would make another rebase of it
    status = json.dumps(bob.run("status").data)
    assert f"Draft {label} changed there (`gitbench pull --drafts` follows it)" in status, status
    (listed,) = bob.run("drafts").data["result"]
    assert listed["base"] == old_base and not listed["base_is_published"]
    bob.ok("push")  # the records, with his record of his Draft in place, hers under conflicts/
    carol.ok("pull", "--drafts")
    assert carol.ref(draft) == rebased
    assert ((carol.job_record(job) or {}).get("head"), (carol.job_record(job) or {}).get("base")) == (
        rebased,
        published,
    )
    alice.ok("pull", "--drafts")
    assert alice.ref(draft) == rebased and (alice.job_record(job) or {}).get("head") == rebased

    out = bob.run("pull", "--drafts")
    assert out.code == 0, out.text
    assert bob.ref(draft) == rebased
    record = bob.job_record(job) or {}
    assert (record.get("head"), record.get("base")) == (rebased, published), out.text
    assert bob.git("ls-tree", "--name-only", "-r", RECORDS, "conflicts/") == "", out.text  # the copy in place
    assert "changed there" not in json.dumps(bob.run("status").data)
    bob.ok("publish")
    assert bob.published == rebased
    check_invariants(bob.path)


@ONE_FLAVOUR
def test_both_publish_the_same_file_and_the_refused_rebase_offers_commands_that_work(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Alice and Bob each run a job on the same file; Alice publishes to the server first. Bob's `publish
    --remote` says pull then rebase; the rebase is refused (both changed f.txt) and offers to discard the Draft
    or to run his command again from the new Published. Each offered action, run as given, works: the command
    again used to be `gitbench exec -- CMD`, refused (`draft-open`) while his Draft is still open. His old Draft
    stays recoverable."""
    alice, bob = make_team(git_server, tmp_path)
    alice.job("alice's line")
    bob.job("bob's line")
    (old,) = bob.drafts()
    old_head = bob.ref(old)
    alice.ok("publish", "--remote")
    out = bob.run("publish", "--remote")
    assert out.code == 19 and "gitbench pull" in out.message, out.text
    bob.ok("pull")
    out = bob.run("rebase")
    assert out.code == 7 and "f.txt" in out.message, out.text
    again = next(a for a in out.error["actions"] if a["verb"] == "exec")
    out = bob.run(again["verb"], *again["args"])
    assert out.code == 0, out.text
    (new,) = bob.drafts()
    assert bob.git("show", f"{new}:f.txt") == "alice's line\nbob's line\n"
    assert old_head in bob.git("for-each-ref", "--format=%(objectname)", "refs/gitbench/trash/")
    bob.ok("publish", "--remote")
    assert git_server.refs()[PUBLISHED] == bob.published
    check_invariants(bob.path)


@ONE_FLAVOUR
def test_my_publishes_kept_by_pull_keep_mine_that_cannot_be_rebased_can_be_read_before_anything_else(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Bob published here, Alice there, both on f.txt. `push` says `pull --keep-mine`; Bob's publish becomes the
    Draft unshared-DATE; its rebase is refused (both changed f.txt). The only way out offered was to discard
    it: Bob's published work, with no word on how to see it to make it again. The refusal offers its patch."""
    alice, bob = make_team(git_server, tmp_path)
    alice.job("alice's line")
    bob.job("bob's line")
    alice.ok("publish", "--remote")
    bob.ok("publish")
    out = bob.run("push")
    assert out.code == 19 and "gitbench pull --keep-mine origin" in out.message, out.text
    bob.ok("pull", "--keep-mine")
    (kept,) = bob.drafts()
    label = kept.removeprefix(DRAFTS)
    assert label.startswith("unshared-")
    out = bob.run("rebase", "--draft", label)
    assert out.code == 7 and "f.txt" in out.message, out.text
    see = next((a for a in out.error["actions"] if a["verb"] == "review"), None)
    assert see is not None and see["args"] == ["--draft", label, "--patch"], out.text
    shown = gitbench(bob.path, *[see["verb"], *see["args"]])
    assert shown.returncode == 0 and "+bob's line" in shown.stdout, shown.stdout + shown.stderr
    assert bob.ref(kept) is not None  # nothing was changed by the refusal or by looking


@ONE_FLAVOUR
def test_my_steps_on_a_shared_draft_a_teammate_published_are_rebased_onto_it(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Bob adds a step to Alice's shared Draft (not pushed yet); Alice publishes the Draft to the server. After
    Bob's pull, his Draft holds her steps (now Published) and his. `gitbench rebase` used to refuse it ("the Draft
    and Published both changed notes.txt": her own step, counted as Published's change), leaving him only to
    discard his step. The steps already in Published are left out, and his goes on top of it, as `git rebase`
    does."""
    alice, bob = make_team(git_server, tmp_path)
    draft = alice.job("alice", "notes.txt")["draft"]
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    bob.ok("ask", "More", "--on-draft", "continue", "--model", "command:sh -c 'echo bob >> notes.txt'")
    alice.ok("publish", "--remote")
    bob.ok("pull")
    assert bob.published == alice.published
    out = bob.run("rebase")
    assert out.code == 0, out.text
    assert bob.git("rev-parse", f"{draft}~1").strip() == bob.published
    assert bob.git("rev-list", "--count", f"{PUBLISHED}..{draft}").strip() == "1"
    assert bob.git("show", f"{draft}:notes.txt") == "alice\nbob\n"
    review = bob.ok("review")
    assert [f["path"] for f in review["files"]] == ["notes.txt"] and review["base"] == bob.published, review
    bob.ok("publish", "--remote")
    assert git_server.refs()[PUBLISHED] == bob.published
    assert (bob.path / "notes.txt").read_text() == "alice\nbob\n"
    check_invariants(bob.path)


@ONE_FLAVOUR
def test_pull_drafts_after_publishing_my_rebased_steps_does_not_bring_back_an_empty_draft(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Alice published her shared Draft (its shared copy stays on the server); Bob rebased his steps on it and
    published them here. His `pull --drafts` brought her copy back as a "New Draft" with 0 steps, "made from an
    older Published", which publish refused: its job record here says it starts where it ends, since the rebase
    moved it. A shared Draft whose head is in Published and is not Published itself is nothing to bring."""
    alice, bob = make_team(git_server, tmp_path)
    alice.job("alice", "notes.txt")
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    bob.ok("ask", "More", "--on-draft", "continue", "--model", "command:sh -c 'echo bob >> notes.txt'")
    alice.ok("publish", "--remote")
    bob.ok("pull")
    bob.ok("rebase")
    bob.ok("publish")
    out = bob.run("pull", "--drafts")
    assert out.code == 0, out.text
    assert bob.drafts() == [], out.text
    assert "New Draft" not in " ".join(out.result["notes"]), out.text
    bob.ok("push")
    assert git_server.refs()[PUBLISHED] == bob.published


@ONE_FLAVOUR
def test_push_drafts_never_drops_a_teammates_steps_from_a_shared_draft_that_went_two_ways(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Alice and Bob each add a step to Alice's shared Draft; Alice pushes hers first. Bob's `pull --drafts` keeps
    his ("changed both here and on origin"), and his `push --drafts` then put his head in place of hers on the
    server: the lease was on her head, which he had fetched. Her next `pull --drafts` followed it ("rebased
    there"), and her step was in neither Draft nor on the server. A shared Draft that went two ways is not
    pushed over the teammate's: the push says so and names theirs."""
    alice, bob = make_team(git_server, tmp_path)
    draft = alice.job("alice", "notes.txt")["draft"]
    label = draft.removeprefix(DRAFTS)
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    bob.ok("ask", "Mine", "--on-draft", "continue", "--model", "command:sh -c 'echo bob > b.txt'")
    alice.ok("ask", "Mine", "--on-draft", "continue", "--model", "command:sh -c 'echo alice > a2.txt'")
    alice.ok("push", "--drafts")
    hers = alice.ref(draft)
    out = bob.run("pull", "--drafts")
    assert "changed both here and on origin" in " ".join(out.result["notes"]), out.text
    out = bob.run("push", "--drafts")
    assert out.code == 0, out.text
    assert git_server.refs()[draft] == hers, out.text
    said = " ".join(out.result["notes"])
    assert f"Draft {label} changed both here and on origin" in said and "not pushed" in said, out.text
    out = alice.run("pull", "--drafts")
    assert alice.ref(draft) == hers, out.text
    assert alice.git("show", f"{draft}:a2.txt") == "alice\n"

    # Bob takes hers (his copy to the trash), Published moves, he rebases it and pushes: that goes, it holds
    # every step of hers; Alice's pull --drafts follows it.
    bob.ok("discard", "--draft", label, "--yes")
    bob.ok("pull", "--drafts")
    assert bob.ref(draft) == hers
    bob.ok("ask", "Other", "--on-draft", "fork", "--model", "command:sh -c 'echo other > other.txt'")
    (other,) = [d for d in bob.drafts() if d != draft]
    bob.ok("publish", "--remote", "--draft", other.removeprefix(DRAFTS))
    bob.ok("rebase", "--draft", label)
    rebased = bob.ref(draft)
    out = bob.run("push", "--drafts")
    assert out.code == 0 and git_server.refs()[draft] == rebased, out.text
    out = alice.run("pull", "--drafts")
    assert alice.ref(draft) == rebased and "rebased there" in " ".join(out.result["notes"]), out.text


@ONE_FLAVOUR
def test_pull_drafts_does_not_bring_a_shared_draft_already_published(git_server: GitServer, tmp_path: Path) -> None:
    """Alice shares a Draft, then publishes it with `publish --remote` (which leaves her shared copy on the
    server). Bob's `pull --drafts` used to say "New Draft from origin" for it and at once "closed as published",
    taking a publish checkpoint of his own for a publish he did not make, at every `pull --drafts` after a plain
    pull had closed it already. It is published: it is not brought, and nothing of it is made here."""
    alice, bob = make_team(git_server, tmp_path)
    draft = alice.job("shared then published")["draft"]
    alice.ok("push", "--drafts")
    alice.ok("publish", "--remote")
    assert draft in git_server.refs()
    for args in (("pull",), ("pull", "--drafts"), ("pull", "--drafts")):
        tags = set(bob.refs(TAGS))
        out = bob.run(*args)
        said = " ".join(out.result["notes"])
        assert "New Draft" not in said and "closed as published" not in said, out.text
        assert set(bob.refs(TAGS)) <= set(git_server.refs(TAGS)) | tags, out.text  # no checkpoint of Bob's
        assert bob.drafts() == [] and bob.published == alice.published, out.text
    check_invariants(bob.path)


@ONE_FLAVOUR
def test_push_drafts_removes_a_shared_draft_discarded_here_after_it_followed_a_teammates_steps(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Alice shares a Draft; Bob continues it with his agent and pushes; Alice's `pull --drafts` follows his
    steps; she discards it and runs `push --drafts`, which "removes from the server the Drafts you shared before
    and have since published or discarded here" (docs/teams.md). It was left there (her record of what she shared
    was still her old head), and came back to her as a "New Draft" at her next `pull --drafts`."""
    alice, bob = make_team(git_server, tmp_path)
    draft = alice.job("alice's part", "a.txt")["draft"]
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    bob.ok("ask", "Add mine", "--on-draft", "continue", "--model", "command:sh -c 'echo bob >> b.txt'")
    bob.ok("push", "--drafts")
    alice.ok("pull", "--drafts")
    assert alice.ref(draft) == bob.ref(draft) == git_server.refs()[draft]
    alice.ok("discard", "--yes")
    out = alice.run("push", "--drafts")
    assert out.code == 0, out.text
    assert draft not in git_server.refs(), out.text
    out = alice.run("pull", "--drafts")
    assert alice.drafts() == [], out.text
    # Bob, who has not changed it since, finds it gone there: to his trash, recoverable.
    out = bob.run("pull", "--drafts")
    assert bob.drafts() == [], out.text
    assert "gone from origin" in " ".join(out.result["notes"]), out.text


@ONE_FLAVOUR
def test_push_drafts_after_a_teammate_removed_a_draft_this_clone_shared_too(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Bob continued Alice's shared Draft and pushed it (so he shared it too); Alice discarded it and pushed her
    Drafts, removing it there; Bob's `pull --drafts` put his copy away. Bob's next `push --drafts` then tried to
    remove it there again, leased on a Draft the server no longer had: refused five times over, and reported as
    "origin kept changing while gitbench pushed: teammates are pushing right now". Nothing is left to remove."""
    alice, bob = make_team(git_server, tmp_path)
    draft = alice.job("alice's part", "a.txt")["draft"]
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    bob.ok("ask", "Add mine", "--on-draft", "continue", "--model", "command:sh -c 'echo bob >> b.txt'")
    bob.ok("push", "--drafts")
    alice.ok("pull", "--drafts")
    alice.ok("discard", "--yes")
    alice.ok("push", "--drafts")
    assert draft not in git_server.refs()
    out = bob.run("pull", "--drafts")
    assert bob.drafts() == [], out.text
    bob.job("bob's next", "c.txt")
    out = bob.run("push", "--drafts")
    assert out.code == 0, out.text
    assert bob.drafts()[0] in git_server.refs() and draft not in git_server.refs()
    assert bob.run("push", "--drafts").code == 0


@ONE_FLAVOUR
@pytest.mark.parametrize("alice_does", ["discard", "a step"])
def test_pull_drafts_leaves_a_shared_draft_a_job_works_in_here_as_it_is(
    git_server: GitServer, tmp_path: Path, alice_does: str
) -> None:
    """Bob continues Alice's shared Draft with his agent; while it runs, Alice discards the Draft (or adds a step
    to it) and pushes her Drafts, and Bob runs `pull --drafts`. The pull used to wait for Bob's job to end, then
    discard the Draft as "not changed here", with the step Bob's agent had just recorded: the job said "finished
    ... in Draft X", and Bob found no Draft (or move it to Alice's head under the running job, which then lost
    its step). A Draft a job works in here is changed here: it stays as it is, with the step."""
    alice, bob = make_team(git_server, tmp_path)
    draft = alice.job("alice's part", "a.txt")["draft"]
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    flag = tmp_path / "go"
    agent = f"command:sh -c 'while [ ! -e {flag} ]; do sleep 0.05; done; echo bob >> b.txt'"
    job = background(bob, "ask", "Add mine", "--on-draft", "continue", "--model", agent)
    running = bob.path / ".git" / "gitbench" / "running"
    deadline = time.monotonic() + 30
    while not any(running.glob("*.json")):
        assert job.poll() is None and time.monotonic() < deadline, finish(job, bob).text
        time.sleep(0.05)
    if alice_does == "discard":
        alice.ok("discard", "--yes")
    else:
        alice.ok("ask", "More", "--on-draft", "continue", "--model", "command:sh -c 'echo alice >> a2.txt'")
    alice.ok("push", "--drafts")
    assert (draft in git_server.refs()) == (alice_does != "discard")
    pull = start_gitbench(bob.path, "pull", "--drafts", "--json", env={"GITBENCH_LOCK_WAIT": "20"})
    time.sleep(2)  # the pull has fetched and found the Draft gone there, while Bob's job still runs
    flag.touch()
    out = finish(pull, bob)
    assert finish(job, bob).code == 0
    assert out.code == 0, out.text
    assert bob.drafts() == [draft], out.text
    assert bob.git("show", f"{draft}:b.txt") == "bob\n", out.text
    assert "a job works in it here" in " ".join(out.result["notes"]), out.text


def test_a_shared_draft_published_there_goes_to_the_trash_here_and_its_job_stays_published(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Alice rebases a Draft she shared with Bob, publishes it to the server and pushes her Drafts. Bob's
    `pull --drafts` moves his copy (the old head) to the trash, recoverable; its job record stays "published",
    as the server's says: the trash holds an old copy of a Draft that was published, not a discarded job."""
    alice, bob = make_team(git_server, tmp_path)
    bob.job("mine", "mine.txt")
    bob.ok("publish", "--remote")
    job = alice.job("shared", "shared.txt")["job"]["id"]  # made from the older Published
    alice.ok("push", "--drafts")
    bob.ok("pull", "--drafts")
    (draft,) = bob.drafts()
    old = bob.ref(draft)
    alice.ok("pull")
    alice.ok("rebase")
    alice.ok("publish", "--remote")
    alice.ok("push", "--drafts")  # the Draft she shared, published since: removed there
    assert (alice.job_record(job) or {}).get("status") == "published"
    assert draft not in git_server.refs()

    out = bob.run("pull", "--drafts")
    assert out.code == 0, out.text
    assert bob.drafts() == [] and bob.published == alice.published, out.text
    assert (bob.job_record(job) or {}).get("status") == "published", out.text
    trash = bob.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/gitbench/trash/").split()
    assert trash[1::2] == [old], trash  # his copy is kept, recoverable
    bob.ok("push")
    alice.ok("pull")
    assert (alice.job_record(job) or {}).get("status") == "published"
    check_invariants(bob.path)


@OTHER_FLAVOUR
def test_publish_remote_is_a_compare_and_swap_between_two_clones_at_once(git_server: GitServer, tmp_path: Path) -> None:
    alice, bob = make_team(git_server, tmp_path)
    model = ServerModel.of(git_server)
    alice.job("alice", "a.txt")
    bob.job("bob", "b.txt")
    before = {c.name: (c.published, c.records, c.drafts()) for c in (alice, bob)}
    a, b = at_once((alice, ("publish", "--remote")), (bob, ("publish", "--remote")))
    refs = model.check(published_may_move=True, why="two publish --remote at once")
    assert sorted([a.code, b.code]) == [0, 19], a.text + b.text
    winner, loser = (alice, bob) if a.code == 0 else (bob, alice)
    lost = b if a.code == 0 else a
    assert refs[PUBLISHED] == winner.published
    assert "gitbench pull" in lost.message, lost.text
    # The loser's Workbench is exactly as it was: Published, records, its Draft.
    assert (loser.published, loser.records, loser.drafts()) == before[loser.name]


@OTHER_FLAVOUR
def test_two_clones_pushing_at_once_both_land(git_server: GitServer, tmp_path: Path) -> None:
    alice, bob, carol = make_team(git_server, tmp_path, ("alice", "bob", "carol"))
    model = ServerModel.of(git_server)
    jobs = []
    for clone in (alice, bob, carol):
        jobs.append(clone.job(clone.name, f"{clone.name}.txt")["job"]["id"])
        clone.ok("discard", "--yes")
        clone.ok("checkpoint", "-m", clone.name)
    outs = at_once(*((c, ("push",)) for c in (alice, bob, carol)))
    refs = model.check(why="three pushes at once")
    for out in outs:
        assert out.code == 0, out.text
    for clone in (alice, bob, carol):
        assert set(tags_of(clone)) <= set(refs)
    for clone in (alice, bob, carol):
        assert clone.run("pull").code == 0
        assert all(clone.job_record(j) is not None for j in jobs), clone.name


@OTHER_FLAVOUR
def test_restore_of_a_teammates_checkpoint_after_a_pull(git_server: GitServer, tmp_path: Path) -> None:
    alice, bob = make_team(git_server, tmp_path)
    job_id = alice.job("first")["job"]["id"]
    alice.ok("publish", "--remote")
    alice.job("second")
    alice.ok("publish", "--remote")
    assert bob.run("pull").code == 0
    assert bob.job_record(job_id) is not None
    listed = check_checkpoints_usable(bob)
    assert {c["name"] for c in listed} == {c["name"] for c in alice.checkpoints()}
    # The checkpoint Alice's first publish made: f.txt holds "first" only.
    first = next(c for c in listed if c["kind"] == "publish")
    check_restore(bob, first)
    assert (bob.path / "f.txt").read_text() == "first\n"


@ONE_FLAVOUR
def test_status_after_a_pull_names_the_checkpoint_of_the_published_it_followed(
    git_server: GitServer, tmp_path: Path
) -> None:
    """The trial's bug: Bob took a checkpoint after Alice's publish (of his Published then), so the newest
    checkpoint after his pull was his, of the old Published, and status named none. It names the one Alice's
    publish took, as it names a publish's own here."""
    alice, bob = make_team(git_server, tmp_path)
    alice.job("alice")
    alice.ok("publish", "--remote")
    theirs = alice.checkpoints()[-1]
    assert theirs["kind"] == "publish" and theirs["commit"] == alice.published
    later = str(time.time() + 60)  # Bob's checkpoint is the newest of all, whatever the clones' ids
    mine = gitbench(bob.path, "checkpoint", "-m", "before pulling", "--json", env={"GITBENCH_NOW": later})
    assert mine.returncode == 0, mine.stderr
    (name,) = json.loads(mine.stdout)["result"]["checkpoints"]
    assert bob.ok("status")["published"]["checkpoint"] == name
    assert bob.run("pull").code == 0
    assert bob.checkpoints()[-1]["name"] == name  # still the newest, and of the old Published
    assert bob.published == theirs["commit"]
    assert bob.ok("status")["published"]["checkpoint"] == theirs["name"]
    text = gitbench(bob.path, "status").stdout
    assert f"'exec: sh -c echo alice >> f.txt', {theirs['name']}" in text, text
    check_restore(bob, theirs)


def test_a_remote_with_no_repository_there_and_a_name_with_no_remote_say_so_for_push_pull_and_publish(
    git_server: GitServer, tmp_path: Path
) -> None:
    """The trial's bug: `publish --remote NAME` to a remote whose repository does not exist said the publish
    "broke off" and to run it again "when the server is back" (a push to one it had used before said the same).
    push, pull and publish --remote say there is no repository there, name the remote and what to run; nothing
    changes here or on the server."""
    alice, bob = make_team(git_server, tmp_path)
    model = ServerModel.of(git_server)
    bob.job("bob")
    nowhere = git_server.url.replace(git_server.name, "nosuch.git")
    bob.git("remote", "add", "team", nowhere)
    before = bob.refs()
    tries = [("team", ("push", "team")), ("team", ("pull", "team")), ("team", ("publish", "--remote", "team"))]
    # origin, which this clone shared through, moved to where there is no repository: push and publish go to it
    # straight away (no fetch first), so a failure there was taken for a transfer cut midway.
    tries += [("origin", ("push",)), ("origin", ("publish", "--remote")), ("origin", ("pull",))]
    for name, args in tries:
        if name == "origin":
            bob.git("remote", "set-url", "origin", nowhere)
        out = bob.run(*args)
        assert out.code == 18 and out.error["code"] == "remote", out.text
        said = out.message
        assert f"There is no Git repository at the address of the remote {name} ({nowhere})" in said, out.text
        assert "broke off" not in said and "when the server is back" not in said, out.text
        assert f"git remote set-url {name} URL" in said and "git remote -v" in said, out.text
        assert bob.refs() == before, out.text
    for args in (("push", "nosuch"), ("pull", "nosuch"), ("publish", "--remote", "nosuch")):
        out = bob.run(*args)
        assert out.code == 2 and out.error["code"] == "usage", out.text
        assert "There is no Git remote 'nosuch' in this Workbench (there is: origin, team)" in out.message, out.text
        assert "git remote add nosuch URL" in out.message and "git remote -v" in out.message, out.text
        assert bob.refs() == before, out.text
    model.check(why="push, pull and publish to remotes with no repository")
    assert bob.drafts() and alice.run("pull").code == 0  # the server still serves the team


# -- servers that differ ----------------------------------------------------------------------------------------
# -- servers that differ ----------------------------------------------------------------------------------------


@ONE_FLAVOUR
def test_a_server_without_atomic_pushes_still_gets_everything(git_server: GitServer, tmp_path: Path) -> None:
    git_server.set_atomic(False)
    alice, bob = make_team(git_server, tmp_path)
    model = ServerModel.of(git_server)
    alice.job("alice")
    alice.ok("publish")
    alice.ok("checkpoint", "-m", "mine")
    out = alice.run("push")
    assert out.code == 0, out.text
    refs = model.check(published_may_move=True, why="push to a server without atomic")
    assert refs[PUBLISHED] == alice.published and refs[RECORDS] == alice.records
    assert set(tags_of(alice)) <= set(refs)
    assert bob.run("pull").code == 0
    assert bob.published == alice.published


@ONE_FLAVOUR
def test_a_server_that_refuses_a_ref_gets_nothing_and_the_message_names_it(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, _ = make_team(git_server, tmp_path)
    model = ServerModel.of(git_server)
    alice.job("alice")
    alice.ok("publish")
    git_server.reject("refs/heads/main")  # a protected branch
    out = alice.run("push")
    assert out.code == 18, out.text
    assert "refs/heads/main" in out.message, out.text
    model.check(why="a refused push")
    assert git_server.refs() == {**git_server.refs()}  # nothing half-applied: checked by the model above
    assert not set(tags_of(alice)) <= set(git_server.refs())  # the new checkpoints did not go alone


@ONE_FLAVOUR
def test_a_server_rule_that_refuses_push_and_publish_remote_is_quoted_and_no_dry_run_is_offered(
    git_server: GitServer, tmp_path: Path
) -> None:
    """A server rule (a protected branch: the server's update hook) refuses Published. The refusal used to say only
    "[remote rejected] (hook declined)", without the server's own words (the `remote:` lines that say why), and
    offered "See what the server says: git push --dry-run origin ...": a dry run never reaches the server's hooks,
    so it said the push would go through (and `git push --dry-run origin` alone failed: no upstream)."""
    alice, _ = make_team(git_server, tmp_path)
    alice.job("alice")
    git_server.reject("refs/heads/main")
    for args in (("publish", "--remote"), ("push",)):
        if args == ("push",):
            alice.ok("publish")
        out = alice.run(*args)
        assert out.code == 18, out.text
        assert "the server refuses refs/heads/main" in out.error["message"], out.text
        commands = [a.get("command") or "" for a in out.error["actions"]]
        assert not any("--dry-run" in c for c in commands), out.text
    assert git_server.refs()[PUBLISHED] != alice.published


# -- interrupted pushes -----------------------------------------------------------------------------------------


def _alice_with_work(git_server: GitServer, tmp_path: Path, big: bool = False) -> tuple[Clone, Clone]:
    alice, bob = make_team(git_server, tmp_path)
    if big:
        (tmp_path / "big.bin").write_bytes(os.urandom(1_500_000))
        alice.ok("exec", "--", "cp", str(tmp_path / "big.bin"), "big.bin")
    else:
        alice.job("alice")
    alice.ok("publish")
    alice.ok("checkpoint", "-m", "mine")
    return alice, bob


def _settles(git_server: GitServer, alice: Clone, bob: Clone, model: ServerModel) -> None:
    """A later push and pull settle an interrupted push: the server has all of Alice's, Bob gets it."""
    out = alice.run("push")
    assert out.code == 0, out.text
    refs = model.check(published_may_move=True, why="the push after the interrupted one")
    assert refs[PUBLISHED] == alice.published and refs[RECORDS] == alice.records
    assert set(tags_of(alice)) <= set(refs)
    out = bob.run("pull")
    assert out.code == 0, out.text
    assert bob.published == alice.published
    check_checkpoints_usable(bob)
    git(alice.path, "fsck", "--no-dangling")
    git_server.git("fsck", "--no-dangling")


def test_a_push_the_server_died_during_applied_nothing_and_a_later_push_settles_it(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob = _alice_with_work(git_server, tmp_path)
    model = ServerModel.of(git_server)
    before = git_server.refs()
    git_server.pause("pre-receive")
    proc = background(alice, "push")
    git_server.wait_paused()
    git_server.kill()
    out = finish(proc, alice)
    assert out.code == 18 and out.error["code"] == "remote", out.text
    assert git_server.refs() == before
    model.check(why="a push cut short by the server's death")
    git_server.start()
    _settles(git_server, alice, bob, model)


def test_a_push_the_server_applied_before_dying_is_not_reported_as_nothing_changed(
    git_server: GitServer, tmp_path: Path
) -> None:
    """The server applied the whole (atomic) push, then died before answering: the client cannot know. The
    message must not claim that nothing changed on the server; a later push finds everything there."""
    alice, bob = _alice_with_work(git_server, tmp_path)
    model = ServerModel.of(git_server)
    git_server.pause("committed", count=1)
    proc = background(alice, "push")
    git_server.wait_paused()
    git_server.kill()
    out = finish(proc, alice)
    assert out.code == 18, out.text
    refs = model.check(published_may_move=True, why="a push the server applied, then died")
    assert refs[PUBLISHED] == alice.published  # the server saw it all
    assert "Nothing was changed on the server" not in out.message, out.text
    git_server.start()
    _settles(git_server, alice, bob, model)


def test_a_push_whose_answer_was_lost_says_the_server_received_it(git_server: GitServer, tmp_path: Path) -> None:
    """The server applied the push and the network went before its answer came back: the server is still up, so
    gitbench asks it and says it received everything; the next push has nothing left to do."""
    alice, bob = _alice_with_work(git_server, tmp_path)
    model = ServerModel.of(git_server)
    git_server.pause("committed", count=1)
    proc = background(alice, "push")
    assert git_server.wait_paused(client=proc)
    git_server.cut_now()
    git_server.release()
    out = finish(proc, alice)
    assert out.code == 18, out.text
    refs = model.check(published_may_move=True, why="a push whose answer was lost")
    assert refs[PUBLISHED] == alice.published and refs[RECORDS] == alice.records
    assert "received all of it" in out.message, out.text
    _settles(git_server, alice, bob, model)


def test_a_push_of_checkpoints_only_cut_before_the_server_got_it_does_not_say_it_received_it(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Only new checkpoints to share (Published and records as the server has them), and the network cut at
    once: the server has none of them, and the message must not say it received all of it."""
    alice, bob = make_team(git_server, tmp_path)
    alice.ok("checkpoint", "-m", "only this")
    model = ServerModel.of(git_server)
    assert not set(tags_of(alice)) <= set(model.tags)
    git_server.cut_after(20)
    out = alice.run("push")
    assert out.code == 18, out.text
    refs = model.check(why="a push of checkpoints cut at once")
    assert not set(tags_of(alice)) <= set(refs)  # the server got nothing
    assert "received all of it" not in out.message, out.text
    _settles(git_server, alice, bob, model)


def test_a_publish_remote_the_server_applied_before_dying_is_finished_by_the_next_commands(
    git_server: GitServer, tmp_path: Path
) -> None:
    """publish --remote moved the server's Published, and the server died before answering. The message must
    not say nothing changed there; `gitbench pull` (what a teammate would run) then `gitbench publish` finish
    the publish here, or find it finished: no Draft is left open that holds what is already Published."""
    alice, bob = make_team(git_server, tmp_path)
    alice.job("alice")
    (draft,) = alice.drafts()
    head = alice.ref(draft)
    model = ServerModel.of(git_server)
    git_server.pause("committed", count=1)
    proc = background(alice, "publish", "--remote")
    assert git_server.wait_paused(client=proc)
    git_server.kill()
    out = finish(proc, alice)
    assert out.code == 18, out.text
    refs = model.check(published_may_move=True, why="a publish --remote the server applied, then died")
    assert refs[PUBLISHED] == head  # the server saw it all
    assert "Nothing was changed on the server" not in out.message, out.text
    git_server.start()
    out = alice.run("pull")
    assert out.code == 0, out.text
    assert alice.published == head
    out = alice.run("publish")
    assert out.code in (0, 5), f"the Draft holding what is Published cannot be published or closed: {out.text}"
    assert alice.drafts() == [], out.text
    assert bob.run("pull").code == 0 and bob.published == head


def test_a_push_to_a_non_atomic_server_killed_midway_is_settled_by_the_next_push(
    git_server: GitServer, tmp_path: Path
) -> None:
    """Without atomic pushes the server applies ref by ref: killed after the first, it holds part of the push.
    Published must not be among what went alone, and the next push completes it."""
    git_server.set_atomic(False)
    alice, bob = _alice_with_work(git_server, tmp_path)
    model = ServerModel.of(git_server)
    git_server.pause("committed", count=1)
    proc = background(alice, "push")
    git_server.wait_paused()
    git_server.kill()
    out = finish(proc, alice)
    assert out.code == 18, out.text
    refs = model.check(published_may_move=True, why="a non-atomic push killed midway")
    assert refs[PUBLISHED] != alice.published, "Published went to the server before its checkpoints and records"
    git_server.start()
    _settles(git_server, alice, bob, model)


def test_a_network_cut_mid_push_applies_nothing_and_a_later_push_settles_it(
    git_server: GitServer, tmp_path: Path
) -> None:
    alice, bob = _alice_with_work(git_server, tmp_path, big=True)
    model = ServerModel.of(git_server)
    before = git_server.refs()
    git_server.cut_after(500_000)
    out = alice.run("push")
    assert out.code == 18 and out.error["code"] == "remote", out.text
    assert git_server.proxy.cuts == 1
    assert git_server.refs() == before
    model.check(why="a push cut by the network")
    _settles(git_server, alice, bob, model)


def test_a_network_cut_mid_pull_changes_nothing_here(git_server: GitServer, tmp_path: Path) -> None:
    alice, bob = _alice_with_work(git_server, tmp_path, big=True)
    assert alice.run("push").code == 0
    before = bob.refs()
    git_server.cut_after(300_000, direction="down")
    out = bob.run("pull")
    assert out.code == 18 and out.error["code"] == "remote", out.text
    assert git_server.proxy.cuts == 1
    assert bob.refs() == before
    out = bob.run("pull")
    assert out.code == 0, out.text
    assert bob.published == alice.published
    assert (bob.path / "big.bin").read_bytes() == (tmp_path / "big.bin").read_bytes()


# -- plain git carries it too -----------------------------------------------------------------------------------


@OTHER_FLAVOUR
def test_remote_setup_lets_plain_git_fetch_and_push_carry_gitbench_refs(git_server: GitServer, tmp_path: Path) -> None:
    alice, bob = make_team(git_server, tmp_path)
    alice.ok("remote", "setup")
    alice.ok("checkpoint", "-m", "by hand")
    alice.git("push", "-q", "origin")
    refs = git_server.refs()
    assert refs[RECORDS] == alice.records
    assert set(tags_of(alice)) <= set(refs)
    bob.ok("remote", "setup")
    bob.git("fetch", "-q", "origin")
    assert set(tags_of(bob)) == set(tags_of(alice))
    assert bob.ref("refs/gitbench/remotes/origin/records") == alice.records
    res = gitbench(bob.path, "pull")
    assert res.returncode == 0, res.stderr
    assert bob.records == alice.records
