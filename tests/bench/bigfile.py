"""Peak memory with a big tracked file (issue 14): gitbench's commands beside the git CLI doing the same work.

    .venv/bin/python -m tests.bench.bigfile                   # a 200 MB file; prints the table
    .venv/bin/python -m tests.bench.bigfile --mb 50           # a quick look
    .venv/bin/python -m tests.bench.bigfile --update-doc      # rewrite the table in docs/performance.md
    .venv/bin/python -m tests.bench.bigfile --source /tmp/old # an older gitbench's code (the "before" column):
                                                              #   git archive OLD gitbench hooks | tar -x -C /tmp/old

Two identical repositories (README.md and src/app.py), a Workbench (``gitbench init``) and a plain Git
repository; one file of random bytes (so compression cannot shrink it) of ``--mb`` MB. Each command runs as a
user runs it, in a process of its own started by a small Python wrapper that reports the peak RSS of everything
it waited for (``getrusage(RUSAGE_CHILDREN).ru_maxrss``: the command and each Git process it ran). The figure is
that peak minus the same side's baseline (``gitbench status`` / ``git status`` in the same repository before
the big file exists), in MiB and as a multiple of the file's size.

    add         gitbench add big.bin                     | git add big.bin + git commit
    checkpoint  gitbench checkpoint                      | git tag -a
    status      gitbench status                          | git status
    job         gitbench exec --files 'src/**' -- WRITE  | git switch -c d + WRITE + git add + git commit + switch
    publish     gitbench publish (that job's Draft)      | git merge --ff-only d
    restore -   gitbench restore (before big.bin)        | git reset --hard (before big.bin): the file removed
    restore +   gitbench restore (after big.bin)         | git reset --hard (after big.bin): the file written

The job's Draft gets a full worktree (no --sparse), so `git` writes the big file there: its cost is Git's own
checkout of the file, in a child process. A job may not write a file over 100 MiB, so no job here writes the
big file itself; `restore +` is the command that writes it into the checked-out folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from tests.bench.run import bench_env, gitbench_from, replace_between

START = "<!-- bench:bigfile:start -->"
END = "<!-- bench:bigfile:end -->"
ROOT = "/tmp/gitbench-bench-bigfile"
WRAP = (
    "import resource, subprocess, sys\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "if p.returncode: sys.exit(p.stderr.decode(errors='replace') + f' (exit {p.returncode})')\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
)
WRITE = ["sh", "-c", "echo x >> src/app.py"]


def peak(argv: list[str], cwd: str, env: dict[str, str]) -> int:
    """Peak RSS in bytes of ``argv`` and every process it waited for."""
    out = subprocess.run([sys.executable, "-c", WRAP, *argv], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(argv)} in {cwd} failed: {out.stderr}")
    return int(out.stdout)


def git(cwd: str, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def project(path: str, env: dict[str, str]) -> None:
    os.makedirs(os.path.join(path, "src"))
    with open(os.path.join(path, "README.md"), "w") as fh:
        fh.write("# bench\n")
    with open(os.path.join(path, "src", "app.py"), "w") as fh:
        fh.write("print('hello')\n")
    git(path, env, "init", "-q", "-b", "main")
    git(path, env, "add", "-A")
    git(path, env, "commit", "-q", "-m", "initial")


def write_big(path: str, size: int) -> None:
    with open(os.path.join(path, "big.bin"), "wb") as fh:
        left = size
        while left:
            chunk = min(left, 1 << 20)
            fh.write(os.urandom(chunk))
            left -= chunk


def measure(mb: int, root: str, source: str | None) -> dict[str, tuple[int, int]]:
    """op -> (gitbench peak over its baseline, git peak over its baseline), in bytes."""
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    env = bench_env(root)
    env["XDG_STATE_HOME"] = os.path.join(root, "state")
    gb = gitbench_from(source, env)
    size = mb * 1024 * 1024
    wb, plain = os.path.join(root, "workbench"), os.path.join(root, "git")
    project(wb, env)
    project(plain, env)
    subprocess.run([*gb, "init"], cwd=wb, env=env, check=True, capture_output=True)
    base_gb, base_git = peak([*gb, "status"], wb, env), peak(["git", "status"], plain, env)
    before_big = git(plain, env, "rev-parse", "HEAD")
    cp_before = git(wb, env, "tag", "-l", "checkpoint/*").split()[-1]
    write_big(wb, size)
    shutil.copyfile(os.path.join(wb, "big.bin"), os.path.join(plain, "big.bin"))

    out: dict[str, tuple[int, int]] = {}

    def both(op: str, ours: list[str], theirs: list[list[str]]) -> None:
        a = peak(ours, wb, env) - base_gb
        b = max(peak(argv, plain, env) for argv in theirs) - base_git
        out[op] = (a, b)

    both("add", [*gb, "add", "big.bin"], [["git", "add", "big.bin"], ["git", "commit", "-q", "-m", "big"]])
    after_big = git(plain, env, "rev-parse", "HEAD")
    both("checkpoint", [*gb, "checkpoint", "-m", "bench"], [["git", "tag", "-a", "-m", "bench", "cp1"]])
    cp_after = git(wb, env, "tag", "-l", "checkpoint/*").split()[-1]
    both("status", [*gb, "status"], [["git", "status"]])
    both(
        "job",
        [*gb, "exec", "--files", "src/**", "--", *WRITE],
        [
            ["git", "switch", "-q", "-c", "d"],
            WRITE,
            ["git", "add", "-A"],
            ["git", "commit", "-q", "-m", "job"],
            ["git", "switch", "-q", "main"],
        ],
    )
    both("publish", [*gb, "publish"], [["git", "merge", "-q", "--ff-only", "d"]])
    both("restore - (removes it)", [*gb, "restore", cp_before, "--yes"], [["git", "reset", "-q", "--hard", before_big]])
    both("restore + (writes it)", [*gb, "restore", cp_after, "--yes"], [["git", "reset", "-q", "--hard", after_big]])
    return out


def table(results: dict[str, dict[str, tuple[int, int]]], mb: int) -> str:
    """One row per command; a column per gitbench measured (``after`` and, with --source, ``before``)."""
    sides = list(results)
    head = "| command | " + " | ".join(f"gitbench {s}" for s in sides) + " | git |"
    lines = [
        f"Peak RSS over the baseline with a {mb} MB tracked file (MiB, and × the file's size):",
        "",
        head,
        "|---|" + "---|" * (len(sides) + 1),
    ]
    size = mb * 1024 * 1024

    def cell(value: int) -> str:
        return f"{max(value, 0) / 2**20:.0f} MiB ({max(value, 0) / size:.2f}×)"

    for op in results[sides[0]]:
        row = [cell(results[s][op][0]) for s in sides] + [cell(results[sides[0]][op][1])]
        lines.append(f"| {op} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--source", default=None, help="also measure the gitbench package in this folder (before)")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args()
    results: dict[str, dict[str, tuple[int, int]]] = {}
    if args.source:
        results["before"] = measure(args.mb, args.root + "-before", args.source)
    results["after" if args.source else "now"] = measure(args.mb, args.root, None)
    text = table(results, args.mb)
    print(text)
    if args.update_doc:
        replace_between(text, START, END)


if __name__ == "__main__":
    main()
