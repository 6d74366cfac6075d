"""A Draft's worktree over its life (issue 11): made when a job needs it, used while the command runs without the
Workbench lock (so reads, checkpoints and other Drafts go on), reused by resume, removed by publish and discard
without losing what it held, repaired by recover; an interactive command gets the terminal; `[job] copy` and
`[job] setup` prepare it; the agent's own commits and the agent's name and model are recorded."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ProviderServer, Snapshot, alive, check_invariants, git, gitbench, worktrees_home
from tests.invariants import assert_same, fingerprint


def draft_of(wb: Path) -> str:
    ref = git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert ref and "\n" not in ref, ref
    return ref


def ok(res: subprocess.CompletedProcess[str]) -> Any:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return json.loads(res.stdout)["result"] if res.stdout.startswith("{") else res.stdout


def trailers(wb: Path, commit: str) -> dict[str, str]:
    out = git(wb, "log", "-1", "--format=%(trailers:unfold,separator=%x00)", commit)
    return dict(t.split(": ", 1) for t in out.strip().split("\0") if t)


def listed_worktrees(wb: Path) -> list[str]:
    return [
        line.split(" ", 1)[1]
        for line in git(wb, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ][1:]


def start_job(
    wb: Path, code: str, *args: str, env: dict[str, str] | None = None, pipes: bool = True
) -> subprocess.Popen[str]:
    """`gitbench exec` in the background. ``pipes=False``: its output is not read (a process the job leaves
    running would hold a pipe open)."""
    out = subprocess.PIPE if pipes else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "gitbench", "exec", *args, "--", sys.executable, "-c", code],
        cwd=wb,
        stdout=out,
        stderr=out,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never got there"
        time.sleep(0.05)


# A command that writes its edit, says it is running, then waits until the test lets it go.
WAITING = (
    "import os, pathlib, time; pathlib.Path('src/app.py').write_text('print(\"running\")\\n');"
    "flag = pathlib.Path(os.environ['FLAG']); pathlib.Path(os.environ['RUNNING']).write_text(os.getcwd());"
    "[time.sleep(0.05) for _ in range(1200) if not flag.exists()]"
)


def test_while_a_job_runs_reads_checkpoints_and_other_drafts_go_on_and_its_draft_is_left_alone(
    workbench: Path, tmp_path: Path, provider: ProviderServer
) -> None:
    flag, running = tmp_path / "go", tmp_path / "running"
    proc = start_job(workbench, WAITING, env={"FLAG": str(flag), "RUNNING": str(running)})
    try:
        wait_for(running, proc)
        label = draft_of(workbench).rsplit("/", 1)[1]
        status = gitbench(workbench, "status")
        assert status.returncode == 0 and f"job {label} is running in it now" in status.stdout, status.stdout
        assert running.read_text() in status.stdout  # the worktree's folder
        st = ok(gitbench(workbench, "status", "--json"))
        assert st["draft"]["running"] == label and st["draft"]["worktree"] == running.read_text()
        review = gitbench(workbench, "review")
        assert review.returncode == 0 and f"job {label} is running in this Draft" in review.stdout, review.stdout
        assert "changed 1 file(s) in its worktree so far (src/app.py)" in review.stdout
        made = gitbench(workbench, "checkpoint", "-m", "while the job runs")
        assert made.returncode == 0, made.stderr
        # Another Draft beside it: a Workshop job forks one.
        fork = gitbench(workbench, "ask", "Add a line", "--files", "src/**", "--on-draft", "fork")
        assert fork.returncode == 0, fork.stdout + fork.stderr
        # The running job's Draft is not published or discarded under it: it waits (GITBENCH_LOCK_WAIT), then
        # says who is using it.
        busy = gitbench(workbench, "publish", "--draft", label, "--json")
        assert busy.returncode == 8, busy.stdout
        error = json.loads(busy.stdout)["error"]
        assert error["code"] == "busy" and f"running job {label}" in error["message"]
        assert gitbench(workbench, "discard", "--draft", label, "--yes").returncode == 8
        flag.write_text("go")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out + err  # the checkpoint and the fork were gitbench's own: no "moved" refs
    assert git(workbench, "show", f"refs/heads/gitbench/draft/{label}:src/app.py") == 'print("running")\n'
    assert len(git(workbench, "for-each-ref", "refs/heads/gitbench/draft/").splitlines()) == 2
    check_invariants(workbench)


def test_a_job_whose_gitbench_is_killed_is_marked_interrupted_its_processes_stopped_and_resume_reuses_its_worktree(
    workbench: Path, tmp_path: Path
) -> None:
    before = Snapshot.take(workbench)
    pids = tmp_path / "pids"
    code = (
        "import os, pathlib, subprocess, sys, time\n"
        "p = pathlib.Path('src/app.py')\n"
        "if os.environ.get('SECOND'):\n"
        "    p.write_text(p.read_text() + 'print(\"resumed\")\\n'); sys.exit(0)\n"
        "p.write_text('print(\"first run\")\\n')\n"
        "g = subprocess.Popen(['sh', '-c', 'trap \"\" TERM HUP; sleep 1000'])\n"
        "s = subprocess.Popen(['setsid', 'sleep', '1001'])\n"
        "pathlib.Path(os.environ['PIDS']).write_text(f'{os.getpid()} {g.pid} {s.pid}')\n"
        "time.sleep(1000)\n"
    )
    proc = start_job(workbench, code, env={"PIDS": str(pids)}, pipes=False)
    wait_for(pids, proc)
    time.sleep(0.2)
    label = draft_of(workbench).rsplit("/", 1)[1]
    folder = next(worktrees_home().glob(f"*/{label}"))
    os.kill(proc.pid, signal.SIGKILL)  # gitbench itself dies; its command gets SIGTERM, the grandchild ignores it
    proc.communicate()
    child, grandchild, escaped = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)
    status = gitbench(workbench, "status")
    assert status.returncode == 0, status.stderr
    assert f"Job {label} was interrupted" in status.stdout and "process(es)" in status.stdout, status.stdout
    assert not alive(grandchild), "the next command stops what the killed job left running"
    assert not alive(escaped), "... even a process that left the job's process group (found by GITBENCH_JOB)"
    job = json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{label}.json"))
    assert job["status"] == "interrupted"
    assert (folder / "src/app.py").read_text() == 'print("first run")\n'  # the worktree and its work are kept
    # Resume runs the command again in that same worktree, as the interrupted run left it.
    res = gitbench(workbench, "resume", label, env={"SECOND": "1"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert str(folder) in res.stdout
    assert (
        git(workbench, "show", f"refs/heads/gitbench/draft/{label}:src/app.py")
        == 'print("first run")\nprint("resumed")\n'
    )
    assert json.loads(git(workbench, "show", f"refs/gitbench/records:jobs/{label}.json"))["status"] == "complete"
    check_invariants(workbench, before, published_may_change=False)


def test_discard_and_publish_remove_the_worktree_and_keep_what_it_held_that_was_not_in_the_draft(
    workbench: Path,
) -> None:
    res = gitbench(
        workbench,
        "exec",
        "--files",
        "src/**",
        "--",
        "sh",
        "-c",
        "echo 'print(7)' > src/app.py; echo refused > README.md",
    )
    assert res.returncode == 11, res.stdout + res.stderr  # README.md: outside --files, left in the worktree
    label = draft_of(workbench).rsplit("/", 1)[1]
    folder = next(worktrees_home().glob(f"*/{label}"))
    assert (folder / "README.md").read_text() == "refused\n"
    assert listed_worktrees(workbench) == [str(folder)]
    res = gitbench(workbench, "discard", "--yes")
    assert res.returncode == 0, res.stderr
    assert not folder.exists() and listed_worktrees(workbench) == []
    kept = git(workbench, "for-each-ref", "--format=%(refname)", "refs/gitbench/leftovers/").split()
    assert len(kept) == 1 and kept[0] in res.stdout
    assert git(workbench, "show", f"{kept[0]}:README.md") == "refused\n"
    # discard --undo brings the Draft back (not the leftovers); a job on it makes its worktree again.
    assert gitbench(workbench, "discard", "--undo").returncode == 0
    assert draft_of(workbench).endswith(label)
    res = gitbench(workbench, "publish")
    assert res.returncode == 0, res.stderr
    assert (workbench / "src/app.py").read_text() == "print(7)\n"
    assert (workbench / "README.md").read_text() == "# project\n"
    assert listed_worktrees(workbench) == []
    check_invariants(workbench)


def test_recover_repairs_a_deleted_worktree_and_removes_one_whose_draft_is_gone(workbench: Path) -> None:
    assert gitbench(workbench, "exec", "--", "sh", "-c", "echo 'print(8)' > src/app.py").returncode == 0
    label = draft_of(workbench).rsplit("/", 1)[1]
    folder = next(worktrees_home().glob(f"*/{label}"))
    import shutil

    shutil.rmtree(folder)  # the user cleaned up their home folder
    status = gitbench(workbench, "status")
    assert "(missing)" in status.stdout and "gitbench recover" in status.stdout, status.stdout
    res = gitbench(workbench, "recover")
    assert res.returncode == 0 and "whose folder is gone" in res.stdout, res.stdout
    assert listed_worktrees(workbench) == []
    # The Draft is intact; a job that continues it makes the worktree again (resume of the finished job: no; a
    # publish does not need one).
    assert git(workbench, "show", f"refs/heads/gitbench/draft/{label}:src/app.py") == "print(8)\n"
    assert gitbench(workbench, "publish").returncode == 0
    # A worktree whose Draft was deleted outside gitbench: recover removes it, keeping what it held.
    assert gitbench(workbench, "exec", "--", "sh", "-c", "echo 'print(9)' > src/app.py").returncode == 0
    label = draft_of(workbench).rsplit("/", 1)[1]
    folder = next(worktrees_home().glob(f"*/{label}"))
    (folder / "extra.txt").write_text("not committed\n")
    git(workbench, "update-ref", "-d", f"refs/heads/gitbench/draft/{label}")
    res = gitbench(workbench, "recover")
    assert res.returncode == 0 and f"Draft {label}, which no longer exists" in res.stdout, res.stdout
    assert not folder.exists() and listed_worktrees(workbench) == []
    kept = git(workbench, "for-each-ref", "--format=%(refname)", "refs/gitbench/leftovers/").split()
    assert kept and git(workbench, "show", f"{kept[-1]}:extra.txt") == "not committed\n"


def test_publishing_from_a_linked_worktree_of_the_users_own_updates_the_checkout_that_has_published(
    workbench: Path, tmp_path: Path
) -> None:
    side = tmp_path / "side"
    git(workbench, "worktree", "add", "-q", "-b", "side", str(side))
    res = gitbench(side, "exec", "--", "sh", "-c", "echo 'print(10)' > src/app.py")
    assert res.returncode == 0, res.stderr
    res = gitbench(side, "publish")
    assert res.returncode == 0, res.stderr
    # The main checkout has Published checked out: its files and its index moved with it.
    assert (workbench / "src/app.py").read_text() == "print(10)\n"
    assert git(workbench, "status", "--porcelain") == ""
    # The user's next commit there does not take the publish back.
    (workbench / "notes.txt").write_text("mine\n")
    st = gitbench(side, "status")
    assert st.returncode == 0 and "reminder" not in st.stdout, st.stdout
    git(workbench, "add", "notes.txt")
    git(workbench, "commit", "-q", "-m", "my notes")
    assert git(workbench, "show", "main:src/app.py") == "print(10)\n"
    assert git(side, "symbolic-ref", "HEAD").strip() == "refs/heads/side"
    check_invariants(workbench)


def test_copy_and_setup_prepare_each_new_worktree_and_a_failing_setup_stops_the_job(workbench: Path) -> None:
    (workbench / ".gitignore").write_text("node_modules/\n")
    (workbench / ".gitbench").mkdir()
    (workbench / ".gitbench/config.toml").write_text(
        '[job]\ncopy = [".env", "secrets/*.key"]\nsetup = "mkdir -p node_modules && cat .env > node_modules/env"\n'
    )
    git(workbench, "add", "-A")
    git(workbench, "commit", "-q", "-m", "job settings")
    assert gitbench(workbench, "init").returncode == 0
    (workbench / ".env").write_text("TOKEN=local\n")  # untracked, not ignored: still never captured
    (workbench / "secrets").mkdir()
    (workbench / "secrets/a.key").write_text("key\n")
    res = gitbench(
        workbench,
        "exec",
        "--json",
        "--",
        "sh",
        "-c",
        "cat node_modules/env > src/app.py; cat secrets/a.key >> src/app.py; echo changed >> .env",
    )
    result = ok(res)
    assert any("Copied into the worktree" in n and ".env" in n for n in result["notes"]), result["notes"]
    ref = draft_of(workbench)
    assert git(workbench, "show", f"{ref}:src/app.py") == "TOKEN=local\nkey\n"
    assert git(workbench, "diff", "--name-only", "main", ref) == "src/app.py\n"  # not .env, not secrets/
    assert (workbench / ".env").read_text() == "TOKEN=local\n"  # the user's own copy is untouched
    assert gitbench(workbench, "discard", "--yes").returncode == 0
    # The worktree's copy (changed by the job, maybe a secret) is not kept with the worktree's leftovers either.
    assert git(workbench, "for-each-ref", "refs/gitbench/leftovers/") == ""
    # A setup command that fails: a clear error, and the job's command did not run.
    (workbench / ".gitbench/config.toml").write_text('[job]\nsetup = "echo no network >&2; exit 3"\n')
    res = gitbench(workbench, "exec", "--json", "--", "sh", "-c", "echo ran > src/ran.txt")
    assert res.returncode == 12, res.stdout + res.stderr
    error = json.loads(res.stdout)["error"]
    assert "setup" in error["message"] and "exited with status 3" in error["message"]
    assert "did not run" in error["message"]
    assert git(workbench, "ls-tree", "-r", "--name-only", draft_of(workbench)).count("src/ran.txt") == 0
    # A bad setting names the file and what it must be.
    (workbench / ".gitbench/config.toml").write_text('[job]\ncopy = ".env"\n')
    res = gitbench(workbench, "exec", "--on-draft", "discard", "--", "true")
    assert res.returncode == 2 and "job.copy" in res.stderr and "list of paths" in res.stderr, res.stderr
    git(workbench, "checkout", "--", ".gitbench/config.toml")


def test_the_agents_own_commits_are_kept_with_their_messages_and_the_agent_and_model_are_recorded(
    workbench: Path, tmp_path: Path
) -> None:
    """A program named like an agent (the real ones run in tests/test_agents_jobs.py): its commits stay, each
    with gitbench's trailers; Gitbench-Agent names it, Gitbench-Model carries the model from its flags."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    agent = bin_dir / "aider"
    agent.write_text(
        "#!/bin/sh\n"
        "echo 'print(11)' > src/app.py && git add src/app.py && "
        "git commit -q --author='aider (gpt-4o) <aider@aider.chat>' -m 'feat: say 11'\n"
        "echo 'docs' > docs/guide.md && git commit -qam 'docs: a guide'\n"
        "echo uncommitted > src/new.py\n"
    )
    agent.chmod(0o755)
    published = git(workbench, "rev-parse", "main").strip()
    print_before = fingerprint(workbench)
    res = gitbench(
        workbench,
        "exec",
        "--json",
        "--",
        "aider",
        "--model",
        "gpt-4o",
        "--yes-always",
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}"},
    )
    result = ok(res)
    assert result["job"]["agent"] == "aider" and result["job"]["agent_model"] == "gpt-4o"
    ref = draft_of(workbench)
    log = git(workbench, "log", "--reverse", "--format=%H%x00%an%x00%s", f"{published}..{ref}").splitlines()
    assert [line.split("\0")[1:] for line in log] == [
        ["aider (gpt-4o)", "feat: say 11"],
        ["Test Author", "docs: a guide"],
        ["Test Author", log[2].split("\0")[2]],
    ]
    for n, line in enumerate(log, 1):
        t = trailers(workbench, line.split("\0")[0])
        assert t["Gitbench-Job"] == result["job"]["id"] and t["Gitbench-Step"].startswith(f"{n}/3 ")
        assert t["Gitbench-Agent"] == "aider" and t["Gitbench-Model"] == "aider:gpt-4o"
    assert trailers(workbench, log[0].split("\0")[0])["Gitbench-Files"] == "src/app.py"
    assert result["job"]["steps_completed"] == 3
    assert_same(print_before, fingerprint(workbench), "the user's folder or .git")
    assert gitbench(workbench, "publish").returncode == 0
    assert "feat: say 11" in git(workbench, "log", "--format=%s", "main")
    check_invariants(workbench)


def test_an_agent_that_commits_outside_its_scope_has_that_change_taken_out_of_its_commits(workbench: Path) -> None:
    # Its first commit changes README.md (outside --files) and src/app.py; its second commit, only src/new.py,
    # still carries README.md along: it must be taken out of both.
    res = gitbench(
        workbench,
        "exec",
        "--json",
        "--files",
        "src/**",
        "--",
        "sh",
        "-c",
        "echo 'print(12)' > src/app.py && echo evil > README.md && git commit -qam 'both' && "
        "echo new > src/new.py && git add src/new.py && git commit -qm 'second'",
    )
    assert res.returncode == 11, res.stdout + res.stderr
    refused = json.loads(res.stdout)["error"]["details"]["report"]["refused"]
    assert [r["path"] for r in refused] == ["README.md"] and "taken out of it" in refused[0]["reason"]
    ref = draft_of(workbench)
    assert git(workbench, "log", "-2", "--format=%s", ref).split() == ["second", "both"]
    assert git(workbench, "diff", "--name-only", "main", ref).split() == ["src/app.py", "src/new.py"]
    for commit in git(workbench, "rev-list", f"main..{ref}").split():
        assert git(workbench, "show", f"{commit}:README.md") == "# project\n"
    assert trailers(workbench, ref)["Gitbench-Files"] == "src/new.py"
    folder = next(worktrees_home().glob(f"*/{ref.rsplit('/', 1)[1]}"))
    assert (folder / "README.md").read_text() == "evil\n"  # left in the worktree to look at
    assert git(folder, "status", "--porcelain").strip() == "M README.md"
    check_invariants(workbench)


def _pty_gitbench(cwd: Path, args: list[str], env: dict[str, str]) -> tuple[int, int]:
    """gitbench in a new session whose controlling terminal is a pseudo-terminal, as in a user's terminal."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its own session, the pty as its controlling terminal (pty.fork did both)
        os.chdir(cwd)
        os.execvpe(
            sys.executable,
            [sys.executable, "-m", "gitbench", *args],
            {**os.environ, **env, "TERM": "xterm", "NO_COLOR": "1"},
        )
    return pid, fd


def _read_until(fd: int, text: str, timeout: float = 30) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        assert time.monotonic() < deadline, f"never saw {text!r}: {seen.decode(errors='replace')}"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_an_interactive_command_gets_the_terminal_and_ctrl_c_reaches_it_not_gitbench(workbench: Path) -> None:
    code = (
        "import os, pathlib, sys\n"
        "fg = os.tcgetpgrp(0) == os.getpgrp()\n"
        "print('STATE=' + ('foreground' if fg else 'background'), flush=True)\n"
        "line = input()\n"
        "try:\n"
        "    input()\n"
        "except KeyboardInterrupt:\n"
        "    pathlib.Path('src/app.py').write_text(f'typed {line!r}; then Ctrl-C\\n')\n"
    )
    pid, fd = _pty_gitbench(workbench, ["exec", "--", sys.executable, "-c", code], {})
    try:
        _read_until(fd, "STATE=foreground")  # the command has the terminal: it is its foreground process group
        os.write(fd, b"hello\r")
        time.sleep(0.3)
        os.write(fd, b"\x03")  # Ctrl-C: the terminal sends SIGINT to its foreground group, the command's
        out = _read_until(fd, "finished")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert git(workbench, "show", f"{draft_of(workbench)}:src/app.py") == "typed 'hello'; then Ctrl-C\n"
    check_invariants(workbench)


def test_compare_check_runs_in_a_throwaway_worktree_of_each_draft(workbench: Path, tmp_path: Path) -> None:
    assert gitbench(workbench, "exec", "--", "sh", "-c", "echo 'print(13)' > src/app.py").returncode == 0
    res = gitbench(
        workbench,
        "compare",
        "--json",
        "--check",
        "git rev-parse --show-toplevel > /dev/null && git status --porcelain | wc -l && cat src/app.py",
    )
    card = ok(res)
    (row,) = card["drafts"]
    assert row["check"]["passed"] and row["check"]["output"].split() == ["0", "print(13)"], row["check"]
    assert len(listed_worktrees(workbench)) == 1  # the Draft's own; the check's worktree is gone


RAW = (
    "import os, signal, sys, termios, time, tty\n"
    "saved = termios.tcgetattr(0)\n"
    "tty.setraw(0)\n"
    "def bye(*_):\n"
    "    if os.environ.get('RESTORE'):\n"
    "        termios.tcsetattr(0, termios.TCSADRAIN, saved)\n"
    "    os._exit(1)\n"
    "signal.signal(signal.SIGTERM, bye)\n"
    "os.write(1, b'FULL' + b'SCREEN\\r\\n')\n"
    "time.sleep(60)\n"
)


@pytest.mark.parametrize("restores", [True, False], ids=["agent restores its terminal", "agent does not"])
def test_a_full_screen_command_stopped_from_outside_leaves_the_terminal_as_it_was(
    workbench: Path, restores: bool
) -> None:
    """Stopped by SIGTERM while it has the terminal in raw mode: it is signalled while it still owns the
    terminal (so it can clean up, at once), and gitbench puts the terminal's settings back in any case."""
    import termios

    env = {"RESTORE": "1"} if restores else {}
    pid, fd = _pty_gitbench(workbench, ["exec", "--", sys.executable, "-c", RAW], env)
    try:
        before = termios.tcgetattr(fd)
        _read_until(fd, "FULLSCREEN")
        assert not termios.tcgetattr(fd)[3] & termios.ECHO  # raw now
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        _read_until(fd, "cancelled")
        _, status = os.waitpid(pid, 0)
        after = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130
    assert time.monotonic() - started < (2 if restores else 5)
    assert after[3] == before[3] and after[3] & termios.ECHO and after[3] & termios.ICANON


def test_the_terminal_settings_put_back_are_the_users_even_when_the_command_went_raw_at_once(
    workbench: Path,
) -> None:
    """A loaded machine: gitbench is overtaken right after the command starts (``:delay``), and the command has
    put the terminal in raw mode before gitbench goes on. Stopped from outside, it does not restore it: what
    gitbench puts back is what the user had before the command, not the command's raw mode."""
    import termios

    env = {"GITBENCH_FAULT": "supervisor.started:delay"}
    pid, fd = _pty_gitbench(workbench, ["exec", "--", sys.executable, "-c", RAW], env)
    try:
        before = termios.tcgetattr(fd)
        _read_until(fd, "FULLSCREEN")
        assert not termios.tcgetattr(fd)[3] & termios.ECHO  # raw now, while gitbench is still held
        time.sleep(2.5)  # gitbench has gone on from the point: it runs the job's loop
        os.kill(pid, signal.SIGTERM)
        _read_until(fd, "cancelled")
        _, status = os.waitpid(pid, 0)
        after = termios.tcgetattr(fd)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130
    assert after[3] == before[3] and after[3] & termios.ECHO and after[3] & termios.ICANON


def test_ctrl_backslash_that_ends_the_command_cancels_the_job(workbench: Path) -> None:
    code = (
        "import pathlib, sys, time; pathlib.Path('src/app.py').write_text('half\\n'); print('WAIT' + 'ING');"
        "time.sleep(60)"
    )
    pid, fd = _pty_gitbench(workbench, ["exec", "--", sys.executable, "-c", code], {})
    try:
        _read_until(fd, "WAITING")
        os.write(fd, b"\x1c")  # Ctrl-\: SIGQUIT to the terminal's foreground group, the command's
        out = _read_until(fd, "cancelled")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 130, out
    assert git(workbench, "show", f"{draft_of(workbench)}:src/app.py") == "half\n"
    check_invariants(workbench)


def test_a_command_that_runs_git_rm_and_git_mv_makes_a_step_of_them(workbench: Path) -> None:
    """Agents delete and rename with git itself: the deletion is staged already, and the step has it."""
    script = "git rm -q README.md && git mv src/app.py src/main.py && echo new > new.txt && echo more >> docs/guide.md"
    res = gitbench(workbench, "exec", "--json", "--", "sh", "-c", script)
    assert res.returncode == 0, res.stdout + res.stderr
    draft = git(workbench, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    files = set(git(workbench, "ls-tree", "-r", "--name-only", draft).split())
    assert files == {"src/main.py", "new.txt", "docs/guide.md"}
    assert git(workbench, "show", f"{draft}:src/main.py") == "print('hello')\n"
    changed = json.loads(res.stdout)["result"]["job"]["files_changed"]
    assert set(changed) == {"README.md", "src/app.py", "src/main.py", "new.txt", "docs/guide.md"}
    assert (workbench / "README.md").exists() and (workbench / "src" / "app.py").exists()  # the checkout untouched
