"""The gc benchmark (issue 13): `gitbench gc` on a Workbench with 5,000 checkpoints and 1,000 jobs.

    .venv/bin/python -m tests.bench.gc                       # 5 runs; prints the table
    .venv/bin/python -m tests.bench.gc --runs 3 --update-doc  # also rewrite the table in docs/performance.md
    .venv/bin/python -m tests.bench.gc --restore-all         # also restore every kept checkpoint (minutes)

The Workbench is built once by tests/bench/gcgen.py (200 days of use: 5,000 checkpoints, 1,000 jobs, trash,
logs, job folders), then copied for each run (`cp -a`), so every run starts from the same state. Each figure is
a whole process as a user runs it, median wall time and the CPU of the process and its children (git):

    gc          gitbench gc, two days after the newest checkpoint: the default policy removes ~3,600
                checkpoints, old trash, logs and job folders, then runs Git's gc
    dry run     gitbench gc --dry-run, on the same state
    git         the same Git work by hand: git update-ref --stdin (delete the same refs) + git gc --prune=now
    status      gitbench status before and after gc (the loose refs and objects packed by it)

Target: gc of 5,000 checkpoints under 10 s.
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

from tests.bench import gcgen
from tests.bench.run import bench_env, gitbench_cmd, replace_between

START = "<!-- bench:gc:start -->"
END = "<!-- bench:gc:end -->"
DAY = 86400
TARGET = 10.0


def timed(argv: list[str], cwd: str, env: dict[str, str], stdin: str | None = None) -> tuple[float, float, str]:
    """(wall, CPU of the process and its children, stdout) of one whole command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), proc.stdout


def restore_all(path: str, names: list[str], env: dict[str, str]) -> tuple[int, float]:
    """Restore every checkpoint in ``names``, one after another, in one process (the services, no start-up);
    check that Published and the records are the checkpoint's each time. (restored, seconds)."""
    code = f"""
import json, sys, time
from gitbench.services import restore, checkpoints
from gitbench.services.workbench import Workbench
names = json.loads(sys.stdin.read())
start = time.perf_counter()
for name in names:
    wb = Workbench({path!r})
    cp = checkpoints.resolve(wb, name)
    restore.restore(wb, name)
    wb = Workbench({path!r})
    assert wb.published() == cp.commit, name
    if cp.records:
        assert wb.records.tree() == wb.git.commit(cp.records).tree, name
print(json.dumps([len(names), time.perf_counter() - start]))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=path, env=env, input=json.dumps(names), capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    done, seconds = json.loads(out.stdout)
    return int(done), float(seconds)


def measure(runs: int, root: str, restore: bool) -> dict[str, object]:
    env = bench_env(root)
    env["XDG_STATE_HOME"] = os.path.join(root, "state")
    template = os.path.join(root, "template")
    shutil.rmtree(root + "/template", ignore_errors=True)
    now = time.time()
    built = time.perf_counter()
    made = gcgen.build(template, env, jobs=1000, span_days=200, end=now)
    build_seconds = time.perf_counter() - built
    later = {**env, "GITBENCH_NOW": str(now + 2 * DAY)}
    gb = gitbench_cmd()
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in ("gc", "dry", "git", "status-before", "status-after")}
    removed = kept = 0
    freed = 0
    for i in range(runs):
        wb, plain = os.path.join(root, "wb"), os.path.join(root, "plain")
        for path in (wb, plain):
            shutil.rmtree(path, ignore_errors=True)
            subprocess.run(["cp", "-a", template, path], check=True)
        got["status-before"].append(timed([*gb, "status"], wb, later)[:2])
        wall, cpu, out = timed([*gb, "gc", "--dry-run", "--json"], wb, later)
        got["dry"].append((wall, cpu))
        plan = json.loads(out)["result"]
        gone = ["refs/tags/" + c["name"] for c in plan["checkpoints"]] + [r["ref"] for r in plan["refs"]]
        wall, cpu, out = timed([*gb, "gc", "--json"], wb, later)
        got["gc"].append((wall, cpu))
        result = json.loads(out)["result"]
        removed, kept, freed = len(result["checkpoints"]), result["kept_checkpoints"], result["freed_bytes"]
        got["status-after"].append(timed([*gb, "status"], wb, later)[:2])
        # The same Git work by hand, in the other copy: delete the same refs, then Git's gc.
        lines = subprocess.run(
            ["git", "for-each-ref", "--format=delete %(refname) %(objectname)", *gone],
            cwd=plain,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        wall, cpu, _ = timed(
            [
                "sh",
                "-c",
                "git -c core.hooksPath=/dev/null update-ref --stdin "
                "&& git -c core.hooksPath=/dev/null gc --quiet --prune=now",
            ],
            plain,
            env,
            stdin=lines,
        )
        got["git"].append((wall, cpu))
        fsck = subprocess.run(["git", "fsck", "--full", "--no-progress"], cwd=wb, env=env, capture_output=True)
        if fsck.returncode != 0:
            raise RuntimeError(f"git fsck failed after run {i}: {fsck.stderr.decode()[-1000:]}")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in got.items()}
    result: dict[str, object] = {
        "runs": runs,
        "build": build_seconds,
        "checkpoints": len(made.checkpoints),
        "jobs": made.jobs,
        "removed": removed,
        "kept": kept,
        "freed": freed,
        **{k: list(v) for k, v in med.items()},
    }
    if restore:
        wb = os.path.join(root, "wb")
        names = subprocess.run(
            ["git", "for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags/checkpoint/"],
            cwd=wb,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        result["restored"], result["restore_seconds"] = restore_all(wb, names, later)
    return result


def table(r: dict[str, object]) -> str:
    def ms(key: str) -> str:
        value = r[key]
        assert isinstance(value, list)
        return f"{value[0]:.2f} s" if value[0] >= 1 else f"{value[0] * 1000:.0f} ms"

    def cpu(key: str) -> str:
        value = r[key]
        assert isinstance(value, list)
        return f"{value[1]:.2f} s"

    gc_wall = r["gc"]
    assert isinstance(gc_wall, list)
    freed = r["freed"]
    assert isinstance(freed, int)
    git_version = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs, {platform.platform()}; Python "
        f"{platform.python_version()}, {git_version}. "
        f"A Workbench of {r['checkpoints']:,} checkpoints and {r['jobs']:,} jobs (built in {r['build']:.1f} s); "
        f"medians of {r['runs']} runs, each on a fresh copy.",
        "",
        "| command | wall | CPU (with git) |",
        "|---|---:|---:|",
        f"| `gitbench gc` (removes {r['removed']:,} checkpoints, keeps {r['kept']:,}; frees {freed / 1e6:.1f} MB) "
        f"| {ms('gc')} | {cpu('gc')} |",
        f"| `gitbench gc --dry-run` | {ms('dry')} | {cpu('dry')} |",
        f"| the same Git work by hand: `git update-ref --stdin` + `git gc --prune=now` | {ms('git')} | {cpu('git')} |",
        f"| `gitbench status` before gc (5,000 loose refs) | {ms('status-before')} | {cpu('status-before')} |",
        f"| `gitbench status` after gc (refs packed) | {ms('status-after')} | {cpu('status-after')} |",
        "",
        f"Target: gc of 5,000 checkpoints under {TARGET:.0f} s: **{'met' if gc_wall[0] < TARGET else 'missed'}** "
        f"({gc_wall[0]:.2f} s).",
    ]
    if "restored" in r:
        lines.append(
            f"Every kept checkpoint restored afterwards, one after another in one process: {r['restored']:,} "
            f"restores in {float(str(r['restore_seconds'])):.1f} s, Published and the records checked after each."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--root", default="/tmp/gitbench-bench-gc")
    ap.add_argument("--restore-all", action="store_true")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.root, exist_ok=True)
    result = measure(args.runs, args.root, args.restore_all)
    text = table(result)
    print(text)
    with open(os.path.join(args.root, "results.json"), "w") as fh:
        json.dump(result, fh, indent=1)
    if args.update_doc:
        replace_between(text, START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
