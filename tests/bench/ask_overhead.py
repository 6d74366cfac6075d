"""gitbench's own overhead per model step, beside the git CLI committing the same step.

    python -m tests.bench.ask_overhead                        # 1k and 100k files, 5 runs each
    python -m tests.bench.ask_overhead --sizes 1000 --runs 3  # a quick look
    python -m tests.bench.ask_overhead --update-doc           # also rewrite its table in docs/performance.md

A Workshop job over 100 files (``src/m00/p00/*``, 10 batches of 10 files) runs in-process (``ask.ask``, the
service the CLI calls) against the scripted provider of the tests (tests/provider_server.py) on 127.0.0.1,
which answers at once with an edit of every file it was sent. Everything the job does is gitbench's overhead
except the model's answer time, which is ~0 here; the local HTTP round trip is counted as overhead, so the
figure is an upper bound. Per step = the whole job's wall time (checkpoint, Draft, plan, 10 batches: read
the files, build the request, send it, parse and check the edits, write the blobs, commit the step, store the
record) divided by its 10 steps.

The peer, run side by side in the same loop: the git CLI committing the same 10 changed files onto a branch
without touching a working tree (``git hash-object -w`` the files, ``read-tree`` into a temporary index,
``update-index --cacheinfo``, ``write-tree``, ``commit-tree``, ``update-ref``): what one step is in plain git.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from tests.bench import repogen
from tests.bench.run import DOC, bench_env
from tests.provider_server import ProviderServer, config_toml

GLOB = "src/m00/p00/*"
BATCHES = 10
TARGET_MS = 30.0
START, END = "<!-- bench:ask:start -->", "<!-- bench:ask:end -->"


def _git(env: dict[str, str], cwd: str, *args: str, stdin: str | None = None) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def prepare(root: str, size: int, env: dict[str, str]) -> str:
    path = os.path.join(root, f"ask-{size}")
    if not os.path.isdir(os.path.join(path, ".git")):
        repogen.generate(path, size, env)
        subprocess.run([sys.executable, "-m", "gitbench", "init"], cwd=path, env=env, check=True, capture_output=True)
    return path


def git_step(env: dict[str, str], path: str, branch: str, files: list[str], token: str) -> float:
    """One 10-file step in plain git, on ``branch``, without a working tree. Returns seconds."""
    tmp = tempfile.mkdtemp(prefix="bench-step-")
    start = time.perf_counter()
    for i, f in enumerate(files):
        with open(os.path.join(tmp, str(i)), "w") as fh:
            fh.write(f"{f} {token}\n")
    oids = _git(
        env,
        path,
        "hash-object",
        "-w",
        "--stdin-paths",
        stdin="\n".join(os.path.join(tmp, str(i)) for i in range(len(files))),
    ).split()
    index_env = {**env, "GIT_INDEX_FILE": os.path.join(tmp, "index")}
    _git(index_env, path, "read-tree", branch)
    _git(
        index_env,
        path,
        "update-index",
        "--index-info",
        stdin="".join(f"100644 {oid}\t{f}\n" for oid, f in zip(oids, files, strict=True)),
    )
    tree = _git(index_env, path, "write-tree")
    parent = _git(env, path, "rev-parse", branch)
    commit = _git(env, path, "commit-tree", tree, "-p", parent, "-m", f"step {token}")
    _git(env, path, "update-ref", f"refs/heads/{branch}", commit, parent)
    seconds = time.perf_counter() - start
    subprocess.run(["rm", "-rf", tmp], check=True)
    return seconds


def measure(size: int, runs: int, root: str) -> dict[str, object]:
    env = bench_env(root)
    path = prepare(root, size, env)
    server = ProviderServer()
    os.environ.update({k: env[k] for k in ("HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_NOSYSTEM")})
    cfg = os.path.join(env["XDG_CONFIG_HOME"], "gitbench", "config.toml")
    os.makedirs(os.path.dirname(cfg), exist_ok=True)
    with open(cfg, "w") as fh:
        fh.write(config_toml(server, job={"batch_files": 10}))
    from gitbench.services import ask, discard
    from gitbench.services.workbench import Workbench

    files = [f"{repogen.STEP_FOLDER}/f{i:02d}.txt" for i in range(10)]
    _git(env, path, "branch", "-f", "bench-git", "main")
    gb: list[float] = []
    gt: list[float] = []
    for run in range(runs + 1):  # the first is a warm-up
        before = len(server.posts)
        start = time.perf_counter()
        res = ask.ask(Workbench(path), f"bench {run}", [GLOB], "fake:test-model", on_draft="discard")
        seconds = time.perf_counter() - start
        assert res.job is not None and res.job.steps_completed == BATCHES, res.summary
        assert len(server.posts) - before == BATCHES
        discard.discard(Workbench(path))
        git_seconds = sum(git_step(env, path, "bench-git", files, f"{run}-{b}") for b in range(BATCHES))
        if run:
            gb.append(seconds / BATCHES)
            gt.append(git_seconds / BATCHES)
    server.close()
    return {"size": size, "runs": runs, "gitbench_ms": [s * 1000 for s in gb], "git_ms": [s * 1000 for s in gt]}


def table(results: list[dict[str, object]]) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs; median of the runs; a job of "
        f"{BATCHES} batches of 10 files against a local provider that answers at once.",
        "",
        "| files | gitbench per model step | git CLI per step (plumbing) | ratio | target ≤ 30 ms |",
        "|---:|---:|---:|---:|---|",
    ]
    for r in results:
        g = statistics.median(r["gitbench_ms"])  # type: ignore[arg-type]
        t = statistics.median(r["git_ms"])  # type: ignore[arg-type]
        verdict = "met" if g <= TARGET_MS else "**missed**"
        lines.append(f"| {int(r['size']) // 1000}k | {g:.1f} ms | {t:.1f} ms | {g / t:.2f}× | {verdict} |")  # type: ignore[call-overload]
    return "\n".join(lines)


def update_doc(text: str) -> None:
    with open(DOC) as fh:
        doc = fh.read()
    if START not in doc:
        raise SystemExit(f"{DOC} has no {START} marker")
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(DOC, "w") as fh:
        fh.write(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--root", default="/tmp/gitbench-bench")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    results = [measure(int(s), args.runs, args.root) for s in args.sizes.split(",")]
    text = table(results)
    print(text)
    with open(os.path.join(args.root, "ask-results.json"), "w") as fh:
        json.dump(results, fh)
    if args.update_doc:
        update_doc(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
