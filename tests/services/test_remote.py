"""gitbench/services/remote.py through the real entry point (in-process), with a bare repository reached by path
as the server: which remote a command uses and what it says when it cannot tell, a publish to a server that was
never shared, and teammates' Drafts that moved or went on the server while they changed here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import git, gitbench, make_project
from tests.test_remote import job, refs, team  # noqa: F401 - team: the fixture


def error(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, *args, "--json")
    assert res.returncode != 0, res.stdout
    return dict(json.loads(res.stdout)["error"]) | {"exit": res.returncode}


def test_the_remote_is_the_one_named_or_the_upstream_or_origin_or_the_only_one_else_the_user_is_asked(
    tmp_path: Path,
) -> None:
    wb = make_project(tmp_path / "wb")
    assert gitbench(wb, "init").returncode == 0
    err = error(wb, "push")
    assert err["message"] == "This Workbench has no Git remote to share it through." and err["exit"] == 2
    assert [a["command"] for a in err["actions"]] == ["git remote add origin URL"]
    for name in ("alpha", "beta"):
        git(tmp_path, "init", "-q", "--bare", str(tmp_path / f"{name}.git"))
        git(wb, "remote", "add", name, str(tmp_path / f"{name}.git"))
    err = error(wb, "push")
    assert err["message"] == "This Workbench has several Git remotes (alpha, beta); say which."
    assert [a["command"] for a in err["actions"]] == ["gitbench push alpha"]
    err = error(wb, "push", "gamma")
    assert (
        err["message"]
        == "There is no Git remote 'gamma' in this Workbench (there is: alpha, beta). Nothing was changed."
    )
    git(wb, "config", "branch.main.remote", "beta")  # the Published branch's upstream decides
    assert gitbench(wb, "push", "--json").returncode == 0
    assert "refs/heads/main" in refs(tmp_path / "beta.git") and refs(tmp_path / "alpha.git") == {}


def test_publish_to_a_server_that_was_never_shared_publishes_nothing_and_says_to_push_first(tmp_path: Path) -> None:
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    wb = make_project(tmp_path / "wb")
    assert gitbench(wb, "init").returncode == 0
    git(wb, "remote", "add", "origin", str(server))
    job(wb, "src/a.txt", "a\n")
    published = git(wb, "rev-parse", "main").strip()
    err = error(wb, "publish", "--remote", "origin")
    assert err["message"] == (
        "origin has no Published branch (main) yet: share the Workbench first. Nothing was published."
    )
    assert [a.get("command") for a in err["actions"]][0] == "gitbench push origin"
    assert git(wb, "rev-parse", "main").strip() == published and refs(server) == {}
    assert git(wb, "for-each-ref", "refs/heads/gitbench/draft/") != ""  # the Draft is kept


def test_a_teammate_s_draft_that_changed_both_here_and_there_is_kept_and_one_gone_there_but_changed_here_too(
    team: tuple[Path, Path, Path],  # noqa: F811 - the fixture
) -> None:
    server, alice, bob = team
    job(alice, "src/a.txt", "alice's draft\n")
    [draft] = [r for r in refs(alice) if r.startswith("refs/heads/gitbench/draft/")]
    label = draft.rsplit("/", 1)[1]
    assert gitbench(alice, "push", "--drafts").returncode == 0
    assert gitbench(bob, "pull", "--drafts").returncode == 0
    assert refs(bob)[draft] == refs(server)[draft]
    # Both move the Draft on, each their own way (a commit on its tip, made with plain Git).
    for who, text in ((alice, "alice"), (bob, "bob")):
        tip = refs(who)[draft]
        tree = git(who, "rev-parse", f"{tip}^{{tree}}").strip()
        new = git(who, "commit-tree", tree, "-p", tip, "-m", f"{text}'s step").strip()
        git(who, "update-ref", draft, new, tip)
    mine = refs(bob)[draft]
    assert gitbench(alice, "push", "--drafts").returncode == 0
    pulled = json.loads(gitbench(bob, "pull", "--drafts", "--json").stdout)["result"]
    said = " ".join(pulled["notes"])
    assert f"Draft {label} changed both here and on origin; yours is kept as it is" in said
    assert refs(bob)[draft] == mine
    # Alice removes it on the server; Bob's own is not the one that went: it stays.
    git(server, "update-ref", "-d", draft)
    pulled = json.loads(gitbench(bob, "pull", "--drafts", "--json").stdout)["result"]
    assert f"Draft {label} is gone from origin but changed here since: kept." in " ".join(pulled["notes"])
    assert refs(bob)[draft] == mine
