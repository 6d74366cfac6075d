"""Sharing a Workbench through a Git server: push, pull, publish --remote, remote setup, init in a clone.

The server here is a bare repository reached by path (Git's local transport); tests/test_teams*.py run the
same commands against `git daemon` and `git http-backend` on 127.0.0.1.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git, gitbench, make_project


def refs(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(objectname) %(refname)")
    return {ref: oid for oid, ref in (line.split(" ", 1) for line in out.splitlines())}


def job(wb: Path, name: str, text: str) -> None:
    code = f"import pathlib; p = pathlib.Path({name!r}); p.parent.mkdir(exist_ok=True); p.write_text({text!r})"
    res = gitbench(wb, "exec", "--files", "**", "--", sys.executable, "-c", code)
    assert res.returncode == 0, res.stdout + res.stderr


def ok(wb: Path, *args: str) -> dict:
    res = gitbench(wb, *args, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


def checkpoint_names(wb: Path) -> list[str]:
    return [c["name"] for c in ok(wb, "checkpoints", *(["--all"] if _has_all(wb) else []))["result"]]


def _has_all(wb: Path) -> bool:
    return "--all" in gitbench(wb, "checkpoints", "--help").stdout


@pytest.fixture
def team(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A server (bare), Alice's Workbench that shared itself there, and Bob's clone of it, adopted."""
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    alice = make_project(tmp_path / "alice")
    assert gitbench(alice, "init").returncode == 0
    git(alice, "remote", "add", "origin", str(server))
    res = gitbench(alice, "push")
    assert res.returncode == 0, res.stderr
    git(tmp_path, "clone", "-q", str(server), str(tmp_path / "bob"))
    bob = tmp_path / "bob"
    res = gitbench(bob, "init")
    assert res.returncode == 0, res.stderr
    return server, alice, bob


def test_push_shares_published_checkpoints_and_records_and_a_clone_adopts_them(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    on_server = refs(server)
    assert on_server["refs/heads/main"] == git(alice, "rev-parse", "main").strip()
    assert on_server["refs/gitbench/records"] == git(alice, "rev-parse", "refs/gitbench/records").strip()
    assert [r for r in on_server if r.startswith("refs/tags/checkpoint/")] == [
        r for r in refs(alice) if r.startswith("refs/tags/checkpoint/")
    ]
    # Bob's init took the server's Published and records: one records chain, no second root, no new checkpoint.
    assert git(bob, "rev-parse", "refs/gitbench/records").strip() == on_server["refs/gitbench/records"]
    assert checkpoint_names(bob) == checkpoint_names(alice)
    assert git(bob, "config", "gitbench.published").strip() == "main"


def test_init_in_a_clone_whose_server_head_names_no_branch(tmp_path: Path) -> None:
    """`git clone` of a server whose HEAD names a missing branch leaves an unborn `master`: init must still
    adopt the server's Published (main) and check its files out, not commit the empty folder as a new root."""
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    git(server, "symbolic-ref", "HEAD", "refs/heads/master")
    alice = make_project(tmp_path / "alice")
    assert gitbench(alice, "init").returncode == 0
    git(alice, "remote", "add", "origin", str(server))
    assert gitbench(alice, "push").returncode == 0
    git(tmp_path, "clone", "-q", str(server), str(tmp_path / "bob"))
    bob = tmp_path / "bob"
    res = gitbench(bob, "init")
    assert res.returncode == 0, res.stderr
    assert git(bob, "rev-parse", "main").strip() == git(alice, "rev-parse", "main").strip()
    assert (bob / "src" / "app.py").read_text() == "print('hello')\n"
    assert git(bob, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(bob, "status", "--porcelain").strip() == ""
    assert "master" not in git(bob, "branch", "--list")


def test_publish_remote_is_a_compare_and_swap(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    job(alice, "src/a.txt", "alice\n")
    res = ok(alice, "publish", "--remote")
    assert refs(server)["refs/heads/main"] == git(alice, "rev-parse", "main").strip()
    assert res["result"]["checkpoints"][0].split("/", 1)[1] in str(refs(server))  # its checkpoint went there too
    # Bob's Draft was made from the old Published: the server refuses, and nothing moves anywhere.
    job(bob, "src/b.txt", "bob\n")
    before_bob, before_server = refs(bob), refs(server)
    res = gitbench(bob, "publish", "--remote", "origin")
    assert res.returncode == 19, res.stdout + res.stderr
    assert "gitbench pull" in res.stdout + res.stderr
    after_bob = refs(bob)
    assert refs(server) == before_server
    for ref in ("refs/heads/main", "refs/gitbench/records"):
        assert after_bob.get(ref) == before_bob.get(ref)
    assert [r for r in after_bob if r.startswith("refs/heads/gitbench/draft/")] == [
        r for r in before_bob if r.startswith("refs/heads/gitbench/draft/")
    ]
    # pull, rebase, publish --remote: both edits on the server, and the same Published everywhere.
    assert gitbench(bob, "pull").returncode == 0
    assert gitbench(bob, "rebase").returncode == 0
    ok(bob, "publish", "--remote")
    main = refs(server)["refs/heads/main"]
    assert git(bob, "rev-parse", "main").strip() == main
    assert git(server, "show", f"{main}:src/a.txt") == "alice\n"
    assert git(server, "show", f"{main}:src/b.txt") == "bob\n"
    assert gitbench(alice, "pull").returncode == 0
    assert git(alice, "rev-parse", "main").strip() == main
    assert (alice / "src" / "b.txt").read_text() == "bob\n"


def test_publish_remote_from_config(team: tuple[Path, Path, Path]) -> None:
    server, alice, _ = team
    cfg = Path(git(alice, "config", "--get", "core.hooksPath", check=False) or alice) / ".gitbench"
    cfg.mkdir()
    (cfg / "config.toml").write_text('[publish]\nremote = "origin"\n')
    job(alice, "src/c.txt", "c\n")
    ok(alice, "publish")
    assert refs(server)["refs/heads/main"] == git(alice, "rev-parse", "main").strip()
    job(alice, "src/d.txt", "d\n")
    ok(alice, "publish", "--no-remote")
    assert refs(server)["refs/heads/main"] != git(alice, "rev-parse", "main").strip()


def test_publish_remote_after_a_publish_here_only_says_to_push_it_not_that_the_server_moved(
    team: tuple[Path, Path, Path],
) -> None:
    """Nobody else published: the server is behind, at what this clone last saw. The refusal says to push the
    publish made here (not "a teammate published there" with `pull --keep-mine`, which does nothing), and its
    two actions, pasted, publish."""
    server, alice, _ = team
    job(alice, "src/c.txt", "c\n")
    ok(alice, "publish")  # here only
    job(alice, "src/d.txt", "d\n")
    before_alice, before_server = refs(alice), refs(server)
    res = gitbench(alice, "publish", "--remote", "--json")
    assert res.returncode == 19, res.stdout + res.stderr
    err = json.loads(res.stdout)["error"]
    assert "each moved on" not in err["message"] and "publishes made here are not on origin yet" in err["message"]
    assert [a["command"] for a in err["actions"]] == ["gitbench push origin", "gitbench publish --remote origin"]
    assert refs(alice) == before_alice and refs(server) == before_server
    ok(alice, "push", "origin")
    ok(alice, "publish", "--remote", "origin")
    assert refs(server)["refs/heads/main"] == git(alice, "rev-parse", "main").strip()
    assert git(server, "show", "main:src/d.txt") == "d\n"


def test_a_teammates_checkpoints_and_jobs_never_refuse_my_push(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    job(alice, "src/a.txt", "alice\n")
    ok(alice, "publish", "--remote")
    ok(alice, "checkpoint", "-m", "alice's")
    assert gitbench(alice, "push").returncode == 0
    # Bob has not pulled; he made a job (a checkpoint, a job record) and a checkpoint of his own.
    job(bob, "src/b.txt", "bob\n")
    ok(bob, "checkpoint", "-m", "bob's")
    before = refs(server)
    res = ok(bob, "push")
    after = refs(server)
    assert after["refs/heads/main"] == before["refs/heads/main"]  # Bob's older Published did not go there
    assert (
        git(server, "merge-base", "--is-ancestor", before["refs/gitbench/records"], after["refs/gitbench/records"])
        == ""
    )
    for ref, oid in before.items():  # nothing on the server lost or changed but records (which grew)
        if ref != "refs/gitbench/records":
            assert after[ref] == oid, ref
    assert set(checkpoint_names(bob)) <= {r[len("refs/tags/") :] for r in after if r.startswith("refs/tags/")}
    assert res["ok"]
    # Every job of both is readable on both after a pull.
    assert gitbench(alice, "pull").returncode == 0
    jobs_a = set(git(alice, "ls-tree", "--name-only", "refs/gitbench/records:jobs").split())
    jobs_b = set(git(bob, "ls-tree", "--name-only", "refs/gitbench/records:jobs").split())
    assert jobs_b <= jobs_a and len(jobs_a) == 2


def test_pull_when_both_published_moved_keeps_mine_as_a_draft(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    job(alice, "src/a.txt", "alice\n")
    ok(alice, "publish", "--remote")
    job(bob, "src/b.txt", "bob\n")
    ok(bob, "publish")  # here only
    mine = git(bob, "rev-parse", "main").strip()
    res = gitbench(bob, "pull")
    assert res.returncode == 19, res.stdout + res.stderr
    assert "--keep-mine" in res.stdout + res.stderr
    assert git(bob, "rev-parse", "main").strip() == mine
    out = ok(bob, "pull", "--keep-mine")
    assert git(bob, "rev-parse", "main").strip() == refs(server)["refs/heads/main"]
    drafts = [r for r in refs(bob) if r.startswith("refs/heads/gitbench/draft/unshared-")]
    assert len(drafts) == 1 and refs(bob)[drafts[0]] == mine, out
    assert gitbench(bob, "rebase").returncode == 0
    ok(bob, "publish", "--remote")
    main = refs(server)["refs/heads/main"]
    assert git(server, "show", f"{main}:src/b.txt") == "bob\n"
    assert git(server, "show", f"{main}:src/a.txt") == "alice\n"


def test_pull_counts_the_teammates_new_checkpoints(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    job(alice, "src/a.txt", "alice\n")
    ok(alice, "publish")
    assert gitbench(alice, "push").returncode == 0
    theirs = {r for r in refs(server) if r.startswith("refs/tags/checkpoint/")}
    mine = {r for r in refs(bob) if r.startswith("refs/tags/checkpoint/")}
    res = ok(bob, "pull")
    assert res["result"]["data"]["new_checkpoints"] == len(theirs - mine) > 0
    assert f"{len(theirs - mine)} new checkpoint(s) from origin" in res["result"]["summary"]
    assert ok(bob, "pull")["result"]["data"]["new_checkpoints"] == 0


def test_pull_with_a_clashing_checkpoint_still_brings_everything_else(team: tuple[Path, Path, Path]) -> None:
    """The fetch writes its refs in one transaction; a tag it must refuse does not hold the others back."""
    server, alice, bob = team
    job(alice, "src/a.txt", "alice\n")
    ok(alice, "publish")
    assert gitbench(alice, "push").returncode == 0
    on_server = refs(server)
    new = sorted(r for r in on_server if r.startswith("refs/tags/checkpoint/") and r not in refs(bob))
    assert len(new) >= 2
    # A tag of the same name made here (a folder copied instead of cloned would do that): never overwritten.
    git(bob, "tag", "-a", "-m", "mine", new[0][len("refs/tags/") :], "main")
    clashing = refs(bob)[new[0]]
    res = gitbench(bob, "pull", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)["result"]
    assert "same names" in " ".join(out["notes"])
    here = refs(bob)
    assert here[new[0]] == clashing
    assert all(here[r] == on_server[r] for r in new[1:])
    assert here["refs/remotes/origin/main"] == here["refs/heads/main"] == on_server["refs/heads/main"]
    assert here["refs/gitbench/remotes/origin/records"] == on_server["refs/gitbench/records"]
    assert out["data"]["new_checkpoints"] == len(new) - 1


def test_pull_keeps_local_edits_safe(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    job(alice, "src/app.py", "print('alice')\n")
    ok(alice, "publish", "--remote")
    (bob / "src" / "app.py").write_text("print('my own edit')\n")
    before = git(bob, "rev-parse", "main").strip()
    res = gitbench(bob, "pull")
    assert res.returncode == 7, res.stdout + res.stderr
    assert "src/app.py" in res.stdout + res.stderr
    assert (bob / "src" / "app.py").read_text() == "print('my own edit')\n"
    assert git(bob, "rev-parse", "main").strip() == before


def test_push_drafts_and_a_discard_travels(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    job(alice, "src/a.txt", "draft\n")
    label = next(r for r in refs(alice) if r.startswith("refs/heads/gitbench/draft/"))
    assert label not in refs(server)
    ok(alice, "push")
    assert label not in refs(server)  # Drafts only when asked
    ok(alice, "push", "--drafts")
    assert refs(server)[label] == refs(alice)[label]
    ok(bob, "pull", "--drafts")
    assert refs(bob)[label] == refs(alice)[label]
    assert gitbench(alice, "discard", "--yes").returncode == 0
    ok(alice, "push", "--drafts")
    assert label not in refs(server)
    ok(bob, "pull", "--drafts")
    assert label not in refs(bob) or refs(bob)[label] == refs(alice).get(label)


def test_remote_setup_lets_plain_git_carry_gitbench_refs(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    ok(alice, "remote", "setup")
    ok(alice, "remote", "setup")  # twice: nothing added twice
    assert (
        git(alice, "config", "--get-all", "remote.origin.push")
        .splitlines()
        .count("refs/tags/checkpoint/*:refs/tags/checkpoint/*")
        == 1
    )
    ok(alice, "checkpoint", "-m", "by hand")
    git(alice, "push", "-q", "origin")
    assert refs(server)["refs/gitbench/records"] == refs(alice)["refs/gitbench/records"]
    assert set(r for r in refs(alice) if "checkpoint/" in r) <= set(refs(server))
    ok(bob, "remote", "setup")
    git(bob, "fetch", "-q", "origin")
    assert refs(bob)["refs/gitbench/remotes/origin/records"] == refs(server)["refs/gitbench/records"]


def test_no_remote_and_unreachable_remote_say_what_to_do(tmp_path: Path) -> None:
    wb = make_project(tmp_path / "wb")
    assert gitbench(wb, "init").returncode == 0
    res = gitbench(wb, "push")
    assert res.returncode == 2 and "git remote add" in res.stdout + res.stderr
    git(wb, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    before = refs(wb)
    for command in ("push", "pull"):
        res = gitbench(wb, command, "--json")
        assert res.returncode == 18, res.stdout + res.stderr
        error = json.loads(res.stdout)["error"]
        assert "nowhere.git" in error["message"] and error["code"] == "remote"
        assert "There is no Git repository at the address of the remote origin" in error["message"]
        # Git's reason, not its advice cut in two, and one full stop
        assert "does not appear to be a git repository; Could not read from remote repository." in error["message"]
        assert "access rights" not in error["message"] and ".." not in error["message"]
        assert any("git remote set-url origin URL" in a["command"] for a in error["actions"])
    assert refs(wb) == before


def test_records_merge_is_a_union(tmp_path: Path) -> None:
    """Conversations keep every line of both sides; a job record changed on both keeps both versions."""
    from gitbench.services.workbench import Workbench
    from gitbench.store.records import Lines

    wb = make_project(tmp_path / "wb")
    assert gitbench(wb, "init").returncode == 0
    w = Workbench(str(wb))
    w.records.write(
        {"chat/c.jsonl": Lines([{"n": 0}]), "jobs/j.json": {"updated": 1, "v": "base"}, "chat/current.json": {}}, "base"
    )
    base = w.records.head()
    assert base is not None
    w.records.write(
        {
            "chat/c.jsonl": Lines([{"n": 0}, {"n": "theirs"}]),
            "jobs/j.json": {"updated": 3},
            "chat/current.json": {"conversation": "theirs"},
        },
        "theirs",
    )
    theirs = w.records.head()
    assert theirs is not None
    w.git.set_ref("refs/gitbench/records", base, theirs, "back")
    w.records.write(
        {
            "chat/c.jsonl": Lines([{"n": 0}, {"n": "ours"}]),
            "jobs/j.json": {"updated": 2},
            "jobs/k.json": {},
            "chat/current.json": {"conversation": "ours"},
        },
        "ours",
    )
    head, both = w.records.merge(theirs, "merge")
    assert sorted(both) == ["chat/c.jsonl", "chat/current.json", "jobs/j.json"]
    assert w.records.read("chat/current.json") == {"conversation": "ours"}  # a pointer: each clone keeps its own
    assert [d["n"] for d in w.records.read_lines("chat/c.jsonl")] == [0, "ours", "theirs"]
    assert w.records.read("jobs/j.json") == {"updated": 3}
    kept = w.records.list("conflicts")
    assert len(kept) == 1 and w.records.read(f"conflicts/{kept[0]}") == {"updated": 2}
    assert w.records.read("jobs/k.json") == {}
    assert list(w.git.commit(head).parents)[1] == theirs
    # Merging again, or an ancestor, changes nothing.
    assert w.records.merge(theirs, "again") == (head, [])


@pytest.mark.parametrize("kind", ["kill", "enospc"])
def test_a_pull_that_dies_while_merging_records_loses_nothing(team: tuple[Path, Path, Path], kind: str) -> None:
    """The merge commit is written, then the ref moves (records.before-merge-ref): dying in between leaves the
    records as they were (an unreferenced commit), and the next pull merges again."""
    from tests.conftest import check_invariants

    server, alice, bob = team
    job(alice, "src/a.txt", "alice\n")
    ok(alice, "push")
    job(bob, "src/b.txt", "bob\n")
    before = git(bob, "rev-parse", "refs/gitbench/records").strip()
    res = gitbench(bob, "pull", env={"GITBENCH_FAULT": f"records.before-merge-ref:{kind}"})
    assert res.returncode != 0, res.stdout + res.stderr
    if kind == "enospc":
        assert res.returncode == 13, res.stdout + res.stderr
    assert git(bob, "rev-parse", "refs/gitbench/records").strip() == before
    ok(bob, "pull")
    jobs = git(bob, "ls-tree", "--name-only", "refs/gitbench/records:jobs").split()
    assert len(jobs) == 2
    assert git(bob, "merge-base", "--is-ancestor", before, "refs/gitbench/records") == ""
    check_invariants(bob)


def test_a_keep_mine_pull_stopped_by_local_edits_leaves_no_draft_behind(team: tuple[Path, Path, Path]) -> None:
    server, alice, bob = team
    job(alice, "src/a.txt", "alice\n")
    ok(alice, "publish", "--remote")
    job(bob, "src/b.txt", "bob\n")
    ok(bob, "publish")
    mine = git(bob, "rev-parse", "main").strip()
    (bob / "src" / "a.txt").write_text("my own, not committed\n")  # the pull would write over it
    res = gitbench(bob, "pull", "--keep-mine")
    assert res.returncode == 7, res.stdout + res.stderr
    assert git(bob, "rev-parse", "main").strip() == mine
    assert not [r for r in refs(bob) if r.startswith("refs/heads/gitbench/draft/")]
    assert (bob / "src" / "a.txt").read_text() == "my own, not committed\n"
    (bob / "src" / "a.txt").unlink()
    ok(bob, "pull", "--keep-mine")
    drafts = [r for r in refs(bob) if r.startswith("refs/heads/gitbench/draft/")]
    assert len(drafts) == 1 and refs(bob)[drafts[0]] == mine


def run(wb: Path, env: dict[str, str], *args: str) -> dict:
    res = gitbench(wb, *args, "--json", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)


def exec_job(wb: Path, env: dict[str, str], name: str) -> str:
    """`gitbench exec` writing the file ``name``; the ref of the Draft it made."""
    code = f"import pathlib; pathlib.Path({name!r}).write_text('x\\n')"
    res = gitbench(wb, "exec", "--files", "**", "--", sys.executable, "-c", code, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return next(r for r in refs(wb) if r.startswith("refs/heads/gitbench/draft/"))


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path, dict[str, str], Path, dict[str, str]]:
    """As ``team``, each clone with its own HOME (its own Draft worktrees): server, Alice, her env, Bob, his."""
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    a, b = ({"HOME": str(tmp_path / h), "XDG_CONFIG_HOME": str(tmp_path / h / ".config")} for h in ("ha", "hb"))
    alice = make_project(tmp_path / "alice")
    run(alice, a, "init")
    git(alice, "remote", "add", "origin", str(server))
    run(alice, a, "push")
    git(tmp_path, "clone", "-q", str(server), str(tmp_path / "bob"))
    bob = tmp_path / "bob"
    run(bob, b, "init")
    return server, alice, a, bob, b


def test_a_draft_kept_here_keeps_its_job_record_when_the_teammate_discarded_it_later(
    homes: tuple[Path, Path, dict[str, str], Path, dict[str, str]],
) -> None:
    """Bob pulls Alice's Draft and rebases it onto his own publish; Alice then discards it (her record newer) and
    pushes. Bob's pull keeps his Draft (changed here since), and the record of its job with it: his base, his
    status; Alice's record goes under conflicts/. Bob reviews it against his Published and publishes it."""
    server, alice, a, bob, b = homes
    draft = exec_job(alice, a, "shared.txt")
    label = draft.removeprefix("refs/heads/gitbench/draft/")
    run(alice, a, "push", "--drafts")
    exec_job(bob, b, "mine.txt")
    run(bob, b, "publish")
    published = git(bob, "rev-parse", "main").strip()
    run(bob, b, "pull", "--drafts")
    run(bob, b, "rebase")
    rebased = refs(bob)[draft]
    # Alice discards it after Bob's rebase: her record of the job is the newer one.
    later = {**a, "GITBENCH_NOW": str(time.time() + 3600)}
    assert gitbench(alice, "discard", "--yes", env=later).returncode == 0
    run(alice, a, "push", "--drafts")
    assert draft not in refs(server)

    pulled = run(bob, b, "pull", "--drafts")
    notes = " ".join(pulled["result"]["notes"])
    assert f"Draft {label} is gone from origin but changed here since: kept." in notes
    assert refs(bob)[draft] == rebased and git(bob, "rev-parse", "main").strip() == published
    record = json.loads(git(bob, "show", f"refs/gitbench/records:jobs/{label}.json"))
    assert record["base"] == published and record["status"] != "discarded"
    aside = git(bob, "ls-tree", "--name-only", "refs/gitbench/records", "conflicts/jobs/").split()
    assert [json.loads(git(bob, "show", f"refs/gitbench/records:{p}"))["status"] for p in aside] == ["discarded"]
    (listed,) = run(bob, b, "drafts")["result"]
    assert listed["base"] == published and listed["base_is_published"] and listed["status"] != "discarded"
    review = run(bob, b, "review")["result"]
    assert review["base"] == published and [f["path"] for f in review["files"]] == ["shared.txt"]
    assert f"The record of Draft {label}'s job stays this clone's" in notes
    run(bob, b, "publish")
    assert git(bob, "rev-parse", "main").strip() == rebased
    assert set(git(bob, "ls-tree", "--name-only", "main").split()) >= {"mine.txt", "shared.txt"}
    # Shared back, every clone ends with Bob's record in place: Alice's pull takes it.
    run(bob, b, "push", "--drafts")
    run(alice, a, "pull", "--drafts")
    assert json.loads(git(alice, "show", f"refs/gitbench/records:jobs/{label}.json"))["status"] == "published"


def test_a_draft_rebased_there_and_untouched_here_follows_with_the_teammates_record(
    homes: tuple[Path, Path, dict[str, str], Path, dict[str, str]],
) -> None:
    """Bob has Alice's shared Draft and leaves it alone; Alice rebases it onto Bob's publish and pushes it. Bob's
    pull brings her Draft (not a fast-forward of his: a rebase) and her record: it reviews against Published."""
    server, alice, a, bob, b = homes
    exec_job(bob, b, "mine.txt")
    run(bob, b, "publish")
    run(bob, b, "push")
    published = git(bob, "rev-parse", "main").strip()
    draft = exec_job(alice, a, "shared.txt")
    label = draft.removeprefix("refs/heads/gitbench/draft/")
    run(alice, a, "push", "--drafts")
    run(bob, b, "pull", "--drafts")
    old = refs(bob)[draft]
    run(alice, a, "pull")
    run(alice, a, "rebase")
    run(alice, a, "push", "--drafts")
    rebased = refs(alice)[draft]
    assert refs(server)[draft] == rebased and old not in git(alice, "rev-list", rebased)

    pulled = run(bob, b, "pull", "--drafts")
    assert f"Draft {label} moved on to origin's ({rebased[:12]}), rebased there" in " ".join(pulled["result"]["notes"])
    assert refs(bob)[draft] == rebased and git(bob, "rev-parse", "main").strip() == published
    assert json.loads(git(bob, "show", f"refs/gitbench/records:jobs/{label}.json"))["base"] == published
    assert git(bob, "ls-tree", "--name-only", "refs/gitbench/records", "conflicts/").split() == []
    review = run(bob, b, "review")["result"]
    assert review["base"] == published and [f["path"] for f in review["files"]] == ["shared.txt"]
    run(bob, b, "publish")
    assert git(bob, "rev-parse", "main").strip() == rebased
