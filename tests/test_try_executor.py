"""`gitbench try --executor` (issue 16): each attempt's model calls run as tasks on a real Dask cluster on
127.0.0.1, everything else (the Draft's files, the request, the edits, the steps, the records, the journal) in
gitbench's own process. Through the real CLI against the scripted provider of tests/test_try_drafts.py (its
``bench``: three files in scope, one a batch, each model's answer naming it).

One cluster serves the module: a scheduler that gives up on a task at the first worker lost with it
(``allowed-failures`` 0: a task is not run again elsewhere, so a killed worker fails its attempt) and two worker
processes under nannies (a killed one comes back), reached by address as a remote one is (``dask://HOST:PORT``).
A test that kills the scheduler, or needs one without gitbench, starts a cluster of its own; one test runs on
``dask://local``, the LocalCluster gitbench starts itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import provider_server as ps
from tests.conftest import copy_workbench, git
from tests.invariants import check_invariants
from tests.test_startup_imports import imported_by
from tests.test_try_drafts import (
    ANT,
    DRAFT,
    FILES,
    IN_SCOPE,
    LABELS,
    OTHER,
    THIRD,
    Bench,
    bench_fixture,  # noqa: F401 - the fixture `bench`
    by_model,
    commands,
    source_job,
    write_config,
)

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install -e '.[dask]'")

# A LocalCluster of worker processes in a process of its own (a session of its own: the test kills it whole to
# take the scheduler away); it prints its address, and closes when its stdin does.
CLUSTER = """
import logging, sys
import dask
from distributed import LocalCluster
with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
    cluster = LocalCluster(n_workers=int(sys.argv[1]), threads_per_worker=2, processes=True, host="127.0.0.1",
                           dashboard_address="127.0.0.1:0", worker_dashboard_address=None,
                           silence_logs=logging.CRITICAL)
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
    cluster.close(timeout=10)
"""
JOB_ID = re.compile(r"\b[0-9]{8}-[0-9]{6}-[0-9a-f]{4}\b")


@dataclass
class Cluster:
    proc: subprocess.Popen[str]
    address: str  # tcp://127.0.0.1:PORT
    client: Any  # a distributed.Client: which worker runs what, and their pids

    @property
    def executor(self) -> str:
        return "dask://" + self.address.removeprefix("tcp://")

    def busy(self) -> dict[str, list[str]]:
        """Worker address → the keys of the tasks it runs now."""
        return {w: [str(k) for k in keys] for w, keys in self.client.processing().items() if keys}

    def close(self) -> None:
        with contextlib.suppress(Exception):  # noqa: BLE001 - a client of a scheduler already gone
            if self.client is not None:
                self.client.close(timeout=10)
        with contextlib.suppress(OSError):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):  # whatever is left of it: its workers too
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def start_cluster(log: Path, workers: int = 2, **extra_env: str) -> Cluster:
    """A cluster on 127.0.0.1, its environment without provider keys, hosts or proxies from outside; what it says
    goes to ``log``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "GITBENCH_", "OPENAI_", "ANTHROPIC_", "OLLAMA_", "DASK_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    env.update(extra_env)
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLUSTER, str(workers)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            start_new_session=True,
        )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    cluster = Cluster(proc, address, None)
    try:
        assert address.startswith("tcp://127.0.0.1:"), log.read_text()
        cluster.client = distributed.Client(address, set_as_default=False, timeout=60)
        if workers:
            cluster.client.wait_for_workers(workers, timeout=60)
    except BaseException:
        cluster.close()
        raise
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(tmp_path_factory.mktemp("cluster") / "cluster.log")
    yield c
    c.close()


def try_in_background(b: Bench, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitbench", "try", *args],
        cwd=b.path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(what: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def ended(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def tree(b: Bench, label: str) -> str:
    return git(b.path, "rev-parse", f"{DRAFT}{label}^{{tree}}").strip()


def without_ids(text: str) -> list[str]:
    """The lines, job ids made one word, in order (attempts run side by side: their lines interleave anyhow)."""
    return sorted(JOB_ID.sub("JOB", line) for line in text.splitlines())


# -- the same attempts, Drafts and requests as a local run ------------------------------------------------------
def test_try_on_a_cluster_makes_the_same_drafts_steps_listing_and_requests_as_a_local_run(
    bench: Bench, cluster: Cluster, tmp_path: Path
) -> None:
    src = source_job(bench)
    twin = Bench(copy_workbench(bench.path, tmp_path / "twin"), bench.server)  # the same source job, copied
    first = len(bench.server.posts)
    here = bench.run("try", OTHER, THIRD, ANT)
    middle = len(bench.server.posts)
    there = twin.run("try", OTHER, THIRD, ANT, "--executor", cluster.executor)
    posts = bench.server.posts
    # what gitbench printed, what it made, what it lists: the same, job ids aside
    assert without_ids(here.stdout) == without_ids(there.stdout)
    assert here.stderr == there.stderr == ""
    mine, theirs = bench.listing(), twin.listing()
    for label in LABELS.values():
        assert tree(bench, label) == tree(twin, label)
        assert len(bench.chain(label, src["base"])) == 3
        strip = [{k: v for k, v in s.items() if k != "Gitbench-Job"} for s in bench.steps(label, src["base"])]
        assert strip == [{k: v for k, v in s.items() if k != "Gitbench-Job"} for s in twin.steps(label, src["base"])]
        keep = ("model", "base", "steps", "files", "tokens", "status", "tried_from")
        assert {k: mine[label][k] for k in keep} == {k: theirs[label][k] for k in keep}
        assert theirs[label]["status"] == "complete"
    # the workers sent exactly the requests this process sends, and nothing else
    assert len(posts) - middle == middle - first == 9
    assert sorted(json.dumps(p["body"], sort_keys=True) for p in posts[first:middle]) == sorted(
        json.dumps(p["body"], sort_keys=True) for p in posts[middle:]
    )
    assert bench.published() == twin.published() == src["base"]


# -- a worker lost, the scheduler gone, Ctrl-C -------------------------------------------------------------------
def test_a_worker_killed_during_an_attempts_call_fails_that_attempt_classified_and_the_others_complete(
    bench: Bench, cluster: Cluster
) -> None:
    write_config(bench.server, read=60)
    src = source_job(bench)
    bench.server.push_for("other-model", ps.ok(by_model), ps.hang(60))  # its batch 2 waits until the kill
    proc = try_in_background(bench, OTHER, THIRD, ANT, "--executor", cluster.executor)
    others = (LABELS[THIRD], LABELS[ANT])

    def killable() -> bool:
        drafts = bench.drafts()
        return len(bench.sent(OTHER)) == 2 and all(
            label in drafts and len(bench.chain(label, src["base"])) == 3 for label in others
        )

    wait_for(killable, proc)
    wait_for(lambda: len(cluster.busy()) == 1, proc)  # the scheduler has handed out the task
    ((worker, keys),) = cluster.busy().items()
    assert len(keys) == 1 and "batch2" in keys[0], keys
    pid = cluster.client.run(os.getpid, workers=[worker])[worker]
    os.kill(pid, signal.SIGKILL)
    out, err = ended(proc)
    assert proc.returncode == 24, out + err  # a network failure: the call was cut on its way
    assert "Traceback" not in out + err
    line = next(line for line in out.splitlines() if line.startswith(f"✗ {LABELS[OTHER]}: "))
    assert f"the model call was lost on the executor {cluster.executor} (its worker died while it ran)" in line
    for label in others:
        assert "✓ Job " in out and f"in Draft {label}." in out
    check_invariants(bench.path)
    rows = bench.listing()
    failed = rows[LABELS[OTHER]]["job"]
    report = bench.report(failed)
    assert report["status"] == "failed" and report["class"] == "network"
    assert report["last_completed_step"] == 1 and report["files_changed"] == ["src/a.py"]
    assert f"gitbench resume {failed}" in [a["command"] for a in report["next_actions"]]
    for label, model in ((LABELS[THIRD], THIRD), (LABELS[ANT], ANT)):
        assert rows[label]["status"] == "complete"
        name = model.split(":", 1)[1]
        assert [bench.show(label, p) for p in IN_SCOPE] == [FILES[p] + f"edited by {name}\n" for p in IN_SCOPE]
    # resume finishes it here, from its last completed batch
    assert bench.json("resume", failed)["job"]["status"] == "complete"
    assert [bench.show(LABELS[OTHER], p) for p in IN_SCOPE] == [FILES[p] + "edited by other-model\n" for p in IN_SCOPE]
    assert bench.published() == src["base"]
    # the workers were sent model calls only: neither gitbench's Git layer nor pygit2 was ever imported there
    loaded = cluster.client.run(lambda: sorted(m for m in sys.modules if m.startswith(("pygit2", "gitbench"))))
    assert any("gitbench.providers.call" in mods for mods in loaded.values()), loaded  # (the killed one is new)
    for mods in loaded.values():
        assert not [
            m for m in mods if m.split(".")[0] == "pygit2" or m in ("gitbench.git.repo", "gitbench.services.workbench")
        ]


def test_ctrl_c_cancels_the_attempts_tasks_on_the_cluster_at_once_keeping_each_draft(
    bench: Bench, cluster: Cluster
) -> None:
    write_config(bench.server, read=60)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.write_text(config.read_text() + f'[workflow]\nexecutor = "{cluster.executor}"\n')  # no --executor
    src = source_job(bench)
    for name in ("other-model", "third-model"):  # batch 2 answers only after 20 s: the signal comes meanwhile
        bench.server.push_for(name, ps.ok(by_model), ps.slow(20))
    proc = try_in_background(bench, OTHER, THIRD)
    wait_for(lambda: len(bench.sent(OTHER)) == 2 and len(bench.sent(THIRD)) == 2, proc)
    wait_for(lambda: sum(len(keys) for keys in cluster.busy().values()) == 2, proc)
    proc.send_signal(signal.SIGINT)
    signalled = time.monotonic()
    out, err = ended(proc)
    assert time.monotonic() - signalled < 12, "it waited for the answers in flight"
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    assert f"Ctrl-C: stopping every attempt now, its model call on {cluster.executor} cancelled." in out
    deadline = time.monotonic() + 5
    while cluster.busy() and time.monotonic() < deadline:  # the cluster forgets the tasks
        time.sleep(0.05)
    assert not cluster.busy()
    check_invariants(bench.path)
    rows = bench.listing()
    for label in (LABELS[OTHER], LABELS[THIRD]):
        assert f"✗ {label}: The job was cancelled (Ctrl-C) after 1 of 3 batch(es)" in out
        report = bench.report(rows[label]["job"])
        assert report["status"] == "cancelled" and report["class"] == "user-cancel"
        assert report["last_completed_step"] == 1
        assert [s["Gitbench-Step"] for s in bench.steps(label, src["base"])] == ["1/3 batch"]
    assert bench.published() == src["base"]


def test_ctrl_c_at_a_terminal_reaches_a_local_clusters_workers_too_yet_none_prints_a_traceback_or_lingers(
    bench: Bench,
) -> None:
    write_config(bench.server, read=60)
    src = source_job(bench)
    bench.server.push_for("other-model", ps.ok(by_model), ps.hang(30))
    # a session of its own, as a terminal gives: Ctrl-C is sent to every process of its foreground group
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitbench", "try", OTHER, "--executor", "dask://local?workers=2"],
        cwd=bench.path,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(lambda: len(bench.sent(OTHER)) == 2, proc)
    assert len(in_session(proc.pid)) > 1, "the cluster's processes are in gitbench's group"
    os.killpg(proc.pid, signal.SIGINT)
    out, err = ended(proc)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in err, err
    assert f"✗ {LABELS[OTHER]}: The job was cancelled (Ctrl-C) after 1 of 3 batch(es)" in out
    deadline = time.monotonic() + 10
    while in_session(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not in_session(proc.pid), "a process of the cluster was left running"
    assert len(bench.chain(LABELS[OTHER], src["base"])) == 1
    check_invariants(bench.path)


def in_session(sid: int) -> list[int]:
    """The live processes of the session ``sid``."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


def test_the_scheduler_gone_mid_attempt_fails_each_attempt_clearly_at_once_and_resume_finishes_them(
    bench: Bench, tmp_path: Path
) -> None:
    write_config(bench.server, read=60)
    src = source_job(bench)
    for name in ("other-model", "third-model"):
        bench.server.push_for(name, ps.ok(by_model), ps.hang(60))
    own = start_cluster(tmp_path / "cluster.log")
    try:
        proc = try_in_background(bench, OTHER, THIRD, "--executor", own.executor)
        wait_for(lambda: len(bench.sent(OTHER)) == 2 and len(bench.sent(THIRD)) == 2, proc)
        own.client.close(timeout=10)
        os.killpg(own.proc.pid, signal.SIGKILL)  # the scheduler, and its workers with it
        gone = time.monotonic()
        out, err = ended(proc)
    finally:
        own.close()
    assert time.monotonic() - gone < 10
    assert proc.returncode == 24, out + err
    assert "Traceback" not in out + err
    check_invariants(bench.path)
    rows = bench.listing()
    for label in (LABELS[OTHER], LABELS[THIRD]):
        line = next(line for line in out.splitlines() if line.startswith(f"✗ {label}: "))
        assert f"the model call was lost on the executor {own.executor} (the scheduler went away)" in line
        job = rows[label]["job"]
        report = bench.report(job)
        assert report["status"] == "failed" and report["class"] == "network" and report["last_completed_step"] == 1
        assert bench.json("resume", job)["job"]["status"] == "complete"
        assert len(bench.chain(label, src["base"])) == 3
    assert bench.published() == src["base"]


# A cluster from another environment, where gitbench is not installed: its processes cannot import it.
NO_GITBENCH = """
import sys
class NoGitbench:
    def find_spec(self, name, path=None, target=None):
        if name == "gitbench" or name.startswith("gitbench."):
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NoGitbench())
"""


def test_a_cluster_without_gitbench_fails_each_attempt_saying_to_install_it_there(bench: Bench, tmp_path: Path) -> None:
    src = source_job(bench)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NO_GITBENCH)
    own = start_cluster(tmp_path / "cluster.log", workers=0, PYTHONPATH=str(tmp_path / "site"))  # its scheduler
    try:
        res = bench.run("try", OTHER, THIRD, "--executor", own.executor, code=27)
    finally:
        own.close()
    assert "Traceback" not in res.stdout + res.stderr
    assert f"The cluster at {own.executor} has no worker yet: the attempts wait until one joins." in res.stdout
    for label in (LABELS[OTHER], LABELS[THIRD]):
        line = next(line for line in res.stdout.splitlines() if line.startswith(f"✗ {label}: "))
        assert f"The cluster at {own.executor} cannot run gitbench's model call" in line
        assert "pip install 'gitbench[dask]'" in line
        assert bench.listing()[label]["status"] == "failed" and bench.chain(label, src["base"]) == []
    assert len(bench.sent(OTHER)) == len(bench.sent(THIRD)) == 0


# -- what is refused before anything starts ----------------------------------------------------------------------
def test_a_bad_or_unreachable_executor_is_refused_before_any_attempt_starts(bench: Bench) -> None:
    src = source_job(bench)
    drafts, posts = bench.drafts(), len(bench.server.posts)
    err = bench.json("try", OTHER, "--executor", "ray://somewhere", code=2)
    assert err["code"] == "usage" and "dask://HOST:PORT" in err["message"]
    with socket.socket() as s:  # a port of 127.0.0.1 where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err = bench.json("try", OTHER, "--executor", f"dask://127.0.0.1:{port}", code=27)
    assert err["code"] == "executor-unavailable" and f"127.0.0.1:{port}" in err["message"]
    assert f"gitbench try {OTHER} --job {src['id']} --executor dask://127.0.0.1:{port}" in commands(err)
    assert f"gitbench try {OTHER} --job {src['id']} --executor local" in commands(err)
    assert bench.drafts() == drafts and len(bench.server.posts) == posts
    assert [j for j in bench.json("jobs") if j.get("tried_from")] == []


# -- the call a worker runs: plain data in and out ---------------------------------------------------------------
def test_the_call_sent_to_a_worker_holds_only_its_own_models_key_and_its_module_imports_no_git(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gitbench.providers import call, config

    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-secret-1111")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-2222")
    cfg = config.load(None)
    sent = pickle.dumps(call.Request(cfg.resolve("anthropic:claude-x"), cfg.settings, "system", "user"))
    assert b"sk-ant-secret-2222" in sent and b"sk-openai-secret-1111" not in sent
    modules = imported_by("import gitbench.providers.call")
    assert "pygit2" not in modules and not [m for m in modules if m.startswith("gitbench.git.repo")]
    assert "gitbench.services.workbench" not in modules


def test_the_call_answers_a_failure_as_data_classified_with_its_log_events(provider: ps.ProviderServer) -> None:
    from gitbench import errors
    from gitbench.providers import call, config

    cfg = config.load(None)
    request = call.Request(cfg.resolve("fake:test-model"), cfg.settings, "system", "user")
    provider.push(ps.answer_text("no edits here"), ps.status(503), ps.status(503))
    reply = pickle.loads(pickle.dumps(call.run(request)))  # as it comes back from a worker
    assert isinstance(reply.error, errors.ModelUnavailable) and reply.text is None and reply.attempts == 3
    assert [name for name, _ in reply.events] == [
        "provider.attempt",
        "provider.retry",
        "provider.attempt",
        "provider.retry",
        "provider.attempt",
    ]
    assert "cannot be used" in reply.events[0][1]["reason"] and reply.debug == []  # debug only when asked
    reply = call.run(request)
    assert reply.error is None and json.loads(reply.text or "")["edits"] == [] and reply.attempts == 1
    assert reply.input_tokens and reply.output_tokens
