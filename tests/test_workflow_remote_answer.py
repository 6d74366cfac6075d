"""What a worker answers for a module's run (gitbench/workflow/runners/remote.py), and what the engine does with it,
in-process: every kind of change a command can make in its folder on a worker comes back as the same step a local
run makes (outputs with their bytes and modes, symlinks, deletions), or is named as refused (a file outside its
outputs, a `.git` folder, a pipe); the engine's side writes exactly that into the module's local folder; a worker
that does not answer, fails or is cancelled fails the module with what happened."""

from __future__ import annotations

import os
import stat
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gitbench.executors import ExecutorFailure, LocalExecutor
from gitbench.git.objects import Mode
from gitbench.workflow import spec
from gitbench.workflow.kinds import ModuleKind
from gitbench.workflow.runners import remote
from gitbench.workflow.state import RunStatus

SCRIPT = """
printf new > out/new.txt
printf '#!/bin/sh\\n' > out/tool.sh && chmod +x out/tool.sh
ln -s new.txt out/link.txt
mkfifo out/pipe
printf stray > stray.txt
printf changed >> keep.txt
rm gone.txt
mkdir .git && printf x > .git/config
"""


def module(command: str = SCRIPT, timeout: float | None = None) -> spec.ModuleSpec:
    run: dict[str, Any] = {"command": command}
    if timeout is not None:
        run["timeout"] = timeout
    outputs = ("out/new.txt", "out/tool.sh", "out/link.txt", "out/pipe", "gone.txt")
    return spec.ModuleSpec("m", ModuleKind.COMMAND, run, outputs=outputs)


def exported(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A module's folder as `prepare` exports it: its inputs, with their snapshot entries."""
    folder = tmp_path / "local" / "m"
    folder.mkdir(parents=True)
    snap: dict[str, Any] = {}
    for name, data in (("keep.txt", b"keep\n"), ("gone.txt", b"gone\n")):
        (folder / name).write_bytes(data)
        st = (folder / name).stat()
        snap[name] = (remote.blob_id(data), Mode.REGULAR, st.st_size, st.st_mtime_ns, st.st_ino)
    return folder, snap


def on_a_worker_thread(task: remote.Task) -> remote.Answer:
    with ThreadPoolExecutor(1) as pool:  # as a Dask worker runs a task: in a thread
        return pool.submit(remote.run_task, task).result()


def test_every_change_a_command_makes_on_a_worker_comes_back_as_a_local_run_would_see_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder, snap = exported(tmp_path)
    m = module()
    answer = on_a_worker_thread(remote.pack(m, str(folder), snap, {}))
    assert answer.status == "complete", answer.error
    assert answer.writes == {
        "out/new.txt": (b"new", Mode.REGULAR),
        "out/tool.sh": (b"#!/bin/sh\n", Mode.EXECUTABLE),
        "out/link.txt": (b"new.txt", Mode.SYMLINK),
        "gone.txt": None,
    }
    refused = dict(answer.refused)
    assert refused[".git/"] == "writes into .git"
    assert refused["stray.txt"] == remote.OUTSIDE and refused["keep.txt"] == remote.OUTSIDE
    assert refused["out/pipe"] == "not a regular file (a pipe, socket or device)"

    # Back in the engine's process: exactly those writes land in the local folder, with their modes.
    (folder / "out").mkdir()
    (folder / "out" / "link.txt").write_text("a file where the symlink goes")
    ran = remote.unpack(m, str(folder), snap, answer)
    assert ran.status == RunStatus.COMPLETE and sorted(ran.refused) == sorted(answer.refused)
    assert (folder / "out" / "new.txt").read_bytes() == b"new"
    assert os.readlink(folder / "out" / "link.txt") == "new.txt"
    assert stat.S_IMODE((folder / "out" / "tool.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "out" / "new.txt").stat().st_mode) == 0o644
    assert not (folder / "gone.txt").exists()
    assert (folder / "keep.txt").read_bytes() == b"keep\n"  # a refused change is not brought back
    assert not (folder / "stray.txt").exists()


def test_an_output_over_the_size_limit_is_refused_and_not_sent_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitbench.git import export

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(export, "MAX_FILE_BYTES", 10)
    folder, snap = exported(tmp_path)
    m = module("printf 0123456789ABCDEF > out/new.txt")
    answer = on_a_worker_thread(remote.pack(m, str(folder), snap, {}))
    assert answer.writes == {}
    assert answer.refused == [("out/new.txt", "too large (16 bytes; the limit is 10)")]


def test_a_failing_command_on_a_worker_names_the_engines_folder_not_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    folder, snap = exported(tmp_path)
    m = module('echo "cannot read $PWD/in.txt" >&2; exit 3')
    answer = on_a_worker_thread(remote.pack(m, str(folder), snap, {}))
    assert answer.status == "failed" and answer.error is not None
    ran = remote.unpack(m, str(folder), snap, answer)
    assert ran.status == RunStatus.FAILED and ran.error is not None, ran
    assert f"cannot read {folder}/in.txt" in ran.error and remote.HERE not in ran.error


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (remote.Answer("complete", None, "soon"), "an answer of the wrong shape (its time or error)"),  # type: ignore[arg-type]
        (remote.Answer("complete", 3, 0.1), "an answer of the wrong shape (its time or error)"),  # type: ignore[arg-type]
        (remote.Answer("complete", None, 0.1, writes=[]), "an answer of the wrong shape (its files)"),  # type: ignore[arg-type]
        (remote.Answer("complete", None, 0.1, refused=[("a", 1)]), "an answer of the wrong shape (its refused files)"),  # type: ignore[list-item]
        (
            remote.Answer("complete", None, 0.1, writes={"out/new.txt": (b"x", 0o100600)}),
            "'out/new.txt' in a form that is not a file's bytes and mode",
        ),
    ],
)
def test_an_answer_of_the_wrong_shape_fails_the_module_and_writes_nothing(
    tmp_path: Path, answer: remote.Answer, says: str
) -> None:
    folder, snap = exported(tmp_path)
    ran = remote.unpack(module(), str(folder), snap, answer)
    assert ran.status == RunStatus.FAILED and ran.error == f"the worker returned {says}"
    assert sorted(p.name for p in folder.iterdir()) == ["gone.txt", "keep.txt"]


class Scripted(LocalExecutor):
    """An executor whose every future ends as the test says: an exception, or never."""

    def __init__(self, outcome: BaseException | None) -> None:
        super().__init__(1)
        self.outcome = outcome
        self.cancelled: list[Future[Any]] = []

    def submit(self, key: str, fn: Any, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        if self.outcome is not None:
            future.set_running_or_notify_cancel()
            future.set_exception(self.outcome)
        return future  # else it never ends

    def cancel(self, future: Future[Any]) -> None:
        self.cancelled.append(future)


@pytest.mark.parametrize(
    ("outcome", "error", "lost"),
    [
        (
            ExecutorFailure("the scheduler at tcp://127.0.0.1:1 is gone"),
            "the scheduler at tcp://127.0.0.1:1 is gone",
            True,
        ),
        (ValueError("cannot pickle"), "the worker could not run it: ValueError: cannot pickle", False),
    ],
)
def test_a_worker_that_fails_the_call_fails_the_module_saying_why(
    tmp_path: Path, outcome: BaseException, error: str, lost: bool
) -> None:
    folder, snap = exported(tmp_path)
    with Scripted(outcome) as executor:
        ran = remote.call(executor, module(), str(folder), snap, {})
    assert ran.status == RunStatus.FAILED and ran.error == error and ran.lost is lost


def test_a_cancelled_run_is_lost_and_runs_again(tmp_path: Path) -> None:
    folder, snap = exported(tmp_path)
    with Scripted(None) as executor:
        m = module()
        done: list[Any] = []
        t = threading.Thread(target=lambda: done.append(remote.call(executor, m, str(folder), snap, {})))
        real_submit = executor.submit
        futures: list[Future[Any]] = []

        def submit(key: str, fn: Any, *args: Any) -> Future[Any]:
            futures.append(real_submit(key, fn, *args))
            return futures[-1]

        executor.submit = submit  # type: ignore[method-assign]
        t.start()
        while not futures:
            t.join(0.01)
        futures[0].cancel()
        t.join(10)
    assert done and done[0].status == RunStatus.FAILED and done[0].error == "cancelled" and done[0].lost


def test_a_command_whose_worker_does_not_answer_past_its_timeout_fails_and_is_cancelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(remote, "GUARD", 0.2)
    folder, snap = exported(tmp_path)
    with Scripted(None) as executor:
        ran = remote.call(executor, module(timeout=0.1), str(folder), snap, {})
        assert len(executor.cancelled) == 1
    assert ran.status == RunStatus.FAILED and not ran.lost
    assert ran.error == "timed out after 0.1 s (its worker did not answer in 0.3 s)"
