"""A team of two or three clones around one Git server (tests/gitserver.py), driven by a Hypothesis state machine:
jobs, publishes (here and --remote), discards, checkpoints, restores, pushes and pulls in any order, two clones
pushing or publishing at the same moment, and pushes interrupted by a killed server or a cut network.

After every step (tests/teams.py): nothing on the server lost or overwritten unseen (checkpoint tags never change,
the records only move forward, Published only moves forward and only by a push or a publish --remote); the clone
that acted lists only checkpoints it has the objects of; each command ended in one of the outcomes its contract
allows (a push refused only because Published moved, with the way out named). Restores are of any checkpoint
listed, teammates' included. At the end every clone pulls and pushes: whatever an interrupted push left, that
settles it: the server holds every clone's checkpoints, every clone every job record that reached the server,
and every Workbench passes DESIGN.md's invariants.

Bounded to run in well under a minute on two cores: a few examples of a dozen steps, derandomized (the same runs
in CI and here), no shrinking (a failure prints its steps as they ran).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.conftest import start_gitbench
from tests.gitserver import FLAVOURS, GitServer
from tests.invariants import check_invariants
from tests.teams import (
    DRAFTS,
    PUBLISHED,
    RECORDS,
    TAGS,
    Clone,
    Outcome,
    ServerModel,
    check_checkpoints_usable,
    make_team,
)

NAMES = ("alice", "bob", "carol")
OUTCOMES: Counter[str] = Counter()  # what the commands ended in, over all examples: is the machine doing things?
WHO = st.integers(0, 2)
FILES = st.sampled_from(["shared.txt", "own"])  # "own": a file only that clone writes


class Template:
    """One team (a server and three clones) made once per test; each example starts from a copy of it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        server = GitServer(base / "server", "daemon")
        server.start()
        try:
            make_team(server, base, NAMES)
        finally:
            server.close()
        self.bare = server.bare
        self.count = 0

    def copy(self, flavour: str, atomic: bool, n: int) -> tuple[GitServer, list[Clone]]:
        self.count += 1
        root = self.base / f"run{self.count}"
        server = GitServer(root / "server", flavour, seed=self.bare)  # type: ignore[arg-type]
        server.set_atomic(atomic)
        server.start()
        clones = []
        for name in NAMES[:n]:
            shutil.copytree(self.base / name, root / name, symlinks=True)
            clone = Clone(name, root / name)
            clone.git("remote", "set-url", "origin", server.url)
            clones.append(clone)
        return server, clones


class TeamMachine(RuleBasedStateMachine):
    template: Template

    def __init__(self) -> None:
        super().__init__()
        self.server: GitServer | None = None
        self.clones: list[Clone] = []
        self.restored = False  # a restore takes jobs out of the newest records (never out of their history)
        self.interrupted: list[Clone] = []  # the clones whose push broke off, in order

    @initialize(flavour=st.sampled_from(FLAVOURS), atomic=st.booleans(), n=st.sampled_from([2, 3]))
    def team(self, flavour: str, atomic: bool, n: int) -> None:
        self.server, self.clones = self.template.copy(flavour, atomic, n)
        self.model = ServerModel.of(self.server)
        self.touched: Clone | None = None

    def teardown(self) -> None:
        try:
            if self.server is not None and self.clones:
                self.settle()
        finally:
            if self.server is not None:
                self.server.close()

    # -- helpers ------------------------------------------------------------------------------------------------

    def who(self, i: int) -> Clone:
        self.touched = self.clones[i % len(self.clones)]
        return self.touched

    @property
    def srv(self) -> GitServer:
        assert self.server is not None
        return self.server

    def expect(self, out: Outcome, *codes: int) -> Outcome:
        """The command ended in one of the outcomes its contract allows (0 or ``codes``); counted in
        OUTCOMES (printed at the end: ``pytest -s``)."""
        label = re.sub(r" -- .*| -m .*", "", out.text.split(" in ", 1)[0])  # the command, not its arguments
        OUTCOMES[re.sub(r"(--draft|restore) \S+", r"\1", label) + f" -> {out.code}"] += 1
        assert out.code in (0, *codes), out.text
        return out

    def server_jobs(self) -> set[str]:
        records = self.srv.refs().get(RECORDS)
        if records is None:
            return set()
        proc = subprocess.run(
            ["git", "ls-tree", "--name-only", f"{records}:jobs"], cwd=self.srv.bare, capture_output=True, text=True
        )
        return {name.removesuffix(".json") for name in proc.stdout.split()}

    def check_push_refused(self, c: Clone, out: Outcome) -> None:
        """A push is refused only because Published moved (or a restore here is not shared yet, or a teammate's
        restore there is not followed here): said so, with what to run, and nothing changed on the server."""
        assert out.error.get("code") == "remote-moved", out.text
        assert "gitbench pull" in out.message or "--overwrite-published" in out.message, out.text
        self.model.check(why=f"{c.name}'s refused push")
        server = self.srv.refs()[PUBLISHED]
        diverged = not c.is_ancestor(server, c.published)
        restored_here = c.is_ancestor(c.published, server) and "--overwrite-published" in out.message
        # A teammate moved the server's Published back from what this clone last followed: not undone from here.
        followed = c.ref("refs/gitbench/remotes/origin/published")
        restored_there = "moved back" in out.message and followed is not None and not c.is_ancestor(followed, server)
        assert diverged or restored_here or restored_there, (
            f"{c.name}'s push was refused but its Published contains the server's: {out.text}"
        )

    def check_pushed(self, c: Clone, overwrite: bool = False) -> None:
        refs = self.model.check(published_may_move=True, backwards=overwrite, why=f"{c.name}'s push")
        missing = {r: o for r, o in c.refs(TAGS).items() if refs.get(r) != o}
        assert not missing, f"{c.name} pushed, but the server lacks its checkpoints {missing}"
        if c.records is not None:
            assert self.model._ancestor(c.records, refs[RECORDS]), f"{c.name}'s records did not reach the server"
        assert self.model._ancestor(c.published, refs[PUBLISHED]), f"{c.name}'s Published is not on the server"

    def check_pulled(self, c: Clone) -> None:
        refs = self.model.check(why=f"{c.name}'s pull")
        mine = c.refs(TAGS)
        assert all(mine.get(r) == o for r, o in refs.items() if r.startswith(TAGS)), f"{c.name} lacks checkpoints"
        if RECORDS in refs:
            assert c.records is not None and c.is_ancestor(refs[RECORDS], c.records), c.name
        assert c.is_ancestor(refs[PUBLISHED], c.published) or c.is_ancestor(c.published, refs[PUBLISHED]), c.name
        for job in self.server_jobs():
            if self.restored:
                assert c.job_in_history(job), f"{c.name} has no record of job {job} after a pull"
            else:
                assert c.job_record(job) is not None, f"{c.name} cannot read job {job} after a pull"

    # -- rules: one clone -------------------------------------------------------------------------------------
    # Each rule does its work wherever it can (a publish picks a clone with a Draft, or makes one first), so
    # that a dozen steps do a dozen things, not a dozen refusals.

    def job_in(self, c: Clone, text: str, file: str) -> Outcome:
        name = f"{c.name}.txt" if file == "own" else file
        on_draft = ["--on-draft", "discard"] if c.drafts() else []
        # 4: several Drafts open (after pull --keep-mine): --on-draft does not guess which
        return self.expect(c.run("exec", *on_draft, "--", "sh", "-c", f"echo {text} >> {name}"), 4)

    @rule(i=WHO, file=FILES, text=st.sampled_from(["one", "two", "three"]))
    def job(self, i: int, file: str, text: str) -> None:
        self.job_in(self.who(i), text, file)

    @rule(i=WHO, remote=st.booleans(), pull_first=st.booleans(), file=FILES)
    def publish(self, i: int, remote: bool, pull_first: bool, file: str) -> None:
        """Publish a Draft here or ``--remote`` (after a pull, as teams.md says, or not: then the server has
        often moved, and the publish is refused with the Workbench untouched)."""
        with_draft = [c for c in self.clones if c.drafts()]
        c = self.who(i) if not with_draft else with_draft[i % len(with_draft)]
        self.touched = c
        if not c.drafts():
            self.job_in(c, "for publish", file)
        if pull_first:
            self.pull(self.clones.index(c), keep_mine=True)
        args = ("publish", "--remote") if remote else ("publish",)
        before = (c.published, c.records, c.drafts())
        out = self.expect(c.run(*args), 4, 7, 19)  # several Drafts / made from an older Published / server moved
        if out.code == 7 and "rebase" in out.message:
            # The Draft was made from an older Published (a pull moved it): rebase it, publish again.
            if self.expect(c.run("rebase"), 7).code == 0:
                before = (c.published, c.records, c.drafts())
                out = self.expect(c.run(*args), 19)
        refs = self.model.check(published_may_move=remote and out.code == 0, why=f"{c.name}: {' '.join(args)}")
        if remote and out.code == 0:
            assert refs[PUBLISHED] == c.published, out.text
        if out.code == 19:
            # a teammate published there: pull first; or the server is behind (a publish here only): push first
            assert "gitbench pull" in out.message or "gitbench push" in out.message, out.text
            assert (c.published, c.records, c.drafts()) == before, "a refused publish --remote changed the Workbench"
        if out.code in (4, 7):
            self.discard_in(c)

    def discard_in(self, c: Clone) -> None:
        for ref in c.drafts():
            self.expect(c.run("discard", "--draft", ref.rsplit("/", 1)[1], "--yes"))

    @rule(i=WHO)
    def discard(self, i: int) -> None:
        self.discard_in(self.who(i))

    @rule(i=WHO)
    def checkpoint(self, i: int) -> None:
        c = self.who(i)
        made = c.ok("checkpoint", "-m", "by hand")["checkpoints"]
        assert made and all(c.ref(f"refs/tags/{name}") for name in made), made

    @rule(i=WHO, k=st.integers(0, 50))
    def restore(self, i: int, k: int) -> None:
        """Restore any checkpoint the clone lists (a teammate's too, once pulled)."""
        c = self.who(i)
        self.discard_in(c)  # Restore is blocked while a Draft is open
        listed = check_checkpoints_usable(c)
        chosen = listed[k % len(listed)]
        out = self.expect(c.run("restore", chosen["name"], "--yes"))
        self.restored = True
        assert c.git("rev-parse", f"{PUBLISHED}^{{tree}}") == c.git("rev-parse", f"{chosen['commit']}^{{tree}}")
        if chosen.get("records"):
            want = c.git("rev-parse", f"{chosen['records']}^{{tree}}")
            assert c.git("rev-parse", f"{RECORDS}^{{tree}}") == want, f"records not restored to {chosen}: {out.text}"
        self.model.check(why=f"{c.name}'s restore")

    @rule(i=WHO, overwrite=st.booleans(), drafts=st.booleans())
    def push(self, i: int, overwrite: bool, drafts: bool) -> None:
        """A push (``--overwrite-published``: sharing a restore, the one push that may move the server's
        Published backwards, and only over what this clone saw there) succeeds, or is refused only because
        Published moved. With ``--drafts``, a Draft goes from the server only if this clone had it."""
        c = self.who(i)
        seen = c.ref(f"refs/remotes/origin/{PUBLISHED.removeprefix('refs/heads/')}")
        known = {r.rsplit("/", 1)[1] for r in c.drafts()} | {
            r.rsplit("/", 1)[1] for r in c.refs("refs/gitbench/remotes/origin/drafts/")
        }
        on_server = {r.rsplit("/", 1)[1] for r in self.srv.refs(DRAFTS)}
        before = self.model.published
        args = ["push"] + (["--overwrite-published"] if overwrite else []) + (["--drafts"] if drafts else [])
        out = self.expect(c.run(*args), 19)
        if out.code == 0:
            self.check_pushed(c, overwrite)
            if overwrite and before is not None and not self.model._ancestor(before, self.model.published or ""):
                assert before == seen, f"{c.name} put its Published over one it had not seen ({before}): {out.text}"
        else:
            self.check_push_refused(c, out)
        gone = on_server - {r.rsplit("/", 1)[1] for r in self.srv.refs(DRAFTS)}
        assert gone <= known, f"{c.name}'s push removed Drafts it never had from the server: {gone}; {out.text}"

    @rule(i=WHO, keep_mine=st.booleans(), drafts=st.booleans())
    def pull(self, i: int, keep_mine: bool, drafts: bool = False) -> None:
        c = self.who(i)
        args = ["pull"] + (["--keep-mine"] if keep_mine else []) + (["--drafts"] if drafts else [])
        out = self.expect(c.run(*args), *(() if keep_mine else (19,)))
        if out.code == 0:
            self.check_pulled(c)
            check_checkpoints_usable(c)
        else:
            assert "--keep-mine" in out.message, out.text
            self.model.check(why=f"{c.name}'s refused pull")

    # -- rules: two clones at once, interruptions ---------------------------------------------------------------

    @precondition(lambda self: len(self.clones) >= 2)
    @rule(i=WHO, j=WHO, what=st.sampled_from(["push", "publish --remote", "push+pull"]))
    def at_once(self, i: int, j: int, what: str) -> None:
        """Two clones at the same moment (each a real process): a teammate's push never refuses mine except by
        moving Published first; two publish --remote: at most one wins, the other is refused untouched."""
        a = self.clones[i % len(self.clones)]
        b = self.clones[j % len(self.clones)]
        if a is b:
            b = self.clones[(i + 1) % len(self.clones)]
        args = {
            "push": (("push",), ("push",)),
            "publish --remote": (("publish", "--remote"), ("publish", "--remote")),
            "push+pull": (("push",), ("pull",)),
        }[what]
        # Something to share on each side: a job (a checkpoint and a job record), or a Draft to publish.
        for c in (a, b) if what != "push+pull" else (a,):
            if what != "publish --remote" or not c.drafts():
                self.job_in(c, "at once", "own")
        outs: list[Outcome | None] = [None, None]
        barrier = threading.Barrier(2)

        def go(k: int, c: Clone, cmd: tuple[str, ...]) -> None:
            barrier.wait()
            outs[k] = c.run(*cmd)

        pairs = list(zip((a, b), args, strict=True))
        threads = [threading.Thread(target=go, args=(k, c, cmd)) for k, (c, cmd) in enumerate(pairs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        self.touched = a
        refs = self.model.check(published_may_move=True, why=f"{a.name} and {b.name}: {what} at once")
        for (c, cmd), out in zip(pairs, outs, strict=True):
            assert out is not None
            out.text = f"at once: {out.text}"
            allowed = {"push": (19,), "publish": (4, 7, 19), "pull": (19,)}[cmd[0]]
            self.expect(out, *allowed)
            if cmd[0] == "push" and out.code == 19:
                self.check_push_refused(c, out)
            if cmd[0] == "push" and out.code == 0:
                missing = {r for r, o in c.refs(TAGS).items() if refs.get(r) != o}
                assert not missing, f"{c.name}'s push at once: the server lacks {missing}"
            if cmd[0] == "publish" and out.code == 19:
                # as in publish: a teammate published there (pull first), or the server is behind (push first)
                assert "gitbench pull" in out.message or "gitbench push" in out.message, out.text
        if what == "publish --remote":
            won = [c for (c, _), out in zip(pairs, outs, strict=True) if out is not None and out.code == 0]
            assert len(won) <= 1 or won[0].published == won[1].published, "two publish --remote both won"
            for c in (a, b):
                self.discard_in(c)

    @rule(i=WHO, how=st.sampled_from(["kill before", "kill after", "cut"]), nbytes=st.integers(20, 4000))
    def interrupted_push(self, i: int, how: str, nbytes: int) -> None:
        """A push the server died during (before any ref moved, or after it applied everything), or cut by the
        network after ``nbytes``: it fails saying so (exit 18), and the server lost nothing."""
        c = self.who(i)
        c.ok("checkpoint", "-m", "something to push")
        server = self.srv
        self.interrupted = [x for x in self.interrupted if x is not c] + [c]
        if how == "cut":
            server.cut_after(nbytes)
            out = c.run("push")
            server.heal()
            out.text = out.text.replace("gitbench push", "gitbench push (cut)", 1)
        else:
            server.pause("pre-receive" if how == "kill before" else "committed")
            proc = start_gitbench(c.path, "push", "--json")  # a process of its own, running while the server dies
            if server.wait_paused(client=proc):
                server.kill()
            res = proc.communicate(timeout=120)
            if server.proc is None:
                server.start()
            try:
                data: dict[str, Any] = json.loads(res.stdout) if res.stdout.strip() else {}
            except ValueError:
                data = {}
            out = Outcome(
                res.returncode,
                data,
                f"gitbench push ({how}) in {c.name} -> {res.returncode}\n{res.stdout}{res.stderr}",
            )
        self.expect(out, 18, 19)
        if out.code == 18:
            assert out.error.get("code") == "remote", out.text
        # Whatever the server saw (nothing, part of it, all of it), it lost nothing.
        self.model.check(published_may_move=True, why=f"{c.name}'s push, interrupted ({how})")

    # -- after every step -------------------------------------------------------------------------------------

    @invariant()
    def server_lost_nothing(self) -> None:
        if self.server is not None and self.clones:
            self.model.check(why="after the step")

    # -- at the end -------------------------------------------------------------------------------------------

    def settle(self) -> None:
        """Each Workbench passes DESIGN.md's invariants and lists only checkpoints it can use. After interrupted
        pushes: each clone whose push broke off pulls (keeping its own publishes as a Draft) and pushes again,
        then the others pull: that settles whatever the server was left with; the server then has every
        checkpoint of those clones, and every clone every checkpoint and job record of the server."""
        for c in self.interrupted:
            self.expect(c.run("pull", "--keep-mine"))
            self.check_pulled(c)
            self.expect(c.run("push"))
            self.check_pushed(c)
        if self.interrupted:
            for c in self.clones:
                if c not in self.interrupted[-1:]:
                    self.expect(c.run("pull", "--keep-mine"))
                    self.check_pulled(c)
            tags = self.srv.refs(TAGS)
            for c in self.interrupted:
                assert set(c.refs(TAGS)) <= set(tags), f"{c.name}'s checkpoints did not all reach the server"
            self.srv.git("fsck", "--no-dangling")
        for c in self.clones:
            check_checkpoints_usable(c)
            check_invariants(c.path)


@pytest.mark.slow  # ~30-50 s: a walk of 6 x 12 steps over 2-3 clones and a real server
def test_a_team_around_a_server_loses_nothing(tmp_path: Path) -> None:
    TeamMachine.template = Template(tmp_path / "template")
    run_state_machine_as_test(
        TeamMachine,
        settings=settings(
            # CI: a fixed, short walk. A soak: TEAMS_SOAK_EXAMPLES=60 walks more, at random.
            max_examples=int(os.environ.get("TEAMS_SOAK_EXAMPLES", "6")),
            stateful_step_count=12,
            deadline=None,
            derandomize="TEAMS_SOAK_EXAMPLES" not in os.environ,
            database=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
    print("\n".join(f"{n:4} {what}" for what, n in sorted(OUTCOMES.items())))
