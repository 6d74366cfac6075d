"""The check: a command (the project's tests) run in a clean, throw-away worktree of one commit.

One runner for the publish gate (``[publish] check``, ``publish --check``) and for ``compare --check``. The
worktree is detached at the commit (the user's uncommitted and untracked files are not in it; ``[job] copy``
files are copied in and ``[job] setup`` runs first, as for a job), and removed afterwards. The command runs with
``sh -c`` under the one process supervisor: its whole process tree is stopped at its time limit or on Ctrl-C.
Its full output goes to ``.git/gitbench/logs/checks/<id>.log``; the result keeps its last lines.

The caller decides about the Workbench lock: the publish gate lets go of it while the check runs.
"""

from __future__ import annotations

import os
import time
from dataclasses import field
from typing import TYPE_CHECKING, Any

from gitbench import errors, faults
from gitbench.lazy_dataclass import dataclass
from gitbench.services.workbench import Workbench

if TYPE_CHECKING:
    from gitbench.providers.sections import JobSettings

TAIL_LINES = 20
TAIL_CHARS = 4000  # a tail of very long lines is cut from its start
KEEP_LOGS = 50  # the newest check logs kept; older ones are deleted when a check runs
REDACT_MAX = 16 * 1024 * 1024  # larger logs are not rewritten for redaction (their tail still is)


@dataclass
class CheckResult:
    """How a check ended, as recorded (``checks/<id>.json``) and shown."""

    id: str
    command: str
    commit: str
    status: str  # passed | failed | timed-out | cancelled | skipped
    exit_code: int | None = None  # None: it did not end by itself (stopped, skipped)
    seconds: float = 0.0
    timeout: float | None = None
    tail: str = ""  # the last lines of its output (known keys redacted)
    log: str | None = None  # the full output's file (local, never pushed)
    log_sha256: str | None = None
    setup: str | None = None  # the ``[job] setup`` command, when it failed and the check did not run
    stopped: str | None = None  # why the supervisor stopped it: "timeout", "Ctrl-C", "SIGTERM"...
    extra: dict[str, Any] = field(default_factory=dict)  # who ran it: the Draft, the job, the operation

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def result(self) -> str:
        """One line, as in the publish checkpoint's ``Gitbench-Check-Result`` trailer."""
        if self.status == "skipped":
            return "skipped (--no-check)"
        if self.status == "timed-out":
            return f"timed out (stopped after {self.timeout:g} s)"
        if self.status == "cancelled":
            return f"cancelled ({self.stopped})"
        if self.setup is not None:
            return f"failed (setup exit {self.exit_code}, {self.seconds:.1f} s)"
        return f"{self.status} (exit {self.exit_code}, {self.seconds:.1f} s)"

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "commit": self.commit,
            "status": self.status,
            "passed": self.passed,
            "result": self.result,
            "exit_code": self.exit_code,
            "seconds": round(self.seconds, 3),
            "timeout": self.timeout,
            "tail": self.tail,
            "log": self.log,
            "log_sha256": self.log_sha256,
            "setup": self.setup,
            **self.extra,
        }


def skipped(wb: Workbench, commit: str, command: str, **extra: Any) -> CheckResult:
    """``--no-check``: the check that was not run, for the record."""
    return CheckResult(wb.new_id(), command, commit, "skipped", extra=extra)


def run(
    wb: Workbench,
    commit: str,
    command: str,
    timeout: float | None,
    *,
    settings: JobSettings | None = None,
    secrets: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> CheckResult:
    """Run ``command`` in a fresh detached worktree of ``commit``; how it ended. Never raises for the command's
    own failure (that is a result); raises a GitbenchError when the worktree cannot be made."""
    from gitbench.services import supervisor, worktrees
    from gitbench.store.logs import redact

    if settings is None:
        from gitbench.services import commands

        settings = commands.job_settings(wb)
    check_id = wb.new_id()
    folder = wb.layout.checks
    path = os.path.join(folder, f"{check_id}.log")
    start = time.monotonic()
    try:
        os.makedirs(folder, exist_ok=True)
        _prune(folder)
        log = open(path, "wb")  # noqa: SIM115 - closed below, after the worktree is gone
    except OSError as exc:
        raise errors.file_error(exc, f"opening the check's log {path}") from exc
    setup_failed: int | None = None
    try:
        with worktrees.scratch(wb, commit, worktrees.check_folder(check_id), settings) as linked:
            run_env = worktrees.command_env(
                wb, linked, {"GITBENCH_CHECK": "1", "GITBENCH_COMMIT": commit, **(env or {})}
            )
            out: supervisor.Outcome | None = None
            if settings.setup:
                log.write(f"$ {settings.setup}    ([job] setup)\n".encode())
                log.flush()
                out = supervisor.run(
                    ["/bin/sh", "-c", settings.setup],
                    linked.path,
                    run_env,
                    stdin=b"",
                    stdout=log.fileno(),
                    stderr=log.fileno(),
                    timeout=timeout,
                )
                if out.code != 0 and not out.stopped:
                    setup_failed = out.code
            if out is None or (setup_failed is None and not out.stopped):
                left = None if timeout is None else max(0.1, timeout - (time.monotonic() - start))
                out = supervisor.run(
                    ["/bin/sh", "-c", command],
                    linked.path,
                    run_env,
                    stdin=b"",
                    stdout=log.fileno(),
                    stderr=log.fileno(),
                    timeout=left,
                )
            faults.point("check.after-command")
    finally:
        log.close()
    assert out is not None  # the command ran, or the setup before it ended it
    seconds = time.monotonic() - start
    text, digest = _read_log(path, secrets or [])
    tail = redact(_tail(text), secrets or [])
    if out.stopped == "timeout":
        status, code = "timed-out", None
    elif out.stopped:
        status, code = "cancelled", None
    else:
        status, code = ("passed" if out.code == 0 and setup_failed is None else "failed"), out.code
    return CheckResult(
        check_id,
        command,
        commit,
        status,
        exit_code=code,
        seconds=seconds,
        timeout=timeout,
        tail=tail,
        log=path,
        log_sha256=digest,
        setup=settings.setup if setup_failed is not None else None,
        stopped=out.stopped,
    )


def _tail(text: str) -> str:
    lines = text.rstrip().splitlines()[-TAIL_LINES:]
    tail = "\n".join(lines)
    return tail[-TAIL_CHARS:]


def _read_log(path: str, secrets: list[str]) -> tuple[str, str | None]:
    """The log's text (its end, for a big one) and the sha256 of the file as kept. A key gitbench knows is
    redacted in the file itself (logs never hold one, DESIGN.md §2.7)."""
    from gitbench.store.logs import redact

    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            if size > REDACT_MAX:
                fh.seek(size - 64 * 1024)
            data = fh.read()
        text = data.decode("utf-8", "replace")
        if size <= REDACT_MAX:
            clean = redact(text, secrets)
            if clean != text:
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(clean)
                text = clean
        import hashlib  # here: publish imports this module, and only a check that ran has a log to digest

        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return text, digest.hexdigest()
    except OSError:
        return "", None


def _prune(folder: str) -> None:
    """Keep the newest ``KEEP_LOGS`` check logs (their names sort by time)."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".log"))
    except OSError:
        return
    for name in names[: max(0, len(names) - KEEP_LOGS + 1)]:
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            continue
