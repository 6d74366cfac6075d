"""gitbench/services/status.py: what `gitbench status` says, in-process through the real entry point against real
repositories. Where Published stands against the server is read from the refs this clone last fetched (no
network): here they are set with `git update-ref`, as a fetch would have left them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, gitbench, run_job

TRACKED = "refs/remotes/origin/main"
TRACKED_RECORDS = "refs/gitbench/remotes/origin/records"


def server_line(wb: Path) -> str | None:
    res = gitbench(wb, "status", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["result"]["server"]


def commit_on(wb: Path, parent: str, message: str) -> str:
    """A commit made elsewhere (a teammate's publish), as a fetch would bring it."""
    tree = git(wb, "rev-parse", f"{parent}^{{tree}}").strip()
    return git(wb, "commit-tree", tree, "-p", parent, "-m", message).strip()


def test_status_says_where_published_stands_against_the_server_as_last_seen(workbench: Path) -> None:
    wb = workbench
    assert server_line(wb) is None  # no remote: nothing to say
    git(wb, "remote", "add", "origin", str(wb.parent / "server.git"))
    assert server_line(wb) == "origin: not shared yet (`gitbench push` shares this Workbench)"

    records = git(wb, "rev-parse", "refs/gitbench/records").strip()
    git(wb, "update-ref", TRACKED_RECORDS, records)
    assert server_line(wb) == "origin: has no Published yet (`gitbench push`), as last seen"

    main = git(wb, "rev-parse", "main").strip()
    git(wb, "update-ref", TRACKED, main)
    assert server_line(wb) == "origin: same Published as here, as last seen"

    theirs = commit_on(wb, main, "a teammate's publish")
    git(wb, "update-ref", TRACKED, theirs)
    assert server_line(wb) == "origin: has newer publishes (`gitbench pull`), as last seen"

    ours = commit_on(wb, main, "ours")
    git(wb, "update-ref", TRACKED, main)
    git(wb, "update-ref", "refs/heads/main", ours, main)
    assert server_line(wb) == (
        "origin: your Published is ahead (`gitbench push`, or publish with --remote), as last seen"
    )
    git(wb, "update-ref", TRACKED, theirs)
    assert server_line(wb) == "origin: Published went two ways (`gitbench pull --keep-mine`), as last seen"

    # Records this clone has that the server has not seen: said too (an older server value is an ancestor).
    newer = commit_on(wb, records, "a record written here")
    git(wb, "update-ref", "refs/gitbench/records", newer, records)
    assert server_line(wb) == (
        "origin: Published went two ways (`gitbench pull --keep-mine`); records to push, as last seen"
    )
    git(wb, "update-ref", TRACKED_RECORDS, newer)
    assert "records to push" not in (server_line(wb) or "")
    git(wb, "update-ref", "refs/heads/main", main, ours)  # put Published back for the invariants


def test_with_several_remotes_and_none_chosen_status_says_nothing_of_a_server(workbench: Path) -> None:
    git(workbench, "remote", "add", "alpha", "/nonexistent/a.git")
    git(workbench, "remote", "add", "beta", "/nonexistent/b.git")
    assert server_line(workbench) is None
    git(workbench, "config", "branch.main.remote", "beta")  # the Published branch's upstream decides
    git(workbench, "update-ref", "refs/remotes/beta/main", "main")
    assert server_line(workbench) == "beta: same Published as here; records to push, as last seen"


def test_a_draft_deleted_outside_gitbench_is_reported_with_the_command_that_brings_it_back(workbench: Path) -> None:
    ref, head = run_job(workbench, "import pathlib; pathlib.Path('src/app.py').write_text('changed')")
    git(workbench, "update-ref", "-d", ref)  # `git branch -D`: the branch and its reflog are gone
    res = gitbench(workbench, "status", "--json")
    assert res.returncode == 0, res.stderr
    job = json.loads(res.stdout)["result"]["last_job"]["id"]
    reminders = json.loads(res.stdout)["result"]["reminders"]
    assert (
        f"The Draft of job {job} is missing: its branch was deleted outside gitbench. Its last commit is "
        f"{head[:12]}: bring it back with `git update-ref {ref} {head}`."
    ) in reminders
    git(workbench, "update-ref", ref, head)  # what it says works
    assert gitbench(workbench, "review").returncode == 0
