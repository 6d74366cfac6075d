"""A Workbench with thousands of checkpoints and jobs, built in seconds with `git fast-import`.

Used by tests/test_gc.py (the 5,000-checkpoint case) and tests/bench/gc.py (the benchmark). Running 5,000 CLI
commands would take an hour; instead `gitbench init` adopts a small project, then one fast-import stream writes
what years of use would leave behind, in the exact shapes gitbench writes them:

- jobs: per job one records commit on ``refs/gitbench/records`` adding ``jobs/<id>.json``; 7 in 10 are published
  (a commit on Published), the others discarded (a Draft commit holding a file of its own);
- checkpoints (annotated tags ``checkpoint/N`` with gitbench's trailers), five per job, evenly over the time
  span: the job's auto checkpoint, its publish checkpoint (or, for a discarded job, an agent session's auto one),
  two more autos, one in ten of them manual, one in twenty pre-restore;
- trash refs for the discarded jobs of the last 30 days (the older ones a discard has already removed);
- local state: a log file a day, ``changed-by-jobs/<job>/`` for one job in 50, a workflow modules folder for one
  job in 100, each dated as its job.

The checkpoints after the init one are named as an older, numbered Workbench named them (``checkpoint/N``,
which gitbench still reads and restores); gitbench gc reads kinds and dates from the tags only, never names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gitbench import trailers

DAY = 86400
# What gitbench writes it writes through libgit2, which runs no Git hooks; `gitbench init` installed its
# reference-transaction hook here, which Git would run three times per ref update of the stream (a shell and its
# git processes each time: ~1,700 processes, most of the build's CPU). The history is gitbench's, so no hook.
FAST_IMPORT = ["git", "-c", "core.hooksPath=/dev/null", "fast-import", "--quiet"]


@dataclass
class Made:
    """What was built: every checkpoint (name, kind, date), trash ref, log, job folder, with dates."""

    path: str
    checkpoints: list[tuple[str, str, float]] = field(default_factory=list)
    trash: list[tuple[str, float]] = field(default_factory=list)
    logs: list[tuple[str, float]] = field(default_factory=list)
    folders: list[tuple[str, float]] = field(default_factory=list)
    jobs: int = 0


def _run(argv: list[str], cwd: str, env: dict[str, str], stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])} failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    return proc.stdout


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%d-%H%M%S")


def build(path: str, env: dict[str, str], jobs: int = 1000, span_days: int = 200, end: float | None = None) -> Made:
    """A Workbench at ``path`` with ``jobs`` jobs and 5 × ``jobs`` checkpoints (the init one included), the newest
    at ``end`` (default: now). ``env``: a sealed environment (HOME, identity)."""
    import time

    end = time.time() if end is None else end
    start = end - span_days * DAY
    os.makedirs(os.path.join(path, "src"), exist_ok=True)
    for i in range(20):
        with open(os.path.join(path, "src", f"f{i:02d}.txt"), "w") as fh:
            fh.write(f"file {i}\n")
    _run(["git", "init", "-q", "-b", "main"], path, env)
    _run(["git", "add", "-A"], path, env)
    _run(["git", "commit", "-qm", "initial"], path, {**env, "GIT_COMMITTER_DATE": f"@{int(start)} +0000"})
    _run([sys.executable, "-m", "gitbench", "init", "--json"], path, {**env, "GITBENCH_NOW": str(start)})
    made = Made(path, jobs=jobs)
    [init] = _run(["git", "tag", "-l", "checkpoint/*"], path, env).decode().split()
    made.checkpoints.append((init, "init", float(int(start))))
    main = _run(["git", "rev-parse", "main"], path, env).decode().strip()
    records = _run(["git", "rev-parse", "refs/gitbench/records"], path, env).decode().strip()
    gitbench_dir = os.path.join(path, ".git", "gitbench")

    # Phase 1: the commits (Published, the records, discarded Drafts), each with a mark.
    step = (end - start) / (5 * jobs - 1)
    out: list[bytes] = []
    specs: list[tuple[str, float, str, str | None, str, str]] = []  # kind, date, message, job, main, records
    mark = 0
    who = "Test Author <author@example.invalid>"
    for j in range(jobs):
        t0 = start + (5 * j + 1) * step
        job_id = f"{_stamp(t0)}-{j:04x}"
        published = j % 10 < 7
        specs.append(("auto", t0, f"before job {job_id}", job_id, main, records))
        t1 = start + (5 * j + 2) * step
        changed = f"src/f{j % 20:02d}.txt"
        mark += 1
        if published:
            msg = trailers.build_message(f"job {j}", "", [("Gitbench-Job", job_id), ("Gitbench-Status", "complete")])
            out.append(f"commit refs/heads/main\nmark :{mark}\ncommitter {who} {int(t1)} +0000\n".encode())
            out.append(_data(msg.encode()) + f"from {main}\n".encode())
            out.append(f"M 100644 inline {changed}\n".encode() + _data(f"file {j % 20}, by job {j}\n".encode()))
            main = f":{mark}"
        else:
            scratch = f"refs/gitbench/scratch/{job_id}"
            out.append(f"commit {scratch}\nmark :{mark}\ncommitter {who} {int(t1)} +0000\n".encode())
            out.append(_data(f"job {j} (discarded)".encode()) + f"from {main}\n".encode())
            blob = f"discarded work of job {j}: {os.urandom(512).hex()}\n"
            out.append(f"M 100644 inline {changed}\n".encode() + _data(blob.encode()))
            if t1 >= end - 30 * DAY:
                ref = f"refs/gitbench/trash/{int(t1)}/{job_id}"
                out.append(f"reset {ref}\nfrom :{mark}\n\n".encode())
                made.trash.append((ref, float(int(t1))))
            out.append(f"reset {scratch}\nfrom {'0' * 40}\n\n".encode())
        record = {
            "id": job_id,
            "kind": "exec",
            "status": "published" if published else "discarded",
            "created": t0,
            "updated": t1,
            "draft": f"refs/heads/gitbench/draft/{job_id}",
            "base": main if not main.startswith(":") else "",
            "checkpoint": f"checkpoint/{len(specs) + 1}",
            "command": ["sh", "-c", "edit"],
            "message": f"job {j}",
            "steps_completed": 1,
            "files_changed": [changed],
        }
        mark += 1
        out.append(f"commit refs/gitbench/records\nmark :{mark}\ncommitter {who} {int(t1)} +0000\n".encode())
        out.append(_data(f"job {job_id}: {record['status']}".encode()) + f"from {records}\n".encode())
        out.append(f"M 100644 inline jobs/{job_id}.json\n".encode() + _data(json.dumps(record, indent=1).encode()))
        records = f":{mark}"
        kinds = ["publish" if published else "auto", "auto", "manual" if j % 10 == 0 else "auto"]
        kinds.append("pre-restore" if j % 20 == 5 else "auto")
        for k, kind in enumerate(kinds):
            specs.append((kind, start + (5 * j + 2 + k) * step, f"job {job_id} ({k})", None, main, records))
        if j % 50 == 7:
            folder = os.path.join(gitbench_dir, "changed-by-jobs", job_id)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "config"), "w") as fh:
                fh.write("[core]\n")
            os.utime(os.path.join(folder, "config"), (t1, t1))
            os.utime(folder, (t1, t1))
            made.folders.append((folder, t1))
    specs = specs[: 5 * jobs - 1]  # with the init checkpoint: 5 per job
    marks = os.path.join(gitbench_dir, "..", "gcgen-marks")
    _run([*FAST_IMPORT, f"--export-marks={marks}"], path, env, b"".join(out))
    with open(marks) as fh:
        ids = dict(line.split() for line in fh)
    os.unlink(marks)

    # Phase 2: the checkpoints, naming real commit ids in their messages.
    tags: list[bytes] = []
    for n, (kind, when, message, job, at_main, at_records) in enumerate(specs, start=2):
        pairs = [("Gitbench-Checkpoint-Kind", kind), ("Gitbench-Published", "refs/heads/main")]
        pairs.append(("Gitbench-Records", ids.get(at_records, at_records)))
        if job:
            pairs.append(("Gitbench-Job", job))
        text = trailers.build_message(f"{kind} checkpoint: {message}", "", pairs).encode()
        name = f"checkpoint/{n}"
        target = ids.get(at_main, at_main)
        tags.append(f"tag {name}\nfrom {target}\ntagger {who} {int(when)} +0000\n".encode() + _data(text))
        made.checkpoints.append((name, kind, float(int(when))))
    _run(FAST_IMPORT, path, env, b"".join(tags))
    _run(["git", "reset", "-q", "--hard", "main"], path, env)
    logs = os.path.join(gitbench_dir, "logs")
    os.makedirs(logs, exist_ok=True)
    for d in range(span_days):
        when = end - d * DAY
        name = os.path.join(logs, datetime.fromtimestamp(when, UTC).strftime("gitbench-%Y-%m-%d.jsonl"))
        with open(name, "w") as fh:
            fh.write(json.dumps({"event": "bench", "time": when}) + "\n")
        os.utime(name, (when, when))
        made.logs.append((name, when))
    return made
