"""`gitbench mcp` beside the git CLI: one long-lived server process answering many calls, as an agent uses it.

    python -m tests.bench.mcp_calls                          # 1k, 10k, 100k files; prints the table
    python -m tests.bench.mcp_calls --sizes 1000 --runs 3    # a quick look
    python -m tests.bench.mcp_calls --update-doc             # also rewrite its table in docs/performance.md

One `gitbench mcp` process per size, driven by the official `mcp` SDK's client over stdio (protocol 2025-11-25;
publish and restore are approved by the client's elicitation callback at once, so the question's round trip is
counted, the user's thinking time is not). Each figure is the wall time of one tool call as the client sees it
(request out, answer in and parsed), the median of N cycles, against the git CLI doing the same work in an
identical plain repository (tests/bench/run.py's GitSide), turn about:

    status      tools/call status                 | git status --porcelain -uno + git for-each-ref
    checkpoint  tools/call checkpoint             | git tag -a
    review      tools/call review (10-file Draft)  | git diff --stat main draft
    publish     tools/call publish (approved)     | git merge --ff-only draft + git tag -a + git branch -d draft
    restore     tools/call restore (approved)     | git tag -a (pre-restore) + git reset --hard <tag>

The 10-file Draft is made between status/checkpoint and review by `gitbench exec --sparse` on one side and
by a branch and a commit on the other (not timed: run.py times it). CPU: the server process's own CPU time
(every thread's, from /proc/PID/task/*/schedstat, in ns) against the git processes' (getrusage); the client's
share (the agent's) is not counted.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.bench import repogen
from tests.bench.run import WRITE10, GitSide, Runner, bench_env, gitbench_cmd, label, machine_info, replace_between

OPS = ["status", "checkpoint", "review", "publish", "restore"]
TARGET = 1.5
START, END = "<!-- bench:mcp:start -->", "<!-- bench:mcp:end -->"


def server_cpu(pid: int) -> float:
    """Seconds of CPU the process has used so far, all its threads (schedstat: ns on the CPU)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):  # a thread that ended between glob and read
            continue
    return total / 1e9


def server_pid() -> int:
    """The `gitbench mcp` child of this process (started by stdio_client)."""
    for path in glob.glob(f"/proc/{os.getpid()}/task/*/children"):
        with open(path) as fh:
            for pid in fh.read().split():
                with open(f"/proc/{pid}/cmdline", "rb") as c:
                    if b"mcp" in c.read().split(b"\0"):
                        return int(pid)
    raise RuntimeError("the gitbench mcp process was not found")


async def approve(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


class Samples:
    def __init__(self) -> None:
        self.wall: dict[tuple[str, str, int], list[float]] = {}
        self.cpu: dict[tuple[str, str, int], list[float]] = {}
        self.floor: dict[int, list[float]] = {}

    def add(self, side: str, op: str, size: int, wall: float, cpu: float) -> None:
        self.wall.setdefault((side, op, size), []).append(wall)
        self.cpu.setdefault((side, op, size), []).append(cpu)


def result(res: types.CallToolResult) -> Any:
    data = res.structured_content
    if res.is_error or not data or not data.get("ok"):
        raise RuntimeError(f"tool call failed: {res.content}")
    return data["result"]


async def bench_size(r: Runner, root: str, size: int, runs: int, warmup: int, samples: Samples) -> None:
    where = os.path.join(root, f"mcp-{label(size)}")
    shutil.rmtree(where, ignore_errors=True)
    os.makedirs(where)
    wb_path, git_path = os.path.join(where, "workbench"), os.path.join(where, "git")
    t0 = time.perf_counter()
    repogen.generate(wb_path, size, r.env)
    repogen.generate(git_path, size, r.env)
    r.run([*gitbench_cmd(), "init", wb_path], where)
    print(f"[{label(size)}] generated the repositories in {time.perf_counter() - t0:.1f} s", flush=True)
    gt = GitSide(r, git_path)
    gone = os.path.join(r.env["HOME"], ".local", "state", "gitbench", "worktrees", "*", ".gone-*")
    params = StdioServerParameters(command=gitbench_cmd()[0], args=[*gitbench_cmd()[1:], "mcp"], cwd=wb_path, env=r.env)
    with open(os.path.join(where, "server.stderr"), "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, elicitation_callback=approve) as session:
                await session.initialize()
                pid = server_pid()

                async def call(name: str, args: dict[str, Any] | None = None) -> tuple[float, float, Any]:
                    cpu0, t = server_cpu(pid), time.perf_counter()
                    res = await session.call_tool(name, args or {})
                    wall = time.perf_counter() - t
                    return wall, server_cpu(pid) - cpu0, result(res)

                def git(cmds: list[list[str]]) -> tuple[float, float]:
                    wall = r.timed(cmds, git_path)
                    return wall, r.last_cpu

                await call("status")  # warm the page cache on both sides
                # The floor: a call the SDK answers by itself (an unknown tool), no gitbench code at all.
                for _ in range(30):
                    t = time.perf_counter()
                    await session.call_tool("no-such-tool", {})
                    samples.floor.setdefault(size, []).append(time.perf_counter() - t)
                git([["git", "status", "--porcelain", "-uno"]])

                async def pair(op: str, n: int, ours: Callable[[], Awaitable[Any]], theirs: list[list[str]]) -> Any:
                    out = None
                    for side in ("gitbench", "git") if n % 2 == 0 else ("git", "gitbench"):
                        if side == "gitbench":
                            wall, cpu, out = await ours()
                        else:
                            wall, cpu = git(theirs)
                        if n >= warmup:
                            samples.add(side, op, size, wall, cpu)
                    return out

                for n in range(warmup + runs):
                    token = f"mcp-{size}-{n}"
                    await pair(
                        "status",
                        n,
                        lambda: call("status"),
                        [["git", "status", "--porcelain", "-uno"], ["git", "for-each-ref"]],
                    )
                    await pair("checkpoint", n, lambda: call("checkpoint", {"message": "bench"}), [gt._tag("manual")])
                    # The 10-file Draft (not timed here: run.py's "step").
                    before = set(r.out(["git", "tag", "-l", "checkpoint/*"], wb_path).split())
                    r.run(
                        [
                            *gitbench_cmd(),
                            "exec",
                            "--sparse",
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
                        ],
                        wb_path,
                    )
                    (auto,) = set(r.out(["git", "tag", "-l", "checkpoint/*"], wb_path).split()) - before
                    gt.step(n, token)
                    rv = await pair("review", n, lambda: call("review"), [["git", "diff", "--stat", "main", "draft"]])
                    assert len(rv["files"]) == 10, rv
                    await pair(
                        "publish",
                        n,
                        lambda: call("publish"),
                        [
                            ["git", "merge", "-q", "--ff-only", "draft"],
                            gt._tag("publish"),
                            ["git", "branch", "-d", "draft"],
                        ],
                    )
                    tree = r.out(["git", "rev-parse", "main^{tree}"], git_path)
                    assert r.out(["git", "rev-parse", "main^{tree}"], wb_path) == tree, "publish: trees differ"
                    deadline = time.monotonic() + 300
                    while glob.glob(gone) and time.monotonic() < deadline:  # the Draft worktree's deletion
                        time.sleep(0.05)
                    assert gt.target is not None
                    await pair(
                        "restore",
                        n,
                        lambda auto=auto: call("restore", {"name": auto}),
                        [gt._tag("pre-restore"), ["git", "reset", "--hard", "-q", gt.target]],
                    )
                    tree = r.out(["git", "rev-parse", "main^{tree}"], git_path)
                    assert r.out(["git", "rev-parse", "main^{tree}"], wb_path) == tree, "restore: trees differ"
                    print(f"[{label(size)}] cycle {n + 1}/{warmup + runs}", flush=True)
    shutil.rmtree(where, ignore_errors=True)


def table(samples: Samples, sizes: list[int], runs: dict[int, int], machine: dict[str, str]) -> str:
    def med(side: str, op: str, size: int, cpu: bool = False) -> float:
        return statistics.median((samples.cpu if cpu else samples.wall)[(side, op, size)])

    counts = ", ".join(f"{label(s)}: {runs[s]}" for s in sizes)
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {machine['cpus']} CPUs, {machine['platform']}; "
        f"Python {machine['python']}, {machine['git']}, pygit2 {machine['pygit2']} (libgit2 {machine['libgit2']}). "
        f"One `gitbench mcp` process per size; medians of {counts} cycles.",
        "",
        "| tool call | files | gitbench mcp | git CLI | ratio | target ≤ 1.5× | gitbench CPU | git CPU | CPU ratio |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for op in OPS:
        for size in sizes:
            ours, theirs = med("gitbench", op, size), med("git", op, size)
            cpu_ours, cpu_theirs = med("gitbench", op, size, True), med("git", op, size, True)
            ratio = ours / theirs
            lines.append(
                f"| {op} | {label(size)} | {ours * 1000:.1f} ms | {theirs * 1000:.1f} ms | {ratio:.2f}× | "
                f"{'met' if ratio <= TARGET else '**missed**'} | {cpu_ours * 1000:.1f} ms | {cpu_theirs * 1000:.1f} ms "
                f"| {cpu_ours / cpu_theirs:.2f}× |"
            )
    floor = ", ".join(f"{statistics.median(samples.floor[s]) * 1000:.1f} ms at {label(s)}" for s in sizes)
    lines += ["", f"The round trip alone (a call the SDK answers without gitbench: an unknown tool): {floor}."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=0, help="cycles per size (default 7; 5 at 100k)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--root", default="/tmp/gitbench-bench")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    os.makedirs(args.root, exist_ok=True)
    r = Runner(bench_env(args.root))
    samples = Samples()
    runs = {s: args.runs or (5 if s >= 100_000 else 7) for s in sizes}
    for size in sizes:
        anyio.run(bench_size, r, args.root, size, runs[size], args.warmup, samples)
    machine = machine_info(r, args.root)
    text = table(samples, sizes, runs, machine)
    print(text)
    with open(os.path.join(args.root, "mcp-results.json"), "w") as fh:
        json.dump({f"{s}/{o}/{z}": v for (s, o, z), v in samples.wall.items()}, fh)
    if args.update_doc:
        replace_between(text, START, END)


if __name__ == "__main__":
    sys.exit(main())
