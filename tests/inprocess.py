"""gitbench's real entry point, `gitbench.cli.app.main(argv)`, called in the test's own process.

A subprocess costs ~150-200 ms of CPU (a Python start and gitbench's imports); most tests run gitbench dozens of
times to check what a command says and leaves behind, not how a process dies. Those calls run here instead, with
everything a subprocess would have been given set up and put back afterwards:

- the current folder, ``os.environ`` (the test's environment plus ``env``), ``sys.argv``;
- stdin, stdout and stderr: UTF-8 text streams over bytes, as a pipe is, so output that a pipe could not carry
  fails here too; their text comes back as a ``CompletedProcess``, exactly as ``subprocess.run`` gives it;
- libgit2's configuration search path, which it reads from HOME once per process (each test has its own HOME);
- gitbench's process-wide caches: the rich consoles (they keep the width they were made with), the fault points
  (read from ``GITBENCH_FAULT`` once), the typer application.

What runs in a process of its own (``suitable`` says no): commands that run a job or a check under the process
supervisor (it makes its process the subreaper of every orphan and stops every child it has when the job ends:
here, the test's own servers), that talk to a terminal or serve a protocol on stdin, that run a workflow's
modules, and every call with a fault point that kills (``:kill`` is a real SIGKILL) or with an explicit time
limit. That process is a fork of this one (``forked``: no Python start, no imports), or a real subprocess when
the call has another PYTHONPATH or TEST_GITBENCH_SUBPROCESS is set.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

# First words of the commands that run other programs under gitbench's process supervisor, take a terminal, or
# serve a protocol: never in the test's process.
_SUBPROCESS_ONLY = {"exec", "ask", "agent", "try", "chat", "tui", "mcp", "hook", "resume", "compare", "shell"}
_WORKFLOW_SUBPROCESS = {"run", "resume"}  # `workflow run|resume` start module runners and wait for them


def _words(args: list[str]) -> list[str]:
    """The command's words (``workflow run``), without options and without the folder of ``-C FOLDER``."""
    words: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-C":
            skip = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def _config_has_check(cwd: Path | str, env: dict[str, str]) -> bool:
    """Does a config file that `publish` reads name a check (run under the supervisor)?"""
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", ""), ".config")
    for path in (Path(base) / "gitbench" / "config.toml", Path(cwd) / ".gitbench" / "config.toml"):
        with contextlib.suppress(OSError):
            if "check" in path.read_text(errors="replace"):
                return True
    return False


_STARTED_WITH_PYTHONPATH = os.environ.get("PYTHONPATH", "")  # sys.path here was made from it


def _kills(faults: str) -> bool:
    """Does a fault point of ``GITBENCH_FAULT`` kill its process (``:kill``, the default)? One that fails a
    write (``:enospc``, ``:eio``) raises an OSError, which runs here as in a subprocess."""
    kinds = [item.partition(":")[2].partition("@")[0] for item in faults.split(",") if item.strip()]
    return any(kind not in ("enospc", "eio") for kind in kinds)


def suitable(cwd: Path | str, args: list[str], env: dict[str, str]) -> bool:
    """May this gitbench call run in the test's process without changing what it does or what the test sees?"""
    if os.environ.get("TEST_GITBENCH_SUBPROCESS") or _kills(env.get("GITBENCH_FAULT", "")):
        return False
    if env.get("PYTHONPATH", "") != _STARTED_WITH_PYTHONPATH:
        return False  # a test that installs Python code (a module's entry point) for gitbench to import
    words = _words(args[: args.index("--")] if "--" in args else args)
    if not words:
        return True  # `gitbench --help`, `--version`
    if words[0] in _SUBPROCESS_ONLY:
        return False
    if words[0] == "workflow" and (len(words) < 2 or words[1] in _WORKFLOW_SUBPROCESS):
        return False
    if "-C" in args:
        cwd = Path(cwd) / args[args.index("-C") + 1] if args.index("-C") + 1 < len(args) else cwd
    return not (words[0] in ("publish", "rebase") and ("--check" in args or _config_has_check(cwd, env)))


def forkable(env: dict[str, str]) -> bool:
    """May this gitbench call run in a forked copy of this process (``forked``)? Not when every call is to run in
    a subprocess, nor with another PYTHONPATH (sys.path here was made at start)."""
    return not os.environ.get("TEST_GITBENCH_SUBPROCESS") and env.get("PYTHONPATH", "") == _STARTED_WITH_PYTHONPATH


@contextlib.contextmanager
def _process_state(
    cwd: Path | str, args: list[str], env: dict[str, str], stdin: str
) -> Iterator[tuple[io.BytesIO, io.BytesIO]]:
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_argv = sys.argv
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    out, err = io.BytesIO(), io.BytesIO()

    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = [sys.argv[0] if sys.argv else "gitbench", *args]
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(err, encoding="utf-8", write_through=True)
    ours = (sys.stdin, sys.stdout, sys.stderr)
    _fresh_process()
    try:
        yield out, err
    finally:
        for stream in ours:
            with contextlib.suppress(ValueError):
                stream.flush()
                stream.detach()  # the bytes stay readable: a closed wrapper would close them too
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        _fresh_process()


def _fresh_process() -> None:
    """Forget what a previous gitbench run in this process cached, as a new process would not have it."""
    import pygit2
    from pygit2.enums import ConfigLevel

    from gitbench import faults
    from gitbench.cli import app, render

    home = os.environ.get("HOME", "")
    pygit2.settings.search_path[ConfigLevel.GLOBAL] = home
    pygit2.settings.search_path[ConfigLevel.XDG] = os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "git"
    )
    faults.reset()
    render._console = None
    render._err_console = None
    if hasattr(app, "_app"):
        app._app = None  # typer's application: commands are registered on it once per process


def run(cwd: Path | str, args: list[str], env: dict[str, str], input: str | None) -> subprocess.CompletedProcess[str]:
    """`gitbench ARGS` in this process, in ``cwd``, with ``env`` added to the environment and ``input`` on stdin;
    what ``subprocess.run(..., capture_output=True, text=True)`` would have returned."""
    from gitbench.cli import app

    with _process_state(cwd, args, env, input or "") as (out, err), warnings.catch_warnings():
        # typer calls click's deprecated helpers; a subprocess's default filters hide that, as here (warnings of
        # gitbench's own code still fail the test).
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(typer|click)(\.|$)")
        try:
            code = app.main(list(args))
        except SystemExit as exc:  # as the interpreter turns it into an exit status
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return subprocess.CompletedProcess(
        [sys.executable, "-m", "gitbench", *args], code, _text(out.getvalue()), _text(err.getvalue())
    )


def _text(data: bytes) -> str:
    """Bytes as ``subprocess.run(text=True)`` decodes them (UTF-8, universal newlines)."""
    return data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def forked(
    cwd: Path | str, args: list[str], env: dict[str, str], input: str | None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`gitbench ARGS` in a forked copy of this process: a process of its own (its own pid, signals, process
    tree: the supervisor's subreaper and a ``:kill`` fault point act on it alone), its stdin, stdout and stderr
    pipes at file descriptors 0, 1 and 2 (what a job's command writes goes where gitbench's own output goes), as
    ``subprocess.run`` starts it, without a Python start and gitbench's imports. ``timeout``: killed after that
    many seconds and ``subprocess.TimeoutExpired`` raised, as ``subprocess.run`` does."""
    return start(cwd, args, env, input).communicate(timeout)


_PARENT_ENDS: set[int] = set()  # this process's ends of the pipes of forks not yet collected


class Fork:
    """A gitbench call running in a forked copy of this process (``start``), as ``subprocess.Popen`` has one
    running: ``pid``, and ``communicate`` to feed its stdin, collect its output and wait for it."""

    def __init__(self, pid: int, args: list[str], in_w: int, out_r: int, err_r: int, input: bytes) -> None:
        self.pid, self.args = pid, [sys.executable, "-m", "gitbench", *args]
        self._in_w, self._out_r, self._err_r, self._input = in_w, out_r, err_r, input
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """Its exit code if it has ended (then it is waited for, as ``subprocess.Popen.poll`` does), else None."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._exited(status)
        return self.returncode

    def _exited(self, status: int) -> None:
        self.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    def communicate(self, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Wait for the call to end; its exit code and output, as ``subprocess.run`` gives them. ``timeout``:
        killed after that many seconds and ``subprocess.TimeoutExpired`` raised."""
        import selectors
        import time

        in_w, out_r, err_r, data = self._in_w, self._out_r, self._err_r, self._input
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        deadline = None if timeout is None else time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(out_r, selectors.EVENT_READ)
            sel.register(err_r, selectors.EVENT_READ)
            if data:
                sel.register(in_w, selectors.EVENT_WRITE)
            try:
                while sel.get_map():
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        if self.returncode is None:
                            os.kill(self.pid, 9)
                            self._exited(os.waitpid(self.pid, 0)[1])
                        raise subprocess.TimeoutExpired(
                            self.args, timeout or 0, _text(b"".join(chunks[out_r])), _text(b"".join(chunks[err_r]))
                        )
                    for key, _ in sel.select(left):
                        fd = int(key.fd)
                        if fd == in_w:
                            try:
                                data = data[os.write(fd, data[:65536]) :]
                            except BrokenPipeError:
                                data = b""  # it stopped reading: as subprocess.run, not an error
                            if not data:
                                sel.unregister(fd)
                                os.close(fd)
                                _PARENT_ENDS.discard(fd)
                            continue
                        chunk = os.read(fd, 65536)
                        if chunk:
                            chunks[fd].append(chunk)
                        else:
                            sel.unregister(fd)
            finally:
                for fd in list(sel.get_map()):
                    sel.unregister(fd)
                    os.close(fd)
                    _PARENT_ENDS.discard(fd)
                for fd in (out_r, err_r):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                    _PARENT_ENDS.discard(fd)
        if self.returncode is None:
            self._exited(os.waitpid(self.pid, 0)[1])
        assert self.returncode is not None
        return subprocess.CompletedProcess(
            self.args, self.returncode, _text(b"".join(chunks[out_r])), _text(b"".join(chunks[err_r]))
        )


def start(
    cwd: Path | str,
    args: list[str],
    env: dict[str, str],
    input: str | None = None,
    *,
    at: float | None = None,
    new_session: bool = False,
) -> Fork:
    """Start `gitbench ARGS` in a forked copy of this process (as ``forked`` runs it) and return at once, as
    ``subprocess.Popen`` does: several can run at the same time. ``at``: the child waits until that moment
    (``time.time()``) before it runs the command, so that several start together; ``new_session``: in a
    session and process group of its own (``start_new_session=True``: a ``killpg`` of it takes its children)."""
    full_env = {**os.environ, **env}
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(ValueError, OSError):
            stream.flush()  # or the child would print what this process had not written yet
    pid = os.fork()
    if pid == 0:  # the child: never returns into the test's code, whatever happens
        code = 1
        try:
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            # Its own pipes' other ends, and those of forks started before it: held here, a sibling's stdin would
            # never see its end.
            for fd in (in_r, in_w, out_r, out_w, err_r, err_w, *_PARENT_ENDS):
                with contextlib.suppress(OSError):
                    os.close(fd)
            if new_session:
                os.setsid()
            if at is not None:
                import time

                time.sleep(max(0.0, at - time.time()))
            code = _child(cwd, args, full_env)
        except BaseException:  # noqa: BLE001 - the set-up failed: say why where the test will read it
            import traceback

            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(code)
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    data = (input or "").encode()
    if data:
        os.set_blocking(in_w, False)
        _PARENT_ENDS.add(in_w)
    else:
        os.close(in_w)
    _PARENT_ENDS.update((out_r, err_r))
    return Fork(pid, args, in_w, out_r, err_r, data)


def _child(cwd: Path | str, args: list[str], env: dict[str, str]) -> int:
    """In the forked child: become the process `python -m gitbench ARGS` would have been, run it, say its exit
    status."""
    import signal
    import threading
    import traceback

    # What a new Python process starts with: the test process's handlers (pytest-timeout's alarm, coverage's
    # SIGTERM) are not the command's.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    # As `run` does: typer calls click's deprecated helpers, which must not stop the command (gitbench's own
    # warnings still do, as pytest's filters say).
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"(typer|click)(\.|$)")
    coverage = _measure_coverage()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["-m", *args]
    # The process's own streams, buffered as Python buffers them on pipes: by blocks (stderr: by lines), or not
    # at all with PYTHONUNBUFFERED (what a job's command prints then falls between gitbench's lines as there).
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    if env.get("PYTHONUNBUFFERED"):
        sys.stdout, sys.stderr = (
            io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors=errors, write_through=True)
            for fd, errors in ((1, "strict"), (2, "backslashreplace"))
        )
    else:
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    _fresh_process()
    code = 1
    try:
        from gitbench.cli import app

        code = app.main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - as the interpreter: the traceback on stderr, exit status 1
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            threading._shutdown()  # type: ignore[attr-defined]  # as at the interpreter's exit: join its threads
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        if coverage is not None:
            with contextlib.suppress(Exception):
                coverage.stop()
                coverage.save()
    return code


def _measure_coverage() -> object | None:
    """Under coverage across processes (COVERAGE_GITBENCH_START, .ci/run, tests/coverage_hook.py): measure the child
    on its own, as a new process would be (its own data file; the parent's measurements so far stay the parent's
    to save)."""
    config = os.environ.get("COVERAGE_GITBENCH_START")
    if not config or "coverage" not in sys.modules:
        return None
    import coverage

    parent = coverage.Coverage.current()
    if parent is not None:
        parent.stop()
    cov = coverage.Coverage(config_file=config, data_suffix=True)
    cov.start()
    return cov
