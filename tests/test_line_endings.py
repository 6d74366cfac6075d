"""Git's line-ending settings (``core.autocrlf``, ``.gitattributes`` ``text``/``eol``) apply to every file gitbench
stores or writes, exactly as the git CLI applies them (issue 14).

What gitbench stores is what `git add` stores (the blob ids equal `git hash-object --path`), and what it writes into
the checked-out folder is what `git checkout` writes (compared byte for byte with a `git worktree add` of the same
commit), so `git status` is clean after publish and restore. Each is checked against the real git CLI, for a
repository with ``* text eol=crlf`` and for one with ``core.autocrlf=true``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import provider_server as ps
from tests.conftest import check_invariants, git, gitbench, make_project, nth_checkpoint, run_job
from tests.provider_server import ProviderServer

SETTINGS = ["eol-crlf-attribute", "autocrlf-true"]


def crlf_project(tmp_path: Path, setting: str) -> Path:
    """A project whose checkout has CRLF line endings, as Git made it, adopted as a Workbench."""
    wb = make_project(tmp_path / "p", {"README.md": "# p\n", "src/app.py": "a = 1\nb = 2\n", "docs/g.md": "g\n"})
    if setting == "eol-crlf-attribute":
        (wb / ".gitattributes").write_text("* text eol=crlf\n")
        git(wb, "add", ".gitattributes")
        git(wb, "commit", "-q", "-m", "line endings")
    else:
        git(wb, "config", "core.autocrlf", "true")
    # Check every file out again, so the folder holds what Git's checkout writes under the setting (CRLF).
    git(wb, "rm", "-q", "--cached", "-r", ".")
    git(wb, "reset", "-q", "--hard")
    assert (wb / "src" / "app.py").read_bytes() == b"a = 1\r\nb = 2\r\n"
    assert gitbench(wb, "init").returncode == 0
    return wb


def git_checkout_of(wb: Path, tmp_path: Path, rev: str) -> Path:
    """The files `git checkout` writes for ``rev``, in a worktree of their own."""
    where = tmp_path / f"git-checkout-{rev.replace('/', '-')}"
    git(wb, "worktree", "add", "-q", "--detach", str(where), rev)
    return where


def assert_as_git_would(wb: Path, tmp_path: Path, paths: list[str]) -> None:
    """The checked-out files are byte for byte what `git checkout` writes, their blobs what `git add` stores, and
    `git status` sees nothing changed."""
    reference = git_checkout_of(wb, tmp_path, "main")
    for path in paths:
        ours, theirs = wb / path, reference / path
        assert ours.exists() == theirs.exists(), path
        if theirs.exists():
            assert ours.read_bytes() == theirs.read_bytes(), path
            stored = git(wb, "rev-parse", f"main:{path}").strip()
            assert git(wb, "hash-object", f"--path={path}", str(ours)).strip() == stored, path
    git(wb, "worktree", "remove", "--force", str(reference))
    assert git(wb, "status", "--porcelain", "--untracked-files=no") == ""


@pytest.mark.parametrize("setting", SETTINGS)
def test_publish_and_restore_write_files_as_git_checkout_does_and_git_status_stays_clean(
    tmp_path: Path, setting: str
) -> None:
    wb = crlf_project(tmp_path, setting)
    # The job writes LF text (as most tools do); Git's checkout of the result has CRLF.
    code = "open('src/app.py','w').write('a = 1\\nb = 3\\n'); open('src/new.py','w').write('n = 1\\nm = 2\\n')"
    run_job(wb, code)
    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    assert (wb / "src" / "new.py").read_bytes() == b"n = 1\r\nm = 2\r\n"
    assert_as_git_would(wb, tmp_path, ["src/app.py", "src/new.py", "README.md"])
    assert git(wb, "show", "main:src/new.py") == "n = 1\nm = 2\n"  # stored with LF, as `git add` stores it

    res = gitbench(wb, "restore", nth_checkpoint(wb, 1), "--yes")
    assert res.returncode == 0, res.stderr
    assert (wb / "src" / "app.py").read_bytes() == b"a = 1\r\nb = 2\r\n"
    assert not (wb / "src" / "new.py").exists()
    assert_as_git_would(wb, tmp_path, ["src/app.py", "README.md"])
    check_invariants(wb)


@pytest.mark.parametrize("setting", SETTINGS)
def test_add_stores_a_crlf_file_as_git_add_does_and_extract_writes_it_as_git_checkout_does(
    tmp_path: Path, setting: str
) -> None:
    wb = crlf_project(tmp_path, setting)
    (wb / "notes.txt").write_bytes(b"one\r\ntwo\r\n")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"x\r\ny\r\n")
    res = gitbench(wb, "add", "notes.txt", str(outside))
    assert res.returncode == 0, res.stderr
    assert git(wb, "show", "main:notes.txt") == "one\ntwo\n"
    assert git(wb, "show", "main:outside.txt") == "x\ny\n"
    assert_as_git_would(wb, tmp_path, ["notes.txt", "outside.txt"])

    res = gitbench(wb, "extract", "src/app.py", str(tmp_path / "app.py"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "app.py").read_bytes() == b"a = 1\r\nb = 2\r\n"
    check_invariants(wb)


@pytest.mark.parametrize("setting", SETTINGS)
def test_an_ask_edit_with_crlf_is_stored_as_git_add_stores_it(
    tmp_path: Path, setting: str, provider: ProviderServer
) -> None:
    wb = crlf_project(tmp_path, setting)

    def crlf_edit(files: dict[str, str], request: dict[str, object]) -> dict[str, object]:
        return {"summary": "edited", "edits": [{"op": "write", "path": "src/app.py", "content": "a = 1\r\nb = 9\r\n"}]}

    provider.push(ps.ok(crlf_edit))
    res = gitbench(wb, "ask", "Change b", "--files", "src/app.py")
    assert res.returncode == 0, res.stderr
    draft = git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert git(wb, "show", f"{draft}:src/app.py") == "a = 1\nb = 9\n"  # LF in Git, as `git add` would store it
    res = gitbench(wb, "publish")
    assert res.returncode == 0, res.stderr
    assert_as_git_would(wb, tmp_path, ["src/app.py"])
    check_invariants(wb)


def test_without_line_ending_settings_bytes_are_stored_and_written_as_they_are(workbench: Path) -> None:
    """No setting, no conversion: a CRLF file stays CRLF in Git and on disk (as with plain git)."""
    code = "open('src/app.py','wb').write(b'x = 1\\r\\n')"
    run_job(workbench, code)
    assert gitbench(workbench, "publish").returncode == 0
    stored = subprocess.run(["git", "cat-file", "blob", "main:src/app.py"], cwd=workbench, capture_output=True)
    assert stored.stdout == b"x = 1\r\n"
    assert (workbench / "src" / "app.py").read_bytes() == b"x = 1\r\n"
    assert git(workbench, "status", "--porcelain") == ""


def test_a_workflow_module_sees_its_inputs_as_git_checkout_writes_them_and_its_outputs_are_stored_as_git_add_does(
    tmp_path: Path,
) -> None:
    from tests.workflow_helpers import draft_ref, workflow_bench

    module = (
        "import os\nos.makedirs('out', exist_ok=True)\n"
        "open('out/seen.txt', 'w').write(repr(open('in.txt', 'rb').read()))\n"
        "open('out/crlf.txt', 'wb').write(b'p\\r\\nq\\r\\n')\n"
    )
    workflow = (
        "modules:\n"
        "  - id: a\n"
        "    inputs: [in.txt, tools/mod.py]\n"
        "    outputs: [out/seen.txt, out/crlf.txt]\n"
        f"    run: {{command: '\"{sys.executable}\" tools/mod.py'}}\n"
    )
    files = {".gitattributes": "* text eol=crlf\n", "in.txt": "x\ny\n", "tools/mod.py": module}
    wb = workflow_bench(tmp_path / "p", workflow, files)
    res = gitbench(wb, "workflow", "run")
    assert res.returncode == 0, res.stdout + res.stderr
    draft = draft_ref(wb)
    assert git(wb, "show", f"{draft}:out/seen.txt") == repr(b"x\r\ny\r\n")  # as `git checkout` writes in.txt
    stored = subprocess.run(["git", "cat-file", "blob", f"{draft}:out/crlf.txt"], cwd=wb, capture_output=True)
    assert stored.stdout == b"p\nq\n"  # as `git add` stores it
