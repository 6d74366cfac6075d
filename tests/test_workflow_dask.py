"""Issue 16's proof: workflows run on a real Dask cluster exactly as they run locally, and survive losing it.

Each test runs the real CLI (`gitbench workflow run|resume --executor dask://127.0.0.1:PORT`) against a real
`dask scheduler` and real `dask worker` processes on 127.0.0.1 (tests/dask_cluster.py):

- the seed's workflow story (tests/test_workflow_seed.py: a failure, a headless fix, a resume) and a 1,000-module
  DAG, each run once locally and once on the cluster: the printed `gitbench workflow status` and the Draft's tree
  (`git ls-tree -r`) are equal byte for byte. Both sides run with the clock and the random part of ids pinned, in
  homes of their own, so that a job's id (in its run ids, its metadata and its Draft's name) is the same on both;
- a worker killed while modules run on it, and separately the scheduler: the run finishes on what is left or
  fails cleanly, `resume` completes it, and every module whose step was committed ran exactly once, counted at
  the workers: each module's command appends its start and its finish, with its parent's pid (the worker
  process), to a file of its own in a counting folder outside the Workbench.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import git
from tests.dask_cluster import Cluster
from tests.invariants import Snapshot, check_invariants
from tests.test_workflow_seed import seed_project
from tests.workflow_helpers import draft_ref, module_runner, runs, state, steps, workflow_bench

T0 = 1_767_344_400  # 2026-01-02 09:00 UTC: the clock of both sides of a comparison
# The real entry point with the random part of ids pinned (a counter per process), as tests/test_tui_snapshots.py
# runs it: two runs at the same frozen clock make the same job id.
PINNED_CLI = (
    "import itertools, sys\n"
    "import gitbench.services.workbench as workbench\n"
    "count = itertools.count(1)\n"
    "workbench.random_hex = lambda nbytes: f'{next(count):04x}'\n"
    "from gitbench.cli.app import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per module and message, whatever the terminal


# ---- one side of a comparison: a home, a pinned clock and ids --------------------------------------------------


class Side:
    """A Workbench run on one executor (``executor`` None: locally) with the clock and ids pinned."""

    def __init__(self, folder: Path, executor: str | None) -> None:
        self.folder = folder
        self.executor = executor
        home = folder / "home"
        home.mkdir(parents=True)
        (home / ".gitconfig").write_text(Path(os.environ["HOME"], ".gitconfig").read_text())
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "GITBENCH_NOW": str(T0),
            "GITBENCH_CLONE": "same",
        }
        self.wb = folder / "project"

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", PINNED_CLI, *args],
            cwd=self.wb,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )

    def run(self, command: str = "run") -> subprocess.CompletedProcess[str]:
        """`gitbench workflow run|resume`, on this side's executor."""
        on = ["--executor", self.executor] if self.executor else []
        return self.cli("workflow", command, *on)

    def picture(self) -> tuple[str, str]:
        """What must be equal on both sides: the printed status, and the Draft's tree."""
        status = self.cli("workflow", "status")
        assert status.returncode == 0, status.stderr
        draft = git(self.wb, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").strip()
        return status.stdout, git(self.wb, "ls-tree", "-r", draft) if draft else ""


# ---- the seed's story and a 1,000-module DAG, locally and on the cluster ---------------------------------------


def seed_story(side: Side, log: Path) -> list[tuple[int, str, str]]:
    """The seed's story (tests/test_workflow_seed.py): the run fails at anchor-docs, module-runner reruns it with
    the right setting, resume runs the rest. After each run: its exit code, the status and the Draft's tree."""
    seed_project(side.wb, log)
    pictures = []
    res = side.run()
    assert res.returncode == 12, res.stdout + res.stderr
    assert "Status: Error · anchor-docs failed" in res.stderr and "commission-doc metadata is missing" in res.stderr
    pictures.append((res.returncode, *side.picture()))
    fix = module_runner(
        side.wb, "--module", "anchor-docs", "--set", "commission_meta=.gitbench/meta/commission-doc.json", env=side.env
    )
    assert fix.returncode == 0, fix.stdout + fix.stderr
    res = side.run("resume")
    assert res.returncode == 0, res.stdout + res.stderr
    pictures.append((res.returncode, *side.picture()))
    assert runs(log) == ["commission-doc", "anchor-docs", "anchor-docs", "summary", "index"]
    return pictures


def test_the_seed_story_on_a_dask_cluster_prints_the_same_status_and_makes_the_same_draft(
    tmp_path: Path, dask_cluster: Cluster
) -> None:
    log = tmp_path / "runs.log"  # one path for both sides: it is in the workflow file, which must be the same
    local = seed_story(Side(tmp_path / "local", None), log)
    log.unlink()
    remote = seed_story(Side(tmp_path / "cluster", dask_cluster.executor), log)
    assert remote == local
    status, tree = local[-1][1:]
    assert status.splitlines()[0] == "Status: complete"
    assert "docs/index.md" in tree and ".gitbench/meta/index.json" in tree


def dag_workflow(modules: int) -> str:
    """``modules`` trivial commands in a binary tree: m0 first, then m1 and m2 after it, m3 and m4 after m1..."""
    lines = ["max_parallel: 4", "modules:"]
    for i in range(modules):
        needs = f", needs: [m{(i - 1) // 2}]" if i else ""
        lines.append(f'  - {{id: m{i}, outputs: [out/m{i}.txt], run: {{command: "echo {i} > out/m{i}.txt"}}{needs}}}')
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.timeout(900)  # ~55 s of CPU (1,000 modules, twice): minutes of wall time on a loaded machine
def test_a_thousand_module_dag_on_a_dask_cluster_prints_the_same_status_and_makes_the_same_draft(
    tmp_path: Path, dask_cluster: Cluster
) -> None:
    pictures = []
    for side in (Side(tmp_path / "local", None), Side(tmp_path / "cluster", dask_cluster.executor)):
        workflow_bench(side.wb, dag_workflow(1000))
        res = side.run()
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        pictures.append(side.picture())
    (local_status, local_tree), (remote_status, remote_tree) = pictures
    assert remote_status == local_status
    assert remote_tree == local_tree
    assert local_status.splitlines()[0] == "Status: complete"
    assert len(local_tree.splitlines()) == 2 * 1000 + 2  # each output and its metadata, README.md, the workflow


# ---- losing part of the cluster ---------------------------------------------------------------------------------


def counted(count: Path, mid: str, seconds: float) -> str:
    """A module's command that records, at the worker, its start and its finish (with the worker's pid: the
    command's parent) in ``count/<mid>``, and sleeps ``seconds`` between them."""
    return (
        f"{{command: 'echo start $PPID >> {count}/{mid}; sleep {seconds}; echo {mid} > out/{mid}.txt; "
        f"echo finish $PPID >> {count}/{mid}'}}"
    )


def records(count: Path) -> dict[str, list[tuple[str, int]]]:
    """module → its records in order: ("start" | "finish", the worker's pid). Only whole lines: a command may be
    writing its record right now (its file made, its line not yet, or not all of it)."""
    out: dict[str, list[tuple[str, int]]] = {}
    for f in sorted(count.iterdir()):
        lines = f.read_text().split("\n")[:-1]
        out[f.name] = [(what, int(pid)) for what, pid in (line.split() for line in lines)]
    return out


def wait_for(what: Callable[[], object], timeout: float, message: str) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s: {message}")
        time.sleep(0.05)


def committed(wb: Path, base: str) -> list[str]:
    """The modules with a step on the Draft, in order."""
    ref = draft_ref(wb)
    return [s["Gitbench-Step"].split(" ", 1)[1] for s in steps(wb, ref, base)] if ref else []


def start_run(wb: Path, executor: str) -> subprocess.Popen[str]:
    """`gitbench workflow run --executor …` in the background (the real entry point)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gitbench", "workflow", "run", "--executor", executor],
        cwd=wb,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sleepers(count: Path, modules: list[str], seconds: float, max_parallel: int) -> str:
    lines = [f"max_parallel: {max_parallel}", "modules:"]
    for mid in modules:
        lines.append(f"  - {{id: {mid}, outputs: [out/{mid}.txt], run: {counted(count, mid, seconds)}}}")
    lines.append(
        f"  - {{id: last, outputs: [out/last.txt], needs: [{', '.join(modules)}], run: {counted(count, 'last', 0)}}}"
    )
    return "\n".join(lines) + "\n"


# Killed with its commands, as when its machine is lost; or alone (the OOM killer, a `kill -9` of the worker
# process): then its module's command, in a session of its own, must not run on and finish its work.
@pytest.mark.parametrize("alone", [False, True], ids=["with-its-commands", "alone"])
def test_a_worker_killed_while_modules_run_on_it_loses_no_finished_module_and_resume_completes(
    tmp_path: Path, dask_clusters: Callable[..., Cluster], alone: bool
) -> None:
    cluster = dask_clusters(workers=3)
    count = tmp_path / "count"
    count.mkdir()
    modules = [f"s{i}" for i in range(6)]
    wb = workflow_bench(tmp_path / "project", sleepers(count, modules, 2, max_parallel=3))
    before = Snapshot.take(wb)
    victim = cluster.worker_pids[0]

    run = start_run(wb, cluster.executor)
    try:
        # Wait until a module runs on the victim, then kill it with everything it started (its machine is lost).
        wait_for(
            lambda: any(r and r[-1] == ("start", victim) for r in records(count).values()),
            120,
            "no module started on the first worker",
        )
        at_kill = committed(wb, before.published)
        running = {mid: len(r) for mid, r in records(count).items() if r and r[-1] == ("start", victim)}
        cluster.kill_worker(victim, tree=not alone)
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
    first = committed(wb, before.published)
    # Either the run went on without that worker, or it failed cleanly: a classified failure, the claim released.
    assert run.returncode in (0, 12), out + err
    assert state(wb)["running"] == {}
    assert git(wb, "rev-parse", "main").strip() == before.published

    res = subprocess.run(
        [sys.executable, "-m", "gitbench", "workflow", "resume", "--executor", cluster.executor],
        cwd=wb,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Status: complete" in res.stdout
    every = committed(wb, before.published)
    assert sorted(every) == sorted([*modules, "last"]) and every[: len(first)] == first

    check_invariants(wb, before, published_may_change=False)

    # Counted at the workers: each module's last run is a whole one (its start and finish on one worker); every
    # run before it was on the killed worker, lost with it (a run it had finished but whose answer had not been
    # fetched yet is run again too); and a module whose step was committed before the kill never ran again.
    seen = records(count)
    assert sorted(seen) == sorted([*modules, "last"])
    for mid, recs in seen.items():
        assert recs[-2:] == [("start", recs[-1][1]), ("finish", recs[-1][1])], f"{mid}: {recs}"
        assert all(pid == victim for _, pid in recs[:-2]), f"{mid} ran again after a run on a live worker: {recs}"
        if mid in at_kill:
            assert len(recs) == 2, f"{mid} ran again after its step was committed: {recs}"
    assert any(("start", victim) in recs for recs in seen.values())
    lost = [mid for mid, recs in seen.items() if len(recs) > 2]
    assert lost or run.returncode == 12, "a module ran on the killed worker, and was run again or failed"
    # What the worker was running when it died never finished there, even when it was killed alone (its command
    # was stopped with it, not left to run on in its session of its own).
    assert running, "no module was running on the worker when it was killed"
    for mid, at in running.items():
        assert ("finish", victim) not in seen[mid][at:], f"{mid} finished on the killed worker: {seen[mid]}"


def test_the_scheduler_killed_mid_run_ends_the_run_cleanly_and_resume_on_a_new_cluster_completes(
    tmp_path: Path, dask_clusters: Callable[..., Cluster]
) -> None:
    old = dask_clusters(workers=2)
    count = tmp_path / "count"
    count.mkdir()
    modules = [f"s{i}" for i in range(6)]
    wb = workflow_bench(tmp_path / "project", sleepers(count, modules, 2, max_parallel=2))
    before = Snapshot.take(wb)

    run = start_run(wb, old.executor)
    try:
        # Kill the scheduler once a module's step is committed and others are running.
        wait_for(lambda: committed(wb, before.published), 120, "no module finished")
        wait_for(
            lambda: any(r and r[-1][0] == "start" for r in records(count).values()),
            60,
            "no module running on the cluster",
        )
        old.kill_scheduler()
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    first = committed(wb, before.published)
    assert run.returncode != 0, out + err
    # The error names the scheduler that is gone and the command that goes on once it is back.
    assert f"the Dask scheduler at {old.address.removeprefix('tcp://')} is gone" in err, err
    assert f"gitbench workflow resume --executor {old.executor}" in err, err
    # and so does each next step offered: a resume goes on on the cluster the run was on
    offered = [line for line in err.splitlines() if "gitbench workflow resume" in line]
    assert len(offered) >= 2 and all(f"--executor {old.executor}" in line for line in offered), err
    assert state(wb)["running"] == {}, "the claims of the modules that were out are released"
    assert git(wb, "rev-parse", "main").strip() == before.published
    # Nothing half committed: every step on the Draft is a whole module, its output and its metadata.
    for s in steps(wb, draft_ref(wb), before.published):
        mid = s["Gitbench-Step"].split(" ", 1)[1]
        assert set(s["Gitbench-Files"].split(", ")) == {f"out/{mid}.txt", f".gitbench/meta/{mid}.json"}
    check_invariants(wb, before, published_may_change=False)
    old.close()  # the old workers, and any module command they still ran, are gone with it
    old_workers = {pid for recs in records(count).values() for _, pid in recs}

    new = dask_clusters(workers=2)
    res = subprocess.run(
        [sys.executable, "-m", "gitbench", "workflow", "resume", "--executor", new.executor],
        cwd=wb,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Status: complete" in res.stdout
    every = committed(wb, before.published)
    assert sorted(every) == sorted([*modules, "last"]) and every[: len(first)] == first
    # Counted at the workers: a module committed on the old cluster never ran again; every other one finished
    # exactly once on the new cluster, last; what the old cluster's workers did with it was lost with them.
    seen = records(count)
    assert sorted(seen) == sorted([*modules, "last"])
    for mid, recs in seen.items():
        if mid in first:
            assert [what for what, _ in recs] == ["start", "finish"], f"{mid}: {recs}"
            continue
        on_new = [r for r in recs if r[1] in new.worker_pids]
        assert on_new == [("start", recs[-1][1]), ("finish", recs[-1][1])] == recs[-2:], f"{mid}: {recs}"
        assert {pid for _, pid in recs[:-2]} <= old_workers, f"{mid}: {recs}"
    check_invariants(wb, before, published_may_change=False)
