"""The tests' real Dask cluster (tests/dask_cluster.py) does what the proofs of issue 16 rely on: real `dask
scheduler` and `dask worker` processes that run what is submitted, listen on 127.0.0.1 only, lose a worker when
it is killed, and leave no process behind, even when a test fails with its cluster up."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import alive
from tests.dask_cluster import Cluster


@pytest.fixture
def client() -> Iterator[Callable[[Cluster], object]]:
    """A `distributed.Client` of this process, connected to a cluster; closed when the test ends."""
    import distributed

    clients: list[distributed.Client] = []

    def connect(cluster: Cluster) -> distributed.Client:
        clients.append(distributed.Client(cluster.address, timeout=60))
        return clients[-1]

    yield connect
    for c in clients:
        c.close()


def test_the_cluster_runs_what_is_submitted_on_loopback_only_and_loses_a_killed_worker(
    dask_clusters: Callable[..., Cluster], client: Callable[[Cluster], object]
) -> None:
    cluster = dask_clusters(workers=2)
    workers = cluster.worker_pids
    assert len(workers) == 2 and cluster.registered() == 2
    assert cluster.executor == "dask://" + cluster.address.removeprefix("tcp://")
    # Every socket any of its processes listens on is on 127.0.0.1: the scheduler's and each worker's comm port,
    # and their HTTP servers (which --no-dashboard alone would open on every interface).
    listening = cluster.listening()
    assert len(listening) == 6, listening
    assert {host for host, _ in listening} == {"127.0.0.1"}, listening

    c = client(cluster)
    import distributed

    assert isinstance(c, distributed.Client)
    addresses = sorted(c.scheduler_info()["workers"])
    ran_on = {c.submit(os.getpid, pure=False, workers=[a]).result(timeout=60) for a in addresses}
    assert ran_on == set(workers)  # each worker is one of the processes started

    killed = cluster.kill_worker(workers[0])
    assert workers[0] in killed and not alive(workers[0])
    cluster.wait_workers(1)
    assert cluster.worker_pids == [workers[1]]
    assert c.submit(os.getpid, pure=False).result(timeout=60) == workers[1]
    assert len(c.scheduler_info()["workers"]) == 1


def test_a_failing_test_leaves_no_process_of_its_cluster_behind(
    tmp_path: os.PathLike[str], client: Callable[[Cluster], object]
) -> None:
    from pathlib import Path

    def leave_running() -> int:
        # What a module's command does when its worker is lost: it goes on, in a session of its own.
        import subprocess

        return subprocess.Popen(["sleep", "600"], start_new_session=True).pid

    with pytest.raises(RuntimeError, match="the test failed"), Cluster.start(Path(tmp_path) / "c", workers=2) as cl:
        c = client(cl)
        import distributed

        assert isinstance(c, distributed.Client)
        orphan = c.submit(leave_running, pure=False).result(timeout=60)
        everything = cl.pids()
        assert orphan in everything and set(cl.worker_pids) <= set(everything)
        cl.kill_worker(cl.worker_pids[0], tree=False)  # a worker killed alone: what it started lives on
        raise RuntimeError("the test failed")
    assert not [pid for pid in everything if alive(pid)]
    assert cl.pids() == []
