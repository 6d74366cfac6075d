"""Where a workflow's modules (and ``try`` attempts) run: the executor interface and its backends.

Snakemake's shape, kept small: one interface, a local backend (threads of this process, the default) and a Dask
backend (``dask.distributed``: a ``LocalCluster`` of processes on 127.0.0.1, or a running scheduler by address)
behind it, chosen by an address::

    None, "local"        threads of this process (today's behaviour; nothing to install)
    "dask://local"       a LocalCluster of worker processes on 127.0.0.1 (no dashboard), closed with the executor
    "dask://HOST:PORT"   a Client connected to that Dask scheduler (HOST: 127.0.0.1, localhost or a name)

``dask://local?workers=N&threads=M`` sizes the LocalCluster. What is submitted is a module-level gitbench
function taking plain picklable data (no pygit2 object, no Workbench, no repository path) and returning plain
data: a worker sees only what it is sent. No heavy import here: ``dask`` is imported when a Dask executor opens.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gitbench import errors

if TYPE_CHECKING:
    from concurrent.futures import Future

T = TypeVar("T")

ACCEPTED = "`local`, `dask://local` or `dask://HOST:PORT`"
INSTALL = "pip install 'gitbench[dask]'"


class ExecutorFailure(Exception):
    """A task did not run to its end for a reason of the executor's, not its own (its result never came back)."""


class SchedulerGone(ExecutorFailure):
    """The Dask scheduler went away (the connection to it was lost): every task still out is lost with it."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(
            f"the Dask scheduler at {address.removeprefix('dask://')} is gone; start it again, then: "
            f"gitbench workflow resume --executor {address}"
        )


class WorkerLost(ExecutorFailure):
    """The worker running the task died, more times than the scheduler retries a task (KilledWorker)."""


class Executor(abc.ABC):
    """Runs calls somewhere and hands back ``concurrent.futures.Future`` s of their results.

    ``address`` is as it was opened (``local``, ``dask://local``, ``dask://HOST:PORT``); ``remote`` says whether
    calls run in other processes (then their arguments and results are pickled). A future's exception is the
    call's own, or an ``ExecutorFailure`` when the executor lost it (a worker died, the scheduler went away)."""

    address = "local"
    remote = False

    @abc.abstractmethod
    def submit(self, key: str, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)``; ``key`` names the task (for the cluster's logs; made unique here)."""

    @abc.abstractmethod
    def capacity(self) -> int:
        """How many calls can run at once now (the cluster's worker threads, or the pool's size)."""

    def cancel(self, future: Future[Any]) -> None:
        """Stop a task that has not finished (a running one is stopped where the backend can)."""
        future.cancel()

    @abc.abstractmethod
    def cancel_all(self) -> None:
        """Cancel every task not finished (each future is settled: whoever waits on one goes on)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Let go of the threads, the client or the cluster (a LocalCluster is shut down). Twice is once."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """Threads of this process: ``size`` at once."""

    def __init__(self, size: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.size = max(1, size)
        self.pool = ThreadPoolExecutor(max_workers=self.size)
        self._futures: set[Future[Any]] = set()

    def submit(self, key: str, fn: Callable[..., T], *args: Any) -> Future[T]:
        future = self.pool.submit(fn, *args)
        self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def cancel_all(self) -> None:
        for future in list(self._futures):
            future.cancel()  # one already running runs to its end (a thread cannot be stopped)

    def capacity(self) -> int:
        return self.size

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def parse(address: str | None) -> tuple[str, str | None, dict[str, int]]:
    """``(kind, target, options)`` of an address: ``("local", None, {})``, ``("dask", None, {workers..})`` for a
    LocalCluster, ``("dask", "HOST:PORT", {})``. A bad address is a UsageError naming the accepted forms."""
    text = (address or "local").strip()
    if text == "local":
        return "local", None, {}
    if not text.startswith("dask://"):
        raise _bad(text, "it names no executor gitbench knows")
    rest = text[len("dask://") :]
    target, _, query = rest.partition("?")
    if target == "local":
        options: dict[str, int] = {}
        for part in filter(None, query.split("&")):
            name, _, value = part.partition("=")
            if name not in ("workers", "threads") or not value.isdigit() or int(value) < 1:
                raise _bad(text, f"`{part}` is not workers=N or threads=N (N a whole number from 1)")
            options[name] = int(value)
        return "dask", None, options
    host, sep, port = target.rpartition(":")
    if query or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
        raise _bad(text, "a scheduler's address is HOST:PORT (dask://127.0.0.1:8786)")
    return "dask", f"{host}:{int(port)}", {}


def _bad(text: str, why: str) -> errors.UsageError:
    return errors.UsageError(
        f"The executor {text!r} is not one gitbench can use: {why}. Give {ACCEPTED} "
        "(in --executor, or `executor` in the [workflow] section of the config).",
        details={"executor": text},
    )


RUN_AGAIN = errors.Action("run", "workflow run")


def open_executor(address: str | None, local_size: int = 1, again: errors.Action = RUN_AGAIN) -> Executor:
    """The executor an address names (docs/workflow.md, "Running on a cluster"). ``local_size``: threads of the
    local backend. A Dask address needs the ``dask`` extra (else a UsageError saying how to install it); a
    scheduler that cannot be reached is ``ExecutorUnavailable``, whose actions offer ``again`` (the caller's
    command, without ``--executor``; its label a verb: "run", "try") on that scheduler once it is started, or on
    this machine (``again_on``). Close it (or use it as a context manager)."""
    kind, target, options = parse(address)
    if kind == "local":
        return LocalExecutor(local_size)
    from gitbench.executors import dask_backend

    return dask_backend.open_dask(target, options, again)


def again_on(again: errors.Action, address: str, label: str) -> errors.Action:
    """``again`` with ``--executor ADDRESS`` added, labelled ``label`` with its verb ("Then {} on it")."""
    if again.verb is None:  # a command that is not gitbench's (the module-runner script): its text
        import shlex

        return errors.Action(label.format(again.label), text=f"{again.text} --executor {shlex.quote(address)}")
    return errors.Action(label.format(again.label), again.verb, (*again.args, "--executor", address))
