"""Sharing through a Git server: `gitbench push` / `gitbench pull` beside `git push` / `git fetch` of the same refs.

    .venv/bin/python -m tests.bench.remote                          # 0 and 5,000 more checkpoints, git daemon + path
    .venv/bin/python -m tests.bench.remote --checkpoints 0 --transports daemon --runs 3   # a quick look
    .venv/bin/python -m tests.bench.remote --update-doc             # also rewrite its table in docs/performance.md

The server is a bare repository served by `git daemon --enable=receive-pack` on 127.0.0.1 (a free port, started
and stopped by the benchmark), and the same repository reached by its path (Git's local transport) as a second
row. The project is repogen's 1,000 files; Alice's Workbench shared itself there (`gitbench push`) and Bob's is
a clone of it (`gitbench init`). With ``--checkpoints N``, N more checkpoint tags (annotated, gitbench's message)
are made in Alice's Workbench before it is shared, so both clones and the server hold them; every ref is packed.

Scenarios, each timed for gitbench and for plain git doing the same transfer from the same state (the client's
folder and the server are copied back from a template before every timed command, not timed; the sides take
turns going first). git runs in a copy of the folder without gitbench's hooks (they run at every ref update git
makes, and would slow it down), as in tests/bench/run.py:

    push          Alice ran a 10-file job and published it (a new main commit, its auto and publish
                  checkpoints, records moved): `gitbench push`
                  | `git push --atomic origin main refs/gitbench/records 'refs/tags/checkpoint/*'`
    push, no-op   the same, again: nothing new on either side
    pull          Bob published a 10-file job and pushed; Alice, as she was before, takes it: `gitbench pull`
                  (fetch, records fast-forward, Published and the folder fast-forwarded)
                  | `git fetch origin main refs/gitbench/records:refs/gitbench/remotes/origin/records
                     'refs/tags/checkpoint/*:refs/tags/checkpoint/*'` + `git merge --ff-only origin/main`
                  and, for reference, the `git fetch` alone, and the fetch + merge in the Workbench itself (with
                  gitbench's hooks: what they cost plain git there)
    pull, many    the same, when Bob also made 50 more checkpoints (a day of jobs) before pushing

Checked after every command: the server holds exactly Alice's main, records and checkpoints (push), or Alice's
main, records tracking ref, checkpoints and files are Bob's (pull). Figures: the median wall time and CPU time
(user + system of the command and its children) of whole commands; the `git daemon` side of the transfer is in
the wall time only (the daemon's processes are not the command's children), the path transport's server side
(`git-receive-pack`, `git-upload-pack`) is in both. Below the table, `python -c pass` and `python -c "import
pygit2"` in the same interpreter: the floor of any Python tool built on pygit2. Target (issue 13): gitbench
within 1.5× of git. Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.bench import repogen
from tests.bench.run import Runner, bench_env, gitbench_cmd, replace_between, say

START = "<!-- bench:remote:start -->"
END = "<!-- bench:remote:end -->"
TARGET = 1.5
FILES = 1000
MANY = 50  # the checkpoints a teammate made since the last pull, in the "many" scenario
WRITE10 = 'for i in 0 1 2 3 4 5 6 7 8 9; do echo "$1" >> ' + repogen.STEP_FOLDER + "/f0$i.txt; done"
REPO = "team.git"

GIT_PUSH = ["git", "push", "--atomic", "origin", "main", "refs/gitbench/records", "refs/tags/checkpoint/*"]
GIT_FETCH = [
    "git",
    "fetch",
    "origin",
    "main",
    "refs/gitbench/records:refs/gitbench/remotes/origin/records",
    "refs/tags/checkpoint/*:refs/tags/checkpoint/*",
]
GIT_MERGE = ["git", "merge", "--ff-only", "-q", "origin/main"]


@dataclass(frozen=True)
class Row:
    """A line of the table: gitbench's command (``op``) beside one peer (``side``) doing the same transfer."""

    op: str  # push | noop | pull
    side: str  # which peer's samples
    ours: str
    theirs: str
    target: bool = True  # held to the 1.5× target (the other peers are shown for reference)


ROWS = [
    Row("push", "git", "`gitbench push`", "`git push --atomic` of the same refs"),
    Row("noop", "git", "`gitbench push`, nothing new", "the same `git push`"),
    Row("pull", "git", "`gitbench pull`", "`git fetch` of the same refs + `git merge --ff-only`"),
    Row("many", "git", f"`gitbench pull`, {MANY} more checkpoints", "the same fetch + merge"),
    Row("pull", "fetch", "`gitbench pull`", "the `git fetch` alone", target=False),
    Row("pull", "hooked", "`gitbench pull`", "the fetch + merge in the Workbench (gitbench's hooks on)", target=False),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """`git daemon` serving ``base`` on 127.0.0.1 with pushes enabled, for as long as the ``with`` lasts."""

    def __init__(self, base: str, env: dict[str, str]) -> None:
        self.base, self.env, self.port = base, env, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> Daemon:
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--informative-errors",
                f"--base-path={self.base}",
                self.base,
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("git daemon did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@dataclass
class Results:
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # "count|transport|op|side"
    counts: dict[int, int] = field(default_factory=dict)  # extra checkpoints -> checkpoint tags in the Workbench

    def add(self, key: str, wall: float, cpu: float) -> None:
        self.samples.setdefault(key, []).append((wall, cpu))

    def median(self, key: str) -> tuple[float, float] | None:
        got = self.samples.get(key)
        if not got:
            return None
        return statistics.median(w for w, _ in got), statistics.median(c for _, c in got)


def copy(src: str, dst: str) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)


def refs(r: Runner, path: str, prefix: str = "") -> dict[str, str]:
    out = r.out(["git", "for-each-ref", "--format=%(objectname) %(refname)", *([prefix] if prefix else [])], path)
    return {ref: oid for oid, ref in (line.split(" ", 1) for line in out.splitlines())}


def add_checkpoints(r: Runner, path: str, count: int) -> None:
    """``count`` more checkpoint tags on main, numbered after the existing ones, with gitbench's message (one
    `git fast-import`; then every ref packed, as `git gc` leaves them)."""
    main = r.out(["git", "rev-parse", "main"], path)
    records = r.out(["git", "rev-parse", "refs/gitbench/records"], path)
    # Names as gitbench makes them (YYMMDD-HHMMSS-clone), a clone id per call so two clones' sets never meet.
    clone = "b" + format(len(refs(r, path, "refs/tags/checkpoint/")) % 1000, "03d")
    chunks = []
    for i in range(count):
        day, second = divmod(i, 86400)
        n = f"2601{1 + day:02d}-{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}-{clone}"
        msg = (
            f"manual checkpoint: bench {n}\n\nGitbench-Checkpoint-Kind: manual\nGitbench-Published: refs/heads/main\n"
            f"Gitbench-Records: {records}\n"
        ).encode()
        chunks.append(
            b"tag checkpoint/%s\nfrom %s\ntagger %s\ndata %d\n%s\n"
            % (
                n.encode(),
                main.encode(),
                f"Bench <bench@example.invalid> {1767225600 + i} +0000".encode(),
                len(msg),
                msg,
            )
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=path, env=r.env, input=b"".join(chunks) + b"done\n", check=True
    )
    r.run(["git", "pack-refs", "--all"], path)


@dataclass
class Team:
    """One checkpoint count's repositories: the live ones the commands run in, and the templates they come from."""

    r: Runner
    where: str
    srv: str  # git daemon's base path
    alice: str  # where gitbench's timed commands run
    tpl: str
    bob: dict[str, dict[str, str]] = field(default_factory=dict)  # Bob's refs when the server was saved as ...

    @property
    def plain(self) -> str:
        """Where the git CLI's timed commands run: the same folder, without gitbench's hooks."""
        return self.alice + "-git"

    @property
    def server(self) -> str:
        return os.path.join(self.srv, REPO)

    def t(self, name: str) -> str:
        return os.path.join(self.tpl, name)

    def restore(self, client: str, server: str | None, url: str, plain: bool = False) -> str:
        """Alice's folder as in the template ``client`` and (if given) the server as in ``server``; returns the
        folder. ``plain``: a copy of it for the git CLI, without gitbench's hooks (they run at every ref update
        git makes, and would slow the peer down). The index is refreshed (a copied file has a new inode), as
        for anyone who has looked at their folder once."""
        folder = self.plain if plain else self.alice
        copy(self.t(client), folder)
        if server:
            copy(self.t(server), self.server)
        if plain:
            hooks = os.path.join(folder, ".git", "hooks")
            for name in os.listdir(hooks):
                with open(os.path.join(hooks, name), "rb") as fh:
                    if b"gitbench-hook" in fh.read(4096):
                        os.remove(os.path.join(hooks, name))
        self.r.run(["git", "remote", "set-url", "origin", url], folder)
        self.r.run(["git", "status", "--porcelain", "-uno"], folder)
        return folder


def job(r: Runner, path: str, token: str) -> None:
    gb = gitbench_cmd()
    r.run([*gb, "exec", "--files", repogen.STEP_GLOB, "-m", "bench", "--", "sh", "-c", WRITE10, "sh", token], path)
    r.run([*gb, "publish"], path)
    deadline = time.monotonic() + 60  # the Draft's worktree is deleted in the background: wait for it
    while (
        time.monotonic() < deadline and r.out(["git", "worktree", "list", "--porcelain"], path).count("worktree ") > 1
    ):
        time.sleep(0.1)


def make_team(r: Runner, root: str, extra: int, url: Callable[[str], str]) -> Team:
    where = os.path.join(root, f"cp{extra}")
    srv, tpl = os.path.join(where, "srv"), os.path.join(where, "tpl")
    team = Team(r, where, srv, os.path.join(where, "alice"), tpl)
    gb = gitbench_cmd()
    alice, bob = team.alice, os.path.join(where, "bob")
    repogen.generate(alice, FILES, r.env)
    r.run([*gb, "init", alice], where)
    if extra:
        add_checkpoints(r, alice, extra)
    r.run(["git", "init", "-q", "--bare", "-b", "main", team.server], where)
    r.run(["git", "remote", "add", "origin", url(REPO)], alice)
    r.run([*gb, "push"], alice)
    r.run(["git", "pack-refs", "--all"], team.server)
    r.run(["git", "clone", "-q", url(REPO), bob], where)
    r.run([*gb, "init"], bob)
    r.run(["git", "pack-refs", "--all"], bob)
    r.run(["git", "status", "--porcelain"], alice)
    copy(team.server, team.t("server-base.git"))
    copy(alice, team.t("alice-base"))
    job(r, alice, "alice")  # what `push` shares
    copy(alice, team.t("alice-published"))
    job(r, bob, "bob")  # what `pull` takes
    r.run([*gb, "push"], bob)
    copy(team.server, team.t("server-bob.git"))
    team.bob["server-bob.git"] = refs(r, bob)
    add_checkpoints(r, bob, MANY)  # and what `pull` takes when Bob also made many checkpoints
    r.run([*gb, "push"], bob)
    copy(team.server, team.t("server-bob-many.git"))
    team.bob["server-bob-many.git"] = refs(r, bob)
    return team


@dataclass
class Turn:
    """One side of a scenario: its commands, whether it runs in the plain-git folder, the check after it."""

    side: str
    cmds: list[list[str]]
    plain: bool
    check: Callable[[str], None]


def measure(
    r: Runner,
    res: Results,
    team: Team,
    key: str,
    url: str,
    runs: int,
    warmup: int,
    mine: dict[str, str],
) -> None:
    """The scenarios over one transport; ``key`` is "<extra checkpoints>|<transport>"."""
    gb = gitbench_cmd()

    def pushed(_: str) -> None:
        on_server = refs(r, team.server)
        for ref in ("refs/heads/main", "refs/gitbench/records"):
            assert on_server[ref] == mine[ref], f"{ref} on the server is not Alice's"
        tags = {k: v for k, v in mine.items() if k.startswith("refs/tags/checkpoint/")}
        assert {k: v for k, v in on_server.items() if k.startswith("refs/tags/checkpoint/")} == tags

    def pulled(folder: str, full: bool = True) -> None:
        here, bobs = refs(r, folder), team.bob[server]
        assert here["refs/gitbench/remotes/origin/records"] == bobs["refs/gitbench/records"]
        assert all(here.get(k) == v for k, v in bobs.items() if k.startswith("refs/tags/checkpoint/"))
        if full:
            assert here["refs/heads/main"] == bobs["refs/heads/main"], "main is not Bob's"
            with open(os.path.join(folder, repogen.STEP_FILES[0])) as fh:
                assert fh.read().endswith("bob\n"), "the folder is not Bob's"

    def unchanged(_: str) -> None:
        assert refs(r, team.server) == before, "a push with nothing new changed the server"

    def turns(op: str, sides: list[Turn], client: str | None = None) -> None:
        """``runs`` rounds (after ``warmup``), the sides taking turns going first; each from the same state: Alice
        as in the template ``client`` and the server as in ``server`` (none: as they are)."""
        for n in range(warmup + runs):
            for t in sides if n % 2 == 0 else sides[::-1]:
                folder = (
                    team.restore(client, server, url, t.plain) if client else (team.plain if t.plain else team.alice)
                )
                wall = r.timed(t.cmds, folder)
                if n >= warmup:
                    res.add(f"{key}|{op}|{t.side}", wall, r.last_cpu)
                t.check(folder)

    server = "server-base.git"  # the server's template for the scenario running now (its checks read it too)
    push = [Turn("gitbench", [[*gb, "push"]], False, pushed), Turn("git", [GIT_PUSH], True, pushed)]
    turns("push", push, "alice-published")
    # Nothing new: the server has it all, and both folders know it.
    team.restore("alice-published", "server-base.git", url)
    r.run([*gb, "push"], team.alice)
    team.restore("alice-published", None, url, plain=True)
    r.run(GIT_PUSH, team.plain)
    before = refs(r, team.server)
    noop = [Turn("gitbench", [[*gb, "push"]], False, unchanged), Turn("git", [GIT_PUSH], True, unchanged)]
    turns("noop", noop)
    server = "server-bob.git"
    pull = [
        Turn("gitbench", [[*gb, "pull"]], False, pulled),
        Turn("git", [GIT_FETCH, GIT_MERGE], True, pulled),
        Turn("fetch", [GIT_FETCH], True, lambda folder: pulled(folder, full=False)),
        Turn("hooked", [GIT_FETCH, GIT_MERGE], False, pulled),
    ]
    turns("pull", pull, "alice-base")
    server = "server-bob-many.git"
    turns("many", pull[:2], "alice-base")


def run_count(r: Runner, res: Results, root: str, extra: int, transports: list[str], runs: int, warmup: int) -> None:
    t0 = time.perf_counter()
    where = os.path.join(root, f"cp{extra}")
    shutil.rmtree(where, ignore_errors=True)
    for sub in ("srv", "tpl"):
        os.makedirs(os.path.join(where, sub))
    with Daemon(os.path.join(where, "srv"), r.env) as daemon:
        team = make_team(r, root, extra, daemon.url)
        res.counts[extra] = len(refs(r, team.t("alice-base"), "refs/tags/checkpoint/"))
        say(f"[{extra} extra checkpoints] made the team in {time.perf_counter() - t0:.1f} s")
        mine = refs(r, team.t("alice-published"))
        for transport in transports:
            url = daemon.url(REPO) if transport == "daemon" else team.server
            measure(r, res, team, f"{extra}|{transport}", url, runs, warmup, mine)
            say(f"[{extra} extra checkpoints] {transport}: measured ({time.perf_counter() - t0:.1f} s so far)")


def figures(res: Results, extra: int, transport: str, row: Row) -> tuple[float, float, float, float]:
    """(gitbench's wall, the peer's wall, gitbench's CPU, the peer's CPU), medians."""
    ours = res.median(f"{extra}|{transport}|{row.op}|gitbench")
    theirs = res.median(f"{extra}|{transport}|{row.op}|{row.side}")
    assert ours is not None and theirs is not None, f"{row} was not measured"
    return ours[0], theirs[0], ours[1], theirs[1]


def table(res: Results, transports: list[str]) -> str:
    lines = [
        "| checkpoints | server | gitbench | plain git | wall | CPU | ratio wall / CPU |",
        "|---:|---|---|---|---:|---:|---|",
    ]
    names = {"daemon": "`git daemon`", "file": "path"}
    for extra, count in sorted(res.counts.items()):
        for transport in transports:
            for row in ROWS:
                if res.median(f"{extra}|{transport}|{row.op}|{row.side}") is None:
                    continue
                w1, w2, c1, c2 = figures(res, extra, transport, row)
                ratio = f"{w1 / w2:.2f}× / {c1 / max(c2, 1e-6):.2f}×"
                lines.append(
                    f"| {count:,} | {names[transport]} | {row.ours} | {row.theirs} "
                    f"| {w1 * 1000:.0f} / {w2 * 1000:.0f} ms | {c1 * 1000:.0f} / {c2 * 1000:.0f} ms "
                    f"| {f'**{ratio}**' if row.target else ratio} |"
                )
    return "\n".join(lines)


def missed(res: Results, transports: list[str]) -> list[str]:
    out = []
    for extra, count in sorted(res.counts.items()):
        for transport in transports:
            for row in ROWS:
                if not row.target:
                    continue
                w1, w2, c1, c2 = figures(res, extra, transport, row)
                if w1 / w2 > TARGET or c1 / max(c2, 1e-6) > TARGET:
                    what = f"{row.op}, {count:,} checkpoints, {transport}"
                    out.append(f"{what}: {w1 / w2:.2f}× wall, {c1 / max(c2, 1e-6):.2f}× CPU")
    return out


def floor(r: Runner, root: str, runs: int) -> str:
    """What any Python program that reads a Git repository with pygit2 pays before its first line of work."""
    py = os.path.join(os.path.dirname(gitbench_cmd()[0]), "python")
    got = []
    for argv in ([py, "-c", "pass"], [py, "-c", "import pygit2"]):
        walls, cpus = [], []
        for _ in range(runs):
            walls.append(r.timed([argv], root))
            cpus.append(r.last_cpu)
        wall, cpu = statistics.median(walls) * 1000, statistics.median(cpus) * 1000
        got.append(f"`python -c {argv[-1]!r}` {wall:.0f} ms wall, {cpu:.0f} ms CPU")
    return "For scale, the same interpreter: " + "; ".join(got) + "."


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoints", default="0,5000", help="extra checkpoints, comma-separated (one team each)")
    ap.add_argument("--transports", default="daemon,file", help="daemon (git://127.0.0.1), file (the path)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--root", default="/tmp/gitbench-bench-remote")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    transports = [t for t in args.transports.split(",") if t]
    os.makedirs(args.root, exist_ok=True)
    r = Runner(bench_env(args.root))
    r.env["XDG_STATE_HOME"] = os.path.join(args.root, "state")
    res = Results()
    for extra in [int(c) for c in args.checkpoints.split(",") if c.strip()]:
        run_count(r, res, args.root, extra, transports, args.runs, args.warmup)
    git_version = r.out(["git", "--version"], args.root)
    text = (
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs, {git_version}; {FILES:,} files; median of "
        f"{args.runs} runs (after {args.warmup} warm-up); wall and CPU as gitbench / plain git.\n\n"
        + table(res, transports)
        + "\n\n"
        + floor(r, args.root, 2 * args.runs + 1)
    )
    print(text)
    miss = missed(res, transports)
    print("\nTargets missed (1.5×): " + ("; ".join(miss) if miss else "none"))
    with open(os.path.join(args.root, "results.json"), "w") as fh:
        json.dump({"samples": res.samples, "counts": res.counts}, fh, indent=1)
    if args.update_doc:
        replace_between(text, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
