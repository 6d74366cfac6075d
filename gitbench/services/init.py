"""init: adopt (or create) a Git repository as a Workbench."""

from __future__ import annotations

import os

import gitbench
from gitbench import clock, errors, trailers
from gitbench.git.repo import GitRepo
from gitbench.model import OperationResult
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
            [errors.Action("Adopt that repository", f"gitbench init {root}")],
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
    branch = published or (head[len("refs/heads/") :] if head and head.startswith("refs/heads/") else "main")
    wb.branch = branch
    with wb.changing("init"):
        if wb.git.ref(wb.published_ref) is None:
            if wb.git.refs("refs/heads/"):
                raise errors.UsageError(
                    f"There is no branch {branch} to publish to.",
                    [errors.Action("Name an existing branch", "gitbench init --published BRANCH")],
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
        cp = checkpoints.create(wb, "init", "Workbench adopted")
    return OperationResult(
        "init",
        f"{wb.root} is a Workbench. Published: {branch} at {wb.published()[:12]}.",
        checkpoints=[cp.name],
        published=wb.published(),
        notes=notes,
    )


def _hooks_dir(wb: Workbench) -> str:
    return hooks.hooks_dir(wb.git.gitdir, wb.git.workdir, wb.git.config_get("core.hooksPath"))
