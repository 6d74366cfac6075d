"""Crash safety at every named fault point: a real SIGKILL or a full disk, then the next command recovers.

Each case runs one operation (publish, discard, discard --undo, restore, checkpoint, exec, exec --on-draft,
add, rm, and ask with a scripted model on 127.0.0.1) through the real CLI with ``GITBENCH_FAULT="<point>:kill"``
(the child gitbench process SIGKILLs itself there) or ``:enospc`` (the point raises ENOSPC, as a full disk
would). Then it runs ``gitbench status`` (which finishes or rolls back the interrupted operation) and retries
the operation as a user would (an ask job: ``gitbench resume``), and checks DESIGN.md §2 after each: Published
is exactly the old or the new commit and the checked-out files agree with it, no Draft is lost, every
checkpoint the command reported exists, no temp file or backup is left, and a full disk
is reported as exit 13 with advice to free space.

The Draft the cases publish changes six files: one deletion that empties a folder, one new file in a new
folder, edits and an executable file, so every per-file fault point of the file mover is reached. The module
prints (and writes to its temp dir) how many runs it made and how many violated an invariant: zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import CHECKPOINT_NAME, SEAL, copy_workbench, git, gitbench, make_project
from tests.invariants import Snapshot, check_invariants
from tests.provider_server import ProviderServer, config_toml

pytestmark = pytest.mark.slow

# Job A (published in both templates): edits, a deletion that empties old/, a file in a new folder new/deep/,
# a new file, and an executable bit.
JOB_A = """
import os, pathlib
pathlib.Path("README.md").write_text("# project, second edition\\n")
os.remove("old/only.md")
pathlib.Path("new/deep").mkdir(parents=True)
pathlib.Path("new/deep/file.txt").write_text("new file in a new folder\\n")
pathlib.Path("src/app.py").write_text("print('v2')\\n")
pathlib.Path("src/extra.py").write_text("EXTRA = 1\\n")
os.chmod("tools/run.sh", 0o755)
"""
# Job B (the open Draft of the "draft" template): a deletion that empties docs/, a new folder pkg/sub/, edits.
JOB_B = """
import os, pathlib
pathlib.Path("README.md").write_text("# project, third edition\\n" * 40)
os.remove("docs/guide.md")
pathlib.Path("pkg/sub").mkdir(parents=True)
pathlib.Path("pkg/sub/mod.py").write_text("MOD = 3\\n")
pathlib.Path("src/app.py").write_text("print('v3')\\n")
pathlib.Path("src/more.py").write_text("MORE = 3\\n")
pathlib.Path("lib/util.py").write_text("def util():\\n    return 3\\n")
"""
# Job C (the job the exec cases run): a small edit and a new file in a new folder.
JOB_C = """
import pathlib
pathlib.Path("README.md").write_text("# project, edited by job C\\n")
pathlib.Path("notes").mkdir(exist_ok=True)
pathlib.Path("notes/c.md").write_text("c\\n")
"""
FILES = {
    "README.md": "# project\n",
    "src/app.py": "print('hello')\n",
    "docs/guide.md": "guide\n",
    "old/only.md": "the only file of old/\n",
    "lib/util.py": "def util():\n    return 1\n",
    "tools/run.sh": "#!/bin/sh\necho run\n",
}
USER_EDIT = "# project, edited by the user and added with gitbench add\n"
DRAFT_CREATED = re.compile(r"Draft (\S+) created")


@dataclass
class Templates:
    clean: Path  # Published = S1 (job A published), no Draft; its first checkpoint is the initial state S0
    draft: Path  # clean + an open Draft (job B)
    outside: Path  # a folder outside the Workbench, for `gitbench add`
    s0: str
    s1: str
    draft_head: str
    first: str  # the name of the first checkpoint (S0), the same in every copy


@dataclass
class Case:
    op: str
    point: str
    nth: int = 1

    @property
    def id(self) -> str:
        return f"{self.op}:{self.point}" + (f"@{self.nth}" if self.nth != 1 else "")

    def spec(self, kind: str) -> str:
        return f"{self.point}:{kind}" + (f"@{self.nth}" if self.nth != 1 else "")


def _cases() -> list[Case]:
    out: list[Case] = []
    # publish: the Draft's deletion that empties docs/ is file-0, README.md file-1, pkg/sub/mod.py (a new
    # folder) file-3; tmp-written/backup-made @1 is README.md, @3 the file in the new folder.
    out += [
        Case("publish", p) for p in ["publish.journal-written", "publish.file-0", "publish.file-1", "publish.file-3"]
    ]
    out += [Case("publish", "publish.tmp-written", n) for n in (1, 3)]
    out += [Case("publish", "publish.backup-made")]
    out += [
        Case("publish", p)
        for p in [
            "publish.files-done",
            "publish.before-index",
            "publish.before-ref",
            "publish.after-ref",
            "records.before-ref",
            "publish.after-record",
            "checkpoint.before-tag",
            "publish.after-checkpoint",
            "publish.after-draft-removed",
        ]
    ]
    out += [
        Case("discard", p)
        for p in [
            "discard.journal-written",
            "discard.after-trash",
            "records.before-ref",
            "discard.after-record",
            "discard.after-ref",
        ]
    ]
    out += [Case("undo", p) for p in ["undo.after-draft", "records.before-ref"]]
    # restore the first checkpoint: file-0 deletes new/deep/file.txt (emptying new/deep and new/), file-3 brings back
    # old/only.md into a folder that no longer exists.
    out += [
        Case("restore", p)
        for p in [
            "checkpoint.before-tag",
            "restore.after-pre-checkpoint",
            "restore.journal-written",
            "restore.file-0",
            "restore.file-3",
            "restore.tmp-written",
            "restore.backup-made",
            "restore.before-index",
            "restore.before-ref",
            "restore.after-ref",
            "records.before-ref",
            "restore.after-records",
        ]
    ]
    out += [Case("checkpoint", p) for p in ["checkpoint.before-tag", "checkpoint.after-tag"]]
    out += [
        Case("exec", p)
        for p in [
            "checkpoint.before-tag",
            "job.after-checkpoint",
            "job.after-draft",
            "records.before-ref",
            "job.after-record",
            "worktree.after-add",
            "job.before-command",
            "job.after-command",
            "capture.after-commits",
            "step.before-ref",
            "step.after-ref",
        ]
    ]
    out += [Case("exec", "records.before-ref", 2), Case("exec", "job.after-complete")]
    out += [Case("exec-publish", p) for p in ["publish.before-ref", "publish.after-ref", "worktree.before-remove"]]
    # publish --check: killed (or out of disk) as the check ends, the lock let go of: nothing changed yet.
    out += [Case("publish-check", "check.after-command")]
    out += [Case("exec-discard", p) for p in ["discard.after-trash", "worktree.before-remove"]]
    # add: README.md (edited by the user, so already new: the mover must leave it alone) and a folder from
    # outside with a subfolder; rm: lib/util.py (file-0) and new/deep/file.txt (file-1, empties new/).
    out += [
        Case("add", p)
        for p in [
            "add.journal-written",
            "add.file-0",
            "add.tmp-written",
            "add.backup-made",
            "add.files-done",
            "add.before-ref",
            "add.after-ref",
        ]
    ]
    out += [
        Case("rm", p) for p in ["rm.journal-written", "rm.file-1", "rm.files-done", "rm.before-ref", "rm.after-ref"]
    ]
    # ask: one file a batch over src/ (app.py, extra.py); @2 is the second batch, after the first was committed.
    out += [Case("ask", "ask.before-step", 2), Case("ask", "ask.after-batch")]
    return out


CASES = _cases()
ADDED = {"README.md", "added/pack/a.txt", "added/pack/deep/b.txt"}
REMOVED = {"lib/util.py", "new/deep/file.txt"}


# -- the summary --------------------------------------------------------------------------------------------
def summary_file(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """One file shared by the xdist workers of this session (outside the repository tree)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / name


def record_run(path: Path, item: dict[str, object]) -> None:
    with open(path, "a") as fh:  # one short O_APPEND write per run: safe across worker processes
        fh.write(json.dumps(item) + "\n")


def print_summary(path: Path, title: str) -> str:
    runs = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    bad = [r for r in runs if r.get("violation")]
    outcomes: dict[str, int] = {}
    for r in runs:
        outcomes[str(r.get("outcome"))] = outcomes.get(str(r.get("outcome")), 0) + 1
    text = (
        f"{title}: {len(runs)} runs, {len(bad)} violations; outcomes {dict(sorted(outcomes.items()))}"
        + "".join(f"\n  VIOLATION {r['case']}: {r['violation']}" for r in bad)
        + "".join(f"\n  not reached: {r['case']}" for r in runs if str(r.get("outcome")).startswith("not-"))
    )
    (path.parent / (path.stem + ".txt")).write_text(text + "\n")
    print(f"\n{text}\n(summary written to {path.parent / (path.stem + '.txt')})")
    return text


@pytest.fixture(scope="module")
def crash_summary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = summary_file(tmp_path_factory, "crash-faults-summary.jsonl")
    yield path
    # With -n 2 each worker prints what it has seen so far; the last one to finish prints the whole count.
    print_summary(path, f"crash fault points ({len({c.id for c in CASES})} points x kill/enospc)")


# -- the templates (made once per module and worker, copied per test) ----------------------------------------
@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    base = tmp_path_factory.mktemp("crash-templates")
    with sealed(base / "home"):
        yield build_templates(base)


class sealed:
    """The conftest seal, for module-scoped fixtures (the autouse `hermetic` fixture is per test)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.mp = pytest.MonkeyPatch()

    def __enter__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / ".gitconfig").write_text(
            "[user]\n\tname = Test Author\n\temail = author@example.invalid\n[init]\n\tdefaultBranch = main\n"
        )
        for key in list(os.environ):
            if key.startswith("GIT_") or key.startswith("GITBENCH_"):
                self.mp.delenv(key, raising=False)
        for key, value in {**SEAL, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / ".config")}.items():
            self.mp.setenv(key, value)

    def __exit__(self, *exc: object) -> None:
        self.mp.undo()


def ok(res: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def build_templates(base: Path) -> Templates:
    clean = make_project(base / "clean", FILES)
    os.chmod(clean / "tools/run.sh", 0o644)
    ok(gitbench(clean, "init"))
    s0 = rev(clean, "main")
    ok(gitbench(clean, "exec", "--", sys.executable, "-c", JOB_A))
    ok(gitbench(clean, "publish"))
    s1 = rev(clean, "main")
    draft = base / "draft"
    copy_workbench(clean, draft)
    ok(gitbench(draft, "exec", "--", sys.executable, "-c", JOB_B))
    heads = drafts(draft)
    assert len(heads) == 1
    outside = base / "outside" / "pack"
    (outside / "deep").mkdir(parents=True)
    (outside / "a.txt").write_text("a from outside\n")
    (outside / "deep" / "b.txt").write_text("b from outside\n")
    first = git(clean, "tag", "-l", "checkpoint/*").split()[0]
    return Templates(clean, draft, outside, s0, s1, next(iter(heads.values())), first)


# -- small readers (real git CLI) ---------------------------------------------------------------------------
def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def refs(repo: Path, prefix: str) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split(" ", 1) for line in out.splitlines() if line)  # type: ignore[misc]


def drafts(repo: Path) -> dict[str, str]:
    return refs(repo, "refs/heads/gitbench/draft/")


def trash_heads(repo: Path) -> set[str]:
    return set(refs(repo, "refs/gitbench/trash/").values())


def checkpoint_commits(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname:lstrip=2) %(*objectname)", "refs/tags/checkpoint/")
    return dict(line.split(" ", 1) for line in out.splitlines() if line)  # type: ignore[misc]


def is_ancestor(repo: Path, a: str, b: str) -> bool:
    return subprocess.run(["git", "merge-base", "--is-ancestor", a, b], cwd=repo).returncode == 0


def leftovers(repo: Path) -> list[str]:
    """Temp files anywhere in the work tree, and backups or temp files left in gitbench's own folder."""
    found = []
    for dirpath, dirnames, filenames in os.walk(repo):
        if ".git" in dirnames:
            dirnames.remove(".git")
        found += [os.path.join(dirpath, f) for f in filenames if ".gitbench-tmp" in f]
    txn = repo / ".git" / "gitbench" / "txn"
    if txn.exists():
        found += [str(p) for p in txn.rglob("*")]
    return found


def records_running(repo: Path) -> list[str]:
    names = git(repo, "ls-tree", "--name-only", "refs/gitbench/records", "jobs/").split()
    out = []
    for name in names:
        job = json.loads(git(repo, "show", f"refs/gitbench/records:{name}"))
        if job.get("status") == "running":
            out.append(job["id"])
    return out


# -- one run ------------------------------------------------------------------------------------------------
@dataclass
class Run:
    repo: Path
    case: Case
    kind: str
    before: Snapshot
    old: str
    reported_checkpoints: set[str] = field(default_factory=set)
    reported_drafts: set[str] = field(default_factory=set)
    drafts_seen: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def argv_for(case: Case, t: Templates) -> list[str]:
    job_c = ["--", sys.executable, "-c", JOB_C]
    return {
        "publish": ["publish"],
        "publish-check": ["publish", "--check", "true"],
        "discard": ["discard", "--yes"],
        "undo": ["discard", "--undo"],
        "restore": ["restore", t.first, "--yes"],
        "checkpoint": ["checkpoint", "-m", "by hand"],
        "exec": ["exec", *job_c],
        "exec-publish": ["exec", "--on-draft", "publish", *job_c],
        "exec-discard": ["exec", "--on-draft", "discard", *job_c],
        "add": ["add", "README.md", str(t.outside), "--to", "added"],
        "rm": ["rm", "new", "lib/util.py"],
        "ask": ["ask", "Add a line", "--files", "src/**"],
    }[case.op]


def allowed_published(run: Run, t: Templates, published: str) -> bool:
    """Published is exactly the old commit or the one the operation makes, never anything else."""
    if published == run.old:
        return True
    op = run.case.op
    if op in ("publish", "exec-publish", "publish-check"):
        return published == t.draft_head
    if op == "restore":
        return published == t.s0
    if op in ("add", "rm"):
        parent = rev(run.repo, f"{published}^")
        paths = set(git(run.repo, "diff", "--name-only", run.old, published).split())
        return parent == run.old and paths == (ADDED if op == "add" else REMOVED)
    return False


def check_state(run: Run, t: Templates, stage: str) -> None:
    """Everything DESIGN.md §2 promises once a gitbench command has run after the fault."""
    repo = run.repo
    published = rev(repo, "main")
    assert allowed_published(run, t, published), f"{stage}: Published is {published}, neither old nor new"
    local_edit = run.case.op == "add" and published == run.old
    check_invariants(repo, run.before, published_may_change=True, allow_local_edits=local_edit)
    status = git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored")
    expected = " M README.md\n" if local_edit else ""
    assert status == expected, f"{stage}: the checked-out files disagree with Published:\n{status}"
    if run.case.op == "add":
        assert (repo / "README.md").read_text() == USER_EDIT, f"{stage}: the user's edit of README.md was lost"
    assert not leftovers(repo), f"{stage}: left behind: {leftovers(repo)}"
    cps = checkpoint_commits(repo)
    for name in run.reported_checkpoints:
        assert name in cps, f"{stage}: {name} was reported but does not exist"
    for name, commit in cps.items():
        if name not in {r[len("refs/tags/") :] for r in run.before.checkpoints}:
            assert commit in (run.old, published), f"{stage}: new {name} tags {commit}, neither old nor new"
    heads, trash = drafts(repo), trash_heads(repo)
    for label in run.reported_drafts:
        ref = f"refs/heads/gitbench/draft/{label}"
        assert ref in heads or ref in run.drafts_seen, f"{stage}: the Draft {label} that the job reported was lost"
    # Every Draft seen so far (before the command, and after the fault) still exists (or grew: a resumed job
    # adds steps to it), was published, or is in the trash.
    for ref, oid in {**run.before.drafts, **run.drafts_seen}.items():
        kept = heads.get(ref) == oid or (ref in heads and is_ancestor(repo, oid, heads[ref]))
        assert kept or oid in trash or is_ancestor(repo, oid, published), f"{stage}: {ref} lost"
    run.drafts_seen.update(heads)
    assert not records_running(repo), f"{stage}: a job is still marked running: {records_running(repo)}"


def follow_up(run: Run, t: Templates) -> list[str] | None:
    """What a user does next: retry the operation if it did not happen (None: nothing to retry)."""
    repo, op = run.repo, run.case.op
    published = rev(repo, "main")
    open_draft = bool(drafts(repo))
    if op == "publish":
        return ["publish"] if open_draft else None
    if op == "publish-check":
        return ["publish", "--check", "true"] if open_draft else None
    if op == "discard":
        return ["discard", "--yes"] if open_draft else None
    if op == "undo":
        return None if open_draft else ["discard", "--undo"]
    if op == "restore":
        return ["restore", t.first, "--yes"] if published == run.old else None
    if op == "checkpoint":
        return ["checkpoint", "-m", "again"]
    if op in ("exec", "exec-publish", "exec-discard"):
        return [
            "exec",
            "--on-draft",
            "publish" if op == "exec-publish" else "discard",
            "--",
            sys.executable,
            "-c",
            JOB_C,
        ]
    if op == "add":
        return argv_for(run.case, t)
    if op == "rm":
        return argv_for(run.case, t) if published == run.old else None
    if op == "ask":
        return ["resume"]
    raise AssertionError(op)


def after_follow_up(run: Run, t: Templates) -> None:
    repo, op = run.repo, run.case.op
    published = rev(repo, "main")
    if op in ("publish", "publish-check"):
        assert published == t.draft_head and not drafts(repo)
    elif op == "discard":
        assert not drafts(repo) and next(iter(run.before.drafts.values())) in trash_heads(repo)
    elif op == "undo":
        assert len(drafts(repo)) == 1
    elif op == "restore":
        assert published == t.s0
        assert (repo / "old/only.md").exists() and not (repo / "new").exists()
    elif op in ("add", "rm"):
        assert published != run.old
    elif op == "ask":  # the resumed job finished: both batches in its Draft, Published as it was
        assert published == run.old
        (draft,) = drafts(repo)
        for path in ("src/app.py", "src/extra.py"):
            assert git(repo, "show", f"{draft}:{path}").endswith("edited by model\n"), f"{path} not edited"


def run_case(case: Case, kind: str, t: Templates, tmp_path: Path) -> Run:
    repo = tmp_path / "wb"
    copy_workbench(
        t.draft
        if case.op in ("publish", "publish-check", "discard", "undo", "exec-publish", "exec-discard")
        else t.clean,
        repo,
    )
    if case.op == "undo":
        ok(gitbench(repo, "discard", "--yes"))
    if case.op == "add":
        (repo / "README.md").write_text(USER_EDIT)
    run = Run(repo, case, kind, Snapshot.take(repo), rev(repo, "main"))
    with scripted_model() if case.op == "ask" else contextlib.nullcontext():
        return run_and_recover(run, t)


@contextlib.contextmanager
def scripted_model() -> Iterator[None]:
    """An ask case needs a model: a scripted provider on 127.0.0.1 that answers each batch (one file) at once."""
    server = ProviderServer()
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(config_toml(server, job={"batch_files": 1}))
    try:
        yield
    finally:
        server.close()


def run_and_recover(run: Run, t: Templates) -> Run:
    repo, case, kind = run.repo, run.case, run.kind
    res = gitbench(repo, *argv_for(case, t), env={"GITBENCH_FAULT": case.spec(kind), "PYTHONUNBUFFERED": "1"})
    said = res.stdout + res.stderr
    run.reported_checkpoints = set(CHECKPOINT_NAME.findall(said))
    run.reported_drafts = set(DRAFT_CREATED.findall(res.stdout))
    assert "Traceback" not in said, said
    if kind == "kill":
        # The point was reached: the process died there, by a real SIGKILL.
        assert res.returncode == -signal.SIGKILL, f"not killed at {case.id}: exit {res.returncode}\n{said}"
        run.notes.append("killed")
    else:
        check_exit_code(run, res)
    status = gitbench(repo, "status")
    assert status.returncode == 0, f"status after the fault: exit {status.returncode}\n{status.stderr}"
    assert "Traceback" not in status.stdout + status.stderr
    assert not git_locks(repo), f"Git lock files left after `gitbench status`: {git_locks(repo)}"
    check_state(run, t, "after `gitbench status`")
    run.notes.append("recovered" if "recovered:" in status.stdout else "nothing-to-recover")
    again = follow_up(run, t)
    if again is not None:
        res = gitbench(repo, *again)
        assert res.returncode == 0, f"retrying `{' '.join(again[:3])}`: exit {res.returncode}\n{res.stderr}"
        run.reported_checkpoints |= set(CHECKPOINT_NAME.findall(res.stdout))
        check_state(run, t, f"after retrying `gitbench {again[0]}`")
        after_follow_up(run, t)
    return run


def check_exit_code(run: Run, res: subprocess.CompletedProcess[str]) -> None:
    """A full disk's exit code says what happened to Published: it moved (0, or 25 published-unfinished, saying
    so), or it did not (13 disk-full, or 0 where the operation's own work was done before the fault)."""
    said = res.stdout + res.stderr
    text = " ".join(res.stderr.replace("│", " ").split())
    moved = rev(run.repo, "main") != run.old
    allowed = (0, 25) if moved else (0, 13)
    assert res.returncode in allowed, (
        f"ENOSPC at {run.case.id} gave exit {res.returncode} with Published {'moved' if moved else 'not moved'}, "
        f"not one of {allowed}:\n{said}"
    )
    if res.returncode in (13, 25):
        assert "free" in text.lower(), f"the disk-full message does not say to free space:\n{said}"
    if res.returncode == 25:
        assert "moved Published" in text and "next gitbench command finishes" in text, said
    run.notes.append({0: "completed", 13: "disk-full", 25: "published-unfinished"}[res.returncode])


def git_locks(repo: Path) -> list[str]:
    """Every lock file under .git: Git's, libgit2's and gitbench's own (a job's ``running/<id>.lock``). The
    Workbench lock, ``.git/gitbench/lock``, is always there and is no ``*.lock``: its flock is the lock."""
    return [str(p) for p in (repo / ".git").rglob("*.lock")]


@pytest.mark.parametrize("kind", ["kill", "enospc"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_fault_at_each_point_leaves_published_old_or_new_and_loses_nothing(
    case: Case, kind: str, templates: Templates, crash_summary: Path, tmp_path: Path
) -> None:
    item: dict[str, object] = {"case": f"{case.id}:{kind}"}
    try:
        run = run_case(case, kind, templates, tmp_path)
        item["outcome"] = "/".join(run.notes[:1])
    except AssertionError as exc:
        item["violation"] = str(exc).splitlines()[0][:300]
        item["outcome"] = "violation"
        raise
    finally:
        record_run(crash_summary, item)


def test_the_fault_points_cover_every_operation_and_at_least_thirty_points() -> None:
    points = {c.id for c in CASES}
    assert len(points) >= 30
    assert {c.op for c in CASES} == {
        "publish",
        "publish-check",
        "discard",
        "undo",
        "restore",
        "checkpoint",
        "exec",
        "exec-publish",
        "exec-discard",
        "add",
        "rm",
        "ask",
    }
    # Every named point in the code is visited by at least one case.
    code = subprocess.run(
        ["grep", "-rhoE", r"faults\.point\(f?\"[^\"]+\"", "gitbench/"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
    ).stdout
    named = {m.split('"')[1] for m in code.splitlines()}
    # The workflow engine's points (workflow.*) are visited by tests/test_workflow_crash.py, which kills
    # `gitbench workflow run` at each one and asserts there that none is left out.
    # The records merge of push and pull (records.before-merge-ref) is visited by tests/test_remote.py.
    # The supervisor's points hold a thread (`:delay`) in races: tests/test_supervisor.py (a Ctrl-C before a
    # module's group is noted) and tests/test_worktrees.py (a full-screen command under way before we go on).
    others = ("workflow.", "records.before-merge", "supervisor.")
    fixed = {n for n in named if "{" not in n and not n.startswith(others)}
    visited = {c.point for c in CASES}
    assert fixed <= visited, f"fault points never exercised: {sorted(fixed - visited)}"
    for op in ("publish", "restore", "add", "rm"):
        for suffix in ("journal-written", "before-ref", "after-ref"):
            assert f"{op}.{suffix}" in visited
    for op in ("publish", "restore", "add"):
        for suffix in ("file-0", "tmp-written", "backup-made"):
            assert f"{op}.{suffix}" in visited


@pytest.mark.parametrize(
    ("point", "outcome"),
    [("publish.files-done", "Rolled back"), ("publish.after-ref", "Finished an interrupted publish")],
    ids=["files-moved-ref-not", "ref-moved"],
)
def test_a_publish_killed_after_its_journal_was_deleted_is_still_rolled_back_or_finished(
    point: str, outcome: str, templates: Templates, tmp_path: Path
) -> None:
    """The journal lists the paths a move touches; without it (deleted by hand, or lost) the half-published
    files are still found, by comparing them with Published and with the Draft: `gitbench recover` brings them
    back to Published (the ref had not moved) or finishes the publish (it had), says which, and loses nothing."""
    repo = tmp_path / "wb"
    copy_workbench(templates.draft, repo)
    before = Snapshot.take(repo)
    edited = "a local edit of a file the Draft does not change\n"
    (repo / "tools/run.sh").write_text(edited)
    killed = gitbench(repo, "publish", env={"GITBENCH_FAULT": f"{point}:kill"})
    assert killed.returncode == -signal.SIGKILL
    (repo / ".git/gitbench/journal.json").unlink()
    if point == "publish.after-ref":  # the files and the ref moved; the checkpoint and the Draft's removal did not
        assert rev(repo, "main") == templates.draft_head and drafts(repo) == before.drafts
    else:  # some files moved, the ref did not
        assert git(repo, "status", "--porcelain", "--untracked-files=no") != " M tools/run.sh\n"
    res = gitbench(repo, "recover")
    assert res.returncode == 0, res.stderr
    assert outcome in res.stdout and "journal was lost" in res.stdout, res.stdout
    assert "consistent" not in res.stdout
    assert (repo / "tools/run.sh").read_text() == edited, "the user's edit was lost"
    (repo / "tools/run.sh").write_text(before.files["tools/run.sh"].decode())
    check_invariants(repo, before, published_may_change=True)
    assert not leftovers(repo) and not git_locks(repo)
    if point == "publish.after-ref":
        assert rev(repo, "main") == templates.draft_head and not drafts(repo)
        assert any(commit == templates.draft_head for commit in checkpoint_commits(repo).values())
    else:
        assert rev(repo, "main") == before.published and drafts(repo) == before.drafts
        ok(gitbench(repo, "publish"))
        assert rev(repo, "main") == templates.draft_head
