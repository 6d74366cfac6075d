"""gitbench/services/retention.py: what `gitbench gc` finds to remove besides checkpoints and trash, in-process
through the real entry point, against real Workbenches: leftovers of operations, sessions and worktrees that
nothing will use again, and what it must leave alone (a tag made by hand)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from gitbench.services import worktrees
from gitbench.services.workbench import Workbench
from tests.conftest import git, gitbench

DAY = 86400


def gc(wb: Path, *args: str) -> Any:
    res = gitbench(wb, "gc", "--json", *args, env={"GITBENCH_NOW": str(int(time.time()) + 40 * DAY)})
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)["result"]


def test_gc_removes_leftovers_nothing_will_use_and_keeps_a_checkpoint_tag_made_by_hand(workbench: Path) -> None:
    wb = workbench
    state = wb / ".git" / "gitbench"
    git(wb, "tag", "checkpoint/by-hand")  # lightweight: not made by gitbench, never gitbench's to remove
    scratch = state / "txn" / "20250101-000000-feed"  # an operation's scratch; no operation is under way
    scratch.mkdir(parents=True)
    (scratch / "0").write_text("a backup of a finished publish")
    session = state / "sessions" / "claude-broken.json"
    session.parent.mkdir(parents=True)
    session.write_text("{half a json")  # unreadable: the hooks cannot use it either
    old = time.time() - 60 * DAY
    os.utime(session, (old, old))
    home = Path(worktrees.home(Workbench(str(wb))))
    half_deleted = home / ".gone-20250101-000000-dead"
    half_deleted.mkdir(parents=True)
    (half_deleted / "f").write_text("x")
    # Worktrees of Drafts: one whose folder was deleted by hand, one whose Draft branch was deleted by hand.
    for label in ("lost", "ended"):
        git(wb, "branch", f"gitbench/draft/{label}", "main")
        git(wb, "worktree", "add", "-q", str(wb.parent / f"wt-{label}"), f"gitbench/draft/{label}")
    git(wb, "update-ref", "-d", "refs/heads/gitbench/draft/ended")
    (wb.parent / "wt-ended" / "notes.txt").write_text("not in any Draft: kept aside before the folder goes")
    shutil.rmtree(wb.parent / "wt-lost")

    dry = gc(wb, "--dry-run")
    planned = {f["path"]: f["what"] for f in dry["files"]}
    admin = str(state.parent / "worktrees" / "wt-lost")
    assert planned.get(str(scratch)) == "scratch of a finished operation"
    assert "agent session" in planned.get(str(session), "")
    assert "half deleted" in planned.get(str(half_deleted), "")
    assert planned.get(admin) == "the entry of a Draft worktree whose folder is gone"
    assert "gitbench/draft/ended, which no longer exists" in planned.get(str(wb.parent / "wt-ended"), "")
    assert "checkpoint/by-hand" not in [c["name"] for c in dry["checkpoints"]]

    real = gc(wb)
    assert sorted(f["path"] for f in real["files"]) == sorted(planned)
    for path in (scratch, session, half_deleted, wb.parent / "wt-ended", Path(admin)):
        assert not path.exists(), path
    assert git(wb, "tag", "-l", "checkpoint/by-hand").strip() == "checkpoint/by-hand"
    leftovers = git(wb, "for-each-ref", "--format=%(refname)", "refs/gitbench/leftovers/").split()
    assert leftovers and "notes.txt" in git(wb, "ls-tree", "-r", "--name-only", leftovers[0])
    assert git(wb, "worktree", "list", "--porcelain").count("worktree ") == 1
    git(wb, "tag", "-d", "checkpoint/by-hand")  # DESIGN.md's invariants hold for gitbench's own checkpoints only
