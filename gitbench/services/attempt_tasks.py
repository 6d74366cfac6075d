"""`gitbench try --executor ADDRESS`: each attempt's model calls run as tasks on an executor (a Dask cluster).

Only the model call itself leaves this process (``providers/call.py``: the request's text, the resolved model
with its own key only, the settings); reading the Draft's files, building the request, checking the answer's
edits, committing the step, the job's records and the journal stay here, in the attempt's thread, exactly as a
local run does them. Each attempt's thread waits on its task in short slices, so that a cancel (Ctrl-C or
SIGTERM, set by ``try_models``) cancels the task at once instead of waiting for its answer.

A task the executor loses (its worker died, the scheduler went away) fails its attempt, classified as a
network failure (the request was cut on its way): its Draft keeps every finished batch, ``gitbench resume JOB``
finishes it (here, without the cluster), and the other attempts go on.
"""

from __future__ import annotations

from concurrent.futures import CancelledError

from gitbench import errors
from gitbench.executors import Executor, ExecutorFailure, SchedulerGone
from gitbench.providers import call
from gitbench.services.ask import Cancel

SLICE = 0.1  # seconds an attempt waits on its task before it looks at the cancel again


class TaskCalls:
    """An ``ask.Caller``: the model call of a batch as one task on ``executor``, waited for in this thread."""

    def __init__(self, executor: Executor, cancel: Cancel) -> None:
        self.executor = executor
        self.cancel = cancel

    def __call__(self, request: call.Request, name: str) -> call.Reply:
        future = self.executor.submit(f"gitbench-try-{name}", call.run, request)
        while True:
            if self.cancel.is_set():
                self.executor.cancel(future)
                raise KeyboardInterrupt(self.cancel.reason)
            try:
                return future.result(timeout=SLICE)
            except TimeoutError:
                continue
            except CancelledError as exc:  # cancelled from outside (the executor closed under it): lost
                raise lost(request.spec.id, self.executor.address, "it was cancelled on the cluster") from exc
            except ExecutorFailure as exc:
                why = "the scheduler went away" if isinstance(exc, SchedulerGone) else "its worker died while it ran"
                raise lost(request.spec.id, self.executor.address, why) from exc
            except ImportError as exc:  # a worker without gitbench (or another version of it)
                raise unfit(self.executor.address, f"{type(exc).__name__}: {exc}") from exc
            except RuntimeError as exc:
                if "deserializ" not in str(exc):  # not Dask's "Error during deserialization of the task graph"
                    raise
                raise unfit(self.executor.address, "the scheduler cannot read the task") from exc


def lost(model: str, address: str, why: str) -> errors.NetworkError:
    """The error of an attempt whose model call the executor lost: a network failure (the call was cut)."""
    return errors.NetworkError(
        f"{model}: the model call was lost on the executor {address} ({why}). The attempt stopped; its Draft keeps "
        "every finished batch.",
        details={"executor": address},
    )


def unfit(address: str, why: str) -> errors.ExecutorUnavailable:
    """The cluster cannot run gitbench's call at all: gitbench is not installed where it runs, or not this one."""
    return errors.ExecutorUnavailable(
        f"The cluster at {address} cannot run gitbench's model call ({why}): its scheduler and every worker need "
        "gitbench installed, the same version as here (pip install 'gitbench[dask]'). The attempt stopped; its Draft "
        "keeps every finished batch.",
        details={"executor": address},
    )
