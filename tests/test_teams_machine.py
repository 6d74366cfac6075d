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

import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

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

from tests.gitserver import FLAVOURS, GitServer
from tests.invariants import check_invariants
from tests.teams import PUBLISHED, RECORDS, TAGS, Clone, Outcome, ServerModel, check_checkpoints_usable, make_team

NAMES = ("alice", "bob", "carol")
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
        """A push is refused only because Published moved (or a restore here is not shared yet): said so, with
        what to run, and nothing changed on the server."""
        assert out.error.get("code") == "remote-moved", out.text
        assert "gitbench pull" in out.message or "--overwrite-published" in out.message, out.text
        self.model.check(why=f"{c.name}'s refused push")
        server = self.srv.refs()[PUBLISHED]
        diverged = not c.is_ancestor(server, c.published)
        restored_here = c.is_ancestor(c.published, server) and "--overwrite-published" in out.message
        assert diverged or restored_here, f"{c.name}'s push was refused but its Published contains the server's"

    def check_pushed(self, c: Clone) -> None:
        refs = self.model.check(published_may_move=True, why=f"{c.name}'s push")
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

    @rule(i=WHO, file=FILES, text=st.sampled_from(["one", "two", "three"]))
    def job(self, i: int, file: str, text: str) -> None:
        c = self.who(i)
        name = f"{c.name}.txt" if file == "own" else file
        self.expect(c.run("exec", "--", "sh", "-c", f"echo {text} >> {name}"), 4)  # 4: a Draft is open

    @rule(i=WHO)
    def publish(self, i: int) -> None:
        c = self.who(i)
        self.expect(c.run("publish"), 4, 5, 7)  # several Drafts / none / made from an older Published
        self.model.check(why=f"{c.name}'s local publish")

    @rule(i=WHO)
    def publish_remote(self, i: int) -> None:
        c = self.who(i)
        before = (c.published, c.records, c.drafts())
        out = self.expect(c.run("publish", "--remote"), 4, 5, 7, 19)
        refs = self.model.check(published_may_move=out.code == 0, why=f"{c.name}'s publish --remote")
        if out.code == 0:
            assert refs[PUBLISHED] == c.published, out.text
        if out.code == 19:
            assert "gitbench pull" in out.message, out.text
            assert (c.published, c.records, c.drafts()) == before, "a refused publish --remote changed the Workbench"

    @rule(i=WHO)
    def discard(self, i: int) -> None:
        c = self.who(i)
        for ref in c.drafts():
            self.expect(c.run("discard", "--draft", ref.rsplit("/", 1)[1], "--yes"))

    @rule(i=WHO)
    def rebase(self, i: int) -> None:
        c = self.who(i)
        self.expect(c.run("rebase"), 4, 5, 7)

    @rule(i=WHO)
    def checkpoint(self, i: int) -> None:
        c = self.who(i)
        made = c.ok("checkpoint", "-m", "by hand")["checkpoints"]
        assert all(c.ref(f"refs/tags/{name}") for name in made), made

    @rule(i=WHO, k=st.integers(0, 50))
    def restore(self, i: int, k: int) -> None:
        c = self.who(i)
        listed = c.checkpoints()
        chosen = listed[k % len(listed)]
        out = self.expect(c.run("restore", chosen["name"], "--yes"), 4)  # 4: a Draft is open
        if out.code == 0:
            self.restored = True
            assert c.git("rev-parse", f"{PUBLISHED}^{{tree}}") == c.git("rev-parse", f"{chosen['commit']}^{{tree}}")
            if chosen.get("records"):
                want = c.git("rev-parse", f"{chosen['records']}^{{tree}}")
                assert c.git("rev-parse", f"{RECORDS}^{{tree}}") == want, f"records not restored to {chosen}"
        self.model.check(why=f"{c.name}'s restore")

    @rule(i=WHO)
    def push(self, i: int) -> None:
        c = self.who(i)
        out = self.expect(c.run("push"), 19)
        if out.code == 0:
            self.check_pushed(c)
        else:
            self.check_push_refused(c, out)

    @rule(i=WHO)
    def push_overwrite(self, i: int) -> None:
        """Share a restore (Published put back): the one push that may move the server's Published backwards."""
        c = self.who(i)
        out = self.expect(c.run("push", "--overwrite-published"), 19)
        if out.code == 0:
            refs = self.model.check(published_may_move=True, backwards=True, why=f"{c.name}'s push --overwrite")
            assert refs[PUBLISHED] == c.published or c.is_ancestor(c.published, refs[PUBLISHED]), out.text
        else:
            self.check_push_refused(c, out)

    @rule(i=WHO, keep_mine=st.booleans())
    def pull(self, i: int, keep_mine: bool) -> None:
        c = self.who(i)
        out = self.expect(c.run("pull", *(["--keep-mine"] if keep_mine else [])), *(() if keep_mine else (19,)))
        if out.code == 0:
            self.check_pulled(c)
        else:
            assert "--keep-mine" in out.message, out.text
            self.model.check(why=f"{c.name}'s refused pull")

    # -- rules: two clones at once, interruptions ---------------------------------------------------------------

    @precondition(lambda self: len(self.clones) >= 2)
    @rule(i=WHO, j=WHO, what=st.sampled_from(["push", "publish --remote", "push+pull"]))
    def at_once(self, i: int, j: int, what: str) -> None:
        a = self.clones[i % len(self.clones)]
        b = self.clones[j % len(self.clones)]
        if a is b:
            b = self.clones[(i + 1) % len(self.clones)]
        args = {
            "push": (("push",), ("push",)),
            "publish --remote": (("publish", "--remote"), ("publish", "--remote")),
            "push+pull": (("push",), ("pull",)),
        }[what]
        outs: list[Outcome | None] = [None, None]
        barrier = threading.Barrier(2)

        def go(k: int, c: Clone, cmd: tuple[str, ...]) -> None:
            barrier.wait()
            outs[k] = c.run(*cmd)

        threads = [
            threading.Thread(target=go, args=(k, c, cmd)) for k, (c, cmd) in enumerate(zip((a, b), args, strict=True))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
        self.touched = a
        for c, cmd, out in zip((a, b), args, outs, strict=True):
            assert out is not None
            # A teammate's push at the same moment never refuses mine, except by moving Published; at worst it
            # is busy for a moment (exit 18, "teammates are pushing right now") -- never anything else.
            allowed = {"push": (19,), "publish": (4, 5, 7, 19), "pull": (19,)}[cmd[0]]
            self.expect(out, *allowed)
            if cmd[0] == "push" and out.code == 19:
                self.check_push_refused(c, out)
        self.model.check(published_may_move=True, why=f"{a.name} and {b.name}: {what} at once")
        for c, cmd, out in zip((a, b), args, outs, strict=True):
            if cmd[0] == "push" and out is not None and out.code == 0:
                missing = {r for r, o in c.refs(TAGS).items() if self.srv.refs().get(r) != o}
                assert not missing, f"{c.name}'s push at once: the server lacks {missing}"

    @rule(i=WHO, how=st.sampled_from(["kill before", "kill after", "cut"]), nbytes=st.integers(20, 4000))
    def interrupted_push(self, i: int, how: str, nbytes: int) -> None:
        c = self.who(i)
        server = self.srv
        if how == "cut":
            server.cut_after(nbytes)
            out = c.run("push")
            server.heal()
        else:
            server.pause("pre-receive" if how == "kill before" else "committed")
            proc = subprocess.Popen(
                [sys.executable, "-m", "gitbench", "push", "--json"],
                cwd=c.path,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            if server.wait_paused(client=proc):
                server.kill()
                server.start()
            stdout, stderr = proc.communicate(timeout=120)
            import json

            try:
                data: dict[str, Any] = json.loads(stdout) if stdout.strip() else {}
            except ValueError:
                data = {}
            out = Outcome(proc.returncode, data, f"push in {c.name} ({how}) -> {proc.returncode}\n{stdout}{stderr}")
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

    @invariant()
    def listed_checkpoints_are_usable(self) -> None:
        if self.touched is not None:
            check_checkpoints_usable(self.touched)

    # -- at the end -------------------------------------------------------------------------------------------

    def settle(self) -> None:
        """Every clone pulls (keeping its own publishes as a Draft) and pushes, then pulls again: whatever was
        interrupted is settled, and the team agrees on the checkpoints and on the jobs that were shared."""
        for c in self.clones:
            self.expect(c.run("pull", "--keep-mine"))
            self.expect(c.run("push"))
            self.model.check(published_may_move=True, why=f"{c.name} settling")
        refs = self.srv.refs()
        for c in self.clones:
            self.expect(c.run("pull"))
            self.check_pulled(c)
        on_server = {r: o for r, o in refs.items() if r.startswith(TAGS)}
        for c in self.clones:
            assert c.refs(TAGS) == self.srv.refs(TAGS), f"{c.name} and the server disagree on checkpoints"
            check_checkpoints_usable(c)
            check_invariants(c.path)
        assert on_server
        self.srv.git("fsck", "--no-dangling")


def test_a_team_around_a_server_loses_nothing(tmp_path: Path) -> None:
    TeamMachine.template = Template(tmp_path / "template")
    run_state_machine_as_test(
        TeamMachine,
        settings=settings(
            max_examples=10,
            stateful_step_count=12,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=list(HealthCheck),
        ),
    )
