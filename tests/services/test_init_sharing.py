"""gitbench/services/init.py through the real entry point, in-process: adopting a clone whose Git server can or
cannot be read, a server whose records name no Published branch, files in the way of the server's Published, and
a new repository whose HEAD names another branch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import git, gitbench, make_project


def init(wb: Path, *args: str) -> dict[str, Any]:
    res = gitbench(wb, "init", *args, "--json")
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def shared_server(tmp_path: Path) -> Path:
    """A bare server that a Workbench was shared to (`gitbench push`): its Published and its records."""
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(server))
    wb = make_project(tmp_path / "first")
    assert gitbench(wb, "init").returncode == 0
    git(wb, "remote", "add", "origin", str(server))
    res = gitbench(wb, "push", "origin")
    assert res.returncode == 0, res.stdout + res.stderr
    assert git(server, "for-each-ref", "refs/gitbench/records") != ""
    return server


def test_a_repository_with_several_remotes_and_none_chosen_is_adopted_on_its_own(tmp_path: Path) -> None:
    wb = make_project(tmp_path / "wb")
    for name in ("a", "b"):
        git(tmp_path, "init", "-q", "--bare", str(tmp_path / f"{name}.git"))
        git(wb, "remote", "add", name, str(tmp_path / f"{name}.git"))
    data = init(wb)
    assert data["ok"] is True and "Shared with its Git server" not in data["result"]["summary"]
    assert git(wb, "config", "gitbench.published").strip() == "main"


def test_a_server_that_cannot_be_read_is_said_and_the_folder_is_adopted_on_its_own(tmp_path: Path) -> None:
    wb = make_project(tmp_path / "wb")
    git(wb, "remote", "add", "origin", str(tmp_path / "gone.git"))
    data = init(wb)
    assert data["ok"] is True, data
    notes = data["result"]["notes"]
    assert any(n.startswith("Could not read the Git server origin (") for n in notes), notes
    assert any(n.endswith("adopted this folder on its own.") for n in notes)
    assert git(wb, "for-each-ref", "refs/gitbench/records") != ""  # its own records


def test_a_server_without_published_or_records_leaves_the_folder_its_own(tmp_path: Path) -> None:
    server = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(server))
    wb = make_project(tmp_path / "wb")
    git(wb, "remote", "add", "origin", str(server))
    data = init(wb, "--published", "main")
    assert data["ok"] is True, data
    assert "Shared with its Git server" not in data["result"]["summary"]
    assert data["result"]["checkpoints"]  # its own init checkpoint: nothing adopted


def test_records_that_name_no_published_branch_take_the_server_s_default_branch(tmp_path: Path) -> None:
    server = shared_server(tmp_path)
    # The server's records, rewritten without workbench.json: they name no Published branch.
    empty = git(server, "hash-object", "-w", "-t", "tree", "/dev/null").strip()
    bare = git(server, "commit-tree", empty, "-m", "records without workbench.json").strip()
    git(server, "update-ref", "refs/gitbench/records", bare)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(server), str(clone))
    data = init(clone)
    assert data["ok"] is True, data
    assert data["result"]["summary"].endswith("Shared with its Git server: its checkpoints and records are here.")
    assert "The job records are origin's." in data["result"]["notes"]
    assert git(clone, "config", "gitbench.published").strip() == "main"
    assert git(clone, "rev-parse", "refs/gitbench/records").strip() == bare


def test_files_in_the_way_of_the_server_s_published_stop_the_adoption_with_nothing_adopted(tmp_path: Path) -> None:
    server = shared_server(tmp_path)
    here = tmp_path / "here"
    here.mkdir()
    git(here, "init", "-q", "-b", "main")
    git(here, "remote", "add", "origin", str(server))
    (here / "README.md").write_text("mine, not the server's\n")  # untracked, where Published has its README
    data = init(here)
    assert data["ok"] is False
    err = data["error"]
    assert err["message"].startswith("Could not check out origin's Published (main) here: ")
    assert err["message"].endswith("Nothing was adopted.")
    assert err["actions"][0]["label"] == "Move the files in the way aside, then"
    assert (here / "README.md").read_text() == "mine, not the server's\n"
    assert git(here, "config", "--get", "gitbench.published", check=False) == ""
    assert git(here, "for-each-ref", "refs/heads/main", "refs/gitbench/records") == ""


def test_a_repository_on_another_branch_takes_the_server_s_published_as_its_ref(tmp_path: Path) -> None:
    server = shared_server(tmp_path)
    wb = make_project(tmp_path / "wb", {"other.txt": "other\n"})
    git(wb, "branch", "-m", "main", "work")  # HEAD: work; no main here
    git(wb, "remote", "add", "origin", str(server))
    data = init(wb)
    assert data["ok"] is True, data
    assert git(wb, "rev-parse", "refs/heads/main").strip() == git(server, "rev-parse", "main").strip()
    assert "Published is origin's main (" in " ".join(data["result"]["notes"])
    assert git(wb, "symbolic-ref", "HEAD").strip() == "refs/heads/work"  # its own work, not moved


def test_a_new_repository_whose_head_names_another_branch_is_moved_to_published(tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    git(here, "init", "-q", "-b", "sketch")
    (here / "a.txt").write_text("a\n")
    data = init(here, "--published", "main")
    assert data["ok"] is True, data
    assert git(here, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(here, "show", "main:a.txt") == "a\n"
    assert "Recorded the folder's files as the first Published state." in data["result"]["notes"]


def test_a_clone_of_a_plain_server_named_published_adopts_no_records_and_takes_its_own_checkpoint(
    tmp_path: Path,
) -> None:
    origin = make_project(tmp_path / "origin")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    data = init(clone, "--published", "main")
    assert data["ok"] is True, data
    assert "Shared with its Git server" not in data["result"]["summary"]
    assert not any("job records" in n for n in data["result"]["notes"])
    assert len(data["result"]["checkpoints"]) == 1
    assert git(clone, "rev-parse", "main").strip() == git(origin, "rev-parse", "main").strip()
