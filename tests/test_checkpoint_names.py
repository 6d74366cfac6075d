"""Checkpoint names that never collide between clones and sort by time (issue 13), with the names of older
Workbenches still valid; a page of the history; many checkpoints kept packed.

Names are ``checkpoint/YYMMDD-HHMMSS-CCCC``: the UTC time it was taken (gitbench's clock: ``GITBENCH_NOW``) and
the clone's id, drawn once per clone into its own ``.git/config``. Clones are made with plain ``git clone`` and
shared through a bare repository, as a team shares a Workbench through a Git server.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitbench.git import refdb
from gitbench.services import checkpoint_names as names
from tests.conftest import CHECKPOINT_NAME, check_invariants, checkpoint_names, git, gitbench, make_project

# Later than any real clock these tests run on: a Workbench's init checkpoint is taken at the real time, and a
# checkpoint is never named before the last one.
NOW = "2031-05-17T07:21:05+00:00"
STAMP = "310517-072105"  # NOW as a name says it
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def ok(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    data = json.loads(res.stdout)
    assert data["ok"] is True
    return data


def taken(repo: Path, *args: str, now: str = NOW) -> str:
    """`gitbench checkpoint` at ``now``: the name it reports."""
    (name,) = ok(gitbench(repo, "checkpoint", "--json", *args, env={"GITBENCH_NOW": now}))["result"]["checkpoints"]
    assert CHECKPOINT_NAME.fullmatch(name), name
    return name


def clone_id(repo: Path) -> str:
    return git(repo, "config", "--get", "gitbench.clone").strip()


def listed(repo: Path, *args: str) -> tuple[list[str], int]:
    """`gitbench checkpoints --json`: the names listed, and how many older ones it says are not."""
    data = ok(gitbench(repo, "checkpoints", "--json", *args))
    return [c["name"] for c in data["result"]], data["older"]


def tag_message(repo: Path, kind: str, message: str) -> str:
    """A checkpoint's tag message as gitbench writes it (kind, Published, the records it names)."""
    records = git(repo, "rev-parse", "refs/gitbench/records").strip()
    return (
        f"{kind} checkpoint: {message}\n\nGitbench-Checkpoint-Kind: {kind}\n"
        f"Gitbench-Published: refs/heads/main\nGitbench-Records: {records}\n"
    )


# -- two clones, one server -------------------------------------------------------------------------------------
@pytest.fixture
def server(workbench: Path, tmp_path: Path) -> Path:
    """A bare repository holding the Workbench's main and checkpoints: the team's Git server."""
    bare = tmp_path / "server.git"
    git(tmp_path, "clone", "-q", "--bare", str(workbench), str(bare))
    return bare


def team_clone(server: Path, path: Path) -> Path:
    """A teammate's clone, adopted with `gitbench init`."""
    git(server.parent, "clone", "-q", str(server), str(path))
    ok(gitbench(path, "init", "--json"))
    return path


def test_two_clones_taking_checkpoints_in_the_same_second_make_different_names_that_both_push(
    server: Path, tmp_path: Path
) -> None:
    alice, bob = team_clone(server, tmp_path / "alice"), team_clone(server, tmp_path / "bob")
    assert clone_id(alice) != clone_id(bob), "each clone draws its own id into its own .git/config"
    mine, theirs = taken(alice, "-m", "alice"), taken(bob, "-m", "bob")
    assert mine != theirs
    assert mine == f"checkpoint/{STAMP}-{clone_id(alice)}" and theirs == f"checkpoint/{STAMP}-{clone_id(bob)}"
    # Both push their checkpoints to the server: no name is taken twice, nothing is refused. (The records each
    # names travel beside them, under a name of each clone's own here: merging records is not this test's.)
    for clone, who in ((alice, "alice"), (bob, "bob")):
        git(clone, *NO_HOOKS, "push", "-q", "origin", "refs/tags/checkpoint/*:refs/tags/checkpoint/*")
        git(clone, *NO_HOOKS, "push", "-q", "origin", f"refs/gitbench/records:refs/records/{who}")
    on_server = git(server, "tag", "-l", "checkpoint/*").split()
    assert {mine, theirs} <= set(on_server)
    # Each sees the other's after a fetch, and can restore it.
    git(alice, *NO_HOOKS, "fetch", "-q", "origin", "refs/tags/checkpoint/*:refs/tags/checkpoint/*")
    git(alice, *NO_HOOKS, "fetch", "-q", "origin", "refs/records/bob:refs/records/bob")
    assert theirs in listed(alice)[0]
    res = ok(gitbench(alice, "restore", theirs, "--yes", "--json"))
    assert res["result"]["published"] == git(bob, "rev-parse", "main").strip()
    check_invariants(alice)
    check_invariants(bob)


def test_a_copy_of_the_repository_that_lost_its_stamp_moves_on_past_the_names_it_made(workbench: Path) -> None:
    """The same clone id (a copied repository, .git/config and all) and no stamp file: the name of the second is
    taken, so the checkpoint goes past the newest this clone made rather than fail."""
    first = taken(workbench)
    second = taken(workbench)
    (workbench / ".git/gitbench/checkpoint-stamp").unlink()
    third = taken(workbench)
    assert (first, second, third) == tuple(f"checkpoint/310517-07210{s}-{clone_id(workbench)}" for s in (5, 6, 7))
    check_invariants(workbench)


# -- one clone ---------------------------------------------------------------------------------------------------
def test_names_carry_the_utc_time_and_sort_in_the_order_taken(workbench: Path) -> None:
    times = [NOW, "2031-05-17T09:00:00+01:00", "2032-01-01T00:00:00+00:00"]
    made = [taken(workbench, "-m", f"at {t}", now=t) for t in times]
    clone = clone_id(workbench)
    assert made == [f"checkpoint/{s}-{clone}" for s in ("310517-072105", "310517-080000", "320101-000000")]
    assert checkpoint_names(workbench)[1:] == made  # `git tag -l` (text order) is time order
    assert listed(workbench)[0][1:] == made
    for name, when in zip(made, times, strict=True):
        assert names.stamp_of(name.removeprefix("checkpoint/")) == int(datetime.fromisoformat(when).timestamp())
    st_json = ok(gitbench(workbench, "status", "--json"))["result"]
    assert st_json["published"]["checkpoint"] == made[-1]  # the newest, as status says it
    check_invariants(workbench)


def test_checkpoints_in_the_same_second_take_the_next_seconds_even_when_the_clock_goes_back(workbench: Path) -> None:
    clone = clone_id(workbench)
    same = [taken(workbench, now=NOW) for _ in range(3)]
    assert same == [f"checkpoint/310517-07210{s}-{clone}" for s in (5, 6, 7)]
    earlier = taken(workbench, now="2031-05-17T07:00:00+00:00")  # a clock set back: still after the last one
    assert earlier == f"checkpoint/310517-072108-{clone}"
    assert checkpoint_names(workbench)[1:] == [*same, earlier]
    assert (workbench / ".git/gitbench/checkpoint-stamp").read_text().strip() == str(
        names.stamp_of(earlier.removeprefix("checkpoint/"))
    )
    check_invariants(workbench)


def test_the_clone_id_is_drawn_once_and_kept_in_the_repositorys_own_config(project: Path) -> None:
    ok(gitbench(project, "init", "--json"))
    clone = clone_id(project)
    assert len(clone) == 4 and set(clone) <= set(names.ALPHABET)
    assert "gitbench.clone" not in git(project, "config", "--global", "--list", check=False)
    taken(project)
    assert clone_id(project) == clone
    assert all(name.endswith("-" + clone) for name in checkpoint_names(project))
    bad = gitbench(project, "checkpoint", "--json", env={"GITBENCH_CLONE": "l0O1"})
    assert bad.returncode == 9 and "GITBENCH_CLONE" in json.loads(bad.stdout)["error"]["message"]  # none taken


# -- an older Workbench: checkpoint/1, checkpoint/2, ... ---------------------------------------------------------
@pytest.fixture
def numbered(workbench: Path) -> tuple[Path, list[str]]:
    """A Workbench as an older gitbench left it: checkpoint/1..3 (one per commit of main), no clone id yet.
    Returns it and the commit each numbered checkpoint names."""
    for ref in git(workbench, "for-each-ref", "--format=%(refname)", "refs/tags/checkpoint/").split():
        git(workbench, "update-ref", "-d", ref)
    git(workbench, "config", "--unset", "gitbench.clone")
    (workbench / ".git/gitbench/checkpoint-stamp").unlink()
    commits = []
    for n, kind in enumerate(["init", "manual", "publish"], 1):
        if n > 1:
            (workbench / "README.md").write_text(f"# version {n}\n")
            git(workbench, *NO_HOOKS, "commit", "-q", "-am", f"version {n}")
        git(workbench, "tag", "-a", f"checkpoint/{n}", "-m", tag_message(workbench, kind, f"number {n}"))
        commits.append(git(workbench, "rev-parse", "main").strip())
    (workbench / "README.md").write_text("# after the checkpoints\n")
    git(workbench, *NO_HOOKS, "commit", "-q", "-am", "after")
    return workbench, commits


def test_an_older_workbench_lists_its_numbers_restores_by_number_and_goes_on_with_new_names(
    numbered: tuple[Path, list[str]],
) -> None:
    wb, commits = numbered
    assert listed(wb) == (["checkpoint/1", "checkpoint/2", "checkpoint/3"], 0)
    text = gitbench(wb, "checkpoints").stdout
    assert text.index("checkpoint/1 ") < text.index("checkpoint/2 ") < text.index("checkpoint/3 ")
    assert ok(gitbench(wb, "status", "--json"))["result"]["published"]["checkpoint"] is None  # main moved on

    pre = ok(gitbench(wb, "restore", "3", "--yes", "--json"))["result"]["checkpoints"][0]
    assert git(wb, "rev-parse", "main").strip() == commits[2]
    assert (wb / "README.md").read_text() == "# version 3\n"
    # The first checkpoint it takes has a new name (the clone id is drawn now), listed after the numbers.
    assert CHECKPOINT_NAME.fullmatch(pre) and not pre.removeprefix("checkpoint/").isdigit()
    assert pre.endswith("-" + clone_id(wb))
    ok(gitbench(wb, "restore", "checkpoint/2", "--yes", "--json"))
    assert git(wb, "rev-parse", "main").strip() == commits[1]
    made = taken(wb)
    every, older = listed(wb)
    assert every[:3] == ["checkpoint/1", "checkpoint/2", "checkpoint/3"] and every[3] == pre and older == 0
    assert len(every) == 6 and every[-1] == made
    assert ok(gitbench(wb, "status", "--json"))["result"]["published"]["checkpoint"] == made
    why = ok(gitbench(wb, "why", "README.md", "--rev", "1", "--json"))["result"]
    assert why["rev"] == "checkpoint/1" and why["commit"] == commits[0]
    check_invariants(wb)


def test_history_order_puts_the_numbers_first_by_number_then_the_names_by_time() -> None:
    tails = ["261203-072106-abcd", "10", "2", "261203-072105-zzzz", "1", "270101-000000-abcd"]
    assert names.history_order(tails) == [
        "1",
        "2",
        "10",
        "261203-072105-zzzz",
        "261203-072106-abcd",
        "270101-000000-abcd",
    ]


# -- naming a checkpoint -------------------------------------------------------------------------------------------
def test_a_checkpoint_is_named_by_its_name_its_tail_or_any_unique_beginning_and_an_ambiguous_one_lists_them(
    workbench: Path,
) -> None:
    a = taken(workbench, "-m", "a", now=NOW)
    b = taken(workbench, "-m", "b", now="2031-05-17T07:25:00+00:00")
    main = git(workbench, "rev-parse", "main").strip()
    tail = a.removeprefix("checkpoint/")
    for way in (a, tail, f"refs/tags/{a}", "310517-0721", "310517-07210", tail.upper()):
        res = gitbench(workbench, "why", "README.md", "--rev", way, "--json")
        assert json.loads(res.stdout)["result"]["rev"] in (a, way), way
    res = ok(gitbench(workbench, "restore", "310517-0721", "--yes", "--json"))
    assert res["result"]["summary"].startswith(f"Restored {a}:")
    assert git(workbench, "rev-parse", "main").strip() == main

    ambiguous = gitbench(workbench, "restore", "310517-072", "--yes", "--json")
    assert ambiguous.returncode == 10
    err = json.loads(ambiguous.stdout)["error"]
    assert err["code"] == "checkpoint-not-found"
    assert err["details"]["candidates"][:2] == [a, b] and a in err["message"] and b in err["message"]
    assert "gitbench checkpoints --all" in [x["command"] for x in err["actions"]]
    text = gitbench(workbench, "restore", "310517-072", "--yes", env={"COLUMNS": "250"}).stderr
    assert "begins" in text and a in text
    for missing in ("310518", "checkpoint/99", "../../heads/main", "zz", ""):
        res = gitbench(workbench, "restore", missing, "--yes", "--json")
        assert res.returncode in (2, 10), (missing, res.stdout, res.stderr)
    assert git(workbench, "rev-parse", "main").strip() == main
    check_invariants(workbench)


# -- a page of the history -----------------------------------------------------------------------------------------
def make_tags(repo: Path, count: int, clone: str = "t3am") -> list[str]:
    """``count`` checkpoints made with git, as a teammate's pulled ones are: one a minute, from a day before the
    Workbench's first checkpoint."""
    first = checkpoint_names(repo)[0].removeprefix("checkpoint/")
    start = (names.stamp_of(first) or 0) - 86_400
    head = git(repo, "rev-parse", "main").strip()
    made = []
    message = tag_message(repo, "manual", "pulled")
    stream = ""
    for i in range(count):
        name = "checkpoint/" + datetime.fromtimestamp(start + 60 * i, UTC).strftime("%y%m%d-%H%M%S") + f"-{clone}"
        stream += f"tag {name}\nfrom {head}\ntagger T <t@example.invalid> {start + 60 * i} +0000\n"
        stream += f"data {len(message.encode())}\n{message}\n"
        made.append(name)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, text=True, check=True)
    return made


def test_checkpoints_shows_the_newest_thirty_and_says_how_many_are_older(workbench: Path) -> None:
    init = checkpoint_names(workbench)
    pulled = make_tags(workbench, 34)
    every = [*pulled, *init]  # the pulled ones are older than the init checkpoint
    assert checkpoint_names(workbench) == sorted(every)
    assert listed(workbench) == (every[-30:], 5)
    assert listed(workbench, "--limit", "3") == (every[-3:], 32)
    assert listed(workbench, "--all") == (every, 0)
    assert listed(workbench, "--limit", "100") == (every, 0)
    text = gitbench(workbench, "checkpoints", "-n", "2").stdout.splitlines()
    assert [line.split()[0] for line in text[:2]] == every[-2:]
    assert text[-1] == "33 older checkpoints are not shown: gitbench checkpoints --all"
    assert gitbench(workbench, "checkpoints", "--limit", "0").returncode == 2


def test_many_loose_checkpoints_are_packed_by_the_next_one_and_stay_restorable(workbench: Path) -> None:
    pulled = make_tags(workbench, 70)  # `git fetch` writes each one as a loose file
    loose = workbench / ".git/refs/tags/checkpoint"
    assert len(list(loose.iterdir())) == 71
    made = taken(workbench)
    assert not loose.exists() or not list(loose.iterdir()), "moved into packed-refs"
    assert checkpoint_names(workbench) == sorted([*pulled, *checkpoint_names(workbench)[-2:]])
    assert len(checkpoint_names(workbench)) == 72 and checkpoint_names(workbench)[-1] == made
    res = ok(gitbench(workbench, "restore", pulled[0], "--yes", "--json"))
    assert res["result"]["summary"].startswith(f"Restored {pulled[0]}:")
    check_invariants(workbench)


# -- the names under a prefix, read without listing every ref ------------------------------------------------------
REF_NAME = st.from_regex(r"[a-z0-9]{1,3}(/[a-z0-9]{1,3})?", fullmatch=True)
PREFIXES = ["refs/tags/checkpoint/", "refs/tags/c", "refs/heads/"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    refs=st.lists(st.tuples(st.sampled_from(PREFIXES), REF_NAME), max_size=12, unique=True),
    packed=st.integers(min_value=0, max_value=12),
)
def test_the_names_under_a_prefix_are_those_git_lists_packed_or_loose(
    tmp_path_factory: pytest.TempPathFactory, refs: list[tuple[str, str]], packed: int
) -> None:
    repo = make_project(tmp_path_factory.mktemp("refs") / "r", {"a.txt": "a\n"})
    head = git(repo, "rev-parse", "HEAD").strip()
    for i, (prefix, rest) in enumerate(refs):
        # A name that is a folder of another (refs/heads/a and refs/heads/a/b) is refused: as by git itself.
        subprocess.run(["git", "update-ref", prefix + rest, head], cwd=repo, capture_output=True)
        if i + 1 == packed:
            git(repo, "pack-refs", "--all")  # the first ones packed, the others loose
    every = git(repo, "for-each-ref", "--format=%(refname)").split()
    gitdir = str(repo / ".git")
    for prefix in [*PREFIXES, "refs/tags/", "refs/", "refs/nothing/"]:
        assert refdb.names(gitdir, prefix) == sorted(n for n in every if n.startswith(prefix)), prefix
    assert refdb.values(gitdir, "refs/") == {n: git(repo, "rev-parse", n).strip() for n in every}
