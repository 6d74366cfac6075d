"""Start-up of the everyday commands (issue 15): each one, as a user runs it, beside `python -c "import pygit2"`.

    .venv/bin/python -m tests.bench.startup                         # 15 rounds (~2 min on 2 CPUs)
    .venv/bin/python -m tests.bench.startup --runs 5                # a quick look
    .venv/bin/python -m tests.bench.startup --before /tmp/old       # an older gitbench too, turn about with ours
                                                                    # (git archive OLD gitbench | tar -x -C /tmp/old)
    .venv/bin/python -m tests.bench.startup --update-doc            # rewrite the table in docs/performance.md

A tiny Workbench (one file, ``gitbench init``) in the sealed environment of tests/bench/run.py. One round runs
every command once, in the order a day's work would, so each finds what it needs:

    import pygit2    python -c "import pygit2"         the floor: the interpreter and the library every command needs
    status           gitbench status                  no Draft
    log              gitbench log
    checkpoints      gitbench checkpoints
    checkpoint       gitbench checkpoint -m bench
    exec (no-op)     gitbench exec -- true            a job that changes nothing (its Draft is removed again)
    (not timed)      gitbench exec -- sh -c 'echo N >> README.md'     a Draft of one step
    review           gitbench review
    discard          gitbench discard --yes
    (not timed)      the same one-step job again
    publish          gitbench publish
    --version        gitbench --version
    --help           gitbench --help
    import pygit2    again, so the floor is sampled at both ends of the round
    python -c pass   (for reference: the interpreter alone)

Every figure is the median over the rounds, after one warm-up round, of whole processes: wall time and CPU time
(user + system of the process and of the child processes it waited for, such as the `git` a job runs). The
target (issue 15): each command's CPU time at most 1.3× that of `import pygit2` (its samples from every side
pooled: the same command). Raw samples go to ``<root>/results.json``. CPU time is the figure to read
on this shared machine: wall time moves with the load of others.

A second, shorter pass (``--split-runs``) runs the same round through a launcher that also reports the CPU time
of the command's child processes, so the table says how much of a command is Python (imports and work) and how
much is the Git processes it starts. ``--before DIR`` adds an older gitbench's code (a folder holding its
``gitbench`` package) in a second tiny Workbench, round by round turn about with this one; both sides then run
as ``python -m gitbench`` with their folder first on PYTHONPATH, so neither pays for its launcher differently.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

from tests.bench import repogen
from tests.bench.run import bench_env, gitbench_cmd, replace_between

START = "<!-- bench:startup:start -->"
END = "<!-- bench:startup:end -->"
TARGET = 1.3
FLOOR = "import pygit2"
PASS = "python -c pass"
STEP = "echo $$ >> README.md"  # a one-file step (the shell's pid: a new line each time)
ROUND: list[tuple[str, list[str] | None]] = [  # (name, gitbench arguments); None: not timed, a Draft for the next
    ("status", ["status"]),
    ("log", ["log"]),
    ("checkpoints", ["checkpoints"]),
    ("checkpoint", ["checkpoint", "-m", "bench"]),
    ("exec (no-op)", ["exec", "--", "true"]),
    ("", None),
    ("review", ["review"]),
    ("discard", ["discard", "--yes"]),
    ("", None),
    ("publish", ["publish"]),
    ("--version", ["--version"]),
    ("--help", ["--help"]),
]
COMMANDS = [name for name, args in ROUND if args is not None]
LAUNCHER = (  # the console script's work, plus the CPU time of the children the command waited for
    "import resource, sys\n"
    "from gitbench.cli.app import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "    sys.stderr.write(f'\\nbench-children-cpu {r.ru_utime + r.ru_stime}\\n')\n"
    "raise SystemExit(code)\n"
)

Sample = tuple[float, float, int]  # wall, CPU, exit status


def timed(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[Sample, str]:
    """One whole command: (wall, CPU of it and its waited-for children, exit status), and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (wall, cpu, proc.returncode), proc.stderr


class Side:
    """One gitbench (this tree, or ``--before``'s) and its tiny Workbench."""

    def __init__(self, name: str, root: str, env: dict[str, str], gb: list[str]) -> None:
        self.name, self.env, self.gb = name, env, gb
        self.path = os.path.join(root, f"tiny-{name}")
        shutil.rmtree(self.path, ignore_errors=True)
        repogen.generate(self.path, 1, env)
        subprocess.run([*gb, "init"], cwd=self.path, env=env, check=True, capture_output=True)
        self.samples: dict[str, list[Sample]] = {}
        self.children: dict[str, list[float]] = {}

    def round(self, keep: bool, split: bool = False) -> None:
        """Every command once; ``split``: through the launcher, keeping the children's CPU time instead."""
        self._floor(keep and not split)
        for name, args in ROUND:
            if args is None:
                proc = subprocess.run(
                    [*self.gb, "exec", "--", "sh", "-c", STEP], cwd=self.path, env=self.env, capture_output=True
                )
                if proc.returncode != 0:
                    raise RuntimeError(f"{self.name}: the one-step job failed: {proc.stdout!r} {proc.stderr!r}")
                continue
            if split:
                (_, _, code), err = timed([sys.executable, "-c", LAUNCHER, *args], self.path, self.env)
                line = [x for x in err.splitlines() if x.startswith("bench-children-cpu ")]
                if keep and line:
                    self.children.setdefault(name, []).append(float(line[-1].split()[1]))
                continue
            sample, _ = timed([*self.gb, *args], self.path, self.env)
            if keep:
                self.samples.setdefault(name, []).append(sample)
        self._floor(keep and not split)

    def _floor(self, keep: bool) -> None:
        for name, argv in ((FLOOR, [sys.executable, "-c", "import pygit2"]), (PASS, [sys.executable, "-c", "pass"])):
            sample, _ = timed(argv, self.path, self.env)
            if keep:
                self.samples.setdefault(name, []).append(sample)

    def median(self, name: str) -> tuple[float, float]:
        got = self.samples[name]
        return statistics.median(s[0] for s in got), statistics.median(s[1] for s in got)

    def exit_status(self, name: str) -> int:
        """The exit status most rounds of ``name`` ended with (2: an option this version does not have)."""
        codes = [s[2] for s in self.samples[name]]
        return max(set(codes), key=codes.count)

    def ratio(self, name: str, floor: float) -> float:
        return self.median(name)[1] / floor

    def met(self, name: str, floor: float) -> bool:
        return self.ratio(name, floor) <= TARGET and self.exit_status(name) == 0


def run(runs: int, split_runs: int, root: str, before: str | None) -> tuple[list[Side], str]:
    os.makedirs(root, exist_ok=True)
    base = bench_env(root)
    base["XDG_STATE_HOME"] = os.path.join(root, "state")  # the jobs' Draft worktrees
    sides: list[Side] = []
    if before:  # both as `python -m gitbench`, each with its own tree first on the path
        here = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
        for name, tree in (("after", here), ("before", os.path.abspath(before))):
            env = dict(base, PYTHONPATH=tree)
            sides.append(Side(name, root, env, [sys.executable, "-m", "gitbench"]))
    else:
        sides.append(Side("gitbench", root, base, gitbench_cmd()))
    for i in range(runs + 1):  # round 0 warms the caches (page cache, compiled modules) and is dropped
        for side in sides if i % 2 == 0 else list(reversed(sides)):
            side.round(keep=i > 0)
    for _ in range(split_runs):
        for side in sides:
            side.round(keep=True, split=True)
    with open(os.path.join(root, "results.json"), "w") as fh:
        json.dump({s.name: {"samples": s.samples, "children": s.children} for s in sides}, fh)
    return sides, table(sides, runs, split_runs)


def shown(name: str) -> str:
    if name == FLOOR:
        return '`python -c "import pygit2"`'
    if name == PASS:
        return "`python -c pass`"
    args = next(a for n, a in ROUND if n == name)
    return f"`gitbench {' '.join(args or [])}`"


def table(sides: list[Side], runs: int, split_runs: int) -> str:
    import pygit2

    ours = sides[0]
    # The floor is the same command on every side (the same interpreter and pygit2): its samples pooled, so
    # that one side's noise in it does not move that side's ratios.
    floor = statistics.median(x[1] for s in sides for x in s.samples[FLOOR])
    head = (
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {os.cpu_count()} CPUs ({platform.platform()}; "
        f"Python {platform.python_version()}, pygit2 {pygit2.__version__}, libgit2 {pygit2.LIBGIT2_VERSION}); "
        f"a 1-file Workbench; medians of {runs} rounds. CPU: user + system time of the process and the children "
        f"it waited for; of it, in child processes: the median of {split_runs} rounds through a launcher."
    )
    names = " | ".join(f"{s.name}: CPU | wall | ratio" for s in sides)
    lines = [head, "", f"| command | {names} | of it, child processes |"]
    lines.append("|---|" + "---:|---:|---|" * len(sides) + "---:|")
    for name in [FLOOR, *COMMANDS, PASS]:
        cells = []
        for s in sides:
            wall, cpu = s.median(name)
            code = s.exit_status(name)
            failed = f" (exit {code})" if code else ""
            if name == PASS:
                verdict = ""
            elif name == FLOOR:
                verdict = f"{s.ratio(name, floor):.2f}×"
            else:
                verdict = f"{s.ratio(name, floor):.2f}× {'✓' if s.met(name, floor) else '✗'}"
            cells.append(f"{cpu * 1000:.0f} ms{failed} | {wall * 1000:.0f} ms | {verdict}")
        kids = ours.children.get(name)
        child = f"{statistics.median(kids) * 1000:.0f} ms" if kids else ""
        lines.append(f"| {shown(name)} | {' | '.join(cells)} | {child} |")
    missed = [n for n in COMMANDS if not ours.met(n, floor)]
    lines.append(
        f"\nRatios: CPU time against `import pygit2` ({floor * 1000:.0f} ms, both sides' samples together)."
        f"\nTarget: CPU time ≤ {TARGET}× `import pygit2` ({ours.name}): met by {len(COMMANDS) - len(missed)} of "
        f"{len(COMMANDS)} commands" + (f"; missed by {', '.join(missed)}." if missed else ".")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--split-runs", type=int, default=5, help="rounds through the launcher (children's CPU)")
    ap.add_argument("--root", default="/tmp/gitbench-bench-startup")
    ap.add_argument("--before", default=None, help="also run the gitbench package found in this folder")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    _, text = run(args.runs, args.split_runs, args.root, args.before)
    print(text)
    if args.update_doc:
        replace_between(text, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
