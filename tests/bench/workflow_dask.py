"""Workflows on a Dask cluster (issue 16): gitbench's overhead per module on the Dask backend beside the local
one, and a DAG of 1-second modules on 4 workers beside the ideal.

    python -m tests.bench.workflow_dask                       # both parts; 3 runs of the overhead
    python -m tests.bench.workflow_dask --runs 1 --no-sleep   # a quick look (the overhead only)
    python -m tests.bench.workflow_dask --update-doc          # also rewrite its table in docs/performance.md

The cluster is real and local: a `dask scheduler` and single-threaded `dask worker` processes on 127.0.0.1
(tests/dask_cluster.py), started before the timing (a user's cluster is already running) and kept for every run.

1. **Overhead per module.** The workflow of workflow_dag's run (``run_workbench``: 1,000 independent trivial
   commands, `echo N > out/mN.txt`), run with `--max-parallel 2` locally and with `--executor dask://…` on 2
   workers, each beside `make -j2` running the same commands, turn about, in fresh Workbenches: overhead =
   (gitbench's wall time − make's) / modules, workflow_dag's definition (14.9 ms locally when it was set).
   Also the CPU time (user + system) of the gitbench process with what it waited for, and of the cluster's
   processes (scheduler and workers, with the commands they ran) during the run, less what the cluster spends
   idle (its heartbeats: measured during the local runs, per second).
2. **1-second modules on 4 workers.** 200 modules `sleep 1` in 40 chains of 5 (each step needs the one before),
   on 4 workers, `max_parallel: 4`: the wall time of `gitbench workflow run --executor …` against the ideal,
   work ÷ workers + critical path = 200 s ÷ 4 + 5 s = 55 s; target ≤ 1.3×.

The machine's load average is printed with each figure: on a shared machine it moves the wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.run import DOC, bench_env, gitbench_cmd
from tests.bench.workflow_dag import _fast_import, _time, run_makefile, run_workbench
from tests.dask_cluster import Cluster

START, END = "<!-- bench:workflow-dask:start -->", "<!-- bench:workflow-dask:end -->"
OVERHEAD_TARGET = 2.0  # Dask's overhead per module at most this many times the local backend's
SLEEP_TARGET = 1.3  # wall time at most this many times the ideal
CHAINS, STEPS, WORKERS = 40, 5, 4


def _cluster_cpu(cluster: Cluster) -> float:
    """CPU seconds (user + system, with the children they waited for) of the cluster's processes so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in [cluster.scheduler.pid if cluster.scheduler else 0, *cluster.worker_pids]:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total / tick


def _timed_run(argv: list[str], cwd: str, env: dict[str, str], cluster: Cluster | None) -> dict[str, Any]:
    """Wall time, this command's CPU time (with its children), the cluster's CPU time over one run, and what the
    command printed."""
    cluster_before = _cluster_cpu(cluster) if cluster else 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stdout[-1000:]} {proc.stderr[-1000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cluster_cpu = (_cluster_cpu(cluster) - cluster_before) if cluster else 0.0
    return {"wall": wall, "cpu": cpu, "cluster_cpu": cluster_cpu, "stdout": proc.stdout}


def measure_overhead(modules: int, runs: int, root: str) -> dict[str, Any]:
    env = bench_env(root)
    out: dict[str, Any] = {"modules": modules, "local": [], "dask": [], "load": []}
    with Cluster.start(Path(tempfile.mkdtemp(prefix="cluster-", dir=root)), workers=2) as cluster:
        for i in range(runs):
            order = ["local", "dask"] if i % 2 == 0 else ["dask", "local"]
            for side in order:
                gb, mk = os.path.join(root, f"run-{side}"), os.path.join(root, f"make-{side}")
                run_workbench(gb, modules, env)
                run_makefile(mk, modules)
                argv = gitbench_cmd() + ["workflow", "run", "--max-parallel", "2", "--json"]
                if side == "dask":
                    argv += ["--executor", cluster.executor]
                load = os.getloadavg()[0]
                # The cluster is measured during the local runs too: what it spends idle (heartbeats), per second.
                got = _timed_run(argv, gb, env, cluster)
                assert json.loads(str(got.pop("stdout")))["result"]["job"]["steps_completed"] == modules
                make, _ = _time(["make", "-j2", "-s"], mk, env)
                got["make"] = make
                got["overhead_ms"] = (got["wall"] - make) / modules * 1000
                out[side].append(got)
                out["load"].append(load)
                print(f"{side}: {got} (load {load:.1f})", file=sys.stderr)
    return out


def sleepers_workbench(path: str, env: dict[str, str]) -> None:
    subprocess.run(["rm", "-rf", path], check=True)
    lines = [f"max_parallel: {WORKERS}", "modules:"]
    for c in range(CHAINS):
        for s in range(STEPS):
            needs = f", needs: [c{c}s{s - 1}]" if s else ""
            run = f'{{command: "sleep 1; echo {c} {s} > out/c{c}s{s}.txt"}}'
            lines.append(f"  - {{id: c{c}s{s}, outputs: [out/c{c}s{s}.txt], run: {run}{needs}}}")
    _fast_import(path, {".gitbench/workflow.yaml": ("\n".join(lines) + "\n").encode()}, env)
    subprocess.run(gitbench_cmd() + ["init"], cwd=path, env=env, check=True, capture_output=True)


def measure_sleepers(root: str) -> dict[str, Any]:
    env = bench_env(root)
    gb = os.path.join(root, "sleepers")
    sleepers_workbench(gb, env)
    modules = CHAINS * STEPS
    ideal = modules * 1.0 / WORKERS + STEPS * 1.0
    with Cluster.start(Path(tempfile.mkdtemp(prefix="cluster-", dir=root)), workers=WORKERS) as cluster:
        load = os.getloadavg()[0]
        argv = gitbench_cmd() + ["workflow", "run", "--json", "--executor", cluster.executor]
        got = _timed_run(argv, gb, env, cluster)
        load_after = os.getloadavg()[0]
    result = json.loads(str(got.pop("stdout")))["result"]
    assert result["job"]["steps_completed"] == modules, result["job"]
    return {"modules": modules, "ideal": ideal, **got, "load": load, "load_after": load_after}


def table(over: dict[str, Any] | None, sleep: dict[str, Any] | None) -> str:
    med = statistics.median
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs; the cluster: `dask scheduler` and "]
    lines[0] += "single-threaded `dask worker` processes on 127.0.0.1 (tests/dask_cluster.py), already running."
    if over:
        n, runs = over["modules"], len(over["local"])
        loads = over["load"]
        lines += [
            "",
            f"{n:,} trivial command modules, `--max-parallel 2`, beside `make -j2`; median of {runs} runs, turn "
            f"about (load average {min(loads):.1f}–{max(loads):.1f}):",
            "",
            "| backend | wall | `make -j2` | overhead per module | gitbench CPU | cluster CPU | CPU per module |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        # The cluster's CPU while it had nothing to do (during the local runs), per second of wall time: taken off
        # its CPU during the Dask runs, so that "CPU per module" counts only what the modules cost.
        idle = sum(r["cluster_cpu"] for r in over["local"]) / sum(r["wall"] for r in over["local"])
        for side, label in (("local", "local threads"), ("dask", "Dask, 2 workers")):
            rs = over[side]
            busy = [r["cluster_cpu"] - idle * r["wall"] if side == "dask" else 0.0 for r in rs]
            cpu = med([r["cpu"] + b for r, b in zip(rs, busy, strict=True)])
            cluster = f"{med(busy):.1f} s" if side == "dask" else f"(idle: {idle * 1000:.0f} ms/s)"
            lines.append(
                f"| {label} | {med([r['wall'] for r in rs]):.1f} s | {med([r['make'] for r in rs]):.2f} s | "
                f"{med([r['overhead_ms'] for r in rs]):.1f} ms | {med([r['cpu'] for r in rs]):.1f} s | "
                f"{cluster} | {cpu / n * 1000:.1f} ms |"
            )
        ratio = med([r["overhead_ms"] for r in over["dask"]]) / med([r["overhead_ms"] for r in over["local"]])
        verdict = "met" if ratio <= OVERHEAD_TARGET else "**missed**"
        lines += [
            "",
            f"Overhead per module, Dask / local: **{ratio:.2f}×** (target ≤ {OVERHEAD_TARGET:g}×: {verdict}).",
        ]
    if sleep:
        ratio = sleep["wall"] / sleep["ideal"]
        verdict = "met" if ratio <= SLEEP_TARGET else "**missed**"
        lines += [
            "",
            f"{sleep['modules']} modules of `sleep 1` ({CHAINS} chains of {STEPS}) on {WORKERS} workers: "
            f"{sleep['wall']:.1f} s against the ideal {sleep['ideal']:.0f} s (work ÷ workers + critical path): "
            f"**{ratio:.2f}×** (target ≤ {SLEEP_TARGET:g}×: {verdict}); gitbench's CPU {sleep['cpu']:.1f} s, "
            f"the cluster's {sleep['cluster_cpu']:.1f} s; load average {sleep['load']:.1f} before, "
            f"{sleep['load_after']:.1f} after.",
        ]
    return "\n".join(lines)


def update_doc(text: str) -> None:
    with open(DOC) as fh:
        doc = fh.read()
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(DOC, "w") as fh:
        fh.write(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-overhead", action="store_true", help="skip the overhead part")
    ap.add_argument("--no-sleep", action="store_true", help="skip the 200 × 1 s part (~1 min)")
    ap.add_argument("--root", default="/tmp/gitbench-bench-dask")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.root, exist_ok=True)
    # Stopped from outside (timeout, kill): the clusters are closed on the way out, not left running.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    over = None if args.no_overhead else measure_overhead(args.modules, args.runs, args.root)
    sleep = None if args.no_sleep else measure_sleepers(args.root)
    text = table(over, sleep)
    print(text)
    if args.update_doc:
        update_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
