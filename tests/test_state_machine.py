"""The Draft / Publish / Discard / Checkpoint / Restore state machine, explored by Hypothesis through the real CLI.

The model keeps what a user expects: Published's files, the open Draft's files, the discarded Drafts (newest
last), and the Published files each checkpoint captured. After every step the real Workbench must agree with it,
and DESIGN.md's invariants must hold (each rule checks them against a snapshot taken before it ran). The clock
is fixed (GITBENCH_NOW), so every command of an example runs in "the same second": the hardest case for ids
and ordering.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.conftest import (
    CHECKPOINT_NAME,
    Snapshot,
    check_invariants,
    checkpoint_names,
    git,
    gitbench,
    make_project,
    start_gitbench,
)

NOW = {"GITBENCH_NOW": "1767225600"}
START = {"README.md": "# project\n", "src/app.py": "print('hello')\n"}
# (path, --files glob that puts it in scope)
TARGETS = [
    ("src/app.py", "src/**"),
    ("src/new.py", "src/**"),
    ("src/deep/x.txt", "src/**/*.txt"),
    ("notes.md", "*.md"),
    ("README.md", "*.md"),
]
CONTENT = st.text("abcxyz \n", max_size=12)

Tree = dict[str, str]


def tree_of(repo: Path, rev: str) -> Tree:
    """The files of ``rev``, each read with `git show rev:path`."""
    names = git(repo, "ls-tree", "-r", "-z", "--name-only", rev).split("\0")
    return {n: git(repo, "show", f"{rev}:{n}") for n in names if n}


def blob_ids(repo: Path, rev: str) -> dict[str, str]:
    out = git(repo, "ls-tree", "-r", "-z", rev)
    return {line.split("\t", 1)[1]: line.split()[2] for line in out.split("\0") if line}


def same_files(repo: Path, rev: str, files: Tree) -> bool:
    """Does ``rev`` hold exactly ``files``? (One git call: compare Git's blob ids with ours.)"""

    def oid(text: str) -> str:
        data = text.encode()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    return blob_ids(repo, rev) == {path: oid(text) for path, text in files.items()}


class Workbench(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="gitbench-sm-"))
        self.repo = make_project(self.tmp / "wb", START)
        self.call("init", expect=0)
        self.published: Tree = dict(START)
        self.draft: Tree | None = None
        self.draft_base: str | None = None  # the Published commit the open Draft was made from
        self.trash: list[tuple[Tree, str]] = []  # discarded Drafts, newest last: (files, base)
        self.checkpoints: list[Tree] = [dict(START)]  # the Published files each checkpoint captured, oldest first
        self.names: list[str] = checkpoint_names(self.repo)  # and their names
        assert len(self.names) == 1
        self.checked: tuple[Any, ...] | None = None

    def teardown(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------------------------
    def call(self, *args: str, expect: int) -> Any:
        res = gitbench(self.repo, *args, env=NOW)
        assert res.returncode == expect, (
            f"gitbench {' '.join(args)}: exit {res.returncode}, expected {expect}\n{res.stdout}\n{res.stderr}"
        )
        if "--json" in args:
            data = json.loads(res.stdout)
            assert data["ok"] is (expect == 0)
            return data["result"] if expect == 0 else data["error"]
        return None

    def main(self) -> str:
        return git(self.repo, "rev-parse", "main").strip()

    def publish_would_conflict(self) -> bool:
        return self.draft_base != self.main()

    def took(self, result: dict[str, Any], files: Tree) -> None:
        """The one checkpoint a command reports, capturing ``files``: a new name, after every earlier one (a
        clone's names sort in the order it took them, even all within one second, as here: the clock is fixed)."""
        (name,) = result["checkpoints"]
        assert CHECKPOINT_NAME.fullmatch(name) and all(name > earlier for earlier in self.names), (name, self.names)
        self.names.append(name)
        self.checkpoints.append(dict(files))

    def model_publish(self, result: dict[str, Any]) -> None:
        assert self.draft is not None
        self.published = self.draft
        self.took(result, self.published)  # the publish checkpoint
        self.draft = self.draft_base = None

    def model_discard(self) -> None:
        assert self.draft is not None and self.draft_base is not None
        self.trash.append((self.draft, self.draft_base))
        self.draft = self.draft_base = None

    # -- rules --------------------------------------------------------------------------------------------------
    @rule(where=st.sampled_from(TARGETS), text=CONTENT, on_draft=st.sampled_from([None, "publish", "discard"]))
    def exec(self, where: tuple[str, str], text: str, on_draft: str | None) -> None:
        path, glob = where
        before = Snapshot.take(self.repo)
        choice = ("--on-draft", on_draft) if on_draft else ()
        args = (
            "exec",
            "--json",
            *choice,
            "--files",
            glob,
            "--",
            sys.executable,
            "-c",
            f"import pathlib; p = pathlib.Path({path!r}); p.parent.mkdir(parents=True, exist_ok=True); "
            f"p.write_text({text!r})",
        )
        if self.draft is not None and on_draft is None:
            err = self.call(*args, expect=4)
            assert err["code"] == "draft-open"
            check_invariants(self.repo, before, published_may_change=False)
            return
        if self.draft is not None and on_draft == "publish" and self.publish_would_conflict():
            self.call(*args, expect=7)
            check_invariants(self.repo, before, published_may_change=False)
            return
        result = self.call(*args, expect=0)
        if self.draft is not None and on_draft == "publish":  # the Draft's publish checkpoint, then the job's auto
            publish, auto = [n for n in checkpoint_names(self.repo) if n not in self.names]
            assert result["checkpoints"] == [auto]
            self.model_publish({"checkpoints": [publish]})
        elif self.draft is not None:
            self.model_discard()
        self.took(result, self.published)  # the auto checkpoint before the job
        if self.published.get(path) == text:  # the command changed nothing: no (empty) Draft is kept
            assert result["draft"] is None and "changed nothing" in result["summary"]
        else:
            self.draft = {**self.published, path: text}
            self.draft_base = self.main()
        check_invariants(self.repo, before, published_may_change=on_draft == "publish")

    @rule()
    def publish(self) -> None:
        before = Snapshot.take(self.repo)
        if self.draft is None:
            assert self.call("publish", "--json", expect=5)["code"] == "no-draft"
        elif self.publish_would_conflict():
            assert self.call("publish", "--json", expect=7)["code"] == "publish-conflict"
        else:
            result = self.call("publish", "--json", expect=0)
            self.model_publish(result)
        check_invariants(self.repo, before)

    @rule()
    def discard(self) -> None:
        before = Snapshot.take(self.repo)
        if self.draft is None:
            self.call("discard", "--yes", "--json", expect=5)
        else:
            self.call("discard", "--yes", "--json", expect=0)
            self.model_discard()
        check_invariants(self.repo, before, published_may_change=False)

    @rule()
    def undo_discard(self) -> None:
        before = Snapshot.take(self.repo)
        if self.draft is not None:
            assert self.call("discard", "--undo", "--json", expect=4)["code"] == "draft-open"
        elif not self.trash:
            self.call("discard", "--undo", "--json", expect=5)
        else:
            self.call("discard", "--undo", "--json", expect=0)
            self.draft, self.draft_base = self.trash.pop()
        check_invariants(self.repo, before, published_may_change=False)

    @rule(message=st.sampled_from(["", "by hand", "before: a risky edit"]))
    def checkpoint(self, message: str) -> None:
        before = Snapshot.take(self.repo)
        result = self.call("checkpoint", "--json", *(("-m", message) if message else ()), expect=0)
        self.took(result, self.published)
        check_invariants(self.repo, before, published_may_change=False)

    @rule(pick=st.integers(min_value=0, max_value=10_000))
    def restore(self, pick: int) -> None:
        before = Snapshot.take(self.repo)
        index = pick % len(self.checkpoints)
        name = self.names[index]
        if self.draft is not None:
            err = self.call("restore", name, "--yes", "--json", expect=4)
            assert err["code"] == "draft-open"
            check_invariants(self.repo, before, published_may_change=False)
            return
        result = self.call("restore", name, "--yes", "--json", expect=0)
        self.took(result, self.published)  # the pre-restore checkpoint
        self.published = dict(self.checkpoints[index])
        check_invariants(self.repo, before)

    # -- checked after every step -------------------------------------------------------------------------------
    @invariant()
    def published_holds_the_expected_files(self) -> None:
        assert tree_of(self.repo, "main") == self.published
        for path, text in self.published.items():  # and the checked-out files show Published
            assert (self.repo / path).read_text() == text

    @invariant()
    def at_most_one_draft_holding_the_expected_files(self) -> None:
        refs = git(self.repo, "for-each-ref", "--format=%(refname)", "refs/heads/gitbench/draft/").split()
        assert len(refs) <= 1
        assert (refs != []) == (self.draft is not None)
        if refs:
            assert same_files(self.repo, refs[0], self.draft), tree_of(self.repo, refs[0])

    @invariant()
    def every_checkpoint_exists_with_the_files_it_captured(self) -> None:
        assert checkpoint_names(self.repo) == self.names  # every one, in the order taken
        newest = self.names[-1]
        assert same_files(self.repo, newest, self.checkpoints[-1]), tree_of(self.repo, newest)

    @invariant()
    def restore_and_exec_are_blocked_while_a_draft_is_open(self) -> None:
        if self.draft is None:
            return
        state = (self.draft_base, tuple(sorted(self.draft.items())))
        if state == self.checked:
            return  # the same Draft as at the last check: a refusal changes nothing, so the answer is the same
        self.checked = state
        before = Snapshot.take(self.repo)
        # Both run at once on one Workbench, each a process of its own: the loser waits for the lock; under a loaded
        # CI machine 2 s is not enough, and "busy" is not what is tested here.
        procs = [
            start_gitbench(self.repo, *args, env={**NOW, "GITBENCH_LOCK_WAIT": "60"})
            for args in (
                ["restore", self.names[0], "--yes", "--json"],
                ["exec", "--json", "--", sys.executable, "-c", "open('x', 'w')"],
            )
        ]
        for proc in procs:
            res = proc.communicate(timeout=60)
            assert res.returncode == 4, f"{res.args}: exit {res.returncode}\n{res.stdout}{res.stderr}"
            assert json.loads(res.stdout)["error"]["code"] == "draft-open"
        after = Snapshot.take(self.repo)
        assert (after.published, after.drafts, after.checkpoints) == (
            before.published,
            before.drafts,
            before.checkpoints,
        )


@pytest.mark.timeout(900)  # ~40 s alone; hundreds of real subprocesses, so a loaded machine stretches it a lot
@pytest.mark.slow  # ~30 s: the Draft/Publish/Restore walk (run first in CI, beside the short tests)
def test_draft_publish_restore_state_machine() -> None:
    run_state_machine_as_test(
        Workbench,
        settings=settings(
            max_examples=15,
            stateful_step_count=8,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
