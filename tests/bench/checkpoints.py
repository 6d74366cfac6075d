"""Many checkpoints stay cheap (issue 13): `gitbench checkpoint`, `status` and `checkpoints` in a Workbench with
10 checkpoints beside the same in one with 5,000; whole processes, median wall and CPU time, and the ratio.

    .venv/bin/python -m tests.bench.checkpoints                           # 10 and 5,000; packed, loose, numeric
    .venv/bin/python -m tests.bench.checkpoints --runs 5 --variants packed  # a quick look
    .venv/bin/python -m tests.bench.checkpoints --update-doc              # rewrite the table in docs/performance.md
    .venv/bin/python -m tests.bench.checkpoints --source /tmp/old --variants numeric   # an older gitbench's code

Each Workbench is a generated project (repogen, 100 files) adopted with `gitbench init`; the other checkpoints
are written with `git fast-import` (annotated tags with gitbench's own tag message, one a minute back in time),
so making 5,000 takes a second. The variants:

    packed          the tags in packed-refs, as `git gc` or `git pack-refs` leave them
    loose           one file per tag under refs/tags/checkpoint/, as `git fetch` writes 5,000 pulled checkpoints
    numeric         an older Workbench: checkpoint/1 ... checkpoint/N (packed), the names before issue 13
    numeric-loose   the same, one file per tag

The target (issue 13): each command with 5,000 within 1.1x of the same with 10 (wall and CPU). Every timed
`checkpoint` is deleted again (not timed), so the counts stay as named. ``--source`` runs another gitbench's
code (a folder holding its ``gitbench`` package, e.g. ``git archive OLD gitbench hooks | tar -x -C /tmp/old``)
with this Python: the "before" figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import time

from tests.bench import repogen
from tests.bench.run import bench_env, gitbench_from, replace_between

START = "<!-- bench:checkpoints:start -->"
END = "<!-- bench:checkpoints:end -->"
OPS = {  # `checkpoint` last: the first one packs loose tags, so the loose Workbench is measured loose first
    "status": ["status"],
    "checkpoints": ["checkpoints"],
    "checkpoint": ["checkpoint", "-m", "bench"],
}
TARGET = 1.1
CLONE = "b3nc"  # the generated checkpoints' clone id: a teammate's, not this clone's
MINUTE = 60


def timed(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU of the process and its children) of one whole command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def git(cwd: str, env: dict[str, str], *args: str, stdin: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, check=True, capture_output=True)
    return proc.stdout.decode()


def loose(path: str) -> int:
    folder = os.path.join(path, ".git", "refs", "tags", "checkpoint")
    return len(os.listdir(folder)) if os.path.isdir(folder) else 0


def tag_names(count: int, numeric: bool, newest: float) -> list[str]:
    """The names of ``count`` generated checkpoints, oldest first, the newest a minute before ``newest``."""
    if numeric:
        return [str(n) for n in range(1, count + 1)]
    stamps = [newest - MINUTE * (count - i) for i in range(count)]
    return [time.strftime("%y%m%d-%H%M%S", time.gmtime(s)) + f"-{CLONE}" for s in stamps]


def message(records: str) -> bytes:
    return (
        "manual checkpoint: generated\n\n"
        "Gitbench-Checkpoint-Kind: manual\n"
        "Gitbench-Published: refs/heads/main\n"
        f"Gitbench-Records: {records}\n"
    ).encode()


def make(root: str, count: int, variant: str, env: dict[str, str], gb: list[str]) -> str:
    """A Workbench holding ``count`` checkpoints (its own init checkpoint among them, except for numeric)."""
    path = os.path.join(root, f"wb-{variant}-{count}")
    shutil.rmtree(path, ignore_errors=True)
    repogen.generate(path, 100, env)
    subprocess.run([*gb, "init"], cwd=path, env=env, check=True, capture_output=True)
    head = git(path, env, "rev-parse", "main").strip()
    records = git(path, env, "rev-parse", "refs/gitbench/records").strip()
    own = git(path, env, "for-each-ref", "--format=%(refname)", "refs/tags/checkpoint/").split()
    numeric = variant.startswith("numeric")
    if numeric:  # an older Workbench has numbers only: its init checkpoint is checkpoint/1
        for ref in own:
            git(path, env, "update-ref", "-d", ref)
        names = tag_names(count, numeric, time.time())
    else:
        names = tag_names(count - len(own), numeric, time.time() - 3600)
    body = message(records)
    stream = bytearray()
    for i, name in enumerate(names):
        stamp = int(time.time()) - MINUTE * (len(names) - i)
        stream += f"tag checkpoint/{name}\nfrom {head}\n".encode()
        stream += f"tagger Bench <bench@example.invalid> {stamp} +0000\n".encode()
        stream += b"data %d\n" % len(body) + body + b"\n"
    git(path, env, "fast-import", "--quiet", stdin=bytes(stream))
    if not variant.endswith("loose"):
        git(path, env, "pack-refs", "--all")
    made = len(git(path, env, "for-each-ref", "--format=%(refname)", "refs/tags/checkpoint/").split())
    if made != count:
        raise RuntimeError(f"{path}: {made} checkpoints, expected {count}")
    return path


def measure(variant: str, sizes: list[int], runs: int, root: str, source: str | None) -> dict[str, object]:
    env = bench_env(root)
    env["XDG_STATE_HOME"] = os.path.join(root, "state")
    gb = gitbench_from(source, env)
    paths = {n: make(root, n, variant, env, gb) for n in sizes}
    got: dict[tuple[str, int], list[tuple[float, float]]] = {(op, n): [] for op in OPS for n in sizes}
    first: dict[int, tuple[float, float]] = {}
    for op, args in OPS.items():
        for i in range(runs + 1):  # the first round warms the caches (page cache, compiled modules) and is dropped
            order = sizes if i % 2 == 0 else list(reversed(sizes))
            for n in order:
                before = set(git(paths[n], env, "for-each-ref", "--format=%(refname)", "refs/tags/checkpoint/").split())
                was_loose = loose(paths[n])
                sample = timed([*gb, *args], paths[n], env)
                if i:
                    got[(op, n)].append(sample)
                elif op == "checkpoint" and was_loose >= n // 2 > loose(paths[n]):
                    first[n] = sample  # the one that packed the loose tags
                if op == "checkpoint":  # keep the count as named: the new tag goes again (not timed)
                    after = git(paths[n], env, "for-each-ref", "--format=%(refname)", "refs/tags/checkpoint/").split()
                    for ref in set(after) - before:
                        git(paths[n], env, "update-ref", "-d", ref)
    med = {
        f"{op}@{n}": (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for (op, n), v in got.items()
    }
    return {"variant": variant, "sizes": sizes, "runs": runs, "median": med, "first": first}


def table(results: list[dict[str, object]], label: str) -> str:
    lines = [
        f"| {label} | command | 10 checkpoints (wall / CPU) | 5,000 checkpoints (wall / CPU) | ratio (wall / CPU) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        sizes = r["sizes"]
        med = r["median"]
        assert isinstance(sizes, list) and isinstance(med, dict)
        small, big = sizes
        for op in OPS:
            (ws, cs), (wb, cb) = med[f"{op}@{small}"], med[f"{op}@{big}"]
            mark = "" if wb / ws <= TARGET and cb / cs <= TARGET else " ✗"
            lines.append(
                f"| {r['variant']} | `gitbench {' '.join(OPS[op][:1])}` | {ws * 1000:.0f} / {cs * 1000:.0f} ms "
                f"| {wb * 1000:.0f} / {cb * 1000:.0f} ms | {wb / ws:.2f}× / {cb / cs:.2f}×{mark} |"
            )
    for r in results:
        first = r["first"]
        assert isinstance(first, dict)
        if first:
            n = max(first)
            wall, cpu = first[n]
            lines.append(
                f"\n{r['variant']}: the first `gitbench checkpoint` moved the {n:,} loose tags into packed-refs "
                f"(`git pack-refs`, once): {wall * 1000:.0f} / {cpu * 1000:.0f} ms."
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10,5000", help="two checkpoint counts: the small one, the large one")
    ap.add_argument("--variants", default="packed,loose,numeric,numeric-loose")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--root", default="/tmp/gitbench-bench-checkpoints")
    ap.add_argument("--source", default=None, help="run the gitbench package found in this folder instead")
    ap.add_argument("--label", default="Workbench", help="the first column's title")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.root, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [measure(v, sizes, args.runs, args.root, args.source) for v in args.variants.split(",")]
    text = table(results, args.label)
    print(text)
    if args.update_doc:
        replace_between(text, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
