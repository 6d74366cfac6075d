"""gitbench/services/init.py through the real entry point, in-process: what `gitbench init` adopts, and what it
refuses with the command that does what was meant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import git, gitbench, make_project


def error(cwd: Path, *args: str) -> dict[str, Any]:
    res = gitbench(cwd, *args, "--json")
    assert res.returncode == 2, res.stdout + res.stderr
    return dict(json.loads(res.stdout)["error"])


def test_init_of_a_new_folder_makes_the_repository_and_records_its_files_as_published(tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine\n")
    res = gitbench(tmp_path, "init", str(folder), "--published", "trunk", "--json")
    assert res.returncode == 0, res.stderr
    notes = json.loads(res.stdout)["result"]["notes"]
    assert f"Created a new Git repository in {folder}." in notes
    assert "Recorded the folder's files as the first Published state." in notes
    assert git(folder, "symbolic-ref", "HEAD").strip() == "refs/heads/trunk"
    assert git(folder, "show", "trunk:notes.txt") == "mine\n"
    assert git(folder, "config", "gitbench.published").strip() == "trunk"


def test_init_refuses_a_file_a_subfolder_another_published_and_a_branch_that_is_not_there(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    err = error(tmp_path, "init", str(project / "README.md"))
    assert err["message"] == f"{project / 'README.md'} is a file, not a folder."
    err = error(tmp_path, "init", str(project / "src"))
    assert (
        err["message"]
        == f"{project / 'src'} is inside the Git repository {project}; a Workbench is a whole repository."
    )
    assert err["actions"][0]["command"] == f"gitbench init {project}"
    err = error(project, "init", "--published", "release")
    assert err["message"] == "There is no branch release to publish to."
    assert err["actions"][0]["command"] == "gitbench init --published BRANCH"
    assert git(project, "config", "--get", "gitbench.published", check=False) == ""  # nothing adopted
    assert gitbench(project, "init").returncode == 0
    err = error(project, "init", "--published", "release")
    assert err["message"] == f"{project} is already a Workbench whose Published branch is main, not release."
    res = gitbench(project, "init", "--json")  # again, as it is: the hooks are checked
    assert res.returncode == 0
    assert (
        json.loads(res.stdout)["result"]["summary"]
        == f"{project} is already a Workbench (Published: main); hooks checked."
    )
