"""Shared fixtures: hermetic real Git repositories, the real CLI entry point, and DESIGN.md's invariants.

The seal (after git-revise): a temporary HOME, no system or global Git config, fixed author and committer
dates, GIT_EDITOR=false. Scenarios are set up with the real `git` CLI, so pygit2 is never checked against
itself; gitbench is run through its real entry point (tests/inprocess.py: in this process, in a fork of it, or
in a subprocess).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import inprocess
from tests.dask_cluster import Cluster
from tests.gitserver import git_server  # noqa: F401 - the fixture, for every test module
from tests.invariants import Snapshot, check_invariants
from tests.provider_server import ProviderServer, config_toml

SEAL = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+0000",
    "GIT_EDITOR": "false",
    "GIT_TERMINAL_PROMPT": "0",
    "GITBENCH_LOCK_WAIT": "2",
}


@pytest.fixture(autouse=True)
def no_program_left_running() -> Iterator[None]:
    """A test that fails half way through a terminal session must not leave gitbench running on its pty."""
    yield
    from tests.terminal import close_unfinished

    close_unfinished()


@pytest.fixture(autouse=True)
def not_a_subreaper() -> Iterator[None]:
    """An in-process call that ran the job supervisor in this thread made the test process the subreaper of every
    orphan (PR_SET_CHILD_SUBREAPER, per process): undone after the test, so a later test's orphans (an agent's hook
    whose agent ended first, a killed engine's module) go to init as for any program, not to this long-lived process
    (where an agent's hook took it for its agent, and its session never ended)."""
    yield
    supervisor = sys.modules.get("gitbench.services.supervisor")
    if supervisor is not None and supervisor._REAPER:
        supervisor._prctl(supervisor._PR_SET_CHILD_SUBREAPER, 0)
        supervisor._REAPER = False


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for key in list(os.environ):
        # Provider keys, hosts and proxies from outside must never reach a test: traffic stays on 127.0.0.1.
        if key.startswith(("GIT_", "GITBENCH_", "OPENAI_", "ANTHROPIC_", "OLLAMA_")) or key.lower() in (
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
        ):
            monkeypatch.delenv(key, raising=False)
    for key, value in SEAL.items():
        monkeypatch.setenv(key, value)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Author\n\temail = author@example.invalid\n[init]\n\tdefaultBranch = main\n"
    )
    from gitbench import faults

    faults.reset()


def without_coverage(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment (this process's, or ``env``) for a subprocess whose system calls or imports are what a test
    checks: without COVERAGE_GITBENCH_START (.ci/run, tests/coverage_hook.py) or COVERAGE_PROCESS_START, which would
    make coverage measure it, and coverage's own imports and data-file writes would be counted with gitbench's."""
    out = dict(os.environ if env is None else env)
    out.pop("COVERAGE_GITBENCH_START", None)
    out.pop("COVERAGE_PROCESS_START", None)
    return out


def git(cwd: Path | str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run the real git CLI; return stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


def gitbench(
    cwd: Path | str,
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run gitbench's real entry point: in this process where process isolation is not what the test is about
    (`tests/inprocess.py` says when), else in a process of its own: a fork of this one, or a subprocess. Either
    way the answer is the same ``CompletedProcess`` (exit code, stdout, stderr)."""
    full_env = {**os.environ, **(env or {})}
    if timeout is None and inprocess.suitable(cwd, list(args), full_env):
        return inprocess.run(cwd, list(args), env or {}, input)
    if inprocess.forkable(full_env):
        return inprocess.forked(cwd, list(args), env or {}, input, timeout or 120)
    return gitbench_subprocess(cwd, *args, env=env, input=input, timeout=timeout or 120)


def gitbench_subprocess(
    cwd: Path | str, *args: str, env: dict[str, str] | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `gitbench` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "gitbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=input,
        timeout=timeout,
    )


class _Subprocess:
    """``subprocess.Popen`` of `python -m gitbench ARGS`, answering ``communicate`` as ``inprocess.Fork`` does."""

    # Sleeps until the start time, then becomes `python -m gitbench ARGS`.
    WAITER = (
        "import os, sys, time\n"
        "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'gitbench', *sys.argv[2:]])\n"
    )

    def __init__(self, cwd: Path | str, args: list[str], env: dict[str, str], at: float | None, session: bool):
        argv = [sys.executable, "-m", "gitbench", *args]
        if at is not None:
            argv = [sys.executable, "-c", self.WAITER, str(at), *args]
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=session,
        )
        self.pid, self.args = self.proc.pid, [sys.executable, "-m", "gitbench", *args]

    def poll(self) -> int | None:
        return self.proc.poll()

    def communicate(self, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            raise
        return subprocess.CompletedProcess(self.args, self.proc.returncode, out, err)


Started = inprocess.Fork | _Subprocess


def start_gitbench(
    cwd: Path | str, *args: str, env: dict[str, str] | None = None, at: float | None = None, new_session: bool = False
) -> Started:
    """Start gitbench's real entry point in a process of its own and return at once (as ``subprocess.Popen``):
    for several commands at the same moment, or one to kill. A fork of this process (``inprocess.start``), or a
    subprocess where ``gitbench(...)`` would use one. ``at``: it waits until that moment (``time.time()``) to
    start the command; ``new_session``: a session and process group of its own (``os.killpg`` takes its
    children). ``.pid``, ``.poll()``; ``.communicate(timeout)`` waits and answers as ``subprocess.run`` does."""
    if inprocess.forkable({**os.environ, **(env or {})}):
        return inprocess.start(cwd, list(args), env or {}, at=at, new_session=new_session)
    return _Subprocess(cwd, list(args), env or {}, at, new_session)


def run_hook(cwd: Path | str, agent: str, event: str, payload: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """`gitbench hook AGENT EVENT` as the agent runs it, the event's JSON on stdin; its parent (the agent, for
    gitbench) is this test's process."""
    return subprocess.run(
        [sys.executable, "-m", "gitbench", "hook", agent, event],
        cwd=cwd,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_job(wb: Path | str, code: str, files: str = "src/**", env: dict[str, str] | None = None) -> tuple[str, str]:
    """Run `gitbench exec` with the Python ``code`` as the job's command; return (Draft ref, its head)."""
    res = gitbench(wb, "exec", "--files", files, "--", sys.executable, "-c", code, env=env)
    assert res.returncode == 0, res.stderr
    ref = git(wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
    assert ref, "the job made no Draft"
    return ref, git(wb, "rev-parse", ref).strip()


# A checkpoint's name as gitbench prints it: checkpoint/YYMMDD-HHMMSS-CCCC (CCCC: the clone's id), or an older
# Workbench's checkpoint/N.
CHECKPOINT_NAME = re.compile(r"\bcheckpoint/(?:[0-9]{6}-[0-9]{6}-[a-km-np-z2-9]{4}|[0-9]+)\b")


def checkpoint_names(repo: Path | str) -> list[str]:
    """The Workbench's checkpoints, oldest first, as `git tag` lists them: one clone's names sort in the order it
    took them (an older Workbench's numbers do not: tests/test_checkpoint_names.py has those)."""
    return git(repo, "tag", "-l", "checkpoint/*").split()


def nth_checkpoint(repo: Path | str, n: int) -> str:
    """The ``n``-th checkpoint the Workbench took (1: init's; -1: the newest): ``checkpoint/261203-072105-k3mq``."""
    names = checkpoint_names(repo)
    return names[n - 1 if n > 0 else n]


def make_project(path: Path, files: dict[str, str] | None = None) -> Path:
    """A plain Git repository with a few committed files, made with the git CLI."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in (
        files or {"README.md": "# project\n", "src/app.py": "print('hello')\n", "docs/guide.md": "guide\n"}
    ).items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def workbench(project: Path) -> Iterator[Path]:
    """A project adopted with `gitbench init`; invariants are checked when the test ends."""
    res = gitbench(project, "init")
    assert res.returncode == 0, res.stderr
    yield project
    check_invariants(project)


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    """A scripted model provider on 127.0.0.1, configured as `fake:` (OpenAI protocol) and `fakeant:` (Anthropic)
    in the user's config file; `fake:test-model` is the default model."""
    server = ProviderServer()
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_toml(server))
    yield server
    server.close()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A real Dask scheduler and two single-threaded workers on 127.0.0.1 (tests/dask_cluster.py), shared by the
    tests of one module that leave it whole (a test that kills a part starts its own with ``dask_clusters``)."""
    with Cluster.start(tmp_path_factory.mktemp("dask-cluster"), workers=2) as cluster:
        yield cluster


@pytest.fixture
def dask_clusters(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """Start real Dask clusters of the test's own: ``dask_clusters(workers=3)``. Every one is stopped, with every
    process it started, when the test ends, failed or not."""
    started: list[Cluster] = []

    def start(workers: int = 2, threads: int = 1) -> Cluster:
        cluster = Cluster.start(tmp_path / f"dask-cluster-{len(started)}", workers, threads)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.close()


__all__ = [
    "CHECKPOINT_NAME",
    "ProviderServer",
    "Snapshot",
    "Started",
    "check_invariants",
    "checkpoint_names",
    "git",
    "gitbench",
    "gitbench_subprocess",
    "make_project",
    "nth_checkpoint",
    "run_hook",
    "run_job",
    "start_gitbench",
]


def copy_workbench(src: Path, dst: Path) -> Path:
    """A copy of a Workbench, as `cp -a` makes one, with its Draft worktrees copied too and re-linked to the
    copy (`git worktree repair`), under the current HOME: copies never share a worktree folder."""
    import shutil

    shutil.copytree(src, dst, symlinks=True)
    admin_root = dst / ".git" / "worktrees"
    if not admin_root.is_dir():
        return dst
    import tempfile

    base = Path(os.environ["HOME"]) / ".local" / "state" / "gitbench" / "worktrees"
    base.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix=f"copy-{dst.name}-", dir=base))
    moved = []
    for admin in sorted(admin_root.iterdir()):
        gitdir = (admin / "gitdir").read_text().strip()
        folder = Path(gitdir).parent
        target = home / folder.name
        if folder.is_dir():
            shutil.copytree(folder, target, symlinks=True)
        else:
            target.mkdir(parents=True)
        (target / ".git").write_text(f"gitdir: {admin}\n")
        (admin / "gitdir").write_text(f"{target / '.git'}\n")
        moved.append(str(target))
    if moved:
        git(dst, "worktree", "repair", *moved)
    return dst


def worktrees_home() -> Path:
    """Where Draft worktrees go under the test's HOME (the default: $XDG_STATE_HOME unset)."""
    return Path(os.environ["HOME"]) / ".local" / "state" / "gitbench" / "worktrees"


def alive(pid: int) -> bool:
    """Is the process running (not a zombie)?"""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests (marked slow) first: with `-n 2 --dist worksteal` (.ci/run) they overlap the many short
    ones, instead of one of them running alone at the end while the other worker is idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
