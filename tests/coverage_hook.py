"""Branch coverage of gitbench in every process of the suite that runs gitbench, and no cost in the others.

`.ci/run` puts a one-line ``.pth`` file in the test virtualenv's site-packages that runs this file in every
Python process started with ``COVERAGE_GITBENCH_START`` (the coverage configuration file) in its environment
(not a ``GITBENCH_`` name: the tests' ``hermetic`` fixture keeps no such variable from outside). It
does not start coverage there: it waits, as an import hook, for the process's first import of ``gitbench`` and
starts coverage then, just before gitbench's first line runs, so everything of gitbench's that the process
runs is measured, as coverage's own start-up hook (``COVERAGE_PROCESS_START``) would measure it.

Why not coverage's own hook: most Python processes the suite starts never run gitbench. They are the jobs'
commands (``python -c ...``), the modules' scripts, the tests' servers, and every one of them would pay for
coverage's start: ~120 ms of CPU each (136 ms against 15 for ``python -c pass``).

The variable stays in the environment, so the processes gitbench starts (module runners, hooks, a job's command
that runs gitbench again) are measured the same way; ``COVERAGE_PROCESS_START`` is set only for the moment
coverage reads it, so coverage's own hook never starts in them too.
"""

from __future__ import annotations

import os
import sys


class _StartOnGitbench:
    """An import hook (a meta path finder) that starts coverage when ``gitbench`` is first looked for, then steps
    aside: it finds nothing itself."""

    gitbench_coverage = True

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "gitbench" or name.startswith("gitbench."):
            sys.meta_path.remove(self)
            _start()
        return None


def _start() -> None:
    try:
        os.getcwd()
    except FileNotFoundError:
        # Run in a folder that was deleted (a test of what gitbench says there): coverage cannot even be imported
        # there (it makes paths absolute as it loads) and would end the process; gitbench runs unmeasured.
        return
    try:
        import coverage
    except ImportError:  # a virtualenv without the test extras: nothing to measure with
        return
    os.environ["COVERAGE_PROCESS_START"] = os.environ["COVERAGE_GITBENCH_START"]
    try:
        coverage.process_startup()
    finally:
        del os.environ["COVERAGE_PROCESS_START"]


if (
    __name__ != "__main__"
    and os.environ.get("COVERAGE_GITBENCH_START")
    and not any(hasattr(f, "gitbench_coverage") for f in sys.meta_path)
):
    sys.meta_path.insert(0, _StartOnGitbench())


def install() -> str:
    """Write the ``.pth`` file that runs this file at every start of this virtualenv's Python; return its path."""
    import sysconfig
    from pathlib import Path

    hook = str(Path(__file__).resolve())
    pth = Path(sysconfig.get_paths()["purelib"]) / "gitbench_test_coverage.pth"
    line = f"exec(compile(open({hook!r}).read(), {hook!r}, 'exec'), {{'__name__': 'gitbench_test_coverage'}})"
    pth.write_text(f"import os; os.environ.get('COVERAGE_GITBENCH_START') and {line}\n")
    return str(pth)


if __name__ == "__main__":  # `.venv/bin/python tests/coverage_hook.py` (.ci/run does it)
    print(install())
