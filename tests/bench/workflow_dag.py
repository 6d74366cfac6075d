"""The workflow benchmark: the same DAG for gitbench, make (and snakemake and dvc when installed), side by side.

    python -m tests.bench.workflow_dag                       # 1,000 and 10,000 modules
    python -m tests.bench.workflow_dag --sizes 1000 --runs 3
    python -m tests.bench.workflow_dag --update-doc

The DAG: C chains × S steps; step s of chain c reads the file of step s-1 (step 0 reads an input file) and writes
its own small file (``data/c<c>/s<s>.txt``). Both sides start up to date: for make, every file exists with
mtimes in order; for gitbench, every output and its metadata are committed in Published, made with the
engine's own fingerprint function (as if each module had run). Measured: the "what would run?" query on the
up-to-date DAG (`gitbench workflow status` vs `make -n`), and again after one input changes (gitbench must name
exactly that chain's modules as outdated).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from tests.bench.run import DOC, bench_env, gitbench_cmd

START, END = "<!-- bench:workflow:start -->", "<!-- bench:workflow:end -->"


def shape(modules: int) -> tuple[int, int]:
    chains = 100 if modules >= 10_000 else max(1, modules // 100)
    return chains, modules // chains


def _mid(c: int, s: int) -> str:
    return f"c{c}s{s}"


def _out(c: int, s: int) -> str:
    return f"data/c{c}/s{s}.txt"


def generate(root: str, modules: int, env: dict[str, str]) -> tuple[str, str]:
    """(gitbench Workbench, make folder), both up to date."""
    from gitbench.workflow import resolver, spec

    chains, steps = shape(modules)
    gb = os.path.join(root, f"wf-{modules}")
    mk = os.path.join(root, f"make-{modules}")
    if os.path.isdir(os.path.join(gb, ".git")) and os.path.isdir(mk):
        return gb, mk
    lines = ["max_parallel: 2", "modules:"]
    for c in range(chains):
        for s in range(steps):
            src = f"inputs/c{c}.txt" if s == 0 else _out(c, s - 1)
            entry = [f"  - id: {_mid(c, s)}", f"    outputs: [{_out(c, s)}]",
                     f"    run: {{command: \"cp {src} {_out(c, s)}\"}}"]
            entry.append(f"    inputs: [{src}]" if s == 0 else f"    needs: [{_mid(c, s - 1)}]")
            lines += entry
    yaml_text = "\n".join(lines) + "\n"
    wf = spec.parse(yaml_text)
    files: dict[str, bytes] = {".gitbench/workflow.yaml": yaml_text.encode()}
    for c in range(chains):
        files[f"inputs/c{c}.txt"] = f"input of chain {c}\n".encode()
        for s in range(steps):
            files[_out(c, s)] = f"input of chain {c}\n".encode()
    oids = {p: _hash(d) for p, d in files.items()}
    for mid in wf.order:
        m = wf.modules[mid]
        inputs: list[tuple[str, str | None]] = [(p, oids[p]) for p in m.inputs]
        for need in m.needs:
            inputs += [(p, oids.get(p)) for p in wf.modules[need].outputs]
        fp = resolver.fingerprint(m, inputs, {})
        meta = {"module": m.id, "version": m.version, "fingerprint": fp,
                "outputs": {o: oids[o] for o in m.outputs}, "run": "bench", "job": "bench", "time": 0}
        files[resolver.meta_path(m.id)] = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()
    _fast_import(gb, files, env)
    subprocess.run(gitbench_cmd() + ["init"], cwd=gb, env=env, check=True, capture_output=True)
    # make: the same files and rules, mtimes in order (each output newer than what it reads)
    os.makedirs(mk, exist_ok=True)
    rules = []
    t0 = time.time() - 10 * modules
    for c in range(chains):
        os.makedirs(os.path.join(mk, "data", f"c{c}"), exist_ok=True)
        os.makedirs(os.path.join(mk, "inputs"), exist_ok=True)
        path = os.path.join(mk, "inputs", f"c{c}.txt")
        with open(path, "w") as fh:
            fh.write(f"input of chain {c}\n")
        os.utime(path, (t0, t0))
        for s in range(steps):
            src = f"inputs/c{c}.txt" if s == 0 else _out(c, s - 1)
            rules.append(f"{_out(c, s)}: {src}\n\tcp {src} {_out(c, s)}\n")
            out = os.path.join(mk, _out(c, s))
            with open(out, "w") as fh:
                fh.write(f"input of chain {c}\n")
            os.utime(out, (t0 + s + 1, t0 + s + 1))
    targets = " ".join(_out(c, steps - 1) for c in range(chains))
    with open(os.path.join(mk, "Makefile"), "w") as fh:
        fh.write(f"all: {targets}\n\n" + "\n".join(rules))
    return gb, mk


def _hash(data: bytes) -> str:
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _fast_import(path: str, files: dict[str, bytes], env: dict[str, str]) -> None:
    os.makedirs(path, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", path], env=env, check=True)
    chunks = [b"commit refs/heads/main\n", b"committer Bench <bench@example.invalid> 1767225600 +0000\n",
              b"data 9\nworkflow\n"]
    for p, d in sorted(files.items()):
        chunks.append(b"M 100644 inline " + p.encode() + b"\n" + b"data %d\n" % len(d) + d + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, env=env, input=b"".join(chunks), check=True)
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=path, env=env, check=True)


def _time(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-500:]}")
    return seconds, proc.stdout


def measure(modules: int, runs: int, root: str) -> dict[str, Any]:
    env = bench_env(root)
    gb, mk = generate(root, modules, env)
    out: dict[str, Any] = {"modules": modules, "gitbench": [], "make": [], "gitbench_changed": [],
                           "make_changed": []}
    status = gitbench_cmd() + ["workflow", "status", "--json"]
    for _ in range(runs + 1):
        g, text = _time(status, gb, env)
        data = json.loads(text)["result"]
        assert data["banner"] == "Status: complete", data["banner"]
        m, mtext = _time(["make", "-n"], mk, env)
        assert "cp " not in mtext, "make thinks something is out of date"
        out["gitbench"].append(g)
        out["make"].append(m)
    # One input changes (anew before every timed query, so none is answered from a cache): gitbench must name
    # exactly chain 0's modules; make -n must list chain 0's commands.
    chains, steps = shape(modules)
    for run in range(runs + 1):
        with open(os.path.join(gb, "inputs", "c0.txt"), "w") as fh:
            fh.write(f"changed {run}\n")
        subprocess.run(gitbench_cmd() + ["add", "inputs/c0.txt"], cwd=gb, env=env, check=True,
                       capture_output=True)
        path = os.path.join(mk, "inputs", "c0.txt")
        with open(path, "w") as fh:
            fh.write(f"changed {run}\n")
        g, text = _time(status, gb, env)
        mods = json.loads(text)["result"]["modules"]
        stale = {x["id"] for x in mods if x["state"] != "complete"}
        assert stale == {_mid(0, s) for s in range(steps)}, sorted(stale)[:5]
        m, mtext = _time(["make", "-n"], mk, env)
        assert mtext.count("cp ") == steps
        out["gitbench_changed"].append(g)
        out["make_changed"].append(m)
    for key in ("gitbench", "make", "gitbench_changed", "make_changed"):
        out[key] = out[key][1:]
    # Leave both as they were for the next time: the input back as generated (and up to date again).
    for folder in (gb, mk):
        with open(os.path.join(folder, "inputs", "c0.txt"), "w") as fh:
            fh.write("input of chain 0\n")
    os.utime(os.path.join(mk, "inputs", "c0.txt"), (time.time() - 20 * modules,) * 2)
    subprocess.run(gitbench_cmd() + ["add", "inputs/c0.txt"], cwd=gb, env=env, capture_output=True)
    return out


def measure_run(modules: int, root: str) -> dict[str, Any]:
    """A run of ``modules`` trivial commands (`echo N > out/mN.txt`) with --max-parallel 2, beside the same
    commands run by `make -j2`: gitbench's overhead per module = (its wall time - make's) / modules."""
    env = bench_env(root)
    gb = os.path.join(root, f"run-{modules}")
    mk = os.path.join(root, f"runmake-{modules}")
    for path in (gb, mk):
        subprocess.run(["rm", "-rf", path], check=True)
    lines = ["max_parallel: 2", "modules:"]
    for i in range(modules):
        lines += [f"  - id: m{i}", f"    outputs: [out/m{i}.txt]", f"    run: {{command: \"echo {i} > out/m{i}.txt\"}}"]
    _fast_import(gb, {".gitbench/workflow.yaml": ("\n".join(lines) + "\n").encode()}, env)
    subprocess.run(gitbench_cmd() + ["init"], cwd=gb, env=env, check=True, capture_output=True)
    os.makedirs(os.path.join(mk, "out"))
    with open(os.path.join(mk, "Makefile"), "w") as fh:
        fh.write("all: " + " ".join(f"out/m{i}.txt" for i in range(modules)) + "\n\n")
        fh.write("".join(f"out/m{i}.txt:\n\techo {i} > out/m{i}.txt\n" for i in range(modules)))
    g, text = _time(gitbench_cmd() + ["workflow", "run", "--max-parallel", "2", "--json"], gb, env)
    assert json.loads(text)["result"]["job"]["steps_completed"] == modules
    m, _ = _time(["make", "-j2", "-s"], mk, env)
    return {"modules": modules, "gitbench": g, "make": m, "overhead_ms": (g - m) / modules * 1000}


def table(results: list[dict[str, Any]]) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs; median of the runs. "
             "The DAG: chains of steps, each reading the previous step's file (10,000 = 100 × 100).", "",
             "| modules | query | gitbench `workflow status` | `make -n` | ratio | target ≤ 5× |",
             "|---:|---|---:|---:|---:|---|"]
    for r in results:
        for label, g, m in (("up to date", "gitbench", "make"), ("one input changed", "gitbench_changed",
                                                                 "make_changed")):
            gs, ms = statistics.median(r[g]), statistics.median(r[m])
            verdict = ("met" if gs <= 5 * ms else "**missed**") if r["modules"] >= 10_000 else "(no target)"
            lines.append(f"| {r['modules']:,} | {label} | {gs * 1000:.0f} ms | {ms * 1000:.0f} ms | "
                         f"{gs / ms:.1f}× | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--root", default="/tmp/gitbench-bench")
    ap.add_argument("--run-modules", type=int, default=1000)
    ap.add_argument("--update-doc", action="store_true")
    args = ap.parse_args(argv)
    results = [measure(int(s), args.runs, args.root) for s in args.sizes.split(",")]
    text = table(results)
    run = measure_run(args.run_modules, args.root)
    verdict = "met" if run["overhead_ms"] <= 20 else "**missed**"
    text += (f"\n\nA run of {run['modules']:,} trivial command modules with `--max-parallel 2`: "
             f"{run['gitbench']:.1f} s, beside `make -j2` running the same commands in {run['make']:.2f} s: "
             f"gitbench's overhead {run['overhead_ms']:.1f} ms per module (target ≤ 20 ms: {verdict}).")
    print(text)
    if args.update_doc:
        with open(DOC) as fh:
            doc = fh.read()
        head, rest = doc.split(START, 1)
        _, tail = rest.split(END, 1)
        with open(DOC, "w") as fh:
            fh.write(f"{head}{START}\n{text}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
