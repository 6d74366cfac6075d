"""Hostile or failing commands under `gitbench exec`: whatever a command does in its Draft's worktree, gitbench
commits only what a job may change, refuses and reports the rest, and never changes Published, the user's
folder, the Workbench's .git or anything outside the worktree (DESIGN.md §2 invariant 5; §4 failures; seed 003
"AI reads and writes only inside Draft"; issue 11's hostile jobs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Snapshot, alive, check_invariants, git, gitbench, nth_checkpoint, worktrees_home
from tests.invariants import assert_same, fingerprint

IN_SCOPE = "import os, pathlib, subprocess, sys; pathlib.Path('src/app.py').write_text('print(\"job\")\\n'); "
NO_HOOKS = "-c core.hooksPath=/dev/null"


def listing(folder: Path) -> dict[str, tuple[int, bytes, int]]:
    """Everything under ``folder`` (without following symlinks): mode, content or link target, mtime."""
    out = {}
    for dirpath, dirnames, names in os.walk(folder):
        for n in dirnames + names:
            p = Path(dirpath) / n
            st = p.lstat()
            data = os.readlink(p).encode() if p.is_symlink() else (p.read_bytes() if p.is_file() else b"")
            out[str(p.relative_to(folder))] = (st.st_mode, data, st.st_mtime_ns)
    return out


@pytest.fixture
def sentinel(tmp_path: Path) -> Path:
    """A folder outside the Workbench that no job may touch."""
    folder = tmp_path / "sentinel"
    (folder / "sub").mkdir(parents=True)
    (folder / "secret.txt").write_text("outside the Workbench\n")
    (folder / "sub/keep.txt").write_text("keep\n")
    return folder


def draft_of(wb: Path) -> str:
    ref = git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert ref, "the Draft was not kept"
    return ref


def report_of(wb: Path, ref: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(git(wb, "show", f"refs/gitbench/records:reports/{ref.rsplit('/', 1)[1]}.json"))
    return data


def trailer(wb: Path, ref: str, key: str) -> str:
    return git(wb, "log", "-1", f"--format=%(trailers:key={key},valueonly)", ref).strip()


def flat(text: str) -> str:
    """An error banner as one line (rich wraps and boxes it)."""
    for ch in "│╭╮╰╯─":
        text = text.replace(ch, " ")
    return " ".join(text.split())


# -- refused: the change is not in the Draft, the job says why, its other changes are -------------------------
HOSTILE = {
    "writes outside --files": (
        "pathlib.Path('README.md').write_text('rewritten\\n'); pathlib.Path('docs').mkdir(exist_ok=True);"
        "pathlib.Path('docs/new.md').write_text('new\\n')",
        {"README.md": "outside the job's scope", "docs/new.md": "outside the job's scope"},
    ),
    "a nested repository": (
        "subprocess.run(['git', 'init', '-q', 'src/inner'], check=True); pathlib.Path('src/inner/a').write_text('a')",
        {"src/inner/": "a nested Git repository"},
    ),
    "absolute symlink out": (
        "os.symlink(os.path.join(os.environ['SENTINEL'], 'secret.txt'), 'src/abs')",
        {"src/abs": "symlink pointing outside"},
    ),
    "relative symlink out": (
        "os.symlink('../../../../../../../etc/passwd', 'src/rel')",
        {"src/rel": "symlink pointing outside"},
    ),
    "symlink to a folder outside": (
        "os.symlink(os.environ['SENTINEL'], 'src/linked')",
        {"src/linked": "symlink pointing outside"},
    ),
    "file over 100 MiB": (
        "f = open('src/huge.bin', 'wb'); f.truncate(101 * 1024 * 1024); f.close()",
        {"src/huge.bin": "too large"},
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_write_is_refused_and_reported_while_in_scope_changes_reach_the_draft(
    workbench: Path, sentinel: Path, case: str
) -> None:
    code, refused = HOSTILE[case]
    before = Snapshot.take(workbench)
    print_before = fingerprint(workbench)
    outside = listing(sentinel)

    res = gitbench(
        workbench,
        "exec",
        "--files",
        "src/**",
        "--",
        sys.executable,
        "-c",
        IN_SCOPE + code,
        env={"SENTINEL": str(sentinel), "COLUMNS": "400"},
    )
    assert res.returncode == 11, res.stdout + res.stderr
    banner = flat(res.stderr)
    assert "scope-violation" in banner
    for path, why in refused.items():
        assert flat(path) in banner and why in banner, (path, banner)

    ref = draft_of(workbench)
    report = report_of(workbench, ref)
    assert report["status"] == "failed" and report["class"] == "scope"
    assert {r["path"]: r["reason"] for r in report["refused"]}.keys() == refused.keys()
    for r in report["refused"]:
        assert refused[r["path"]] in r["reason"]
    # The in-scope change is in the Draft, and nothing else is.
    assert git(workbench, "diff", "--name-only", "main", ref) == "src/app.py\n"
    assert git(workbench, "show", f"{ref}:src/app.py") == 'print("job")\n'
    # The audit trail parses as trailers and nothing was forged into it.
    assert trailer(workbench, ref, "Gitbench-Status") == f"partial (refused {len(refused)} paths)"
    assert trailer(workbench, ref, "Gitbench-Files") == "src/app.py"
    parsed = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        input=git(workbench, "log", "-1", "--format=%B", ref),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert [line.split(":")[0] for line in parsed.splitlines()] == [
        "Gitbench-Job",
        "Gitbench-Step",
        "Gitbench-Model",
        "Gitbench-Agent",
        "Gitbench-Files",
        "Gitbench-Checkpoint",
        "Gitbench-Attempts",
        "Gitbench-Status",
    ]
    # The refused changes are left in the worktree for the user to look at.
    wt_folder = Path(report["partial_results"]["worktree"])
    assert wt_folder.parent.parent == worktrees_home()
    first = next(iter(refused)).rstrip("/")
    assert os.path.lexists(wt_folder / first), first
    # Published, the user's folder, .git and the world outside are untouched.
    assert listing(sentinel) == outside
    assert_same(print_before, fingerprint(workbench), "the user's folder or .git")
    check_invariants(workbench, before, published_may_change=False)


# -- accepted: Git can store it, so the Draft holds it --------------------------------------------------------
def test_any_name_git_can_store_mode_changes_symlinks_inside_and_deletions_are_captured(workbench: Path) -> None:
    git(workbench, "config", "core.quotePath", "false")
    before = Snapshot.take(workbench)
    print_before = fingerprint(workbench)
    code = (
        "open(b'src/\\xff-not-utf8.py', 'wb').write(b'bytes\\n');"
        "pathlib.Path('src/x\\nGitbench-Status: complete').write_text('forged?\\n');"
        "pathlib.Path('src/a\\\\\\\\b.py').write_text('backslash\\n');"
        "os.chmod('src/app.py', 0o755);"
        "os.symlink('app.py', 'src/alias.py');"
        "os.remove('docs/guide.md');"
        "os.mkfifo('src/pipe')"
    )
    res = gitbench(workbench, "exec", "--json", "--", sys.executable, "-c", IN_SCOPE + code)
    assert res.returncode == 0, res.stdout + res.stderr
    ref = draft_of(workbench)
    tree = (
        subprocess.run(["git", "ls-tree", "-r", "-z", ref], cwd=workbench, capture_output=True, check=True)
        .stdout.decode("utf-8", "surrogateescape")
        .split("\0")
    )
    entries = {line.split("\t", 1)[1]: line.split()[0] for line in tree if line}
    assert entries["src/app.py"] == "100755"  # chmod +x is a change
    assert entries["src/alias.py"] == "120000"  # a symlink inside the worktree
    assert "docs/guide.md" not in entries  # a deletion
    assert "src/pipe" not in entries  # Git does not store a pipe: nothing to capture, nothing refused
    raw = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--name-only", ref], cwd=workbench, capture_output=True, check=True
    ).stdout.split(b"\0")
    assert b"src/\xff-not-utf8.py" in raw and b"src/x\nGitbench-Status: complete" in raw and b"src/a\\\\b.py" in raw
    # The hostile name is quoted in the trailer, never a trailer of its own.
    files = trailer(workbench, ref, "Gitbench-Files")
    assert '"src/x\\nGitbench-Status: complete"' in files and '"src/\\377-not-utf8.py"' in files
    assert trailer(workbench, ref, "Gitbench-Status") == "complete"
    # Review, publish and the user's checkout handle the names.
    assert gitbench(workbench, "review", "--patch").returncode == 0
    assert_same(print_before, fingerprint(workbench), "the user's folder or .git before publish")
    res = gitbench(workbench, "publish")
    assert res.returncode == 0, res.stderr
    assert os.path.exists(os.path.join(os.fsencode(workbench), b"src/\xff-not-utf8.py"))
    assert os.access(workbench / "src/app.py", os.X_OK)
    check_invariants(workbench, before)


def test_a_tracked_file_with_a_name_that_is_not_utf8_does_not_stop_a_job(workbench: Path) -> None:
    with open(os.path.join(os.fsencode(workbench), b"src/caf\xe9.txt"), "wb") as fh:
        fh.write(b"latin-1 name\n")
    git(workbench, "add", "-A")
    git(workbench, "commit", "-q", "-m", "a latin-1 name")
    res = gitbench(workbench, "exec", "--", sys.executable, "-c", "open(b'src/caf\\xe9.txt', 'ab').write(b'more\\n')")
    assert res.returncode == 0, res.stdout + res.stderr
    ref = draft_of(workbench)
    out = subprocess.run(["git", "show", ref + ":" + "src/caf\udce9.txt"], cwd=workbench, capture_output=True)
    assert out.stdout == b"latin-1 name\nmore\n"
    assert gitbench(workbench, "status").returncode == 0 and gitbench(workbench, "review").returncode == 0
    assert gitbench(workbench, "publish").returncode == 0
    check_invariants(workbench)


@pytest.mark.parametrize("files", [None, "src/**"], ids=["no scope", "with --files"])
def test_ignored_caches_are_never_captured_nor_refused(workbench: Path, files: str | None) -> None:
    (workbench / ".gitignore").write_text(".ruff_cache/\n__pycache__/\n*.pyc\n")
    git(workbench, "add", ".gitignore")
    git(workbench, "commit", "-q", "-m", "ignore caches")
    code = (
        "os.makedirs('.ruff_cache/0.5', exist_ok=True); pathlib.Path('.ruff_cache/0.5/x').write_text('c');"
        "import compileall; compileall.compile_dir('src', quiet=1);"
        "pathlib.Path('src/app.py').write_text('print(2)\\n')"
    )
    scope = ["--files", files] if files else []
    res = gitbench(workbench, "exec", *scope, "--", sys.executable, "-c", "import os, pathlib; " + code)
    assert res.returncode == 0, res.stdout + res.stderr
    ref = draft_of(workbench)
    assert git(workbench, "diff", "--name-only", "main", ref) == "src/app.py\n"
    assert report_of(workbench, ref)["refused"] == []
    check_invariants(workbench)


# -- a job cannot reach the Workbench through its worktree -----------------------------------------------------
def test_committed_relative_symlinks_of_every_depth_cannot_be_written_through(workbench: Path) -> None:
    """Links in the project that climb out of it, at every depth, aimed at .git files and at the user's folder:
    in a Draft's worktree they would land outside it, so they are kept out of the worktree, and a job that writes
    at their path is refused; nothing outside the worktree changes."""
    links = {}
    for depth in range(1, 12):
        up = "../" * depth
        for target in (
            "config",
            ".git/config",
            "hooks/pre-commit",
            ".git/hooks/pre-commit",
            "README.md",
            "project/README.md",
            "project/.git/config",
        ):
            name = f"links/d{depth}-{target.replace('/', '_')}"
            links[name] = up + target
    (workbench / "links").mkdir()
    for name, target in links.items():
        os.symlink(target, workbench / name)
    (workbench / "src/inside").symlink_to("app.py")  # a link that stays inside: checked out as usual
    git(workbench, "add", "-A")
    git(workbench, "commit", "-q", "-m", "links")
    before = Snapshot.take(workbench)
    print_before = fingerprint(workbench)
    names = sorted(links)
    writer = (
        "import json, os, pathlib, sys\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        with open(name, 'a') as fh: fh.write('[alias]\\n\\tx = !touch /tmp/pwned\\n')\n"
        "    except OSError: pass\n"
        "pathlib.Path('src/app.py').write_text('print(3)\\n')\n"
    )
    res = gitbench(workbench, "exec", "--json", "--", sys.executable, "-c", writer, json.dumps(names))
    # Links that stay in the worktree (one level up from links/: its top) were written through, inside it;
    # those that leave it were not there: the job wrote at their paths, which is refused and named.
    assert res.returncode == 11, res.stdout + res.stderr
    refused = {r["path"] for r in json.loads(res.stdout)["error"]["details"]["report"]["refused"]}
    leaving = {n for n, target in links.items() if target.count("../") >= 2}
    assert refused == leaving, sorted(leaving ^ refused)[:5]
    ref = draft_of(workbench)
    assert set(git(workbench, "diff", "--name-only", "main", ref).split()) == {"src/app.py", "README.md", "config"}
    assert "[alias]" in git(workbench, "show", f"{ref}:config")  # the worktree's own file named config, a new file
    assert_same(print_before, fingerprint(workbench), "the user's folder or .git")
    # A link that stays inside is checked out as usual, and the links out are still in the Draft, untouched.
    wt = next(worktrees_home().glob(f"*/{ref.rsplit('/', 1)[1]}"))
    assert (wt / "src/inside").is_symlink() and not (wt / "links/d2-config").is_symlink()
    assert git(workbench, "ls-tree", ref, "links/d5-config").split()[0] == "120000"
    check_invariants(workbench, before, published_may_change=False)


GIT_ESCAPES = {  # what the job does, and how gitbench answers: 0 it could not reach anything; 11 the worktree's
    # link was replaced (put back, refused); 7 the Workbench's .git was changed (put back, reported)
    "git -C .. (every depth)": (
        "; ".join(f"git -C {'../' * d} commit -q --allow-empty -m x{d} 2>/dev/null" for d in range(1, 10)),
        0,
    ),
    "GIT_DIR-style paths in the worktree": (
        "mkdir -p .git/hooks 2>/dev/null; echo x > .git/config 2>/dev/null; echo x > .git/HEAD 2>/dev/null",
        0,
    ),
    "replaces the worktree's .git file": (
        "rm .git && mkdir -p .git/hooks && echo '#!/bin/sh' > .git/hooks/post-commit",
        11,
    ),
    "points the worktree's .git at the Workbench": ('echo "gitdir: $GITBENCH_WORKBENCH/.git" > .git', 11),
    "git config in the worktree": (
        "git config alias.st '!touch /tmp/gitbench-alias-pwned' && git config core.hooksPath /tmp",
        7,
    ),
    "a new hook through the common dir": (
        "echo '#!/bin/sh' > \"$(git rev-parse --git-common-dir)/hooks/post-merge\"",
        7,
    ),
}


@pytest.mark.parametrize("case", list(GIT_ESCAPES))
def test_a_job_cannot_change_the_workbench_through_git_in_its_worktree(workbench: Path, case: str) -> None:
    before = Snapshot.take(workbench)
    print_before = fingerprint(workbench)
    script, expected = GIT_ESCAPES[case]
    res = gitbench(workbench, "exec", "--json", "--", "sh", "-c", f"echo 'print(4)' > src/app.py; {script}; exit 0")
    assert res.returncode == expected, res.stdout + res.stderr
    data = json.loads(res.stdout)
    if expected == 7:  # it reached the Workbench's .git: found, put back, and said so
        assert "outside its Draft" in data["error"]["message"] and "put back" in data["error"]["message"], data
    if expected == 11:
        assert [r["path"] for r in data["error"]["details"]["report"]["refused"]] == [".git"], data
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "print(4)\n", "the job's own work is kept"
    assert_same(print_before, fingerprint(workbench), "the user's folder or .git")
    # gitbench still works on the Draft: publish it.
    assert gitbench(workbench, "publish").returncode == 0
    assert (workbench / "src/app.py").read_text() == "print(4)\n"
    check_invariants(workbench, before)


def test_a_jobs_worktree_is_a_real_repository_holding_the_draft_only(workbench: Path) -> None:
    (workbench / "src/lib").mkdir()
    (workbench / "src/lib/util.py").write_text("x = 1\n")
    git(workbench, "add", "src/lib/util.py")
    git(workbench, "commit", "-q", "-m", "more files")  # no Draft yet: plain git may commit
    published = git(workbench, "rev-parse", "main").strip()
    res = gitbench(
        workbench,
        "exec",
        "--files",
        "src/**",
        "--",
        "sh",
        "-c",
        "git ls-files; git rev-parse --show-toplevel; git status --porcelain; git log -1 --format=%H;"
        ' git symbolic-ref HEAD; echo "$GITBENCH_WORKTREE"',
    )
    assert res.returncode == 0, res.stderr
    lines = [line for line in res.stdout.splitlines() if not line.startswith("·")]
    files, top, head, branch, worktree = lines[:4], lines[4], lines[5], lines[6], lines[7]
    assert files == ["README.md", "docs/guide.md", "src/app.py", "src/lib/util.py"]  # --files limits changes only
    assert top == worktree and not Path(top).is_relative_to(workbench) and ".git" not in Path(top).parts
    assert Path(top).parent.parent == worktrees_home()
    assert head == published and branch.startswith("refs/heads/gitbench/draft/")
    assert (workbench / ".git").is_dir()
    check_invariants(workbench)


def test_sparse_checks_out_only_the_scope_folders_and_the_top_level_files(workbench: Path) -> None:
    (workbench / "pyproject.toml").write_text("[tool.x]\n")
    (workbench / "docs/deep").mkdir()
    (workbench / "docs/deep/more.md").write_text("m\n")
    git(workbench, "add", "-A")
    git(workbench, "commit", "-q", "-m", "more")
    res = gitbench(
        workbench,
        "exec",
        "--sparse",
        "--files",
        "src/*.py",
        "--",
        "sh",
        "-c",
        "find . -path ./.git -prune -o -type f -print | sort; git status --porcelain; "
        "echo x >> src/app.py; mkdir -p docs; echo y > docs/outside.md",
    )
    assert res.returncode == 11, res.stdout + res.stderr  # docs/outside.md: outside --files
    shown = [line for line in res.stdout.splitlines() if line.startswith("./")]
    assert shown == ["./README.md", "./pyproject.toml", "./src/app.py"]
    ref = draft_of(workbench)
    assert git(workbench, "diff", "--name-only", "main", ref) == "src/app.py\n"
    assert git(workbench, "show", f"{ref}:docs/deep/more.md") == "m\n"  # what was not checked out is kept
    check_invariants(workbench)


# -- how a command ends -----------------------------------------------------------------------------------------
def test_a_command_that_is_not_found_fails_with_12_and_keeps_the_draft(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    res = gitbench(workbench, "exec", "--json", "--", "gitbench-test-no-such-command")
    assert res.returncode == 12, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert error["code"] == "job-failed" and "not found" in error["message"]
    ref = draft_of(workbench)
    assert report_of(workbench, ref)["status"] == "failed"
    check_invariants(workbench, before, published_may_change=False)


def test_a_command_that_exits_3_has_its_partial_edits_committed_as_failed(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    res = gitbench(
        workbench, "exec", "--json", "--files", "src/**", "--", sys.executable, "-c", IN_SCOPE + "sys.exit(3)"
    )
    assert res.returncode == 12, res.stdout + res.stderr
    actions = [a["command"] for a in json.loads(res.stdout)["error"]["actions"]]
    assert "gitbench exec --ok-exit 3 ..." in actions
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == 'print("job")\n'
    assert trailer(workbench, ref, "Gitbench-Status") == "failed (exit 3)"
    report = report_of(workbench, ref)
    assert report["status"] == "failed" and report["files_changed"] == ["src/app.py"]
    check_invariants(workbench, before, published_may_change=False)


def test_ok_exit_accepts_a_status_that_means_success_and_records_it(workbench: Path) -> None:
    res = gitbench(
        workbench, "exec", "--json", "--ok-exit", "1,2", "--", sys.executable, "-c", IN_SCOPE + "sys.exit(1)"
    )  # as pyupgrade does when it rewrote a file
    assert res.returncode == 0, res.stdout + res.stderr
    job = json.loads(res.stdout)["result"]["job"]
    assert job["status"] == "complete" and job["exit_code"] == 1 and job["ok_exit"] == [1, 2]
    assert trailer(workbench, draft_of(workbench), "Gitbench-Status") == "complete (exit 1 accepted)"
    bad = gitbench(workbench, "exec", "--ok-exit", "x", "--on-draft", "discard", "--", "true")
    assert bad.returncode == 2 and "--ok-exit" in bad.stderr
    check_invariants(workbench)


IN_WB = 'git -C "$GITBENCH_WORKBENCH"'
REF_MOVES = {
    "commits on Published": (
        f'git -C "$GITBENCH_WORKBENCH" {NO_HOOKS} commit -q --allow-empty -m sneaky',
        "refs/heads/main",
    ),
    "deletes a checkpoint": (f"{IN_WB} {NO_HOOKS} tag -d FIRST", "refs/tags/FIRST"),
    # The guard keeps packed-refs as it was (a hard link): a tag deleted from it, or moved, is named too.
    "deletes a packed checkpoint": (
        f"{IN_WB} {NO_HOOKS} pack-refs --all && {IN_WB} {NO_HOOKS} tag -d FIRST",
        "refs/tags/FIRST",
    ),
    "moves a packed checkpoint": (
        f"{IN_WB} {NO_HOOKS} pack-refs --all && {IN_WB} {NO_HOOKS} tag -f -a -m moved FIRST HEAD",
        "refs/tags/FIRST",
    ),
    "makes a checkpoint": (f"{IN_WB} {NO_HOOKS} tag -a -m sneaky checkpoint/99 HEAD", "refs/tags/checkpoint/99"),
    "rewrites the records": (
        f'git -C "$GITBENCH_WORKBENCH" {NO_HOOKS} update-ref refs/gitbench/records refs/gitbench/records~1',
        "refs/gitbench/records",
    ),
}


@pytest.mark.parametrize("case", list(REF_MOVES))
def test_a_command_that_moves_a_ref_of_the_workbench_is_reported(workbench: Path, case: str) -> None:
    first = nth_checkpoint(workbench, 1).removeprefix("checkpoint/")
    script, moved = (text.replace("FIRST", "checkpoint/" + first) for text in REF_MOVES[case])
    before = Snapshot.take(workbench)
    res = gitbench(
        workbench,
        "exec",
        "--json",
        "--files",
        "src/**",
        "--",
        "sh",
        "-c",
        f"echo 'print(1)' > src/app.py && {script} >/dev/null",
    )  # its output would spoil the JSON
    assert res.returncode == 7, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert "outside its Draft" in error["message"] and moved in error["message"]
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "print(1)\n", "the Draft keeps the command's work"
    assert report_of(workbench, ref)["status"] == "failed"
    if case == "commits on Published":
        # The outside commit is reported; the user goes back to where the Draft started and publishes.
        auto = report_of(workbench, ref)["checkpoints_created"][0]
        assert gitbench(workbench, "restore", auto, "--keep-draft", "--yes").returncode == 0
        assert gitbench(workbench, "publish").returncode == 0
        assert git(workbench, "show", "main:src/app.py") == "print(1)\n"
        check_invariants(workbench, before)
    else:
        check_invariants(workbench, Snapshot.take(workbench), published_may_change=False)
        assert git(workbench, "rev-parse", "main").strip() == before.published


def test_a_command_that_only_packs_the_refs_moved_nothing(workbench: Path) -> None:
    """`git pack-refs` (as `git gc` runs it) moves the loose refs into packed-refs and changes no ref's value: the
    guard compares values, not files, so the job ends as usual."""
    before = Snapshot.take(workbench)
    pack = f"{IN_WB} {NO_HOOKS} pack-refs --all"
    res = gitbench(
        workbench, "exec", "--json", "--files", "src/**", "--", "sh", "-c", f"echo 'print(1)' > src/app.py && {pack}"
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["result"]["job"]["status"] == "complete"
    packed = (workbench / ".git/packed-refs").read_text()
    assert all(f" refs/tags/{name}\n" in packed for name in git(workbench, "tag", "-l").split()), "the tags are packed"
    check_invariants(workbench, before, published_may_change=False)


def test_the_hook_refuses_a_jobs_own_git_moving_anything_but_its_draft(workbench: Path) -> None:
    """With the hooks in place, the job's git cannot even try: the reference-transaction hook refuses."""
    res = gitbench(
        workbench,
        "exec",
        "--json",
        "--",
        "sh",
        "-c",
        "echo 'print(5)' > src/app.py;"
        ' git -C "$GITBENCH_WORKBENCH" tag -d "$(git tag -l \'checkpoint/*\' | head -n 1)" 2>err.txt;'
        " git tag checkpoint/99 2>>err.txt; git branch -f main HEAD 2>>err.txt; mv err.txt ../err-$$.txt;"
        " git commit -qam 'on the Draft'",
    )
    assert res.returncode == 0, res.stdout + res.stderr
    ref = draft_of(workbench)
    assert git(workbench, "log", "-1", "--format=%s", ref).strip() == "on the Draft"
    assert git(workbench, "tag", "-l", "checkpoint/*").split() == [
        nth_checkpoint(workbench, 1),
        nth_checkpoint(workbench, 2),
    ] and "checkpoint/99" not in git(workbench, "tag", "-l")
    check_invariants(workbench)


def _wait_for(path_glob: str, proc: subprocess.Popen[str], timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while True:
        found = [p for p in worktrees_home().glob(path_glob) if p.read_text().strip()]
        if found:
            return found[0]
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["SIGINT to the process group", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_the_whole_process_tree_and_keeps_the_draft(workbench: Path, how: str) -> None:
    before = Snapshot.take(workbench)
    # The command starts a grandchild that ignores SIGTERM and SIGINT, and another that leaves the process group.
    code = (
        "import os, pathlib, subprocess, time; pathlib.Path('src/app.py').write_text('partial\\n');"
        "g = subprocess.Popen(['sh', '-c', 'trap \"\" TERM INT; sleep 1000']);"
        "s = subprocess.Popen(['setsid', 'sleep', '1001']);"
        "time.sleep(0.3);"
        "pathlib.Path('pids').write_text(f'{os.getpid()} {g.pid} {s.pid}'); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "exec", "--files", "src/**", "--", sys.executable, "-c", code],
        cwd=workbench,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        pids = [int(p) for p in _wait_for("*/*/pids", proc).read_text().split()]
        started = time.monotonic()
        if how == "SIGTERM":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, out + err
    assert time.monotonic() - started < 10, "the job did not stop promptly"
    assert [p for p in pids if alive(p)] == [], "a process of the job is still running"
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "partial\n"
    assert trailer(workbench, ref, "Gitbench-Status") == "cancelled"
    job = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{ref.rsplit('/', 1)[1]}.json"))
    assert job["status"] == "cancelled" and job["error"]["class"] == "user-cancel"
    check_invariants(workbench, before, published_may_change=False)


def test_a_job_past_its_timeout_is_stopped_with_everything_it_started(workbench: Path) -> None:
    before = Snapshot.take(workbench)
    started = time.monotonic()
    res = gitbench(
        workbench,
        "exec",
        "--json",
        "--timeout",
        "1",
        "--",
        "sh",
        "-c",
        "echo 'print(6)' > src/app.py; (trap '' TERM; sleep 1000; echo late > src/late.py) & "
        "echo $! > ../pid-$$; sleep 1000",
    )
    assert res.returncode == 12, res.stdout + res.stderr
    assert time.monotonic() - started < 15
    error = json.loads(res.stdout)["error"]
    assert "timeout" in error["message"] and error["details"]["report"]["class"] == "timeout"
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "print(6)\n"
    assert trailer(workbench, ref, "Gitbench-Status") == "timed out after 1 s"
    for pidfile in worktrees_home().glob("*/pid-*"):
        assert not alive(int(pidfile.read_text())), "the grandchild outlived the timeout"
    check_invariants(workbench, before, published_may_change=False)
