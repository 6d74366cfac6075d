"""A team around a Git server, for tests/test_teams.py and tests/test_teams_machine.py: Workbenches that are
clones of one server (tests/gitserver.py), driven through gitbench's real entry point, and the checks that hold
after every step (issue 13's "Proof"):

- nothing on the server is lost or overwritten unseen: a checkpoint tag never changes or goes once it is there,
  the records only move forward (the old value is an ancestor of the new), Published only moves by a
  compare-and-swap publish or a push, forward (a shared restore excepted: ``push --overwrite-published``);
- every checkpoint a clone lists has its commit and its records there, and can be restored;
- every job record pushed is readable in every clone after a pull.

Names of checkpoints and Drafts are read from gitbench's output (``checkpoints --json``, ``--json`` results),
never assumed.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import git, gitbench, make_project
from tests.gitserver import GitServer

ZERO = "0" * 40
PUBLISHED = "refs/heads/main"
RECORDS = "refs/gitbench/records"
TAGS = "refs/tags/checkpoint/"
DRAFTS = "refs/heads/gitbench/draft/"


@dataclass
class Outcome:
    """A gitbench command's exit code, its JSON answer (``result`` or ``error``) and its text."""

    code: int
    data: dict[str, Any]
    text: str

    @property
    def result(self) -> dict[str, Any]:
        assert self.code == 0, self.text
        return dict(self.data["result"])

    @property
    def error(self) -> dict[str, Any]:
        assert self.code != 0, self.text
        return dict(self.data.get("error") or {})

    @property
    def message(self) -> str:
        return (
            str(self.error.get("message", ""))
            + " "
            + " ".join(f"{a.get('label', '')} {a.get('command') or ''}" for a in self.error.get("actions") or [])
        )


@dataclass
class Clone:
    """One teammate's Workbench, a clone of the server."""

    name: str
    path: Path

    def run(self, *args: str, timeout: float = 120) -> Outcome:
        """`gitbench ARGS --json`; the answer parsed (exit code and JSON, whatever they are)."""
        # --json belongs to gitbench, before an exec's `--` (what follows is the job's command line).
        cut = args.index("--") if "--" in args else len(args)
        res = gitbench(self.path, *args[:cut], "--json", *args[cut:], timeout=timeout)
        text = f"gitbench {' '.join(args)} in {self.name} -> {res.returncode}\n{res.stdout}{res.stderr}"
        try:
            data = json.loads(res.stdout) if res.stdout.strip() else {}
        except ValueError:
            data = {}
        if res.returncode not in (0, 137) and not data:
            raise AssertionError(f"no JSON answer: {text}")
        assert "Traceback" not in res.stderr, text
        return Outcome(res.returncode, data, text)

    def ok(self, *args: str) -> dict[str, Any]:
        return self.run(*args).result

    def job(self, text: str, file: str = "f.txt") -> dict[str, Any]:
        """A command job in a Draft (no model): appends a line to ``file``; returns the `exec --json` result."""
        return self.ok("exec", "--", "sh", "-c", f"echo {shlex.quote(text)} >> {shlex.quote(file)}")

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.path, *args, check=check)

    def refs(self, prefix: str = "") -> dict[str, str]:
        out = self.git("for-each-ref", "--format=%(refname) %(objectname)", *([prefix] if prefix else []))
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def ref(self, ref: str) -> str | None:
        out = self.git("rev-parse", "-q", "--verify", ref + "^{}", check=False).strip()
        return out or None

    @property
    def published(self) -> str:
        return self.git("rev-parse", PUBLISHED).strip()

    @property
    def records(self) -> str | None:
        return self.ref(RECORDS)

    def checkpoints(self) -> list[dict[str, Any]]:
        """Every checkpoint `checkpoints --json` lists (``--all`` where the list is cut short by default)."""
        out = self.run("checkpoints", "--all")
        if out.code == 2:  # no --all: the list is whole already
            out = self.run("checkpoints")
        assert out.code == 0, out.text
        return list(out.data["result"])

    def drafts(self) -> list[str]:
        return sorted(self.refs(DRAFTS))

    def has(self, *oids: str) -> bool:
        proc = subprocess.run(
            ["git", "cat-file", "--batch-check"],
            cwd=self.path,
            input="".join(o + "\n" for o in oids),
            capture_output=True,
            text=True,
        )
        return "missing" not in proc.stdout

    def is_ancestor(self, a: str, b: str) -> bool:
        return subprocess.run(["git", "merge-base", "--is-ancestor", a, b], cwd=self.path).returncode == 0

    def job_record(self, job_id: str) -> dict[str, Any] | None:
        """`git show refs/gitbench/records:jobs/<id>.json`, or None when the records do not hold it."""
        proc = subprocess.run(
            ["git", "show", f"{RECORDS}:jobs/{job_id}.json"], cwd=self.path, capture_output=True, text=True
        )
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def job_in_history(self, job_id: str) -> bool:
        """Does the records chain hold this job's record in any commit (a restore may have taken it out of the
        newest tree, never out of the chain)?"""
        if self.records is None:
            return False
        # --full-history: a merge that took one side's version of the file hides the other side's otherwise.
        out = self.git("log", "--full-history", "--format=%H", "-1", RECORDS, "--", f"jobs/{job_id}.json")
        return bool(out.strip())


def make_team(server: GitServer, base: Path, names: tuple[str, ...] = ("alice", "bob")) -> list[Clone]:
    """The first teammate adopts a project and pushes it to the (empty) server; the others `git clone` the
    server and `gitbench init` there, which adopts the server's Published and records."""
    first = make_project(base / names[0])
    team = [Clone(names[0], first)]
    assert gitbench(first, "init").returncode == 0
    git(first, "remote", "add", "origin", server.url)
    team[0].ok("push")
    for name in names[1:]:
        git(base, "clone", "-q", server.url, str(base / name))
        clone = Clone(name, base / name)
        clone.ok("init")
        team.append(clone)
    return team


@dataclass
class ServerModel:
    """What the server held when last checked, to tell a legitimate change from a lost or overwritten ref."""

    server: GitServer
    tags: dict[str, str] = field(default_factory=dict)
    records: str | None = None
    published: str | None = None

    @classmethod
    def of(cls, server: GitServer) -> ServerModel:
        m = cls(server)
        m.observe()
        return m

    def observe(self) -> None:
        refs = self.server.refs()
        self.tags = {r: o for r, o in refs.items() if r.startswith(TAGS)}
        self.records = refs.get(RECORDS)
        self.published = refs.get(PUBLISHED)

    def check(self, published_may_move: bool = False, backwards: bool = False, why: str = "") -> dict[str, str]:
        """Assert the server lost nothing since the last check, then remember what it holds now.
        ``published_may_move``: the step was a push or a publish --remote (forward only, unless ``backwards``:
        a shared restore). Returns the server's refs."""
        refs = self.server.refs()
        for ref, oid in self.tags.items():
            assert refs.get(ref) == oid, f"{why}: checkpoint {ref} was {oid} on the server, now {refs.get(ref)}"
        new_records = refs.get(RECORDS)
        if self.records is not None:
            assert new_records is not None, f"{why}: the records are gone from the server"
            assert self._ancestor(self.records, new_records), (
                f"{why}: the server's records moved from {self.records} to {new_records}, not forward"
            )
        new_published = refs.get(PUBLISHED)
        if self.published is not None:
            assert new_published is not None, f"{why}: Published is gone from the server"
        if new_published != self.published:
            assert published_may_move, f"{why}: Published moved on the server ({self.published} -> {new_published})"
            if self.published is not None and not backwards:
                assert self._ancestor(self.published, new_published or ""), (
                    f"{why}: Published on the server moved from {self.published} to {new_published}, not forward"
                )
        # What the server committed in the meantime: no tag ever rewritten or deleted.
        for old, new, ref in self.server.updates():
            if ref.startswith(TAGS):
                assert old == ZERO and new != ZERO, f"{why}: the server rewrote or removed {ref} ({old} -> {new})"
        self.tags = {r: o for r, o in refs.items() if r.startswith(TAGS)}
        self.records, self.published = new_records, new_published
        return refs

    def _ancestor(self, a: str, b: str) -> bool:
        proc = subprocess.run(["git", "merge-base", "--is-ancestor", a, b], cwd=self.server.bare)
        return proc.returncode == 0


def check_checkpoints_usable(clone: Clone) -> list[dict[str, Any]]:
    """Every checkpoint the clone lists has its commit and its records commit in the clone."""
    listed = clone.checkpoints()
    oids = [c["commit"] for c in listed] + [c["records"] for c in listed if c.get("records")]
    assert clone.has(*oids), f"{clone.name} lists checkpoints whose objects it lacks: {listed}"
    return listed


def check_restore(clone: Clone, checkpoint: dict[str, Any]) -> None:
    """`restore NAME --yes` (no Draft open) reproduces that checkpoint's Published tree and records tree."""
    out = clone.run("restore", checkpoint["name"], "--yes")
    assert out.code == 0, out.text
    tree = clone.git("rev-parse", f"{checkpoint['commit']}^{{tree}}").strip()
    assert clone.git("rev-parse", f"{PUBLISHED}^{{tree}}").strip() == tree, out.text
    if checkpoint.get("records"):
        want = clone.git("rev-parse", f"{checkpoint['records']}^{{tree}}").strip()
        assert clone.git("rev-parse", f"{RECORDS}^{{tree}}").strip() == want, out.text
    assert clone.git("status", "--porcelain", "--untracked-files=no") == "", out.text
