"""gitbench/integrations/shellguard.py, called in-process: which shell commands an agent session may run, read as
a shell and git read them (the folder a git command really acts on, its global options, `cd` from piece to piece).
A session's shell starts in its Draft worktree or in the user's checkout; only writes to the checkout are
refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitbench.integrations.shellguard import refusal


@pytest.fixture
def folders(tmp_path: Path) -> tuple[str, str]:
    """(the user's checkout, the session's worktree), real folders (the guard follows symbolic links)."""
    checkout, worktree = tmp_path / "checkout", tmp_path / "worktree"
    (checkout / "sub").mkdir(parents=True)
    worktree.mkdir()
    return os.path.realpath(checkout), os.path.realpath(worktree)


def said(command: str, cwd: str, checkout: str) -> str | None:
    def inside(folder: str) -> bool:
        return folder == checkout or folder.startswith(checkout + os.sep)

    return refusal(command, cwd, inside, checkout)


WRITES_IN_THE_CHECKOUT = [
    'git commit -m "unclosed',  # a line shlex cannot split is still read word by word
    "FOO=1 git commit -am x",
    "env GIT_TRACE=1 git reset --hard",
    "sudo git checkout -- README.md",
    "git --no-pager -c user.name=x commit -am x",
    "git --git-dir=.git --work-tree=. reset --hard",
    "cd sub && git -C .. stash",
    "git branch -D feature",
    "git branch feature",  # a bare name makes a branch
    "git tag v1",
    "git tag -d v1",
    "git stash pop",
    "git worktree add ../elsewhere",
    "git notes add -m x",
    "git submodule update",
    "git -C stash stash pop",  # a global option's value is not the subcommand
    "echo ok; git clean -fdx",
    "(git rm README.md)",
    "true\ngit mv a b",
]


@pytest.mark.parametrize("command", WRITES_IN_THE_CHECKOUT)
def test_a_git_write_in_the_checkout_is_refused_naming_the_checkout_and_the_worktree(
    folders: tuple[str, str], command: str
) -> None:
    checkout, _ = folders
    reason = said(command, checkout, checkout)
    assert reason is not None and f"({checkout})" in reason and "Draft worktree" in reason, command


READS_OR_ELSEWHERE = [
    "git status && git log --oneline",
    "git --no-pager diff",
    "git",
    "git branch",
    "git branch --list 'feat*'",
    "git tag -l",
    "git stash list",
    "git -C stash stash list",
    "git worktree list",
    "git notes show HEAD",
    "git submodule",
    "git submodule status",
    "git config user.name me",
    "gitbench status && gitbench review",
    "ls; echo done",
    "FOO=1; env",  # assignments alone: no command
]


@pytest.mark.parametrize("command", READS_OR_ELSEWHERE)
def test_reads_and_other_programs_run_in_the_checkout(folders: tuple[str, str], command: str) -> None:
    checkout, _ = folders
    assert said(command, checkout, checkout) is None, command


def test_an_empty_quoted_argument_does_not_split_a_command(folders: tuple[str, str]) -> None:
    checkout, _ = folders
    assert said('git commit -m ""', checkout, checkout) is not None


def test_cd_is_followed_from_piece_to_piece(folders: tuple[str, str]) -> None:
    checkout, worktree = folders
    assert said(f"cd {worktree} && git commit -am x", checkout, checkout) is None
    assert said(f"cd {checkout}; git commit -am x", worktree, checkout) is not None
    assert said("cd - && git commit -am x", worktree, checkout) is None  # `cd -`: not followed, stays here
    home = os.path.expanduser("~")
    assert said("cd && git commit -am x", worktree, home) is not None  # `cd` alone: home


def test_git_options_that_name_the_folder_are_what_counts(folders: tuple[str, str]) -> None:
    checkout, worktree = folders
    assert said(f"git -C {checkout} commit -am x", worktree, checkout) is not None
    assert said(f"git --work-tree {checkout} reset --hard", worktree, checkout) is not None
    assert said(f"git --work-tree={checkout} checkout .", worktree, checkout) is not None
    assert said(f"git -C {worktree} commit -am x", checkout, checkout) is None
    assert said("git commit -am x", worktree, checkout) is None


@pytest.mark.parametrize(
    "verb",
    [
        "publish",
        "restore checkpoint/1",
        "discard --yes",
        "--json publish",
        "exec --on-draft publish -- true",  # a publish too
        "ask --on-draft=discard hi --model command:true",
        "workflow run --on-draft publish",
        "agent uninstall claude-code",  # the hooks that guard the session
    ],
)
def test_gitbench_commands_only_the_user_runs_are_refused_anywhere(folders: tuple[str, str], verb: str) -> None:
    checkout, worktree = folders
    reason = said(f"gitbench {verb}", worktree, checkout)
    assert reason is not None and "is the user's to run" in reason
    assert "gitbench review" in reason or "hooks that keep this session in its Draft." in reason


@pytest.mark.parametrize("key", ["core.hooksPath", "core.hookspath", "CORE.HOOKSPATH"])
def test_switching_off_the_git_hooks_is_refused_in_any_spelling(folders: tuple[str, str], key: str) -> None:
    checkout, worktree = folders
    reason = said(f"git config {key} /dev/null", worktree, checkout)
    assert reason is not None and "core.hooksPath" in reason


@pytest.mark.parametrize(
    "command", ["gitbench exec -- true", "gitbench exec --on-draft x", "gitbench agent install codex"]
)
def test_other_gitbench_commands_pass(folders: tuple[str, str], command: str) -> None:
    checkout, worktree = folders
    assert said(command, worktree, checkout) is None
