"""gitbench/services/remote.py's less travelled paths, in-process, with a bare repository reached by path as the
server: a server that refuses or locks, a clone whose tracking refs were set by plain `git fetch`, a restore that
is behind the server, teammates' Drafts that move on or go, and a publish whose connection broke after the server
took it (its receive-pack killed by a server hook)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from gitbench.services.workbench import Workbench
from gitbench.store import running
from tests.conftest import git, gitbench, make_project
from tests.test_remote import refs, team  # noqa: F401 - team: the fixture

Team = tuple[Path, Path, Path]
DRAFT = "refs/heads/gitbench/draft/"


def ok(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, *args, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    return dict(json.loads(res.stdout)["result"])


def error(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, *args, "--json")
    assert res.returncode != 0, res.stdout
    return dict(json.loads(res.stdout)["error"]) | {"exit": res.returncode}


def commit_on(repo: Path, parent: str, name: str, text: str, message: str) -> str:
    """A commit on ``parent`` that sets one file, made with plain Git (the index is not touched)."""
    env = {"GIT_INDEX_FILE": str(repo / ".git" / f"tmp-index-{os.getpid()}")}
    git(repo, "read-tree", parent, env=env)
    oid = _blob(repo, text)
    git(repo, "update-index", "--add", "--cacheinfo", f"100644,{oid},{name}", env=env)
    tree = git(repo, "write-tree", env=env).strip()
    os.unlink(env["GIT_INDEX_FILE"])
    return git(repo, "commit-tree", tree, "-p", parent, "-m", message).strip()


def _blob(repo: Path, text: str) -> str:
    return subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], cwd=repo, input=text, capture_output=True, text=True, check=True
    ).stdout.strip()


def draft(repo: Path, label: str, name: str, text: str) -> str:
    """A Draft made with plain Git: one step on Published (its base is where they meet)."""
    head = commit_on(repo, "main", name, text, f"{label}'s step")
    git(repo, "update-ref", DRAFT + label, head)
    return head


def record(repo: Path, path: str, doc: dict[str, Any]) -> str:
    """A document on the records chain, written as gitbench writes its own."""
    return Workbench(str(repo)).records.write({path: doc}, f"test: {path}")


def hook(bare: Path, name: str, body: str) -> None:
    path = bare / "hooks" / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def test_pull_from_the_only_remote_whose_server_is_empty_says_push_shares_it(tmp_path: Path) -> None:
    server = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    wb = make_project(tmp_path / "wb")
    assert gitbench(wb, "init").returncode == 0
    git(wb, "remote", "add", "team", str(server))  # not origin, no upstream: the only one is used
    pulled = ok(wb, "pull")
    assert pulled["data"]["remote"] == "team" and pulled["data"]["server_published"] is None
    assert "team has no Published yet: `gitbench push` shares yours." in pulled["notes"]
    assert refs(server) == {}
    pushed = ok(wb, "push")
    assert refs(server)["refs/heads/main"] == git(wb, "rev-parse", "main").strip()
    assert pushed["data"]["server_published"] == refs(server)["refs/heads/main"]


def test_records_a_plain_git_fetch_brought_are_merged_before_the_push_and_both_sides_changes_are_kept(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    assert "remote.origin.fetch" in " ".join(ok(bob, "remote", "setup")["data"]["added"])
    record(alice, "notes/alice.json", {"by": "alice"})
    ok(alice, "push")
    record(bob, "notes/bob.json", {"by": "bob"})
    mine = git(bob, "rev-parse", "refs/gitbench/records").strip()
    git(bob, "fetch", "-q", "origin")  # plain Git: the tracking records move, nothing is merged
    theirs = git(bob, "rev-parse", "refs/gitbench/remotes/origin/records").strip()
    assert theirs == refs(server)["refs/gitbench/records"] != mine
    pushed = ok(bob, "push")
    assert any("records" in p for p in pushed["data"]["pushed"])
    on_server = refs(server)["refs/gitbench/records"]
    assert on_server == git(bob, "rev-parse", "refs/gitbench/records").strip()
    for side in (mine, theirs):  # nothing of either side lost
        assert git(bob, "merge-base", "--is-ancestor", side, on_server, check=False) == ""
    assert git(bob, "rev-list", "--parents", "-n1", on_server).split()[1:] == [mine, theirs]


def test_a_checkpoint_name_taken_on_the_server_by_other_contents_refuses_the_push(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    name = "refs/tags/checkpoint/260101-000000-zzzz"
    git(server, "update-ref", name, refs(server)["refs/heads/main"])
    other = commit_on(bob, "main", "x.txt", "x\n", "other")
    git(bob, "update-ref", name, other)
    ok(bob, "checkpoint", "-m", "something to push")
    before = refs(server)
    err = error(bob, "push")
    assert err["message"].startswith(
        "origin has checkpoints with the same names as yours but other contents: checkpoint/260101-000000-zzzz."
    )
    assert err["details"]["clashes"] == ["checkpoint/260101-000000-zzzz"]
    assert "git config --unset gitbench.clone" in [a.get("command") for a in err["actions"]]
    assert refs(server) == before and git(bob, "rev-parse", name).strip() == other


def test_a_ref_locked_on_the_server_is_retried_then_the_push_says_to_run_it_again(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    lock = server / "refs" / "gitbench" / "records.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")  # a server-side Git process holds the records (or died holding them)
    record(bob, "notes/bob.json", {"by": "bob"})
    before = refs(server)
    err = error(bob, "push")
    assert err["message"] == (
        "origin kept changing while gitbench pushed (5 tries): teammates are pushing right now. Nothing of yours "
        "was lost; run the push again in a moment."
    )
    assert [a.get("command") for a in err["actions"]] == ["gitbench push origin"]
    assert refs(server) == before
    lock.unlink()
    ok(bob, "push")
    assert refs(server)["refs/gitbench/records"] == git(bob, "rev-parse", "refs/gitbench/records").strip()


def test_overwrite_published_never_overwrites_a_publish_that_arrived_during_the_push(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    theirs = commit_on(alice, "main", "src/a.txt", "alice\n", "alice's publish")
    git(alice, "push", "-q", "origin", f"{theirs}:refs/heads/main")  # plain Git: a teammate's publish
    record(alice, "notes/alice.json", {"by": "alice"})
    ok(alice, "push")  # her records, so Bob's lease on them fails and his push fetches
    record(bob, "notes/bob.json", {"by": "bob"})
    local = git(bob, "rev-parse", "main").strip()
    err = error(bob, "push", "--overwrite-published")
    assert err["message"].startswith(
        "Published on origin moved since this clone last saw it: origin has publishes you do not have yet"
    )
    assert err["details"] == {"remote": "origin", "server": theirs, "local": local}
    assert [a.get("command") for a in err["actions"]] == ["gitbench pull origin"]
    assert refs(server)["refs/heads/main"] == theirs and git(bob, "rev-parse", "main").strip() == local


def test_one_record_changed_on_two_clones_is_combined_on_pull_and_the_user_is_told(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    record(alice, "notes/plan.json", {"by": "alice", "updated": 1767312000})
    ok(alice, "push")
    record(bob, "notes/plan.json", {"by": "bob", "updated": 1767225600})
    pulled = ok(bob, "pull")
    assert pulled["data"]["records_merged"] is True
    assert any(
        n.startswith("Records changed on both sides were combined, nothing lost: notes/plan.json")
        for n in pulled["notes"]
    )
    wb = Workbench(str(bob))
    assert wb.records.read("notes/plan.json")["by"] == "alice"  # the newer stays in place, the other beside it
    [aside] = wb.records.list("conflicts")
    assert wb.records.read(f"conflicts/{aside}")["by"] == "bob"


def test_a_restore_behind_the_server_is_pushed_only_with_overwrite_published(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    first = git(bob, "tag", "-l", "checkpoint/*").split()[0]
    draft(bob, "fix", "src/fix.txt", "fix\n")
    ok(bob, "publish", "--remote")
    published = refs(server)["refs/heads/main"]
    assert git(bob, "rev-parse", "main").strip() == published
    ok(bob, "restore", first, "--yes")
    local = git(bob, "rev-parse", "main").strip()
    assert local != published
    err = error(bob, "push")
    assert err["message"] == (
        f"Your Published ({local[:12]}) is behind origin's ({published[:12]}), which you have pulled: a restore "
        "here? Nothing was pushed."
    )
    assert [a.get("command") for a in err["actions"]] == [
        "gitbench push --overwrite-published origin",
        "gitbench pull origin",
    ]
    assert refs(server)["refs/heads/main"] == published
    ok(bob, "push", "--overwrite-published")
    assert refs(server)["refs/heads/main"] == local
    assert git(bob, "rev-parse", "refs/remotes/origin/main").strip() == local


def test_a_locked_tracking_ref_does_not_fail_a_push_that_reached_the_server(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    seen = git(bob, "rev-parse", "refs/remotes/origin/main").strip()
    draft(bob, "fix", "src/fix.txt", "fix\n")
    ok(bob, "publish")
    lock = bob / ".git" / "refs" / "remotes" / "origin" / "main.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")  # a plain `git fetch` running now holds it
    pushed = ok(bob, "push")
    local = git(bob, "rev-parse", "main").strip()
    assert refs(server)["refs/heads/main"] == local and "main" in pushed["data"]["pushed"]
    assert git(bob, "rev-parse", "refs/remotes/origin/main").strip() == seen  # only a hint: left for later
    lock.unlink()
    again = ok(bob, "push")
    assert again["summary"] == "origin already had everything."
    assert git(bob, "rev-parse", "refs/remotes/origin/main").strip() == local


def test_remote_setup_of_a_remote_without_fetch_refspecs_adds_git_s_default_one(tmp_path: Path) -> None:
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    wb = make_project(tmp_path / "wb")
    assert gitbench(wb, "init").returncode == 0
    git(wb, "config", "remote.origin.url", str(server))  # configured by hand: a URL, no fetch refspec
    res = ok(wb, "remote", "setup")
    assert git(wb, "config", "--get-all", "remote.origin.fetch").splitlines() == [
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/gitbench/records:refs/gitbench/remotes/origin/records",
        "refs/tags/checkpoint/*:refs/tags/checkpoint/*",
    ]
    assert res["data"]["added"][0] == "remote.origin.fetch +refs/heads/*:refs/remotes/origin/*"
    assert ok(wb, "remote", "setup")["summary"] == "origin was set up already."


def step(repo: Path, ref: str, name: str, text: str) -> str:
    """One more step on a Draft, made with plain Git."""
    tip = git(repo, "rev-parse", ref).strip()
    new = commit_on(repo, tip, name, text, f"step {name}")
    git(repo, "update-ref", ref, new, tip)
    return new


def test_teammates_drafts_follow_when_moved_on_there_stay_when_ahead_here_and_a_gone_one_not_here_is_ignored(
    team: Team,  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    draft(alice, "d1", "src/d1.txt", "1\n")
    draft(alice, "d2", "src/d2.txt", "2\n")
    ok(alice, "push", "--drafts")
    notes = ok(bob, "pull", "--drafts")["notes"]
    assert "New Draft from origin: d1." in notes and "New Draft from origin: d2." in notes
    # Pushed again unchanged: nothing to send.
    assert ok(alice, "push", "--drafts")["summary"] == "origin already had everything."
    moved = step(alice, DRAFT + "d1", "src/d1b.txt", "1b\n")
    ok(alice, "push", "--drafts")
    assert f"Draft d1 moved on to origin's ({moved[:12]})." in ok(bob, "pull", "--drafts")["notes"]
    assert git(bob, "rev-parse", DRAFT + "d1").strip() == moved
    # Bob is ahead of the server's d1: his stays, nothing is said.
    ahead = step(bob, DRAFT + "d1", "src/d1c.txt", "1c\n")
    notes = ok(bob, "pull", "--drafts")["notes"]
    assert not any("d1" in n for n in notes) and git(bob, "rev-parse", DRAFT + "d1").strip() == ahead
    # Bob discarded d2 himself; then it goes from the server too: nothing left here to close, nothing said.
    assert gitbench(bob, "discard", "--yes", "--draft", "d2").returncode == 0
    git(server, "update-ref", "-d", DRAFT + "d2")
    notes = ok(bob, "pull", "--drafts")["notes"]
    assert not any("d2" in n for n in notes)
    assert git(bob, "for-each-ref", DRAFT + "d2", "refs/gitbench/remotes/origin/drafts/d2") == ""


def test_a_publish_whose_answer_was_lost_after_the_server_took_it_finishes_here(team: Team) -> None:  # noqa: F811
    server, alice, bob = team
    # The server's receive-pack dies once the refs are in, before it answers (a killed server process).
    hook(server, "post-receive", "kill -9 $PPID\n")
    head = draft(bob, "fix", "src/fix.txt", "fix\n")
    res = ok(bob, "publish", "--remote")
    assert refs(server)["refs/heads/main"] == head == git(bob, "rev-parse", "main").strip()
    assert git(bob, "rev-parse", "refs/remotes/origin/main").strip() == head
    assert git(bob, "for-each-ref", DRAFT) == ""  # the Draft is closed as published
    [cp] = res["checkpoints"]
    assert any(
        n.startswith("Published is on origin, but its checkpoint and records could not follow (")
        and n.endswith("`gitbench push origin` sends them.")
        for n in res["notes"]
    )
    (server / "hooks" / "post-receive").unlink()
    ok(bob, "push")
    assert f"refs/tags/{cp}" in refs(server)


def test_a_publish_over_a_server_that_moved_unseen_is_refused_and_nothing_moves(team: Team) -> None:  # noqa: F811
    server, alice, bob = team
    theirs = commit_on(alice, "main", "src/a.txt", "alice\n", "alice's publish")
    git(alice, "push", "-q", "origin", f"{theirs}:refs/heads/main")
    draft(bob, "fix", "src/fix.txt", "fix\n")
    local = git(bob, "rev-parse", "main").strip()
    err = error(bob, "publish", "--remote")
    assert err["message"].startswith("Published on origin moved since this clone last saw it: ")
    assert err["message"].endswith("Nothing was put over it: your Workbench is untouched.")
    assert err["details"] == {"remote": "origin", "server": theirs, "local": local}
    assert [a.get("command") for a in err["actions"]] == ["gitbench pull origin", "gitbench rebase"]
    assert refs(server)["refs/heads/main"] == theirs and git(bob, "rev-parse", "main").strip() == local
    assert git(bob, "for-each-ref", DRAFT + "fix") != ""


def test_keep_mine_twice_on_one_day_keeps_each_in_its_own_draft(team: Team) -> None:  # noqa: F811
    server, alice, bob = team
    kept = []
    for n in (1, 2):
        theirs = commit_on(alice, "main", f"src/a{n}.txt", "alice\n", f"alice's publish {n}")
        git(alice, "push", "-q", "origin", f"{theirs}:refs/heads/main")
        git(alice, "update-ref", "refs/heads/main", theirs)
        draft(bob, f"mine{n}", f"src/b{n}.txt", "bob\n")
        ok(bob, "publish", "--draft", f"mine{n}")
        mine = git(bob, "rev-parse", "main").strip()
        res = ok(bob, "pull", "--keep-mine")
        assert git(bob, "rev-parse", "main").strip() == theirs
        [label] = [
            r.removeprefix(DRAFT)
            for r in git(bob, "for-each-ref", "--format=%(refname)", DRAFT).split()
            if r.removeprefix(DRAFT) not in kept
        ]
        assert git(bob, "rev-parse", DRAFT + label).strip() == mine
        assert any(f"the Draft {label}" in note for note in res["notes"])
        kept.append(label)
    assert kept[1] == kept[0] + "-2" and kept[0].startswith("unshared-")


def test_a_push_over_a_fetched_publish_that_diverged_from_mine_is_refused(team: Team) -> None:  # noqa: F811
    server, alice, bob = team
    ok(bob, "remote", "setup")
    theirs = commit_on(alice, "main", "src/a.txt", "alice\n", "alice's publish")
    git(alice, "push", "-q", "origin", f"{theirs}:refs/heads/main")
    git(bob, "fetch", "-q", "origin")  # plain Git: Bob has seen Alice's publish, not taken it
    draft(bob, "fix", "src/fix.txt", "fix\n")
    ok(bob, "publish")
    local = git(bob, "rev-parse", "main").strip()
    err = error(bob, "push")
    assert "origin's Published (" in err["message"] and "have each moved on" in err["message"]
    assert [a.get("command") for a in err["actions"]] == ["gitbench pull --keep-mine origin"]
    assert refs(server)["refs/heads/main"] == theirs and git(bob, "rev-parse", "main").strip() == local


def test_a_publish_the_server_refuses_for_good_or_dies_during_publishes_nothing(team: Team) -> None:  # noqa: F811
    server, alice, bob = team
    before = refs(server)["refs/heads/main"]
    draft(bob, "fix", "src/fix.txt", "fix\n")
    local = git(bob, "rev-parse", "main").strip()
    hook(server, "pre-receive", "echo 'main is protected' >&2; exit 1\n")
    err = error(bob, "publish", "--remote")
    assert err["message"] == (
        "origin refused the publish: [remote rejected] (pre-receive hook declined). It said: main is protected. "
        "Nothing was published."
    )
    assert err["actions"][0]["command"] == "" and "protected branch" in err["actions"][0]["label"]
    # The server's receive-pack dies before any ref moves: asked again, its Published is as it was.
    hook(server, "pre-receive", "kill -9 $PPID\n")
    err = error(bob, "publish", "--remote")
    assert err["message"].startswith("The publish to origin broke off (")
    assert err["message"].endswith(
        "asked again, the server's Published is as it was. Nothing was published here: your Published and the "
        "Draft are as they were."
    )
    assert err["details"] == {"remote": "origin", "server": before}
    assert refs(server)["refs/heads/main"] == before and git(bob, "rev-parse", "main").strip() == local
    assert git(bob, "for-each-ref", DRAFT + "fix") != ""


def test_a_tracking_ref_git_cannot_write_is_named_in_the_pull_and_the_rest_arrives(team: Team) -> None:  # noqa: F811
    server, alice, bob = team
    ok(alice, "checkpoint", "-m", "alice's")
    ok(alice, "push")
    # An old tool left a ref where the records' tracking ref goes (a folder of that name): Git cannot write it.
    tracking = "refs/gitbench/remotes/origin/records"
    git(bob, "update-ref", "-d", tracking)
    git(bob, "update-ref", tracking + "/old", git(bob, "rev-parse", "main").strip())
    pulled = ok(bob, "pull")
    assert any(n.startswith("Git did not update ") and "records" in n for n in pulled["notes"])
    assert pulled["data"]["new_checkpoints"] == 1 and pulled["data"]["records_merged"] is False
    assert git(bob, "tag", "-l", "checkpoint/*").split() == git(alice, "tag", "-l", "checkpoint/*").split()


def test_drafts_a_job_works_in_are_kept_when_gone_from_the_server(team: Team) -> None:  # noqa: F811
    server, alice, bob = team
    draft(alice, "d1", "src/d1.txt", "1\n")
    d2 = draft(alice, "d2", "src/d2.txt", "2\n")
    ok(alice, "push", "--drafts")
    ok(bob, "pull", "--drafts")
    wb = Workbench(str(bob))
    markers = []
    for label in ("d1", "d2"):  # a job's command runs in each of Bob's copies now
        marker = running.Marker(wb.layout.running, f"job-{label}")
        marker.start({"job": f"job-{label}", "draft": DRAFT + label})
        markers.append(marker)
    try:
        git(server, "update-ref", "-d", DRAFT + "d1")  # discarded there
        git(server, "update-ref", "refs/heads/main", d2)  # published there
        git(server, "update-ref", "-d", DRAFT + "d2")
        notes = ok(bob, "pull", "--drafts")["notes"]
    finally:
        for marker in markers:
            marker.end()
    for label in ("d1", "d2"):
        assert f"Draft {label} is gone from origin but a job works in it here: kept." in notes, notes
        assert git(bob, "for-each-ref", DRAFT + label) != ""
    assert git(bob, "rev-parse", "main").strip() == d2
    ok(bob, "pull", "--drafts")  # once seen gone, a kept Draft is Bob's own: later pulls leave it
    assert git(bob, "for-each-ref", DRAFT + "d1") != ""
