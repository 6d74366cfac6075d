"""Talking to a Git server: `git fetch`, `git push`, `git ls-remote`, through the `git` CLI.

Git's own transport is the point here (every protocol, credential helper, SSH setting and server quirk the user
already has working), so these run the real `git`, with the refspecs and leases gitbench chooses, and read its
machine-readable output (`push --porcelain`).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import field

from gitbench import errors
from gitbench.lazy_dataclass import dataclass


@dataclass
class PushLine:
    flag: str  # " " fast-forward, "+" forced, "-" deleted, "*" new, "!" rejected, "=" up to date
    src: str
    dst: str
    summary: str


@dataclass
class PushResult:
    ok: bool
    lines: list[PushLine] = field(default_factory=list)
    stderr: str = ""
    atomic_unsupported: bool = False

    @property
    def rejected(self) -> list[PushLine]:
        return [line for line in self.lines if line.flag == "!"]

    @property
    def server_words(self) -> str:
        """What the server itself said (its hooks, its branch protection: Git's ``remote:`` lines), in one line;
        empty when it said nothing."""
        said: list[str] = []
        for line in self.stderr.splitlines():
            if line.startswith("remote:"):
                text = line[len("remote:") :].strip()
                if text and text not in said:
                    said.append(text)
        return " ".join(said[:6]) + (" …" if len(said) > 6 else "")


@dataclass
class FetchResult:
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (ref, why)
    stderr: str = ""
    new_tags: int = 0  # tags the fetch created (its report's "[new tag]" lines)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0" if not os.isatty(0) else "1")
    env["LC_ALL"] = "C"  # messages parsed below
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


def _run(gitdir: str, args: list[str], what: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", f"--git-dir={gitdir}", *args],
            capture_output=True,
            text=True,
            env=_env(),
            input=stdin,
            check=False,
        )
    except FileNotFoundError as exc:
        raise errors.UsageError(
            f"Git is not installed (or not on PATH): {what} needs the `git` program.",
            [errors.Action("Install Git, then run the command again")],
        ) from exc


_ADVICE = ("Please make sure you have the correct access rights", "and the repository exists.")

# How Git and the servers say that there is no repository at the remote's address (or none this user may see,
# which a server will not tell apart): a path or an SSH path ("'URL' does not appear to be a git repository"),
# `git daemon` ("no such repository: /x.git"; without --informative-errors "access denied or repository not
# exported"), HTTP ("repository 'URL/' not found"), GitHub ("Repository not found."), GitLab ("The project you
# were looking for could not be found").
_NO_REPOSITORY = re.compile(
    r"does not appear to be a git repository|no such repository|repository not exported|"
    r"repository '[^']*' not found|repository not found|could not be found",
    re.IGNORECASE,
)


def no_repository(exc: errors.RemoteError) -> bool:
    """Did Git find no repository at the remote's address? Then nothing was sent: nothing there can have
    changed, and a push or publish did not "break off"."""
    return bool(exc.details.get("no_repository"))


def unreachable(remote: str, url: str | None, stderr: str, what: str) -> errors.RemoteError:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    # Git's advice after "Could not read from remote repository." says nothing: without it the lines kept are the
    # ones that name the reason ("'URL' does not appear to be a git repository", "ssh: connect to host ...").
    reasons = [ln for ln in lines if ln.strip() not in _ADVICE]
    said = "; ".join(ln.removeprefix("fatal: ").removeprefix("error: ").rstrip(". ") for ln in reasons[-3:])
    said = said or "no reason given"
    if any(_NO_REPOSITORY.search(ln) for ln in reasons):
        return errors.RemoteError(
            f"There is no Git repository at the address of the remote {remote} ({url or 'no URL'}), or none you "
            f"may read: Git says {said}. Nothing was sent and nothing changed: your Workbench is as it was.",
            [
                errors.Action("See the remotes and their addresses", text="git remote -v"),
                errors.Action(f"Point {remote} at your team's repository", text=f"git remote set-url {remote} URL"),
                errors.Action("Then run the command again"),
            ],
            {"remote": remote, "url": url, "git": lines[-5:], "no_repository": True},
        )
    return errors.RemoteError(
        f"Could not {what} {remote} ({url or 'no URL'}): {said}. Nothing was changed on the server by this command "
        "unless it says so below; your Workbench is as it was.",
        [
            errors.Action("Check the server and your access to it", text=f"git ls-remote {remote}"),
            errors.Action("Then run the command again"),
        ],
        {"remote": remote, "url": url, "git": lines[-5:]},
    )


def fetch(gitdir: str, remote: str, refspecs: list[str], url: str | None = None, prune: bool = False) -> FetchResult:
    """`git fetch` of ``refspecs``; a ref Git refused to update (a clashing tag) is in the result, not an error.

    The refs are written in one transaction (``--atomic``): a reference-transaction hook (gitbench's own is a
    shell script of a few processes) then runs once for the fetch, not once per ref; a pull of a teammate's 50
    checkpoints spent 0.5 s in it. An atomic fetch with a refused ref writes nothing, so then the fetch runs again
    without it and every other ref lands, as a plain fetch does (the objects are here by then)."""
    args = ["fetch", "--no-tags", "--no-write-fetch-head"]  # not --quiet: it hides the refused refs
    if prune:
        args.append("--prune")
    proc = _run(gitdir, [*args, "--atomic", remote, *refspecs], "fetching from")
    if proc.returncode != 0 and ("->" in proc.stderr or "atomic" in proc.stderr):
        # It reached the server and a ref was refused (its report names refs), or this Git has no `fetch
        # --atomic` (before 2.31): nothing was written; ref by ref. An unreachable server is not asked twice.
        proc = _run(gitdir, [*args, remote, *refspecs], "fetching from")
    rejected: list[tuple[str, str]] = []
    new_tags = 0
    for line in proc.stderr.splitlines():
        # " ! [rejected]        checkpoint/x -> checkpoint/x  (would clobber existing tag)"
        text = line.strip()
        if text.startswith("! ") and "->" in text:
            right = text.split("->", 1)[1].strip()
            ref, _, why = right.partition("(")
            rejected.append((ref.strip(), why.rstrip(")").strip() or "rejected"))
        elif text.startswith("* [new tag]"):
            # " * [new tag]         checkpoint/x -> checkpoint/x": every ref the fetch created under refs/tags/
            # (`fetch.output = compact` only shortens what follows the arrow)
            new_tags += 1
    if proc.returncode != 0 and not rejected:
        raise unreachable(remote, url, proc.stderr, "fetch from")
    return FetchResult(rejected, proc.stderr, new_tags)


def push(
    gitdir: str,
    remote: str,
    refspecs: list[str],
    leases: dict[str, str | None],
    atomic: bool = True,
    url: str | None = None,
) -> PushResult:
    """`git push --porcelain`: each ref in ``leases`` only if the server still has the value given (None: the ref
    must not exist there). Raises RemoteError when the server could not be reached at all."""
    args = ["push", "--porcelain", "--no-verify"]
    if atomic:
        args.append("--atomic")
    for ref, expect in leases.items():
        args.append(f"--force-with-lease={ref}:{expect or ''}")
    proc = _run(gitdir, [*args, remote, *refspecs], "pushing to")
    lines: list[PushLine] = []
    for raw in proc.stdout.splitlines():
        parts = raw.split("\t")
        if len(parts) >= 3 and len(parts[0]) == 1:
            src, _, dst = parts[1].partition(":")
            lines.append(PushLine(parts[0], src, dst, parts[2]))
    if "does not support --atomic" in proc.stderr:
        return PushResult(False, lines, proc.stderr, atomic_unsupported=True)
    if proc.returncode != 0 and not any(line.flag == "!" for line in lines):
        raise unreachable(remote, url, proc.stderr, "push to")
    return PushResult(proc.returncode == 0, lines, proc.stderr)


def ls_remote(gitdir: str, remote: str, patterns: list[str], url: str | None = None) -> dict[str, str]:
    proc = _run(gitdir, ["ls-remote", remote, *patterns], "reading")
    if proc.returncode != 0:
        raise unreachable(remote, url, proc.stderr, "read the refs of")
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        oid, _, ref = line.partition("\t")
        if ref and not ref.endswith("^{}"):
            out[ref] = oid
    return out


def default_branch(gitdir: str, remote: str) -> str | None:
    """The branch the server's HEAD names (`git ls-remote --symref`), or None."""
    proc = _run(gitdir, ["ls-remote", "--symref", remote, "HEAD"], "reading")
    for line in proc.stdout.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            target = line[len("ref: ") : -len("\tHEAD")]
            return target.removeprefix("refs/heads/")
    return None


def checkout_tracking(workdir: str, remote: str, branch: str) -> str | None:
    """Check ``branch`` out from ``remote``'s, tracking it, as `git clone` would have (a clone whose server's HEAD
    named a missing branch has nothing checked out). None when done, else Git's reason."""
    proc = subprocess.run(
        ["git", "-C", workdir, "checkout", "-q", "-b", branch, "--track", f"{remote}/{branch}"],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    return None if proc.returncode == 0 else proc.stderr.strip()
