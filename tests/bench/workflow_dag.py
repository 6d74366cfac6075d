"""The workflow benchmark: the same DAG for gitbench, make, snakemake and dvc, side by side in one run.

    python -m tests.bench.workflow_dag                       # 1,000 and 10,000 modules
    python -m tests.bench.workflow_dag --sizes 1000 --runs 3 --peers-bin /tmp/peers/bin --peer-runs 1
    python -m tests.bench.workflow_dag --update-doc

The DAG: C chains × S steps; step s of chain c reads the file of step s-1 (step 0 reads an input file) and writes
its own small file (``data/c<c>/s<s>.txt``). Every side starts up to date: for make, every file exists with
mtimes in order; for gitbench, every output and its metadata are committed in Published, made with the
engine's own fingerprint function (as if each module had run). Measured: the "what would run?" query on the
up-to-date DAG (`gitbench workflow status` vs `make -n`), and again after one input changes (gitbench must name
exactly that chain's modules as outdated).

The peers, snakemake and dvc, are found in ``--peers-bin`` (default: on PATH); a missing one is skipped and
the table says so. Running 10,000 jobs through them once takes far longer than the benchmark (snakemake's own
run slows to a few jobs a second), so each is brought to the state such a run leaves, and checked:

- snakemake (a Snakefile of one rule per step, ``snakemake --cores 1 -n``): the files with mtimes in order, as
  for make, and one ``.snakemake/metadata`` record per output, made from the record a real run of a one-rule
  copy writes (same fields, that rule's input, command and input checksum); it must then say "Nothing to be
  done" with no job missing its provenance.
- dvc (a git + dvc repository, one stage per step in dvc.yaml, ``dvc status``): dvc.lock written with each
  dependency's and output's md5 and size, as ``dvc repro`` writes it, the outputs in the cache and their
  .gitignore entries, committed; ``dvc status`` must then say "Data and pipelines are up to date" (that first
  status also fills dvc's hash cache, as a repro would have).

Neither touches the network nor anything outside ``--root``: HOME, the XDG folders, TMPDIR and dvc's site
cache and config folders are under it, dvc's analytics and update check are off and there is no remote.
After one input changes, snakemake must name exactly that chain's jobs; dvc names only the stage that reads
the changed file (it compares each stage with its lock entry, and learns that the next stage changes only
when this one reruns).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from tests.bench.run import DOC, bench_env, gitbench_cmd

START, END = "<!-- bench:workflow:start -->", "<!-- bench:workflow:end -->"
COLD_START, COLD_END = "<!-- bench:workflow-cold:start -->", "<!-- bench:workflow-cold:end -->"
# The status paths measured by --cold, each against `make -n`: what is left of the caches before each query.
PATHS = {
    "cached": "the status cache vouches for the tree (nothing changed)",
    "full": "full resolve: no status cache, no snapshot (the engine state, the Draft or gitbench changed)",
    "nothing": "nothing cached: the workflow file and 10,000 metadata files read and parsed too (a fresh clone)",
    "ran": "as *cached*, in a copy of the Workbench whose engine state is what a run of every module leaves (each"
    " module's last run in `runs.log`, the definition in `definition.json`)",
}


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
            entry = [
                f"  - id: {_mid(c, s)}",
                f"    outputs: [{_out(c, s)}]",
                f'    run: {{command: "cp {src} {_out(c, s)}"}}',
            ]
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
        meta = {
            "module": m.id,
            "version": m.version,
            "fingerprint": fp,
            "outputs": {o: oids[o] for o in m.outputs},
            "run": "bench",
            "job": "bench",
            "time": 0,
        }
        files[resolver.meta_path(m.id)] = (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()
    _fast_import(gb, files, env)
    subprocess.run(gitbench_cmd() + ["init"], cwd=gb, env=env, check=True, capture_output=True)
    # make: the same files and rules, mtimes in order (each output newer than what it reads)
    _write_chain_files(mk, chains, steps, time.time() - 10 * modules)
    rules = []
    for c in range(chains):
        for s in range(steps):
            rules.append(f"{_out(c, s)}: {_src(c, s)}\n\tcp {_src(c, s)} {_out(c, s)}\n")
    targets = " ".join(_out(c, steps - 1) for c in range(chains))
    with open(os.path.join(mk, "Makefile"), "w") as fh:
        fh.write(f"all: {targets}\n\n" + "\n".join(rules))
    return gb, mk


def _src(c: int, s: int) -> str:
    return f"inputs/c{c}.txt" if s == 0 else _out(c, s - 1)


def _content(c: int) -> bytes:
    return f"input of chain {c}\n".encode()


def _write_chain_files(folder: str, chains: int, steps: int, t0: float) -> None:
    """The inputs and every step's output, as a finished run leaves them: mtimes in order (input t0, step s at
    t0 + s + 1), each output a copy of its chain's input."""
    os.makedirs(os.path.join(folder, "inputs"), exist_ok=True)
    for c in range(chains):
        os.makedirs(os.path.join(folder, "data", f"c{c}"), exist_ok=True)
        path = os.path.join(folder, "inputs", f"c{c}.txt")
        with open(path, "wb") as fh:
            fh.write(_content(c))
        os.utime(path, (t0, t0))
        for s in range(steps):
            out = os.path.join(folder, _out(c, s))
            with open(out, "wb") as fh:
                fh.write(_content(c))
            os.utime(out, (t0 + s + 1, t0 + s + 1))


# ---- the peers: snakemake and dvc --------------------------------------------------------------------------


@dataclass
class Peer:
    name: str  # "snakemake" or "dvc"
    exe: str | None  # None: not found
    version: str = ""

    @property
    def label(self) -> str:
        return "`snakemake -n`" if self.name == "snakemake" else "`dvc status`"


def find_peers(names: list[str], bin_dir: str | None, env: dict[str, str]) -> list[Peer]:
    peers = []
    for name in names:
        exe = os.path.join(bin_dir, name) if bin_dir else shutil.which(name)
        if not exe or not os.access(exe, os.X_OK):
            peers.append(Peer(name, None))
            continue
        proc = subprocess.run([exe, "--version"], cwd=env["HOME"], env=env, capture_output=True, text=True, timeout=300)
        peers.append(Peer(name, exe, proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "?"))
    return peers


def peer_env(root: str) -> dict[str, str]:
    """bench_env plus every folder the peers write outside their project (caches, data, dvc's site cache and
    config) under ``root``; dvc's analytics off and its update/analytics endpoints unreachable."""
    env = bench_env(root)
    home = env["HOME"]
    dirs = {
        "XDG_CACHE_HOME": ".cache",
        "XDG_DATA_HOME": ".local/share",
        "XDG_STATE_HOME": ".local/state",
        "DVC_SITE_CACHE_DIR": "dvc-site",
        "DVC_GLOBAL_CONFIG_DIR": "dvc-global",
        "DVC_SYSTEM_CONFIG_DIR": "dvc-system",
        "TMPDIR": "tmp",
    }
    for key, sub in dirs.items():
        env[key] = os.path.join(home, sub)
        os.makedirs(env[key], exist_ok=True)
    env.update(
        {
            "DVC_NO_ANALYTICS": "1",
            "DVC_STUDIO_OFFLINE": "1",
            "DVC_UPDATER_ENDPOINT": "http://127.0.0.1:9/",
            "DVC_ANALYTICS_ENDPOINT": "http://127.0.0.1:9/",
        }
    )
    return env


def _snakemake_rule(c: int, s: int) -> str:
    return (
        f'rule {_mid(c, s)}:\n    input: "{_src(c, s)}"\n    output: "{_out(c, s)}"\n'
        '    shell: "cp {input} {output}"\n'
    )


def _snakefile(chains: int, steps: int) -> str:
    targets = ", ".join(f'"{_out(c, steps - 1)}"' for c in range(chains))
    rules = [_snakemake_rule(c, s) for c in range(chains) for s in range(steps)]
    return f"rule all:\n    input: {targets}\n\n" + "\n".join(rules)


def _snakemake_key(path: str) -> str:
    """The metadata file of an output, as snakemake's file persistence names it (short paths: one part)."""
    key = base64.urlsafe_b64encode(path.encode()).decode()
    assert len(key) < 200, path
    return key


def snakemake_cmd(exe: str, folder: str) -> list[str]:
    return [exe, "--cores", "1", "-n", "--directory", folder, "--snakefile", os.path.join(folder, "Snakefile")]


def _snakemake_template(root: str, env: dict[str, str], exe: str) -> dict[str, Any]:
    """The metadata record a real snakemake run writes for one rule of this DAG (c0s0)."""
    folder = os.path.join(root, "snakemake-template")
    shutil.rmtree(folder, ignore_errors=True)
    _write_chain_files(folder, 1, 0, time.time() - 100)
    with open(os.path.join(folder, "Snakefile"), "w") as fh:
        fh.write(f'rule all:\n    input: "{_out(0, 0)}"\n\n{_snakemake_rule(0, 0)}')
    _time([exe, "--cores", "1", "--directory", folder], folder, env, both=True)
    with open(os.path.join(folder, ".snakemake", "metadata", _snakemake_key(_out(0, 0)))) as fh:
        record: dict[str, Any] = json.load(fh)
    assert record["rule"] == "c0s0" and record["input"] == ["inputs/c0.txt"], record
    assert record["shellcmd"] == "cp inputs/c0.txt data/c0/s0.txt", record
    return record


def _checksum(template: dict[str, Any], data: bytes) -> str:
    """An input checksum in the template's form (``<algorithm>:<hex>``)."""
    algorithm = template["input_checksums"]["inputs/c0.txt"].split(":", 1)[0]
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def generate_snakemake(root: str, modules: int, env: dict[str, str], exe: str) -> str:
    chains, steps = shape(modules)
    folder = os.path.join(root, f"snakemake-{modules}")
    ready = folder + ".ready"
    if os.path.exists(ready) and os.path.isdir(folder):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    template = _snakemake_template(root, env, exe)
    if template.get("input_checksums"):
        assert template["input_checksums"]["inputs/c0.txt"] == _checksum(template, _content(0)), template
    t0 = time.time() - 10 * modules
    _write_chain_files(folder, chains, steps, t0)
    with open(os.path.join(folder, "Snakefile"), "w") as fh:
        fh.write(_snakefile(chains, steps))
    meta = os.path.join(folder, ".snakemake", "metadata")
    os.makedirs(meta)
    for c in range(chains):
        for s in range(steps):
            src, out = _src(c, s), _out(c, s)
            record = dict(template)
            record.update(
                {
                    "rule": _mid(c, s),
                    "input": [src],
                    "shellcmd": f"cp {src} {out}",
                    "starttime": t0 + s + 1,
                    "endtime": t0 + s + 1,
                    "job_hash": int.from_bytes(hashlib.sha1(out.encode()).digest()[:6], "big"),
                }
            )
            if template.get("input_checksums"):
                record["input_checksums"] = {src: _checksum(template, _content(c))}
            with open(os.path.join(meta, _snakemake_key(out)), "w") as fh:
                json.dump(record, fh)
    _, text = _time(snakemake_cmd(exe, folder), folder, env, both=True)
    assert "Nothing to be done" in text and "provenance" not in text, text[-2000:]
    open(ready, "w").close()
    return folder


def _dvc_yaml(chains: int, steps: int) -> str:
    lines = ["stages:"]
    for c in range(chains):
        for s in range(steps):
            lines += [
                f"  {_mid(c, s)}:",
                f"    cmd: cp {_src(c, s)} {_out(c, s)}",
                "    deps:",
                f"    - {_src(c, s)}",
                "    outs:",
                f"    - {_out(c, s)}",
            ]
    return "\n".join(lines) + "\n"


def _dvc_lock(chains: int, steps: int) -> str:
    """dvc.lock as `dvc repro` writes it (schema 2.0: path, hash, md5, size of every dependency and output)."""
    lines = ["schema: '2.0'", "stages:"]
    for c in range(chains):
        md5, size = hashlib.md5(_content(c)).hexdigest(), len(_content(c))
        for s in range(steps):
            lines += [
                f"  {_mid(c, s)}:",
                f"    cmd: cp {_src(c, s)} {_out(c, s)}",
                "    deps:",
                f"    - path: {_src(c, s)}",
                "      hash: md5",
                f"      md5: {md5}",
                f"      size: {size}",
                "    outs:",
                f"    - path: {_out(c, s)}",
                "      hash: md5",
                f"      md5: {md5}",
                f"      size: {size}",
            ]
    return "\n".join(lines) + "\n"


def generate_dvc(root: str, modules: int, env: dict[str, str], exe: str) -> str:
    chains, steps = shape(modules)
    folder = os.path.join(root, f"dvc-{modules}")
    ready = folder + ".ready"
    if os.path.exists(ready) and os.path.isdir(folder):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    _write_chain_files(folder, chains, steps, time.time() - 10 * modules)

    def run(*argv: str) -> None:
        subprocess.run(list(argv), cwd=folder, env=env, check=True, capture_output=True, timeout=600)

    run("git", "init", "-q", "-b", "main")
    run(exe, "init", "-q")
    run(exe, "config", "core.analytics", "false")
    run(exe, "config", "core.check_update", "false")
    with open(os.path.join(folder, "dvc.yaml"), "w") as fh:
        fh.write(_dvc_yaml(chains, steps))
    with open(os.path.join(folder, "dvc.lock"), "w") as fh:
        fh.write(_dvc_lock(chains, steps))
    for c in range(chains):
        with open(os.path.join(folder, "data", f"c{c}", ".gitignore"), "w") as fh:
            fh.write("".join(f"/s{s}.txt\n" for s in range(steps)))
        md5 = hashlib.md5(_content(c)).hexdigest()
        obj = os.path.join(folder, ".dvc", "cache", "files", "md5", md5[:2], md5[2:])
        os.makedirs(os.path.dirname(obj), exist_ok=True)
        with open(obj, "wb") as bf:
            bf.write(_content(c))
        os.chmod(obj, 0o444)
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "pipeline")
    _, text = _time([exe, "status"], folder, env, both=True)
    assert "Data and pipelines are up to date." in text, text[-2000:]
    open(ready, "w").close()
    return folder


GENERATE = {"snakemake": generate_snakemake, "dvc": generate_dvc}


def peer_query(peer: Peer, folder: str) -> list[str]:
    assert peer.exe
    return snakemake_cmd(peer.exe, folder) if peer.name == "snakemake" else [peer.exe, "status"]


def peer_named(peer: Peer, text: str) -> set[str]:
    """The jobs (snakemake) or stages (dvc) the query names as to be run / changed."""
    if peer.name == "snakemake":
        if "Nothing to be done" in text:
            return set()
        return set(re.findall(r"^(?:local)?rule (\w+):$", text, re.M)) - {"all"}
    if "Data and pipelines are up to date." in text:
        return set()
    return set(re.findall(r"^(\w+):$", text, re.M))


def _hash(data: bytes) -> str:
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _fast_import(path: str, files: dict[str, bytes], env: dict[str, str]) -> None:
    os.makedirs(path, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", path], env=env, check=True)
    chunks = [
        b"commit refs/heads/main\n",
        b"committer Bench <bench@example.invalid> 1767225600 +0000\n",
        b"data 9\nworkflow\n",
    ]
    for p, d in sorted(files.items()):
        chunks.append(b"M 100644 inline " + p.encode() + b"\n" + b"data %d\n" % len(d) + d + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, env=env, input=b"".join(chunks), check=True)
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=path, env=env, check=True)


def _time(argv: list[str], cwd: str, env: dict[str, str], both: bool = False) -> tuple[float, str]:
    """Wall time and stdout (``both``: stdout then stderr) of one command, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    return seconds, proc.stdout + proc.stderr if both else proc.stdout


def measure(
    modules: int, runs: int, root: str, peers: list[Peer] | None = None, peer_runs: int | None = None
) -> dict[str, Any]:
    """Median inputs: ``runs`` timed queries per side and case (``peer_runs`` for the peers), after one untimed
    warm-up each. All sides are queried in the same rounds, one after another."""
    env = bench_env(root)
    penv = peer_env(root)
    gb, mk = generate(root, modules, env)
    peers = [p for p in (peers or []) if p.exe]
    peer_runs = runs if peer_runs is None else peer_runs
    folders = {p.name: GENERATE[p.name](root, modules, penv, p.exe) for p in peers if p.exe}
    keys = ["gitbench", "make"] + [p.name for p in peers]
    out: dict[str, Any] = {"modules": modules, **{k: [] for k in keys}, **{f"{k}_changed": [] for k in keys}}
    mtimes = {name: os.stat(os.path.join(folder, "inputs", "c0.txt")).st_mtime for name, folder in folders.items()}
    status = gitbench_cmd() + ["workflow", "status", "--json"]
    rounds = max(runs, peer_runs) + 1
    chains, steps = shape(modules)
    chain0 = {_mid(0, s) for s in range(steps)}
    try:
        for i in range(rounds):
            if i <= runs:
                g, text = _time(status, gb, env)
                data = json.loads(text)["result"]
                assert data["banner"] == "Status: complete", data["banner"]
                m, mtext = _time(["make", "-n"], mk, env)
                assert "cp " not in mtext, "make thinks something is out of date"
                out["gitbench"].append(g)
                out["make"].append(m)
            for p in peers if i <= peer_runs else []:
                t, ptext = _time(peer_query(p, folders[p.name]), folders[p.name], penv, both=True)
                assert not peer_named(p, ptext), f"{p.name} thinks something is out of date: {ptext[-1000:]}"
                out[p.name].append(t)
        # One input changes (anew before every timed query, so none is answered from a cache): gitbench must name
        # exactly chain 0's modules; make -n must list chain 0's commands, snakemake -n chain 0's jobs; dvc status
        # names the one stage whose dependency changed (c0s0: it compares each stage with its lock entry).
        for i in range(rounds):
            if i <= runs:
                with open(os.path.join(gb, "inputs", "c0.txt"), "w") as fh:
                    fh.write(f"changed {i}\n")
                subprocess.run(
                    gitbench_cmd() + ["add", "inputs/c0.txt"], cwd=gb, env=env, check=True, capture_output=True
                )
                path = os.path.join(mk, "inputs", "c0.txt")
                with open(path, "w") as fh:
                    fh.write(f"changed {i}\n")
                g, text = _time(status, gb, env)
                mods = json.loads(text)["result"]["modules"]
                stale = {x["id"] for x in mods if x["state"] != "complete"}
                assert stale == chain0, sorted(stale)[:5]
                m, mtext = _time(["make", "-n"], mk, env)
                assert mtext.count("cp ") == steps
                out["gitbench_changed"].append(g)
                out["make_changed"].append(m)
            for p in peers if i <= peer_runs else []:
                with open(os.path.join(folders[p.name], "inputs", "c0.txt"), "w") as fh:
                    fh.write(f"changed {i}\n")
                t, ptext = _time(peer_query(p, folders[p.name]), folders[p.name], penv, both=True)
                named = peer_named(p, ptext)
                expected = chain0 if p.name == "snakemake" else {_mid(0, 0)}
                assert named == expected, f"{p.name} named {sorted(named)[:5]}... ({len(named)}): {ptext[-1000:]}"
                out[f"{p.name}_changed"].append(t)
        for key in keys:
            out[key] = out[key][1:]
            out[f"{key}_changed"] = out[f"{key}_changed"][1:]
    finally:  # all as they were for the next time, even after a failed check: the input back as generated
        for folder in (gb, mk, *folders.values()):
            with open(os.path.join(folder, "inputs", "c0.txt"), "w") as fh:
                fh.write("input of chain 0\n")
        os.utime(os.path.join(mk, "inputs", "c0.txt"), (time.time() - 20 * modules,) * 2)
        for name, folder in folders.items():
            os.utime(os.path.join(folder, "inputs", "c0.txt"), (mtimes[name], mtimes[name]))
        subprocess.run(gitbench_cmd() + ["add", "inputs/c0.txt"], cwd=gb, env=env, capture_output=True)
    return out


def measure_run(modules: int, root: str) -> dict[str, Any]:
    """A run of ``modules`` trivial commands (`echo N > out/mN.txt`) with --max-parallel 2, beside the same
    commands run by `make -j2`: gitbench's overhead per module = (its wall time - make's) / modules."""
    env = bench_env(root)
    gb = os.path.join(root, f"run-{modules}")
    mk = os.path.join(root, f"runmake-{modules}")
    run_workbench(gb, modules, env)
    run_makefile(mk, modules)
    g, text = _time(gitbench_cmd() + ["workflow", "run", "--max-parallel", "2", "--json"], gb, env)
    assert json.loads(text)["result"]["job"]["steps_completed"] == modules
    m, _ = _time(["make", "-j2", "-s"], mk, env)
    return {"modules": modules, "gitbench": g, "make": m, "overhead_ms": (g - m) / modules * 1000}


def run_workbench(path: str, modules: int, env: dict[str, str]) -> None:
    """A fresh Workbench at ``path`` whose workflow is ``modules`` trivial commands (`echo N > out/mN.txt`), none
    run yet (also the workflow of tests/bench/workflow_dask.py)."""
    subprocess.run(["rm", "-rf", path], check=True)
    lines = ["max_parallel: 2", "modules:"]
    for i in range(modules):
        lines += [f"  - id: m{i}", f"    outputs: [out/m{i}.txt]", f'    run: {{command: "echo {i} > out/m{i}.txt"}}']
    _fast_import(path, {".gitbench/workflow.yaml": ("\n".join(lines) + "\n").encode()}, env)
    subprocess.run(gitbench_cmd() + ["init"], cwd=path, env=env, check=True, capture_output=True)


def run_makefile(path: str, modules: int) -> None:
    """The same commands as ``run_workbench``'s, as a Makefile in a fresh folder, none run yet."""
    subprocess.run(["rm", "-rf", path], check=True)
    os.makedirs(os.path.join(path, "out"))
    with open(os.path.join(path, "Makefile"), "w") as fh:
        fh.write("all: " + " ".join(f"out/m{i}.txt" for i in range(modules)) + "\n\n")
        fh.write("".join(f"out/m{i}.txt:\n\techo {i} > out/m{i}.txt\n" for i in range(modules)))


def _cpu(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[float, int, bytes]:
    """CPU time (user + system, its children included) and peak RSS (KiB) of one command, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-500:]!r}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), after.ru_maxrss, proc.stdout


def after_a_run(gb: str) -> str:
    """A copy of the Workbench ``gb`` with the engine state a run of every module leaves: each module's last run
    (complete, its fingerprint from its metadata), the workflow file's definition. Made with gitbench's own state
    module, as the run would."""
    from gitbench.workflow import spec
    from gitbench.workflow import state as engine_state
    from gitbench.workflow.resolver import meta_path

    ran = gb + "-ran"
    if os.path.isdir(ran):
        return ran
    shutil.copytree(gb, ran, symlinks=True)
    with open(os.path.join(ran, spec.PATH), "rb") as fh:
        text = fh.read()
    wf = spec.parse(text.decode())
    state = engine_state.EngineState(workflow={"path": spec.PATH, "blob": _hash(text), "definition": spec.to_json(wf)})
    for mid in wf.order:
        with open(os.path.join(ran, meta_path(mid)), "rb") as fh:
            fingerprint = json.loads(fh.read())["fingerprint"]
        state.last_run[mid] = engine_state.LastRun(
            status=engine_state.RunStatus.COMPLETE,
            error=None,
            finished=1767225600.0,
            since=1767225600.0,
            seconds=0.01,
            run=f"bench.{mid}.1",
            fingerprint=fingerprint,
            count=1,
            job="bench",
        )
    engine_state.save(os.path.join(ran, ".git"), state)
    return ran


def measure_cold(modules: int, runs: int, root: str) -> dict[str, Any]:
    """CPU time of `gitbench workflow status --json` on each path of PATHS beside `make -n` on the same DAG,
    interleaved in the same rounds (one untimed warm-up round). Every path must print the same bytes (but
    *ran*'s, which shows each module's last run)."""
    env = bench_env(root)
    gb, mk = generate(root, modules, env)
    ran = after_a_run(gb)
    cache = os.path.join(gb, ".git", "gitbench", "workflow", "cache")
    status = gitbench_cmd() + ["workflow", "status", "--json"]

    def prepare(path: str) -> None:
        if path == "nothing":
            shutil.rmtree(cache, ignore_errors=True)
        elif path == "full":
            for name in ("status.cache", "status.snap"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(cache, name))

    out: dict[str, Any] = {"modules": modules, "make": [], **{p: [] for p in PATHS}, "rss": {}}
    expected: bytes | None = None
    for i in range(runs + 1):
        m, _, mtext = _cpu(["make", "-n"], mk, env)
        assert b"cp " not in mtext, "make thinks something is out of date"
        if i:
            out["make"].append(m)
        for path in ("nothing", "full", "cached", "ran"):
            prepare(path)
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            g, rss, text = _cpu(status, ran if path == "ran" else gb, env)
            doc = json.loads(text)["result"]
            assert doc["banner"] == "Status: complete"
            if path == "ran":  # each module's last run, as the engine state has it
                assert all(m["last_run"]["run"] == f"bench.{m['id']}.1" for m in doc["modules"])
            else:
                expected = expected or text
                assert text == expected, f"the {path} path printed another status"
            if i:
                out[path].append(g)
                if rss > before:  # ru_maxrss of the children is the largest so far: only a new peak is this one
                    out["rss"][path] = rss
    return out


def cold_table(results: list[dict[str, Any]], runs: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs; CPU time (user + system) of the whole "
        f"process, median of {runs} runs, each path and `make -n` side by side in the same rounds. Paths: "
        + "; ".join(f"*{k}*: {v}" for k, v in PATHS.items())
        + ".",
        "",
        "| modules | path | gitbench `workflow status --json` | `make -n` | ratio | target ≤ 5× |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        ms = statistics.median(r["make"])
        for path in PATHS:
            gs = statistics.median(r[path])
            verdict = ("met" if gs <= 5 * ms else "**missed**") if r["modules"] >= 10_000 else "(no target)"
            lines.append(
                f"| {r['modules']:,} | {path} | {_seconds(gs)} | {_seconds(ms)} | {gs / ms:.1f}× | {verdict} |"
            )
    return "\n".join(lines)


def _seconds(x: float) -> str:
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.1f} s"


def _times(x: float) -> str:
    return f"{x:.0f}×" if x >= 10 else f"{x:.1f}×"


def table(
    results: list[dict[str, Any]],
    peers: list[Peer] | None = None,
    runs: int | None = None,
    peer_runs: int | None = None,
) -> str:
    peers = peers or []
    how = "median of the runs" if runs is None else f"median of {runs} runs"
    if peers and peer_runs is not None and peer_runs != runs:
        how += f" ({peer_runs} for snakemake and dvc)"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} CPUs; {how}. "
        "The DAG: chains of steps, each reading the previous step's file (10,000 = 100 × 100)."
    ]
    found = [f"{p.name} {p.version}" for p in peers if p.exe]
    if found:
        lines[0] += (
            f" Peers: {' and '.join(found)}, each made up to date as a finished run leaves it and checked "
            "so before timing (tests/bench/workflow_dag.py says how)."
        )
    header = "| modules | query | gitbench `workflow status` | `make -n` | ratio | target ≤ 5× |"
    rule = "|---:|---|---:|---:|---:|---|"
    for p in peers:
        header += f" {p.label} | gitbench faster |"
        rule += "---:|---:|"
    lines += ["", header, rule]
    for r in results:
        for label, suffix in (("up to date", ""), ("one input changed", "_changed")):
            gs, ms = statistics.median(r["gitbench" + suffix]), statistics.median(r["make" + suffix])
            verdict = ("met" if gs <= 5 * ms else "**missed**") if r["modules"] >= 10_000 else "(no target)"
            row = f"| {r['modules']:,} | {label} | {_seconds(gs)} | {_seconds(ms)} | {gs / ms:.1f}× | {verdict} |"
            for p in peers:
                if not p.exe:
                    row += " not installed | – |"
                    continue
                ps = statistics.median(r[p.name + suffix])
                row += f" {_seconds(ps)} | {_times(ps / gs)} |"
            lines.append(row)
    notes = []
    if any(p.name == "dvc" and p.exe for p in peers):
        notes.append(
            "After the change `dvc status` names only the stage that reads the changed file (c0s0): it "
            "compares each stage with its dvc.lock entry, so it learns that the next stages change only "
            "when that one reruns; gitbench, make and snakemake name all 100 steps of the chain."
        )
    missing = [p.name for p in peers if not p.exe]
    if missing:
        notes.append(f"Not installed here, so not measured: {', '.join(missing)}.")
    if notes:
        lines += ["", " ".join(notes)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--peer-runs",
        type=int,
        default=None,
        help="timed runs of snakemake and dvc (default: --runs); they take seconds to minutes each",
    )
    ap.add_argument(
        "--peers-bin",
        default=None,
        help="folder holding the snakemake and dvc executables (default: look them up on PATH)",
    )
    ap.add_argument("--peers", default="snakemake,dvc", help="peers to measure, comma-separated ('' for none)")
    ap.add_argument("--root", default="/tmp/gitbench-bench")
    ap.add_argument("--run-modules", type=int, default=1000)
    ap.add_argument("--update-doc", action="store_true")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="only the cold and cached status paths beside `make -n` (CPU time; the table after the peers' one)",
    )
    args = ap.parse_args(argv)
    if args.cold:
        cold = [measure_cold(int(s), args.runs, args.root) for s in args.sizes.split(",")]
        text = cold_table(cold, args.runs)
        print(text)
        if args.update_doc:
            _rewrite(COLD_START, COLD_END, text)
        return 0
    names = [n for n in args.peers.split(",") if n]
    unknown = set(names) - set(GENERATE)
    if unknown:
        ap.error(f"unknown peers: {', '.join(sorted(unknown))} (known: {', '.join(GENERATE)})")
    peers = find_peers(names, args.peers_bin, peer_env(args.root))
    for p in peers:
        print(f"{p.name}: {p.exe} ({p.version})" if p.exe else f"{p.name}: not found, skipped", file=sys.stderr)
    peer_runs = args.runs if args.peer_runs is None else args.peer_runs
    results = [measure(int(s), args.runs, args.root, peers, peer_runs) for s in args.sizes.split(",")]
    text = table(results, peers, args.runs, peer_runs)
    run = measure_run(args.run_modules, args.root)
    verdict = "met" if run["overhead_ms"] <= 20 else "**missed**"
    text += (
        f"\n\nA run of {run['modules']:,} trivial command modules with `--max-parallel 2`: "
        f"{run['gitbench']:.1f} s, beside `make -j2` running the same commands in {run['make']:.2f} s: "
        f"gitbench's overhead {run['overhead_ms']:.1f} ms per module (target ≤ 20 ms: {verdict})."
    )
    print(text)
    if args.update_doc:
        _rewrite(START, END, text)
    return 0


def _rewrite(start: str, end: str, text: str) -> None:
    """The block between the two markers of docs/performance.md, replaced by ``text``."""
    with open(DOC) as fh:
        doc = fh.read()
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(DOC, "w") as fh:
        fh.write(f"{head}{start}\n{text}\n{end}{tail}")


if __name__ == "__main__":
    sys.exit(main())
