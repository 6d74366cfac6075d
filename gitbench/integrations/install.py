"""``gitbench agent install|uninstall AGENT [--user]``: gitbench's hooks merged into the agent's own settings
file, and taken out again, exactly: the user's own hooks and settings are never dropped, reordered or rewritten."""

from __future__ import annotations

import contextlib
import os

from gitbench import errors
from gitbench.integrations import adapter
from gitbench.integrations.run import executable
from gitbench.model import OperationResult


def _where(agent: str, user: bool) -> tuple[str, str | None]:
    """(settings file, Workbench folder or None for --user)."""
    speaker = adapter(agent)
    home = os.path.expanduser("~")
    if user:
        return speaker.config_path("", True, home), None
    from gitbench.services.workbench import Workbench

    wb = Workbench(".")
    root = wb.root
    return speaker.config_path(root, False, home), root


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise errors.file_error(exc, f"reading {path}") from exc


def _write(path: str, text: str) -> None:
    from gitbench.store import atomic

    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic.write_bytes(path, text.encode("utf-8"))


def _exclude(root: str, path: str) -> bool:
    """Keep a project-level hook file out of commits: it names this machine's gitbench (``.git/info/exclude``)."""
    from gitbench.integrations.core import locate

    found = locate(root)
    if found is None:
        return False
    rel = "/" + os.path.relpath(path, root).replace(os.sep, "/")
    exclude = os.path.join(found[0], "info", "exclude")
    current = _read(exclude) or ""
    if rel in current.splitlines():
        return False
    os.makedirs(os.path.dirname(exclude), exist_ok=True)
    with open(exclude, "a", encoding="utf-8") as fh:
        fh.write(("" if not current or current.endswith("\n") else "\n") + rel + "\n")
    return True


def _unexclude(root: str, path: str) -> None:
    """Take out the ``.git/info/exclude`` line ``_exclude`` added for ``path``, if it is there."""
    from gitbench.integrations.core import locate

    found = locate(root)
    if found is None:
        return
    rel = "/" + os.path.relpath(path, root).replace(os.sep, "/")
    exclude = os.path.join(found[0], "info", "exclude")
    current = _read(exclude)
    if current is None or rel not in current.splitlines():
        return
    _write(exclude, "".join(line for line in current.splitlines(keepends=True) if line.rstrip("\r\n") != rel))


def _worktrees_home(root: str | None) -> str:
    """Where this project's Draft worktrees go (all projects' for a --user install)."""
    from gitbench.services import worktrees

    if root is None:
        return worktrees.default_base()
    from gitbench.services.commands import job_settings
    from gitbench.services.workbench import Workbench

    wb = Workbench(root)
    return worktrees.home(wb, job_settings(wb).worktrees)


def install(agent: str, user: bool) -> OperationResult:
    path, root = _where(agent, user)
    before = _read(path)
    speaker = adapter(agent)
    try:
        after = speaker.install(before, [*executable(), "hook", agent])
    except errors.UsageError as exc:
        raise errors.UsageError(f"{path}: {exc.message}", exc.actions) from exc
    notes: list[str] = []
    allow = getattr(speaker, "allow_folder", None)
    if allow is not None:  # the agent may work in the Draft worktrees as in the project
        folder = _worktrees_home(root)
        os.makedirs(folder, exist_ok=True)
        after = allow(after, folder)
    sandbox = _sandbox(speaker, root, user)  # read and checked before anything is written
    if sandbox is not None:
        spath, sbefore, safter = sandbox
        if safter != (sbefore or ""):
            _write(spath, safter)
            notes.append(f"{spath}: {agent} may write in the Draft worktrees ({_worktrees_home(root)}).")
    if before is not None and after == before:
        return OperationResult(
            "agent install", f"gitbench's {agent} hooks are already in {path}; nothing changed.", notes=notes
        )
    _write(path, after)
    if root is not None and path.startswith(root + os.sep) and _exclude(root, path):
        notes.append(f"{os.path.relpath(path, root)} was added to .git/info/exclude: it names this machine's gitbench.")
    note = getattr(speaker, "install_note", None)
    if isinstance(note, str):
        notes.append(note)
    scope = "every project (your user settings)" if user else "this project"
    return OperationResult(
        "agent install",
        f"gitbench's {agent} hooks were added to {path}, for {scope}. Start {agent} as you always do: its session "
        "gets a checkpoint and a Draft, each turn a step; `gitbench agent uninstall "
        f"{agent}{' --user' if user else ''}` takes them out.",
        notes=notes,
        data={"path": path},
    )


def _sandbox(speaker: object, root: str | None, user: bool) -> tuple[str, str | None, str] | None:
    """An agent whose sandbox has its own settings (Codex's ``config.toml``): (that file, its text, the text with
    the Draft worktrees allowed). A file that cannot be read is an error here, before anything is written."""
    where = getattr(speaker, "settings_path", None)
    allow = getattr(speaker, "allow_in_settings", None)
    if where is None or allow is None:
        return None
    path: str = where(root or "", user, os.path.expanduser("~"))
    before = _read(path)
    folder = _worktrees_home(root)
    os.makedirs(folder, exist_ok=True)
    try:
        after = allow(before, folder)
    except errors.UsageError as exc:
        raise errors.UsageError(f"{path}: {exc.message}", exc.actions) from exc
    return path, before, after


def _unsandbox(speaker: object, root: str | None, user: bool) -> str | None:
    """The Draft worktrees taken out of the agent's sandbox settings again; the file changed, or None."""
    where = getattr(speaker, "settings_path", None)
    forget = getattr(speaker, "forget_in_settings", None)
    if where is None or forget is None:
        return None
    path: str = where(root or "", user, os.path.expanduser("~"))
    before = _read(path)
    if before is None:
        return None
    try:
        after = forget(before, _worktrees_home(root))
    except errors.UsageError as exc:
        raise errors.UsageError(f"{path}: {exc.message}", exc.actions) from exc
    if after == before:
        return None
    if after is None:
        os.unlink(path)
    else:
        _write(path, after)
    return path


def uninstall(agent: str, user: bool) -> OperationResult:
    path, root = _where(agent, user)
    _unsandbox(adapter(agent), root, user)
    before = _read(path)
    if before is None:
        return OperationResult("agent uninstall", f"{path} does not exist; there were no gitbench hooks to remove.")
    try:
        after = adapter(agent).uninstall(before)
    except errors.UsageError as exc:
        raise errors.UsageError(
            f"{path}: {exc.message.replace('then install again', 'then uninstall again')}",
            [errors.Action(f"Fix {path} (or take gitbench's hooks out by hand), then uninstall again")],
        ) from exc
    if after is None:
        os.unlink(path)
        said = f"gitbench's {agent} hooks were removed; {path} held nothing else and was deleted"
        if root is not None and path.startswith(root + os.sep):
            _unexclude(root, path)  # the line install added for it (the file is gone: nothing to keep out)
            folder = os.path.dirname(path)
            with contextlib.suppress(OSError):  # not empty: the agent's own files are there, and stay
                os.rmdir(folder)  # the agent's folder, when install made it for this file alone
            if not os.path.isdir(folder):
                said += f", with {os.path.relpath(folder, root)}/ (empty)"
        return OperationResult("agent uninstall", said + ".")
    if after == before:
        return OperationResult("agent uninstall", f"{path} holds no gitbench hooks; nothing changed.")
    _write(path, after)
    return OperationResult(
        "agent uninstall", f"gitbench's {agent} hooks were removed from {path}; your own settings are as they were."
    )
