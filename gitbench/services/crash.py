"""The unexpected, as something a user can act on: an OSError nobody translated becomes a typed file error, and
any other exception an internal error with a crash log. The CLI's error handler and the TUI both say it this way.
"""

from __future__ import annotations

import os
import sys

from gitbench import errors


def crash_log(exc: BaseException, where: str | None = None) -> str:
    """Write ``exc``'s traceback to a crash log in the Workbench at ``where`` (default: the current folder's),
    in its logs folder (``store.layout``), or in the temp folder outside a repository; return its path."""
    import tempfile
    import time
    import traceback

    stamp, pid = time.strftime("%Y%m%d-%H%M%S"), os.getpid()
    try:
        from gitbench.git.repo import GitRepo
        from gitbench.store.layout import Layout

        layout = Layout(GitRepo(where or os.getcwd()).gitdir)
        os.makedirs(layout.logs, exist_ok=True)
        path = layout.crash_log(stamp, pid)
    except Exception:  # noqa: BLE001 - outside a repository the log goes to the temp folder
        path = os.path.join(tempfile.gettempdir(), f"crash-{stamp}-{pid}.log")
    with open(path, "w") as fh:
        fh.write(f"gitbench {' '.join(sys.argv[1:2])}\n")  # the command name only: arguments may hold secrets
        fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return path


def os_error(exc: OSError) -> errors.GitbenchError:
    """A file-system error nobody below translated: still a class the user can act on, not a crash."""
    if errors.is_disk_full(exc):
        return errors.disk_full("writing")
    where = f" ({exc.filename})" if exc.filename else ""
    return errors.FileIOError(
        f"A file could not be read or written{where}: {exc.strerror or exc}. Published was not changed by a "
        "half-done write; the next gitbench command finishes or rolls back whatever was under way.",
        [errors.Action("Fix the file-system problem (permissions, space), then check", "gitbench recover")],
    )


def internal_error(exc: BaseException, where: str | None = None) -> errors.InternalError:
    """An exception nothing expected: write its crash log (see ``crash_log``) and say where it is."""
    log = crash_log(exc, where)
    return errors.InternalError(
        f"gitbench hit an internal error ({type(exc).__name__}: {exc}). A crash log was written to {log}.",
        [
            errors.Action("Check and repair the Workbench", "gitbench recover"),
            errors.Action("Report the bug with the crash log"),
        ],
    )


def as_error(exc: BaseException, where: str | None = None) -> errors.GitbenchError:
    """What the CLI's error handler makes of ``exc``: itself if typed, a file error for an OSError, otherwise an
    internal error with a crash log in the Workbench at ``where``."""
    if isinstance(exc, errors.GitbenchError):
        return exc
    if isinstance(exc, OSError):
        return os_error(exc)
    return internal_error(exc, where)
