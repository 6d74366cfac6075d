"""Git's sparse checkouts and submodules, as a careful Git user expects them (issue 14; docs/concepts.md).

* A Workbench checked out sparsely (`git sparse-checkout set src`): a job still sees the files of its scope; a
  Draft that changes files outside the cone publishes and restores like `git merge --ff-only`: Published and the
  index get the change, the folder does not show those files (they stay skip-worktree), and the result says so and
  how to see them. Never the old "edited since it was published" conflict for a file that is simply not there.
* Submodules: gitbench does not manage a submodule's files. A job's files written inside one, or a change it
  stages to the submodule's commit, are refused with a reason naming the submodule and how to commit inside it; a
  Draft whose own commit moves the submodule publishes that pointer (the submodule's folder untouched, as `git
  merge` without --recurse-submodules leaves it) and says how to check the new commit out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import check_invariants, git, gitbench, make_project, nth_checkpoint


def sparse_workbench(tmp_path: Path) -> Path:
    wb = make_project(tmp_path / "p", {"README.md": "# p\n", "src/app.py": "a = 1\n", "docs/guide.md": "guide\n"})
    git(wb, "sparse-checkout", "set", "src")
    assert not (wb / "docs").exists()
    assert gitbench(wb, "init").returncode == 0
    return wb


def notes_of(res_stdout: str) -> str:
    return " ".join(json.loads(res_stdout)["result"]["notes"])


def test_a_draft_outside_the_sparse_cone_publishes_and_restores_without_a_false_conflict(tmp_path: Path) -> None:
    wb = sparse_workbench(tmp_path)
    code = "open('docs/guide.md','a').write('more\\n'); open('docs/new.md','w').write('new\\n')"
    job = gitbench(wb, "exec", "--files", "docs/**", "--", sys.executable, "-c", code)
    assert job.returncode == 0, job.stderr  # the job saw docs/ although the Workbench's checkout does not

    res = gitbench(wb, "publish", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    notes = notes_of(res.stdout)
    assert "docs/guide.md, docs/new.md, outside this sparse checkout (cone: src/)" in notes
    assert "git sparse-checkout add docs" in notes
    assert git(wb, "show", "main:docs/guide.md") == "guide\nmore\n"
    assert not (wb / "docs").exists()  # as `git merge` leaves it: not shown
    assert git(wb, "ls-files", "-t", "docs").split("\n")[:2] == ["S docs/guide.md", "S docs/new.md"]
    assert git(wb, "status", "--porcelain") == ""
    status = json.loads(gitbench(wb, "status", "--json").stdout)["result"]
    assert status["local_changes"] == []  # libgit2 alone took the files left out for deleted ones

    res = gitbench(wb, "restore", nth_checkpoint(wb, 1), "--yes", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "outside this sparse checkout" in notes_of(res.stdout)
    assert git(wb, "ls-files", "-t", "docs").strip() == "S docs/guide.md"
    assert git(wb, "status", "--porcelain") == ""

    git(wb, "sparse-checkout", "add", "docs")  # what the note says to do shows exactly Published's files
    assert (wb / "docs" / "guide.md").read_text() == "guide\n"
    check_invariants(wb)


def submodule_workbench(tmp_path: Path) -> tuple[Path, str, str]:
    lib = make_project(tmp_path / "lib", {"l.txt": "one\n"})
    first = git(lib, "rev-parse", "HEAD").strip()
    (lib / "l.txt").write_text("two\n")
    git(lib, "commit", "-q", "-am", "two")
    second = git(lib, "rev-parse", "HEAD").strip()
    wb = make_project(tmp_path / "p")
    git(wb, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "lib")
    git(wb, "commit", "-q", "-m", "submodule")
    assert gitbench(wb, "init").returncode == 0
    return wb, first, second


def test_a_job_writing_inside_a_submodule_is_told_gitbench_does_not_manage_it_and_how_to_commit_there(
    tmp_path: Path,
) -> None:
    wb, first, _ = submodule_workbench(tmp_path)
    write = "open('lib/new.txt','w').write('x')"
    res = gitbench(wb, "exec", "--json", "--files", "lib/**", "--", sys.executable, "-c", write)
    assert res.returncode == 11, res.stdout + res.stderr  # before: "the command changed nothing"
    text = json.loads(res.stdout)["error"]["message"]
    assert "inside the Git submodule lib: gitbench does not manage a submodule's files" in text
    assert "cd lib && git add -A && git commit" in text
    assert gitbench(wb, "discard", "--yes").returncode == 0

    stage = f"git update-index --cacheinfo 160000,{first},lib"
    res = gitbench(wb, "exec", "--json", "--files", "lib", "--", "sh", "-c", stage)
    assert res.returncode == 11, res.stdout + res.stderr
    assert "the commit the Git submodule lib points at" in json.loads(res.stdout)["error"]["message"]
    assert gitbench(wb, "discard", "--yes").returncode == 0
    check_invariants(wb)


def test_a_draft_that_moves_a_submodule_publishes_the_pointer_and_says_how_to_check_it_out(tmp_path: Path) -> None:
    wb, first, second = submodule_workbench(tmp_path)
    move = f"git update-index --cacheinfo 160000,{first},lib && git commit -q -m 'lib back'"
    res = gitbench(wb, "exec", "--files", "lib", "--", "sh", "-c", move)
    assert res.returncode == 0, res.stdout + res.stderr

    res = gitbench(wb, "publish", "--json")  # before: "a folder with files is in the way" (lib/ is checked out)
    assert res.returncode == 0, res.stdout + res.stderr
    notes = notes_of(res.stdout)
    assert f"points the submodule lib at commit {first[:12]} (it was {second[:12]})" in notes
    assert "git submodule update lib" in notes
    assert git(wb, "ls-files", "-s", "lib").split()[1] == first
    assert (wb / "lib" / "l.txt").read_text() == "two\n"  # the submodule's own checkout is not touched
    git(wb, "submodule", "update", "lib")
    assert (wb / "lib" / "l.txt").read_text() == "one\n"
    assert git(wb, "status", "--porcelain") == ""
    check_invariants(wb)
