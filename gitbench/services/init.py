"""init: adopt (or create) a Git repository as a Workbench."""

from __future__ import annotations

import os

import gitbench
from gitbench import clock, errors, trailers
from gitbench.git.repo import GitRepo
from gitbench.model import CheckpointKind, OperationResult
from gitbench.services import checkpoints
from gitbench.services.workbench import Workbench
from gitbench.store import hooks


def _existing_repo(path: str) -> GitRepo | None:
    try:
        repo = GitRepo(path)
    except errors.NotAWorkbench:
        return None
    root = repo.workdir or repo.gitdir
    if os.path.realpath(root) != os.path.realpath(path) and os.path.realpath(repo.gitdir) != os.path.realpath(path):
        raise errors.UsageError(
            f"{path} is inside the Git repository {root}; a Workbench is a whole repository.",
            [errors.Action("Adopt that repository", "init", (root,))],
        )
    return repo


def init(path: str, published: str | None = None) -> OperationResult:
    path = os.path.abspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise errors.UsageError(f"{path} is a file, not a folder.")
    os.makedirs(path, exist_ok=True)
    notes: list[str] = []
    repo = _existing_repo(path)
    if repo is None:
        GitRepo.init(path, published or "main")
        notes.append(f"Created a new Git repository in {path}.")
    wb = Workbench(path, require_init=False)
    current = wb.git.config_get("gitbench.published")
    if current is not None:
        if published and published != current:
            raise errors.UsageError(
                f"{path} is already a Workbench whose Published branch is {current}, not {published}."
            )
        with wb.changing("init"):
            notes += hooks.install(_hooks_dir(wb))
        return OperationResult(
            "init", f"{wb.root} is already a Workbench (Published: {current}); hooks checked.", notes=notes
        )
    head = wb.git.head_branch()
    shared = _shared(wb, published, notes)
    branch = published or shared or (head[len("refs/heads/") :] if head and head.startswith("refs/heads/") else "main")
    wb.branch = branch
    with wb.changing("init"):
        adopted = shared is not None and _adopt(wb, notes)
        if wb.git.ref(wb.published_ref) is None:
            if wb.git.refs("refs/heads/"):
                raise errors.UsageError(
                    f"There is no branch {branch} to publish to.",
                    [errors.Action("Name an existing branch", "init", ("--published", "BRANCH"))],
                )
            tree = wb.git.snapshot_workdir() if not wb.git.bare else wb.git.empty_tree()
            message = trailers.build_message("Start Workbench", "", [("Gitbench-Operation", "init")])
            commit = wb.git.create_commit(tree, [], message)
            wb.git.set_ref(wb.published_ref, commit, None, "gitbench init")
            if head != wb.published_ref:
                wb.git.set_head(wb.published_ref)
            notes.append("Recorded the folder's files as the first Published state.")
        wb.git.config_set("gitbench.published", branch)
        wb.git.config_set("gitbench.version", "1")
        if wb.records.head() is None:
            wb.records.write(
                {"workbench.json": {"published": branch, "created": clock.now(), "gitbench": gitbench.__version__}},
                "start records",
            )
        notes += hooks.install(_hooks_dir(wb))
        latest = checkpoints.latest(wb) if adopted else None
        cp = latest if latest is not None else checkpoints.create(wb, CheckpointKind.INIT, "Workbench adopted")
    return OperationResult(
        "init",
        f"{wb.root} is a Workbench. Published: {branch} at {wb.published()[:12]}."
        + (" Shared with its Git server: its checkpoints and records are here." if adopted else ""),
        checkpoints=[] if adopted else [cp.name],
        published=wb.published(),
        notes=notes,
    )


def _shared(wb: Workbench, published: str | None, notes: list[str]) -> str | None:
    """A clone of a shared Workbench: the Published branch its server's records name (or the server's default
    branch), after fetching its gitbench refs. None when there is no remote, or it holds no Workbench."""
    from gitbench.services import remote

    if not wb.git.remote_names() or wb.git.ref("refs/gitbench/records") is not None:
        return None
    try:
        r = remote.resolve(wb, None)
    except errors.GitbenchError:
        return None
    try:
        with wb.changing("init"):
            from gitbench.git import remote as gitremote

            gitremote.fetch(wb.git.gitdir, r.name, [f"+refs/gitbench/record*s:{r.records[:-1]}*s"], r.url)
            seen = wb.git.ref(r.records)
            doc = wb.records.read("workbench.json", at=seen) if seen else None
            branch = published or (doc.get("published") if isinstance(doc, dict) else None)
            if branch is None and seen is not None:
                branch = gitremote.default_branch(wb.git.gitdir, r.name)
            if not branch:
                return None
            r.branch = branch
            gitremote.fetch(wb.git.gitdir, r.name, r.fetch_specs(), r.url)
    except errors.GitbenchError as exc:
        notes.append(f"Could not read the Git server {r.name} ({exc.message}); adopted this folder on its own.")
        return None
    if wb.git.ref(r.records) is None and wb.git.ref(r.published) is None:
        return None
    return str(branch)


def _adopt(wb: Workbench, notes: list[str]) -> bool:
    """Take the server's Published branch (checked out as `git clone` would have) and its records."""
    from gitbench.git import remote as gitremote
    from gitbench.services import remote

    r = remote.resolve(wb, None)
    r.branch = wb.branch
    server = wb.git.ref(r.published)
    if wb.git.ref(wb.published_ref) is None and server is not None:
        if wb.git.ref("HEAD") is None and not wb.git.bare:  # unborn: check the branch out, as git clone would
            why = gitremote.checkout_tracking(wb.root, r.name, wb.branch)
            if why is not None:
                raise errors.LocalChanges(
                    f"Could not check out {r.name}'s Published ({wb.branch}) here: {why}. Nothing was adopted.",
                    [errors.Action("Move the files in the way aside, then", "init")],
                )
        else:
            wb.git.set_ref(wb.published_ref, server, None, "gitbench init: the server's Published")
        notes.append(f"Published is {r.name}'s {wb.branch} ({server[:12]}).")
    records = wb.git.ref(r.records)
    if records is not None and wb.records.head() is None:
        wb.git.set_ref("refs/gitbench/records", records, None, "gitbench init: the server's records")
        notes.append(f"The job records are {r.name}'s.")
    return records is not None


def _hooks_dir(wb: Workbench) -> str:
    return hooks.hooks_dir(wb.git.gitdir, wb.git.workdir, wb.git.config_get("core.hooksPath"))
