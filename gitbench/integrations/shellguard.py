"""Which shell commands an agent session may not run in the user's checkout: the git commands that move its branch
or overwrite its files, and the gitbench commands that only the user runs (publish, restore, discard).

The command line is split as a shell splits it (``;``, ``&&``, ``||``, ``|``, newlines), ``cd`` is followed from
piece to piece, and each git command's own options (``-C DIR``, ``--work-tree=DIR``, ``--git-dir``, ``--no-pager``,
``-c key=value``) are read, so the folder a git command acts on is the one it really acts on. A shell can always
hide a command (``eval``, a script file); this refuses what an agent writes when it means well and forgets, and
the git hooks (a ref move) and publish's own checks (edited files) stand behind it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable

# git subcommands that change the checked-out files, the index, the branch or the repository's settings
_WRITES = {
    "commit", "merge", "rebase", "reset", "checkout", "switch", "restore", "pull", "cherry-pick", "revert",
    "am", "apply", "push", "update-ref", "clean", "rm", "mv", "read-tree", "bisect", "worktree", "gc",
    "prune", "symbolic-ref", "update-index", "replace", "filter-branch", "notes", "fetch", "init", "submodule",
}  # fmt: skip
_GLOBAL_WITH_VALUE = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path", "--config-env"}
_PUNCTUATION = set(";&|()")  # what shlex gives as separators of simple commands
# branch and tag only list, unless one of these flags (or a bare name: a new branch or tag) is there
_BRANCH_WRITES = {"-d", "-D", "--delete", "-m", "-M", "--move", "-c", "-C", "--copy", "-f", "--force", "-u",
                  "--set-upstream-to", "--unset-upstream", "--edit-description", "-t", "--track"}  # fmt: skip
_TAG_WRITES = {"-a", "--annotate", "-s", "--sign", "-u", "--local-user", "-f", "--force", "-d", "--delete",
               "-m", "--message", "-F", "--file", "-e", "--edit"}  # fmt: skip
_LISTING = {"-l", "--list", "-n", "--contains", "--no-contains", "--merged", "--no-merged", "--points-at",
            "--show-current", "--format"}  # fmt: skip
_GITBENCH_USER_ONLY = {"publish", "restore", "discard"}


def _pieces(command: str) -> list[list[str]]:
    """The simple commands of a command line, as words (None-safe: a line shlex cannot split is one piece)."""
    lexer = shlex.shlex(command.replace("\n", " ; "), posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError:
        return [command.split()]
    out: list[list[str]] = [[]]
    for word in words:
        if word and set(word) <= _PUNCTUATION:  # ;, &&, ||, |, &, (, ), |& (a newline was made a ;)
            out.append([])
        else:
            out[-1].append(word)
    return [p for p in out if p]


def _strip_env(words: list[str]) -> list[str]:
    """``VAR=value cmd``, ``env VAR=value cmd``, ``sudo``, ``command``, ``exec``: the command itself."""
    i = 0
    while i < len(words):
        w = words[i]
        if "=" in w and not w.startswith("-") and w.split("=", 1)[0].isidentifier():
            i += 1
        elif w in ("env", "command", "exec", "nohup", "time", "sudo", "nice"):
            i += 1
        else:
            break
    return words[i:]


def _git_target(words: list[str], here: str) -> tuple[str | None, str, list[str]]:
    """(the subcommand, the folder it acts on, its arguments) of ``git [global options] SUBCOMMAND ...``."""
    folder = here
    i = 1
    while i < len(words):
        w = words[i]
        if w in _GLOBAL_WITH_VALUE and i + 1 < len(words):
            if w == "-C":
                folder = os.path.join(folder, os.path.expanduser(words[i + 1]))
            elif w == "--work-tree":
                folder = os.path.join(here, os.path.expanduser(words[i + 1]))
            i += 2
            continue
        if w.startswith("--work-tree="):
            folder = os.path.join(here, os.path.expanduser(w.split("=", 1)[1]))
        elif not w.startswith("-"):  # the first word that is no global option (--no-pager, --git-dir=...)
            return w, folder, words[i + 1 :]
        i += 1
    return None, folder, []


def _read_only(sub: str, args: list[str]) -> bool:
    if sub in ("branch", "tag"):
        writes = _BRANCH_WRITES if sub == "branch" else _TAG_WRITES
        flags = {a.split("=", 1)[0] for a in args if a.startswith("-")}
        if flags & writes:
            return False
        return not [a for a in args if not a.startswith("-")] or bool(flags & _LISTING)
    if sub == "stash":
        return bool(args) and args[0] in ("list", "show")
    if sub == "worktree":
        return bool(args) and args[0] == "list"
    if sub == "notes":
        return bool(args) and args[0] in ("list", "show")
    if sub == "submodule":
        return not args or args[0] in ("status", "summary")
    return False


def _gitbench_users_verb(args: list[str]) -> str:
    """The command only the user runs that these gitbench arguments are, or "": publish, restore, discard, a job's
    ``--on-draft publish`` or ``discard`` (a publish or a discard first), ``agent uninstall`` (the session's guard)."""
    plain = [w for w in args if not w.startswith("-")]
    verb = plain[0] if plain else ""
    if verb in _GITBENCH_USER_ONLY:
        return verb
    if verb == "agent" and plain[1:2] == ["uninstall"]:
        return "agent uninstall"
    for i, word in enumerate(args):
        if word == "--":
            break
        value = word.split("=", 1)[1] if word.startswith("--on-draft=") else None
        if word == "--on-draft" and i + 1 < len(args):
            value = args[i + 1]
        if value in ("publish", "discard"):
            return f"{verb} --on-draft {value}"
    return ""


def refusal(command: str, cwd: str, inside: Callable[[str], bool], checkout: str) -> str | None:
    """Why the command may not run (None: it may). ``inside(folder)``: is that folder the user's checkout or its
    .git (not the session's worktree)."""
    here = os.path.realpath(cwd or ".")
    for words in _pieces(command):
        words = _strip_env(words)
        if not words:
            continue
        program = os.path.basename(words[0])
        if program == "cd":
            target = words[1] if len(words) > 1 else os.path.expanduser("~")
            if target != "-":
                here = os.path.realpath(os.path.join(here, os.path.expanduser(target)))
            continue
        if program == "gitbench" and len(words) > 1:
            verb = _gitbench_users_verb(words[1:])
            if verb == "agent uninstall":
                return (
                    "gitbench: `gitbench agent uninstall` is the user's to run: it takes out the hooks that keep "
                    "this session in its Draft."
                )
            if verb:
                return (
                    f"gitbench: `gitbench {verb}` is the user's to run: it changes Published or throws work away. "
                    "Tell the user the Draft is ready (they review it with `gitbench review`), and stop there."
                )
            continue
        if program != "git":
            continue
        sub, folder, args = _git_target(words, here)
        if sub is None:
            continue
        if sub == "config" and any(a.lower() == "core.hookspath" for a in args):  # Git's keys ignore case
            return "gitbench: changing core.hooksPath would switch off the git hooks that guard Published."
        if sub not in _WRITES and sub not in ("branch", "tag", "stash"):
            continue
        if _read_only(sub, args):
            continue
        if inside(os.path.realpath(folder)):
            return (
                f"gitbench: `git {sub}` here would change the user's checkout ({checkout}) or its branch, which show "
                "Published; only the user's publish changes them. Run it in this session's Draft worktree instead."
            )
    return None
