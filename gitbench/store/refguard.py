"""The refs a command run without the Workbench lock must not move: Published, the records, every checkpoint.

A job's command (and the publish check) runs in a linked worktree of the Workbench's repository, so its `git`
could move any ref. Its refs are captured before it runs and compared after. Reading every checkpoint tag would
cost a Workbench with 5,000 checkpoints 5,000 reads per capture; what the guard needs is only "did anything
under ``refs/tags/checkpoint/`` change, and if so, which", so the capture holds:

- each named ref (Published, the records) by value;
- each loose ref under the prefix by value (few: gitbench packs them past a handful, see checkpoints.create);
- packed-refs by identity, its content kept by a hard link: Git and libgit2 replace packed-refs (a new file
  renamed over it), never rewrite it in place, so the link holds the old version at no cost. Only when that
  identity or a loose ref changed are the two versions read and compared by value, so a `git pack-refs` or
  `git gc` that only moved refs from the loose files into packed-refs is not a change.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from gitbench.git import refdb
from gitbench.git.repo import GitRepo

PACKED_KEY = "packed-refs"  # the capture's entry for packed-refs' identity (no ref has this name)
UNKNOWN = "unknown"  # packed-refs could not be kept: a change in it is reported without names


def capture(git: GitRepo, refs: list[str], prefix: str, keep: str) -> dict[str, str | None]:
    """The state of ``refs`` and of every ref under ``prefix``; packed-refs' content kept at ``keep``."""
    out = {name: git.ref_raw(name) for name in refs}
    out.update(refdb.read_loose(git.gitdir, prefix))
    out[PACKED_KEY] = _keep(refdb.packed_path(git.gitdir), keep)
    return out


def _keep(packed: str, keep: str) -> str | None:
    """Hard-link ``packed`` at ``keep`` (copy it where links are refused); the identity of what was kept, None
    when there is no packed-refs, UNKNOWN when it could not be kept."""
    os.makedirs(os.path.dirname(keep), exist_ok=True)
    tmp = f"{keep}.tmp-{os.getpid()}"
    drop(tmp)
    try:
        try:
            os.link(packed, tmp)
            identity = refdb.identity(tmp)  # the very version linked, whatever replaced packed-refs since
        except FileNotFoundError:
            raise
        except OSError:  # no hard links here (a file system without them): a copy does the same, slower
            identity = refdb.identity(packed)
            shutil.copyfile(packed, tmp)
            if refdb.identity(packed) != identity:  # replaced while it was copied: which version is unknown
                identity = UNKNOWN
        os.replace(tmp, keep)
        return identity
    except FileNotFoundError:  # no packed-refs: nothing is packed
        drop(tmp)
        drop(keep)
        return None
    except OSError:
        drop(tmp)
        return UNKNOWN


def drop(keep: str) -> None:
    """Let go of a kept packed-refs (the command has ended)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(keep)


def moved(
    git: GitRepo, before: dict[str, str | None], prefix: str, keep: str
) -> list[tuple[str, str | None, str | None]]:
    """(name, value before, value now) of each guarded ref that is not as ``before`` says, sorted by name."""
    out = []
    for name, old in before.items():
        if name != PACKED_KEY and not name.startswith(prefix):
            now = git.ref_raw(name)
            if now != old:
                out.append((name, old, now))
    loose_before = {n: v for n, v in before.items() if n.startswith(prefix) and v is not None}
    packed_before = before.get(PACKED_KEY)
    same_packed = refdb.identity(refdb.packed_path(git.gitdir)) == packed_before
    if same_packed and refdb.read_loose(git.gitdir, prefix) == loose_before:
        return out
    if packed_before == UNKNOWN:
        return [*out, (prefix + "* (packed-refs)", UNKNOWN, None)]
    old_values = refdb.read_packed(keep, prefix) if packed_before is not None else {}
    old_values.update(loose_before)
    new_values = refdb.values(git.gitdir, prefix)
    for name in sorted(set(old_values) | set(new_values)):
        if old_values.get(name) != new_values.get(name):
            out.append((name, old_values.get(name), new_values.get(name)))
    return sorted(out, key=lambda m: m[0])
