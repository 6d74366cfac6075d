"""The agent hooks' benchmark: what a hook call costs the agent, side by side with its peers, in one run.

    .venv/bin/python -m tests.bench.hooks                      # 1k, 10k, 100k files
    .venv/bin/python -m tests.bench.hooks --sizes 1000 --runs 5
    .venv/bin/python -m tests.bench.hooks --update-doc         # rewrite the table in docs/performance.md

An agent runs a hook as a new process at every event, so each figure is a whole process, as Claude Code starts
it (the console script, the JSON payload on stdin), median wall time and the children's CPU time over N calls:

    pre-tool    gitbench hook claude-code PreToolUse (an Edit aimed at the checkout: denied)
                | python -c "import pygit2"            (the target: at most 1.3x)
    turn-end    gitbench hook claude-code Stop, after the agent wrote 10 files in the session's worktree (the
                step: status, stage, commit with trailers, records)
                | git add -A && git commit in a worktree of the same repository (the same work by hand)

Both sides run in the same sealed environment, alternating which goes first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

from tests.bench import repogen
from tests.bench.run import bench_env, gitbench_cmd, label, replace_between

START = "<!-- bench:hooks:start -->"
END = "<!-- bench:hooks:end -->"


def timed(argv: list[str], cwd: str, env: dict[str, str], stdin: str | None = None) -> tuple[float, float]:
    """(wall, CPU of the process and its children) of one whole command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def write10(folder: str, token: str) -> None:
    for i in range(10):
        path = os.path.join(folder, repogen.file_path(i * 7))
        with open(path, "a") as fh:
            fh.write(f"# {token}\n")


def measure(size: int, runs: int, root: str) -> dict[str, object]:
    env = bench_env(root)
    env["XDG_STATE_HOME"] = os.path.join(root, "state")
    repo = os.path.join(root, f"wb-{size}")
    plain = os.path.join(root, f"git-{size}")
    for path in (repo, plain, os.path.join(root, f"hand-{size}"), env["XDG_STATE_HOME"]):
        shutil.rmtree(path, ignore_errors=True)
    for path in (repo, plain):
        repogen.generate(path, size, env)
    gb = gitbench_cmd()
    subprocess.run([*gb, "init", repo], env=env, check=True, capture_output=True)
    session = f"bench-{size}"
    start = {"session_id": session, "cwd": repo, "hook_event_name": "SessionStart", "source": "startup", "model": "m"}
    out = subprocess.run(
        [*gb, "hook", "claude-code", "SessionStart"],
        cwd=repo,
        env=env,
        input=json.dumps(start),
        capture_output=True,
        text=True,
    )
    context = json.loads(out.stdout)["hookSpecificOutput"]["additionalContext"]
    tree = context.split("Its worktree is ", 1)[1].split(": make every edit", 1)[0]
    pre = json.dumps(
        {
            "session_id": session,
            "cwd": repo,
            "hook_event_name": "PreToolUse",
            "tool_name": "Edit",
            "tool_input": {"file_path": os.path.join(repo, repogen.file_path(1)), "old_string": "a", "new_string": "b"},
        }
    )
    stop = json.dumps({"session_id": session, "cwd": repo, "hook_event_name": "Stop", "stop_hook_active": False})
    subprocess.run(
        ["git", "worktree", "add", "-q", "-b", "by-hand", os.path.join(root, f"hand-{size}")],
        cwd=plain,
        env=env,
        check=True,
    )
    hand = os.path.join(root, f"hand-{size}")
    py = sys.executable
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in ("pre", "pygit2", "stop", "git")}
    for i in range(runs):
        pair = [
            ("pre", lambda: timed([*gb, "hook", "claude-code", "PreToolUse"], repo, env, pre)),
            ("pygit2", lambda: timed([py, "-c", "import pygit2"], repo, env)),
        ]
        for name, fn in pair if i % 2 == 0 else reversed(pair):
            got[name].append(fn())
        token = f"t{i}"
        write10(tree, token)
        write10(hand, token)
        steps = [
            ("stop", lambda: timed([*gb, "hook", "claude-code", "Stop"], repo, env, stop)),
            ("git", lambda t=token: timed(["sh", "-c", f"git add -A && git commit -qm {t}"], hand, env)),
        ]
        for name, fn in steps if i % 2 == 0 else reversed(steps):
            got[name].append(fn())
    end = json.dumps({"session_id": session, "cwd": repo, "hook_event_name": "SessionEnd", "reason": "exit"})
    subprocess.run(
        [*gb, "hook", "claude-code", "SessionEnd"], cwd=repo, env=env, input=end, capture_output=True, text=True
    )
    steps_made = subprocess.run(
        ["git", "rev-list", "--count", "--branches=gitbench/draft/*", "^main"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if steps_made != str(runs):
        raise RuntimeError(f"expected {runs} steps on the session's Draft, found {steps_made}")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in got.items()}
    return {"size": size, "runs": runs, **{k: list(v) for k, v in med.items()}}


def table(results: list[dict[str, object]]) -> str:
    lines = [
        '| files | pre-tool hook | `python -c "import pygit2"` | ratio (wall / CPU) | turn-end hook (10 files) '
        "| `git add -A && git commit` | ratio (wall / CPU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        pre, peer, stop, git = (r[k] for k in ("pre", "pygit2", "stop", "git"))
        assert isinstance(pre, list) and isinstance(peer, list) and isinstance(stop, list) and isinstance(git, list)
        lines.append(
            f"| {label(int(str(r['size'])))} | {pre[0] * 1000:.0f} ms | {peer[0] * 1000:.0f} ms "
            f"| {pre[0] / peer[0]:.2f}× / {pre[1] / peer[1]:.2f}× "
            f"| {stop[0] * 1000:.0f} ms | {git[0] * 1000:.0f} ms "
            f"| {stop[0] / git[0]:.2f}× / {stop[1] / max(git[1], 1e-6):.2f}× |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--root", default="/tmp/gitbench-bench-hooks")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.root, exist_ok=True)
    results = [measure(int(s), args.runs, args.root) for s in args.sizes.split(",")]
    text = table(results)
    print(text)
    if args.update_doc:
        replace_between(text, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
