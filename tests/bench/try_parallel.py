"""Attempts side by side: `gitbench try A B C` against the slowest of `gitbench try A`, `try B`, `try C` alone.

    python -m tests.bench.try_parallel                    # 5 runs (and a warm-up)
    python -m tests.bench.try_parallel --runs 3           # a quick look
    python -m tests.bench.try_parallel --update-doc       # also write its section of docs/performance.md

A Workbench of 20 files runs one Workshop job (`gitbench ask`, 5 batches of 4 files); then, in each run, the same
job is tried again with each of three models alone (three `gitbench try MODEL` commands, each timed) and with
the three together (`gitbench try A B C`, timed), in alternating order. The provider is the tests' scripted
server on 127.0.0.1 (tests/provider_server.py), three models of the OpenAI protocol, answering every request
after 200 ms, as a (very fast) remote model would; so one attempt spends at least 5 × 200 ms = 1.0 s waiting on
its model. Every time is the wall time of the whole command as a user runs it (the console script in a
subprocess: start-up, lock, Drafts, plan, requests, step commits, records). Checked after each command: exit 0,
one Draft per model with one step commit per batch; the attempts' Drafts are discarded (untimed) before the
next command. The ratio is the median of each run's `try A B C` over the slowest single attempt of that run;
target ≤ 1.3×. Timings are measured, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

from tests.bench.run import DOC, bench_env, gitbench_cmd
from tests.provider_server import ProviderServer, config_toml

START, END = "<!-- bench:try:start -->", "<!-- bench:try:end -->"
HEADING = "## Attempts side by side (`gitbench try`, issue 6)"
AFTER = "## Workflows beside make"
MODELS = ["model-a", "model-b", "model-c"]
FILES, BATCH_FILES = 20, 4
BATCHES = FILES // BATCH_FILES
LATENCY = 0.2
TARGET = 1.3


def _run(argv: list[str], cwd: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def prepare(root: str, server: ProviderServer) -> tuple[str, dict[str, str]]:
    """A fresh Workbench with the source job done (its Draft left open, as after a real `gitbench ask`)."""
    shutil.rmtree(os.path.join(root, "try"), ignore_errors=True)
    env = bench_env(root)
    cfg = os.path.join(env["XDG_CONFIG_HOME"], "gitbench", "config.toml")
    os.makedirs(os.path.dirname(cfg), exist_ok=True)
    with open(cfg, "w") as fh:
        fh.write(
            config_toml(server, model=f"fake:{MODELS[0]}", job={"batch_files": BATCH_FILES}, timeouts={"read": 30})
        )
    path = os.path.join(root, "try", "wb")
    os.makedirs(os.path.join(path, "src"))
    _run(["git", "init", "-q", "-b", "main"], path, env)
    for i in range(FILES):
        with open(os.path.join(path, "src", f"m{i:02d}.py"), "w") as fh:
            fh.write(f"def f{i}():\n    return {i}\n")
    _run(["git", "add", "-A"], path, env)
    _run(["git", "commit", "-q", "-m", "initial"], path, env)
    _run([*gitbench_cmd(), "init"], path, env)
    _run([*gitbench_cmd(), "ask", "Add a docstring to each function", "--files", "src/*"], path, env)
    return path, env


def drafts(path: str, env: dict[str, str]) -> dict[str, str]:
    out = _run(
        ["git", "for-each-ref", "--format=%(refname:lstrip=4) %(objectname)", "refs/heads/gitbench/draft/"], path, env
    ).stdout
    return dict(line.split() for line in out.splitlines())


def timed_try(path: str, env: dict[str, str], server: ProviderServer, models: list[str]) -> float:
    """Wall time of `gitbench try` with ``models``; checks the Drafts it made, then discards them (untimed)."""
    before = set(drafts(path, env))
    posts = len(server.posts)
    start = time.perf_counter()
    _run([*gitbench_cmd(), "try", *(f"fake:{m}" for m in models)], path, env)
    seconds = time.perf_counter() - start
    made = sorted(set(drafts(path, env)) - before)
    assert made == sorted(f"fake-{m}" for m in models), made
    for label in made:
        steps = _run(["git", "rev-list", "--count", f"main..refs/heads/gitbench/draft/{label}"], path, env)
        assert int(steps.stdout) == BATCHES, f"{label}: {steps.stdout.strip()} steps, not {BATCHES}"
    assert len(server.posts) - posts == BATCHES * len(models)
    for label in made:
        _run([*gitbench_cmd(), "discard", "--draft", label, "--yes"], path, env)
    return seconds


def in_flight(server: ProviderServer, start: int) -> int:
    """The most requests from ``start`` on that the server held at once (each is held LATENCY seconds)."""
    times = sorted(p["time"] for p in server.posts[start:])
    return max((sum(1 for u in times if t <= u < t + LATENCY) for t in times), default=0)


def measure(runs: int, root: str) -> dict[str, Any]:
    server = ProviderServer(models=tuple(MODELS), latency=LATENCY)
    try:
        path, env = prepare(root, server)
        single: dict[str, list[float]] = {m: [] for m in MODELS}
        together: list[float] = []
        overlap: list[int] = []
        for run in range(runs + 1):  # the first is a warm-up
            order = ["single", "together"] if run % 2 == 0 else ["together", "single"]
            times: dict[str, float] = {}
            for what in order:
                if what == "single":
                    for m in MODELS:
                        times[m] = timed_try(path, env, server, [m])
                else:
                    posts = len(server.posts)
                    times["together"] = timed_try(path, env, server, MODELS)
                    seen = in_flight(server, posts)
            if run:
                for m in MODELS:
                    single[m].append(times[m])
                together.append(times["together"])
                overlap.append(seen)
        ratios = [t / max(single[m][i] for m in MODELS) for i, t in enumerate(together)]
    finally:
        server.close()
    return {
        "runs": runs,
        "single": single,
        "together": together,
        "ratios": ratios,
        "in_flight": overlap,
        "latency": LATENCY,
        "batches": BATCHES,
        "cpus": os.cpu_count(),
    }


def table(r: dict[str, Any]) -> str:
    med = statistics.median
    slowest = [max(r["single"][m][i] for m in MODELS) for i in range(r["runs"])]
    ratio = med(r["ratios"])
    verdict = "met" if ratio <= TARGET else "**missed**"
    floor = r["batches"] * r["latency"]
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {r['cpus']} CPUs; median of {r['runs']} runs. One attempt: "
        f"{r['batches']} batches, each request answered after {r['latency'] * 1000:.0f} ms "
        f"(≥ {floor:.1f} s waiting on the model).",
        "",
        "| command | wall time |",
        "|---|---:|",
    ]
    for m in MODELS:
        lines.append(f"| `gitbench try fake:{m}` alone | {med(r['single'][m]):.2f} s |")
    lines.append(f"| slowest single attempt (per run) | {med(slowest):.2f} s |")
    lines.append(f"| `gitbench try` A B C, side by side | {med(r['together']):.2f} s |")
    lines.append(
        f"| the three alone, one after another (sum) | "
        f"{med([sum(r['single'][m][i] for m in MODELS) for i in range(r['runs'])]):.2f} s |"
    )
    lines += [
        "",
        f"Side by side / slowest single: **{ratio:.2f}×** (runs: "
        + ", ".join(f"{x:.2f}" for x in r["ratios"])
        + f"); target ≤ {TARGET}×: {verdict}. Requests in "
        f"flight at once while the three ran: {max(r['in_flight'])} at most.",
    ]
    return "\n".join(lines)


SECTION = f"""{HEADING}

`tests/bench/try_parallel.py` times `gitbench try A B C` (three attempts of one Workshop job, each into its own
Draft, run side by side in threads) against the slowest of `gitbench try A`, `try B` and `try C` run alone, as
whole commands, against the tests' scripted provider on 127.0.0.1 answering every request after 200 ms. The
job: 20 files in 5 batches of 4, so an attempt waits at least 1.0 s on its model. The attempts' Drafts are
checked (one step commit per batch) and discarded between commands; single and side-by-side runs alternate
which goes first.

```sh
.venv/bin/python -m tests.bench.try_parallel                 # 5 runs
.venv/bin/python -m tests.bench.try_parallel --update-doc    # rewrite the figures below
```

{START}
{END}
"""


def update_doc(text: str, doc_path: str = DOC) -> None:
    """Write ``text`` between the bench:try markers, adding the section after the workflow one if missing."""
    with open(doc_path) as fh:
        doc = fh.read()
    if START not in doc:
        at = doc.find(AFTER)
        nxt = doc.find("\n## ", at + 1) if at >= 0 else -1
        if nxt < 0:
            doc = doc.rstrip("\n") + "\n\n" + SECTION
        else:
            doc = doc[: nxt + 1] + SECTION + "\n" + doc[nxt + 1 :]
    head, rest = doc.split(START, 1)
    _, tail = rest.split(END, 1)
    with open(doc_path, "w") as fh:
        fh.write(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--root", default="/tmp/gitbench-bench")
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.root, exist_ok=True)
    result = measure(args.runs, args.root)
    text = table(result)
    print(text)
    with open(os.path.join(args.root, "try-results.json"), "w") as fh:
        json.dump(result, fh)
    if args.update_doc:
        update_doc(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
