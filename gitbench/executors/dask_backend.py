"""The Dask backend: calls run as tasks of a ``dask.distributed`` cluster (a LocalCluster, or a scheduler by
address), their results handed back as ``concurrent.futures`` futures.

Lost work is translated at this boundary: a scheduler whose connection is lost cancels every task still out
(``scheduler-connection-lost``), and a task whose result was on its way back as it went raises
``CommClosedError``: both become ``SchedulerGone``; a task whose worker died more often than the
scheduler retries it (``distributed.scheduler.allowed-failures``, 3 by default: a task on a worker that dies is
run again on another) raises ``KilledWorker``, which becomes ``WorkerLost``. Once the scheduler is gone every
further submit fails the same way at once, so a run ends cleanly instead of waiting for a cluster that is not
there.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, InvalidStateError
from typing import Any, TypeVar

from gitbench import errors
from gitbench.executors import INSTALL, Executor, SchedulerGone, WorkerLost, again_on

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler when the executor opens


class DaskExecutor(Executor):
    remote = True

    def __init__(self, client: Any, address: str, cluster: Any = None) -> None:
        self.client = client
        self.address = address
        self.cluster = cluster
        self.gone = False
        self.closed = False
        self._ids = itertools.count(1)
        self._tasks: dict[Future[Any], Any] = {}
        self._lock = threading.Lock()
        self._capacity: tuple[float, int] = (0.0, 0)

    def submit(self, key: str, fn: Callable[..., T], *args: Any) -> Future[T]:
        out: Future[T] = Future()
        out.set_running_or_notify_cancel()  # cancelled through cancel(), which reaches the task on the cluster
        if self.gone:
            out.set_exception(SchedulerGone(self.address))
            return out
        try:
            task = self.client.submit(fn, *args, key=f"{key}-{next(self._ids)}-{id(self):x}", pure=False, retries=0)
        except Exception as exc:  # noqa: BLE001 - a closed or closing client: the scheduler is not there
            self.gone = True
            out.set_exception(SchedulerGone(self.address) if _connection_lost(exc) else exc)
            return out
        with self._lock:
            self._tasks[out] = task

        def done(task: Any) -> None:
            with self._lock:
                self._tasks.pop(out, None)
            try:
                value, failure = task.result(), None
            except BaseException as exc:  # noqa: BLE001 - handed to the future's reader, translated
                value, failure = None, self._translate(exc)
            with contextlib.suppress(InvalidStateError):  # cancel() settled it first
                out.set_result(value) if failure is None else out.set_exception(failure)

        task.add_done_callback(done)
        return out

    def _translate(self, exc: BaseException) -> BaseException:
        from distributed.client import FutureCancelledError
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        if isinstance(exc, FutureCancelledError) and exc.reason == "scheduler-connection-lost":
            self.gone = True
            return SchedulerGone(self.address)
        if isinstance(exc, CommClosedError):
            # The task ended, and the connection its result came back by closed under it: the scheduler died
            # just then (its tasks that had not ended yet are cancelled with "scheduler-connection-lost").
            self.gone = True
            return SchedulerGone(self.address)
        if isinstance(exc, KilledWorker):
            return WorkerLost(f"its worker died while it ran, on every worker it was given ({exc})")
        return exc

    def capacity(self) -> int:
        """The cluster's worker threads (asked of the scheduler at most once a second)."""
        asked, known = self._capacity
        now = time.monotonic()
        if self.gone:
            return known
        if now - asked >= 1.0:
            try:
                known = sum(self.client.nthreads().values())
            except Exception:  # noqa: BLE001 - a scheduler gone: its tasks say so; keep what was known
                return known
            self._capacity = (now, known)
        return known

    def cancel(self, future: Future[Any]) -> None:
        with self._lock:
            task = self._tasks.pop(future, None)
        if task is not None and not self.gone:
            try:
                task.cancel()
            except Exception:  # noqa: BLE001 - cancelling on a cluster that is going away: nothing left to stop
                pass
        with contextlib.suppress(InvalidStateError):  # it finished meanwhile
            future.set_exception(CancelledError())

    def cancel_all(self) -> None:
        with self._lock:
            futures = list(self._tasks)
        for fut in futures:
            self.cancel(fut)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.cancel_all()
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001 - a scheduler already gone cannot be said goodbye to
            pass
        if self.cluster is not None:
            try:
                # Each nanny first, with a short grace: a worker still running a cancelled task waits for its
                # thread (a command, a model request) and is killed only after 0.8 x the nanny's timeout, 5 s by
                # default, so Ctrl-C took ~4.5 s. Nothing is lost by not waiting: its tasks were cancelled and no
                # answer of theirs is read; the command a killed worker started is stopped by its watchdog.
                self.cluster.sync(_stop_workers, self.cluster)
            except Exception:  # noqa: BLE001 - then cluster.close stops them as it would have
                pass
            try:
                self.cluster.close(timeout=10)
            except Exception:  # noqa: BLE001 - the cluster's processes are stopped at exit anyway
                pass


STOP_GRACE = 0.5  # seconds a LocalCluster's worker is given to stop by itself when the executor closes


async def _stop_workers(cluster: Any) -> None:
    """Close a LocalCluster's nannies (their status: closing, so none starts its worker again), each killing its
    worker process if it has not stopped within 0.8 x ``STOP_GRACE``."""
    import asyncio

    nannies = list(cluster.workers.values())
    await asyncio.gather(
        *(n.close(timeout=STOP_GRACE, reason="gitbench-close") for n in nannies), return_exceptions=True
    )


def _connection_lost(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OSError | TimeoutError) or "closed" in text or "not running" in text


def _import() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise errors.UsageError(
            f"Running on a Dask cluster needs Dask, which is not installed here ({exc}). Install it: {INSTALL}",
            details={"install": INSTALL},
        ) from exc
    return distributed


def open_dask(target: str | None, options: dict[str, int], again: errors.Action) -> DaskExecutor:
    """A LocalCluster (``target`` None) or a Client of the scheduler at ``target`` (HOST:PORT); one that does not
    answer offers ``again`` (``open_executor``) on it once started, or on this machine."""
    distributed = _import()
    # The cluster's own chatter (a worker restarting, a lost connection retried) is not the user's to read: what
    # it means reaches them as a module's failure. distributed's loggers carry levels of their own.
    for name in ["distributed", *logging.Logger.manager.loggerDict]:
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    if target is None:
        import os

        workers = options.get("workers") or max(1, min(4, os.cpu_count() or 1))
        with _children_ignore_ctrl_c():
            cluster = _local_cluster(distributed, workers, options.get("threads", 1))
        try:
            client = distributed.Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise
        return DaskExecutor(client, "dask://local", cluster)
    address = f"dask://{target}"
    host, _, port = target.rpartition(":")
    try:
        # A port nobody listens on refuses at once, while distributed's Client would retry it for the whole
        # CONNECT_TIMEOUT: one plain TCP connection first says so in a moment (and costs a listening scheduler
        # one connection it drops).
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
        client = distributed.Client(f"tcp://{target}", timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise errors.ExecutorUnavailable(
            f"No Dask scheduler answers at {target} ({reason}). Nothing ran: no checkpoint, no Draft.",
            [
                errors.Action(
                    "Start the scheduler and its workers",
                    text=f"dask scheduler --host {host} --port {port} & dask worker tcp://{target} &",
                ),
                again_on(again, address, "Then {} on it"),
                again_on(again, "local", "Or {} on this machine"),
            ],
            details={"executor": address},
        ) from exc
    return DaskExecutor(client, address)


def _local_cluster(distributed: Any, workers: int, threads: int) -> Any:
    return distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=threads,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
        # The scheduler serves a few HTTP routes even without a dashboard, on port 8787 unless told: on a
        # port of its own on 127.0.0.1 (8787 may be another cluster's; nothing listens beyond this machine).
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.CRITICAL,
    )


@contextlib.contextmanager
def _children_ignore_ctrl_c() -> Iterator[None]:
    """While a LocalCluster starts: the processes it starts here (its nannies and their workers) ignore SIGINT.

    Ctrl-C at a terminal reaches every process of its foreground group, the cluster's workers too: each would die
    printing a KeyboardInterrupt traceback, and its tasks be lost, while gitbench itself cancels the tasks and
    closes the cluster in order (``workflow run`` and ``try`` alike). An ignored signal stays ignored in a child
    (across exec too), and Python leaves it so; this process's own handler is put back at once."""
    import signal

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set a handler
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
