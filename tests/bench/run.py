"""The speed benchmark: gitbench's commands side by side with the git CLI doing the same work.

Run it explicitly (it is not part of the default test run):

    .venv/bin/python -m tests.bench.run                         # 1k, 10k, 100k files; prints the table
    .venv/bin/python -m tests.bench.run --sizes 1000 --runs 3    # a quick look
    .venv/bin/python -m tests.bench.run --update-doc             # also rewrite the table in docs/performance.md
    .venv/bin/python -m pytest tests/bench -s                    # the same, as a test (GITBENCH_BENCH_SIZES=...)

Every figure is the wall time of whole commands as a user runs them (one subprocess each, the median of N
cycles), gitbench's console script against the git CLI, in two repositories generated identically: the
Workbench (``gitbench init``) and a plain Git repository (no gitbench hooks, so git is not slowed by them).
One cycle, on each side, in the same order (the two sides alternate who goes first within each operation):

    draft       gitbench exec --files GLOB -- true       | git tag -a (checkpoint) + git branch draft
                (the job changes nothing: its Draft is     |   + git branch -D draft
                 created, then removed)                    |
    step        gitbench exec --files GLOB -- sh WRITE10 | git tag -a + git switch -c draft + sh WRITE10
                                                         |   + git add + git commit + git switch main
    publish     gitbench publish                         | git merge --ff-only draft + git tag -a + git branch -d
    checkpoint  gitbench checkpoint                      | git tag -a
    restore     gitbench restore CHECKPOINT --yes        | git tag -a (pre-restore) + git reset --hard <tag>
    status      gitbench status                          | git status -uno  (and plain `git status`, shown too)
    no-scope    gitbench exec -- true (exports all files) | git worktree add (checks out all files)

After each cycle both repositories hold the same tree again (restore goes back to the checkpoint taken just
before the step), and the harness checks that: same trees after publish, the ten files' contents, the base
commit after restore. The in-process lines time the same services called from one Python process (no
interpreter start-up, no imports, no rendering), to separate start-up from work.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from tests.bench import repogen

ROOT_DEFAULT = "/tmp/gitbench-bench"
DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "performance.md")
TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"

OPS = ["draft", "step", "publish", "checkpoint", "restore", "status"]
FLAT_OPS = ["step", "publish", "checkpoint"]
RATIO_TARGET = 1.5
FLAT_TARGET = 2.0
STARTUP_TARGET = 2.0
WORKTREE_TARGET = 1.2  # issue 11: a Draft worktree costs at most this much more than the peer
PYGIT2 = "python -c 'import pygit2'"
WRITE10 = 'for i in 0 1 2 3 4 5 6 7 8 9; do echo "$1" >> ' + repogen.STEP_FOLDER + "/f0$i.txt; done"


def default_runs(size: int) -> int:
    return 5 if size >= 100_000 else 7


def label(size: int) -> str:
    return f"{size // 1000}k" if size >= 1000 and size % 1000 == 0 else str(size)


def gitbench_cmd() -> list[str]:
    """The console script a user runs, from the same environment as this Python."""
    script = os.path.join(os.path.dirname(sys.executable), "gitbench")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "gitbench"]


def gitbench_from(source: str | None, env: dict[str, str]) -> list[str]:
    """The gitbench command to measure: the installed one, or the tree at ``source`` (an older version, side by
    side), put first on ``env``'s PYTHONPATH."""
    if not source:
        return gitbench_cmd()
    env["PYTHONPATH"] = os.path.abspath(source)
    return [sys.executable, "-m", "gitbench"]


def bench_env(root: str) -> dict[str, str]:
    """A sealed environment: own HOME with only a user identity, no system git config, no GIT_* leaking in."""
    home = os.path.join(root, "home")
    os.makedirs(home, exist_ok=True)
    with open(os.path.join(home, ".gitconfig"), "w") as fh:
        fh.write("[user]\n\tname = Bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "GITBENCH_"))}
    env.update(
        {
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "false",
            "LC_ALL": "C",
        }
    )
    env.pop("CI", None)
    # Measured as users run it: with the compiled modules Python keeps (without them, every start recompiles
    # gitbench from source, ~50 ms more).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class CommandFailed(RuntimeError):
    pass


@dataclass
class Runner:
    env: dict[str, str]

    def run(self, argv: list[str], cwd: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(argv, cwd=cwd, env=self.env, capture_output=True, timeout=1800)
        if proc.returncode not in ok:
            raise CommandFailed(
                f"{' '.join(argv)} in {cwd} exited {proc.returncode}:\n"
                f"{proc.stdout.decode(errors='replace')}\n{proc.stderr.decode(errors='replace')}"
            )
        return proc

    last_cpu: float = 0.0

    def timed(self, cmds: list[list[str]], cwd: str) -> float:
        """Wall time of running the commands one after another, as a user (or a script) would.

        The CPU time (user + system) of those processes is kept in ``last_cpu``: on a busy machine it moves
        less than wall time, so the table shows its ratio too."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        for argv in cmds:
            self.run(argv, cwd)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.last_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall

    def out(self, argv: list[str], cwd: str) -> str:
        return self.run(argv, cwd).stdout.decode().strip()


@dataclass
class Results:
    samples: dict[str, dict[str, dict[int, list[float]]]] = field(default_factory=dict)  # side -> op -> size
    startup: dict[str, list[float]] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)

    def add(self, side: str, op: str, size: int, seconds: float) -> None:
        self.samples.setdefault(side, {}).setdefault(op, {}).setdefault(size, []).append(seconds)

    def median(self, side: str, op: str, size: int) -> float | None:
        values = self.samples.get(side, {}).get(op, {}).get(size)
        return statistics.median(values) if values else None

    def to_json(self) -> dict[str, object]:
        return {"samples": self.samples, "startup": self.startup, "sizes": self.sizes, "machine": self.machine}


# -- one side each: the same operations, as gitbench and as the git CLI ---------------------------------------


class GitbenchSide:
    def __init__(self, runner: Runner, path: str, gb: list[str] | None = None, sparse: bool = True) -> None:
        self.r, self.path, self.gb = runner, path, gb or gitbench_cmd()
        # A scoped job checks out only its folders (--sparse): what the cycle measures. A peer gitbench from
        # before Draft worktrees (--baseline) has no --sparse: its job folder only ever held the scope's files.
        self.sparse = ["--sparse"] if sparse else []
        self.target: str | None = None
        self.base: str | None = None

    def _checkpoints(self) -> set[str]:
        out = self.r.out(["git", "for-each-ref", "--format=%(refname:strip=2)", "refs/tags/checkpoint/"], self.path)
        return set(out.split())

    def _discard_if_open(self) -> None:
        """A job that changed nothing removes its own Draft; an older gitbench kept it open."""
        if self.r.out(["git", "for-each-ref", "refs/heads/gitbench/draft/"], self.path):
            self.r.run([*self.gb, "discard", "--yes"], self.path)
        self._settle()

    def _settle(self) -> None:
        """Wait until the folders of removed worktrees are deleted (gitbench deletes them in the background): a
        deletion of 100k files would otherwise slow whatever is measured next, on either side."""
        pattern = os.path.join(self.r.env["HOME"], ".local", "state", "gitbench", "worktrees", "*", ".gone-*")
        deadline = time.monotonic() + 300
        while glob.glob(pattern) and time.monotonic() < deadline:
            time.sleep(0.1)

    def draft(self, n: int) -> float:
        t = self.r.timed(
            [[*self.gb, "exec", *self.sparse, "--files", repogen.STEP_GLOB, "-m", "bench draft", "--", "true"]],
            self.path,
        )
        self._discard_if_open()
        return t

    def step_only(self, n: int, token: str) -> float:
        """A 10-file step as a job of its own, then discarded (not timed): for sides that do not publish."""
        t = self.r.timed(
            [
                [
                    *self.gb,
                    "exec",
                    *self.sparse,
                    "--files",
                    repogen.STEP_GLOB,
                    "-m",
                    "bench step",
                    "--",
                    "sh",
                    "-c",
                    WRITE10,
                    "sh",
                    token,
                ]
            ],
            self.path,
        )
        self.r.run([*self.gb, "discard", "--yes"], self.path)
        self._settle()
        return t

    def step(self, n: int, token: str) -> float:
        self.base = self.r.out(["git", "rev-parse", "main"], self.path)
        before = self._checkpoints()
        t = self.r.timed(
            [
                [
                    *self.gb,
                    "exec",
                    *self.sparse,
                    "--files",
                    repogen.STEP_GLOB,
                    "-m",
                    "bench step",
                    "--",
                    "sh",
                    "-c",
                    WRITE10,
                    "sh",
                    token,
                ]
            ],
            self.path,
        )
        new = sorted(self._checkpoints() - before)  # names sort by time
        assert len(new) == 1, f"expected one auto checkpoint, got {new}"
        self.target = new[0]
        return t

    def publish(self, n: int) -> float:
        t = self.r.timed([[*self.gb, "publish"]], self.path)
        self._settle()
        return t

    def checkpoint(self, n: int) -> float:
        return self.r.timed([[*self.gb, "checkpoint", "-m", "bench"]], self.path)

    def restore(self, n: int) -> float:
        assert self.target is not None
        return self.r.timed([[*self.gb, "restore", self.target, "--yes"]], self.path)

    def status(self, n: int) -> float:
        return self.r.timed([[*self.gb, "status"]], self.path)

    def noscope(self, n: int) -> float:
        """A job without --files: its worktree checks out every file. It changes one (so its Draft and worktree
        stay, as for any job that did something); the discard after it is not timed."""
        t = self.r.timed([[*self.gb, "exec", "-m", "bench full", "--", "sh", "-c", "echo x >> README.md"]], self.path)
        self._discard_if_open()
        return t


class GitSide:
    def __init__(self, runner: Runner, path: str) -> None:
        self.r, self.path = runner, path
        self.target: str | None = None
        self.base: str | None = None
        self.tags = 0

    def _tag(self, kind: str, at: str = "main") -> list[str]:
        self.tags += 1
        return ["git", "tag", "-a", "-m", f"{kind} checkpoint", f"cp/{self.tags}", at]

    def draft(self, n: int) -> float:
        # gitbench's job creates the Draft and, as the command changed nothing, removes it again.
        return self.r.timed(
            [self._tag("auto"), ["git", "branch", "draft", "main"], ["git", "branch", "-q", "-D", "draft"]], self.path
        )

    def step(self, n: int, token: str) -> float:
        self.base = self.r.out(["git", "rev-parse", "main"], self.path)
        tag = self._tag("auto")
        self.target = tag[-2]
        return self.r.timed(
            [
                tag,
                ["git", "switch", "-q", "-c", "draft"],
                ["sh", "-c", WRITE10, "sh", token],
                ["git", "add", "-A", "--", repogen.STEP_FOLDER],
                ["git", "commit", "-q", "-m", "bench step"],
                ["git", "switch", "-q", "main"],
            ],
            self.path,
        )

    def publish(self, n: int) -> float:
        return self.r.timed(
            [["git", "merge", "--ff-only", "draft"], self._tag("publish"), ["git", "branch", "-d", "draft"]], self.path
        )

    def checkpoint(self, n: int) -> float:
        return self.r.timed([self._tag("manual")], self.path)

    def restore(self, n: int) -> float:
        assert self.target is not None
        return self.r.timed([self._tag("pre-restore"), ["git", "reset", "--hard", "-q", self.target]], self.path)

    def status(self, n: int) -> float:
        return self.r.timed([["git", "status", "-uno"]], self.path)

    def status_all(self, n: int) -> float:
        return self.r.timed([["git", "status"]], self.path)

    def noscope(self, n: int) -> float:
        folder = os.path.join(os.path.dirname(self.path), f"wt-{n}")
        t = self.r.timed([["git", "worktree", "add", "-q", "-b", f"full-{n}", folder, "main"]], self.path)
        self.r.run(["git", "worktree", "remove", "--force", folder], self.path)
        self.r.run(["git", "branch", "-q", "-D", f"full-{n}"], self.path)
        return t


# -- checks: both sides did the same work ----------------------------------------------------------------------


def _tree(r: Runner, path: str, rev: str) -> str:
    return r.out(["git", "rev-parse", f"{rev}^{{tree}}"], path)


def _step_files(path: str) -> list[bytes]:
    out = []
    for name in repogen.STEP_FILES:
        with open(os.path.join(path, name), "rb") as fh:
            out.append(fh.read())
    return out


def check_published(r: Runner, gb: GitbenchSide, gt: GitSide, token: str) -> None:
    assert _tree(r, gb.path, "main") == _tree(r, gt.path, "main"), "gitbench and git published different trees"
    assert not r.out(["git", "for-each-ref", "refs/heads/gitbench/draft/"], gb.path), "the Draft is still open"
    for side in (gb.path, gt.path):
        assert all(f.endswith(f"{token}\n".encode()) for f in _step_files(side)), f"step files not written in {side}"


def check_restored(r: Runner, gb: GitbenchSide, gt: GitSide, token: str, original_tree: str) -> None:
    assert r.out(["git", "rev-parse", "main"], gb.path) == gb.base, "gitbench restore did not go back to the base"
    assert r.out(["git", "rev-parse", "main"], gt.path) == gt.base, "git reset did not go back to the base"
    for side in (gb.path, gt.path):
        assert _tree(r, side, "main") == original_tree
        assert not any(token.encode() in f for f in _step_files(side)), f"step files not restored in {side}"


# -- the benchmark ---------------------------------------------------------------------------------------------


def machine_info(r: Runner, cwd: str) -> dict[str, str]:
    import pygit2

    return {
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "git": r.out(["git", "--version"], cwd),
        "pygit2": str(getattr(pygit2, "__version__", "?")),
        "libgit2": pygit2.LIBGIT2_VERSION,
        "date": time.strftime("%Y-%m-%d"),
    }


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bench_size(
    r: Runner,
    res: Results,
    root: str,
    size: int,
    runs: int,
    warmup: int,
    noscope_runs: int,
    inproc_runs: int,
    baseline: list[str] | None = None,
) -> None:
    where = os.path.join(root, label(size))
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where)
    wb_path, git_path = os.path.join(where, "workbench"), os.path.join(where, "git")
    t0 = time.perf_counter()
    repogen.generate(wb_path, size, r.env)
    repogen.generate(git_path, size, r.env)
    r.run([*gitbench_cmd(), "init", wb_path], where)
    base_side = None
    if baseline:  # the peer gitbench, in a third copy, initialised by itself
        base_path = os.path.join(where, "baseline")
        repogen.generate(base_path, size, r.env)
        r.run([*baseline, "init", base_path], where)
        base_side = GitbenchSide(r, base_path, gb=baseline, sparse=False)
    say(f"[{label(size)}] generated the repositories in {time.perf_counter() - t0:.1f} s")
    original_tree = _tree(r, git_path, "main")
    assert _tree(r, wb_path, "main") == original_tree
    gb, gt = GitbenchSide(r, wb_path), GitSide(r, git_path)
    gb.status(0)  # warm the page cache on both sides
    gt.status(0)

    def pair(op: str, method: str, n: int, record: bool, *args: str) -> None:
        """Run one operation on both sides; who goes first alternates from cycle to cycle."""
        sides: list[tuple[str, GitbenchSide | GitSide]] = [("gitbench", gb), ("git", gt)]
        for side, obj in sides if n % 2 == 0 else sides[::-1]:
            seconds = getattr(obj, method)(n, *args)
            if record:
                res.add(side, op, size, seconds)
                res.add(f"cpu:{side}", op, size, r.last_cpu)

    for n in range(warmup + runs):
        record = n >= warmup
        token = f"bench-edit-{size}-{n}-{time.time_ns()}"
        pair("draft", "draft", n, record)
        pair("step", "step", n, record, token)
        pair("publish", "publish", n, record)
        check_published(r, gb, gt, token)
        pair("checkpoint", "checkpoint", n, record)
        pair("restore", "restore", n, record)
        check_restored(r, gb, gt, token, original_tree)
        pair("status", "status", n, record)
        if record:
            res.add("git", "status (plain git status)", size, gt.status_all(n))
        if base_side is not None:  # the same 10-file job with the peer gitbench, turn about with ours
            order = [("baseline", base_side), ("gitbench", gb)]
            for side, obj in order if n % 2 == 0 else order[::-1]:
                seconds = obj.step_only(n, token + "-b")
                if record:
                    res.add(side, "step (job only)", size, seconds)
        if record and n - warmup < noscope_runs:
            pair("no-scope exec", "noscope", n, record)
            full = GitbenchSide(r, wb_path, sparse=False)  # a scoped job with every file checked out
            res.add("gitbench", "step, full checkout (job only)", size, full.step_only(n, token + "-f"))
        say(f"[{label(size)}] cycle {n + 1}/{warmup + runs}" + ("" if record else " (warm-up)"))

    if inproc_runs:
        proc = r.run(
            [sys.executable, "-m", "tests.bench.inproc", wb_path, str(inproc_runs)],
            os.path.join(os.path.dirname(__file__), "..", ".."),
        )
        for op, values in json.loads(proc.stdout).items():
            for v in values:
                res.add("in-process", op, size, v)
        assert _tree(r, wb_path, "main") == original_tree


def bench_startup(r: Runner, res: Results, root: str, runs: int) -> None:
    where = os.path.join(root, "tiny")
    shutil.rmtree(where, ignore_errors=True)
    repogen.generate(where, 1, r.env)
    r.run([*gitbench_cmd(), "init", where], root)
    cmds = {
        "gitbench status": [*gitbench_cmd(), "status"],
        PYGIT2: [sys.executable, "-c", "import pygit2"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    for argv in cmds.values():  # warm-up
        r.run(argv, where)
    for _ in range(runs):
        for name, argv in cmds.items():
            res.startup.setdefault(name, []).append(r.timed([argv], where))


# -- the table -------------------------------------------------------------------------------------------------


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def table(res: Results) -> str:
    lines = [
        "| operation | files | gitbench | git CLI | ratio | target ≤ 1.5× | CPU ratio | gitbench in-process |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for op in OPS:
        for size in res.sizes:
            a, b = res.median("gitbench", op, size), res.median("git", op, size)
            if a is None or b is None:
                continue
            ratio = a / b
            verdict = _mark(ratio <= RATIO_TARGET) if op in OPS else "(no target)"
            ca, cb = res.median("cpu:gitbench", op, size), res.median("cpu:git", op, size)
            cpu = f"{ca / cb:.2f}×" if ca and cb else "—"
            lines.append(
                f"| {op} | {label(size)} | {_fmt(a)} | {_fmt(b)} | {ratio:.2f}× | {verdict} | {cpu} | "
                f"{_fmt(res.median('in-process', op, size))} |"
            )
    for size in res.sizes:
        a, b = res.median("gitbench", "status", size), res.median("git", "status (plain git status)", size)
        if a is not None and b is not None:
            lines.append(
                f"| status vs plain `git status` | {label(size)} | {_fmt(a)} | {_fmt(b)} | "
                f"{a / b:.2f}× | (for reference) | | |"
            )
    out = ["\n".join(lines)]
    if len(res.sizes) >= 2:
        lo, hi = min(res.sizes), max(res.sizes)
        flat = [
            f"| operation | {label(lo)} | {label(hi)} | {label(hi)}/{label(lo)} | target ≤ {FLAT_TARGET:.0f}× "
            f"| git CLI {label(hi)}/{label(lo)} |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for op in FLAT_OPS:
            a, b = res.median("gitbench", op, lo), res.median("gitbench", op, hi)
            ga, gb = res.median("git", op, lo), res.median("git", op, hi)
            if a is None or b is None or ga is None or gb is None:
                continue
            flat.append(
                f"| {op} | {_fmt(a)} | {_fmt(b)} | {b / a:.2f}× | {_mark(b / a <= FLAT_TARGET)} | {gb / ga:.2f}× |"
            )
        out.append("\n".join(flat))
    worktree_rows = []
    for size in res.sizes:
        ours, peer = res.median("gitbench", "step (job only)", size), res.median("baseline", "step (job only)", size)
        if ours is not None and peer is not None:
            worktree_rows.append(
                f"| 10-file scoped job, `--sparse` worktree | {label(size)} | {_fmt(ours)} | {_fmt(peer)} (before) | "
                f"{ours / peer:.2f}× | {_mark(ours / peer <= WORKTREE_TARGET)} |"
            )
        full = res.median("gitbench", "step, full checkout (job only)", size)
        if full is not None and peer is not None:
            worktree_rows.append(
                f"| the same job, every file checked out | {label(size)} | {_fmt(full)} | {_fmt(peer)} (before) | "
                f"{full / peer:.2f}× | (for reference) |"
            )
        a, b = res.median("gitbench", "no-scope exec", size), res.median("git", "no-scope exec", size)
        if a is not None and b is not None:
            worktree_rows.append(
                f"| no-scope job | {label(size)} | {_fmt(a)} | {_fmt(b)} (`git worktree add`) | {a / b:.2f}× | "
                f"{_mark(a / b <= WORKTREE_TARGET)} |"
            )
    if worktree_rows:
        out.append(
            "\n".join(
                [
                    f"| Draft worktrees | files | gitbench | peer | ratio | target ≤ {WORKTREE_TARGET}× |",
                    "|---|---:|---:|---:|---:|---|",
                    *worktree_rows,
                ]
            )
        )
    if res.startup:
        s = {k: statistics.median(v) for k, v in res.startup.items()}
        ratio = s["gitbench status"] / s[PYGIT2]
        out.append(
            "\n".join(
                [
                    f"| start-up (tiny repository, median of {len(res.startup['gitbench status'])}) | time | ratio | "
                    f"target ≤ {STARTUP_TARGET:.0f}× |",
                    "|---|---:|---:|---|",
                    f"| `gitbench status` | {_fmt(s['gitbench status'])} | {ratio:.2f}× "
                    f"| {_mark(ratio <= STARTUP_TARGET)} |",
                    f'| `python -c "import pygit2"` | {_fmt(s[PYGIT2])} | 1.00× | |',
                    f"| `python -c pass` (for reference) | {_fmt(s['python -c pass'])} | | |",
                ]
            )
        )
    return "\n\n".join(out)


def header(res: Results, runs: dict[int, int]) -> str:
    m = res.machine
    counts = ", ".join(f"{label(s)}: {n}" for s, n in runs.items())
    return (
        f"Measured {m.get('date')} on {m.get('cpus')} CPUs, {m.get('platform')}; Python {m.get('python')}, "
        f"{m.get('git')}, pygit2 {m.get('pygit2')} (libgit2 {m.get('libgit2')}). Medians of wall time; "
        f"cycles per size: {counts}."
    )


def targets_missed(res: Results) -> list[str]:
    missed = []
    for op in OPS:
        for size in res.sizes:
            a, b = res.median("gitbench", op, size), res.median("git", op, size)
            if a is not None and b is not None and a / b > RATIO_TARGET:
                missed.append(f"{op} at {label(size)}: {a / b:.2f}× git")
    if len(res.sizes) >= 2:
        lo, hi = min(res.sizes), max(res.sizes)
        for op in FLAT_OPS:
            a, b = res.median("gitbench", op, lo), res.median("gitbench", op, hi)
            if a and b and b / a > FLAT_TARGET:
                missed.append(f"{op} not flat: {label(hi)} is {b / a:.2f}× {label(lo)}")
    for size in res.sizes:
        ours, peer = res.median("gitbench", "step (job only)", size), res.median("baseline", "step (job only)", size)
        if ours and peer and ours / peer > WORKTREE_TARGET:
            missed.append(f"scoped job at {label(size)}: {ours / peer:.2f}× the baseline")
        a, b = res.median("gitbench", "no-scope exec", size), res.median("git", "no-scope exec", size)
        if a and b and a / b > WORKTREE_TARGET:
            missed.append(f"no-scope job at {label(size)}: {a / b:.2f}× git worktree add")
    if res.startup:
        s = {k: statistics.median(v) for k, v in res.startup.items()}
        ratio = s["gitbench status"] / s[PYGIT2]
        if ratio > STARTUP_TARGET:
            missed.append(f"start-up: {ratio:.2f}× import pygit2")
    return missed


def replace_between(text: str, start: str, end: str, path: str = DOC) -> None:
    """Rewrite what stands between the markers ``start`` and ``end`` in ``path`` (a benchmark's table)."""
    with open(path) as fh:
        doc = fh.read()
    if start not in doc:
        raise SystemExit(f"{path} has no {start} marker")
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as fh:
        fh.write(f"{head}{start}\n{text}\n{end}{tail}")


def update_doc(text: str, path: str = DOC) -> None:
    with open(path) as fh:
        doc = fh.read()
    start, end = doc.index(TABLE_START) + len(TABLE_START), doc.index(TABLE_END)
    with open(path, "w") as fh:
        fh.write(doc[:start] + "\n" + text + "\n" + doc[end:])


def run(
    sizes: list[int],
    runs: int | None = None,
    warmup: int = 1,
    root: str = ROOT_DEFAULT,
    noscope_runs: int = 3,
    inproc_runs: int = 3,
    startup_runs: int = 15,
    baseline: list[str] | None = None,
) -> tuple[Results, str]:
    os.makedirs(root, exist_ok=True)
    r = Runner(bench_env(root))
    res = Results(sizes=sizes, machine=machine_info(r, root))
    per_size = {s: runs or default_runs(s) for s in sizes}
    if startup_runs:
        bench_startup(r, res, root, startup_runs)
    for size in sizes:
        bench_size(r, res, root, size, per_size[size], warmup, min(noscope_runs, per_size[size]), inproc_runs, baseline)
    text = header(res, per_size) + "\n\n" + table(res)
    with open(os.path.join(root, "results.json"), "w") as fh:
        json.dump(res.to_json(), fh, indent=1)
    return res, text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000", help="comma-separated file counts")
    ap.add_argument("--runs", type=int, default=None, help="cycles per size (default 7; 5 at 100k)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--noscope-runs", type=int, default=3)
    ap.add_argument("--inproc-runs", type=int, default=3)
    ap.add_argument("--startup-runs", type=int, default=15)
    ap.add_argument("--root", default=ROOT_DEFAULT, help="where the generated repositories go")
    ap.add_argument("--update-doc", action="store_true", help="rewrite the table in docs/performance.md")
    ap.add_argument(
        "--baseline",
        default=None,
        help="another gitbench console script (e.g. an install of an older commit): its 10-file job runs turn about "
        "with ours, for the Draft-worktree table",
    )
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    res, text = run(
        sizes,
        args.runs,
        args.warmup,
        args.root,
        args.noscope_runs,
        args.inproc_runs,
        args.startup_runs,
        [args.baseline] if args.baseline else None,
    )
    print(text)
    missed = targets_missed(res)
    print("\nTargets missed: " + ("; ".join(missed) if missed else "none"))
    if args.update_doc:
        update_doc(text)
        say(f"updated {os.path.normpath(DOC)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
