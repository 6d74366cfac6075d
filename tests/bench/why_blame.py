"""How long `gitbench why` takes on a long file with a long history, beside `git blame` on the same file.

    python -m tests.bench.why_blame                      # 10k lines, 200 commits, 5 runs
    python -m tests.bench.why_blame --lines 2000 --commits 50 --runs 3

The file is made with the git CLI: ``--lines`` lines, then ``--commits`` commits, each changing a block of lines
spread over the file (every commit a step of a gitbench-looking job, so every line group reads its trailers, its
job record and its prompt lookup). Timed: ``why.why`` in-process (the whole file, and a 20-line range), the real
CLI (``gitbench why --json``, start-up included), and ``git blame --porcelain`` as the peer.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, input=stdin).stdout


def make(root: Path, lines: int, commits: int) -> Path:
    wb = root / "wb"
    wb.mkdir()
    git(wb, "init", "-q", "-b", "main")
    git(wb, "config", "user.name", "Bench")
    git(wb, "config", "user.email", "bench@example.invalid")
    text = [f"line {i} of the original file" for i in range(lines)]
    (wb / "big.txt").write_text("\n".join(text) + "\n")
    git(wb, "add", "big.txt")
    git(wb, "commit", "-q", "-m", "initial")
    subprocess.run([sys.executable, "-m", "gitbench", "init"], cwd=wb, check=True, capture_output=True)
    block = max(1, lines // (commits * 2))
    for c in range(commits):
        start = (c * 7919) % max(1, lines - block)  # spread over the file
        for i in range(start, start + block):
            text[i] = f"line {i} rewritten by step {c}"
        (wb / "big.txt").write_text("\n".join(text) + "\n")
        git(wb, "add", "big.txt")
        trailers = (
            f"Gitbench-Job: 20260101-000000-{c:04x}\nGitbench-Step: 1/1 exec\nGitbench-Model: claude:m\n"
            f"Gitbench-Agent: claude\nGitbench-Checkpoint: checkpoint/{c + 2}\nAssisted-by: claude-code:m"
        )
        git(wb, "commit", "-q", "-m", f"step {c}\n\n{trailers}")
    return wb


def timed(fn: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wb = make(Path(tmp), args.lines, args.commits)
        os.chdir(wb)
        from gitbench.services import why
        from gitbench.services.workbench import Workbench

        bench = Workbench(str(wb))
        result = why.why(bench, "big.txt")
        groups = len(result.origins)
        whole = timed(lambda: why.why(Workbench(str(wb)), "big.txt"), args.runs)
        mid = args.lines // 2
        part = timed(lambda: why.why(Workbench(str(wb)), f"big.txt:{mid}-{mid + 19}"), args.runs)
        cli = timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "gitbench", "why", "big.txt", "--json"], cwd=wb, check=True, capture_output=True
            ),
            args.runs,
        )
        peer = timed(lambda: git(wb, "blame", "--porcelain", "big.txt"), args.runs)
        print(f"{args.lines} lines, {args.commits} commits, {groups} line groups; median of {args.runs} runs")
        print(f"  why.why, whole file      {whole * 1000:8.0f} ms")
        print(f"  why.why, 20 lines        {part * 1000:8.0f} ms")
        print(f"  gitbench why --json      {cli * 1000:8.0f} ms (process start included)")
        print(f"  git blame --porcelain    {peer * 1000:8.0f} ms")


if __name__ == "__main__":
    main()
