"""gc: bounded storage (the retention policy of ``[gc]``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gitbench import clock
from gitbench.cli import render
from gitbench.cli.opening import open_workbench, shown, users_only
from gitbench.store import storage

if TYPE_CHECKING:
    import typer

    from gitbench.services.gc import GcReport


def gc(dry_run: bool = False, json: bool = False) -> int:
    """Remove old auto checkpoints, trash, logs and ended jobs' folders ([gc] in the config); Git then drops
    the objects nothing needs."""
    from gitbench.services import gc as gc_service

    if not dry_run:
        users_only("gc")
    wb = open_workbench()
    return shown(gc_service.run(wb, dry_run), json, lambda report: show(report, wb.git.gitdir))


def declare(app: typer.Typer) -> None:
    """The command's options and help, for typer (imported only when this command is parsed)."""
    import typer

    @app.command("gc", help=gc.__doc__)
    def _gc(
        dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Only list what would go and the space it frees."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return gc(dry_run, json)


def show(r: GcReport, gitdir: str) -> None:
    p = r.policy
    would = "Would remove" if r.dry_run else "Removed"
    render.out(
        f"Policy: auto and pre-restore checkpoints kept {p.keep_auto_days:g} days or the newest "
        f"{p.keep_auto_last}; publish, init and manual ones always; trash {p.trash_days:g} days; logs "
        f"{p.logs_days:g} days ([gc] in the config)."
    )
    render.out(f"Checkpoints: {would.lower()} {len(r.checkpoints)}, keeping {r.kept_checkpoints}.")
    width = max((len(c.name) for c in r.checkpoints), default=0)
    for c in r.checkpoints:
        job = f"  job {c.job}" if c.job else ""
        render.out(f"  {c.name.ljust(width)}  {c.kind:<11}  {clock.iso(c.date)}{job}")
    if r.refs:
        render.out(f"Trash: {would.lower()} {len(r.refs)} ref(s).")
        for ref in r.refs:
            what = "discarded Draft" if ref.kind == "trash" else "worktree leftovers of"
            render.out(f"  {ref.ref}  ({what} {ref.label}, {clock.iso(ref.date)})")
    logs = [f for f in r.files if f.kind == "log"]
    folders = [f for f in r.files if f.kind != "log"]
    if folders:
        render.out(f"Folders: {would.lower()} {len(folders)}.")
        for f in folders:
            render.out(f"  {_where(f.path, gitdir)}  {storage.human(f.bytes)}  {f.what}")
    if logs:
        render.out(f"Logs: {would.lower()} {len(logs)} file(s) of {storage.human(sum(f.bytes for f in logs))}.")
        for f in logs:
            render.out(f"  {_where(f.path, gitdir)}  {storage.human(f.bytes)}  last written {clock.iso(f.date)}")
    size = storage.human
    if r.dry_run and not (r.checkpoints or r.refs or r.files):
        for note in r.notes:
            render.out(f"note: {note}")
        render.out("Nothing to remove.")
        return
    if r.dry_run:
        objects = (
            f"about {size(r.objects_bytes)} of Git objects that only the removed refs reach ({r.objects} objects)"
            if r.git_gc
            else "no Git objects (see the note)"
        )
        render.out(
            f"Space: about {size(r.estimate_bytes)} would be freed: {size(r.files_bytes)} of logs and folders, "
            f"{objects}. An estimate: `gitbench gc` measures what it frees."
        )
    elif r.before is not None and r.after is not None and r.freed_bytes is not None:
        went = f".git went from {size(r.before.git_bytes)} to {size(r.after.git_bytes)}"
        if r.freed_bytes >= 0:
            render.out(f"Space: freed {size(r.freed_bytes)}; {went}.")
        else:  # a handful of loose objects weigh less than the index of the pack that replaces them
            render.out(f"Space: nothing freed; {went} (Git packed its loose objects).")
    for note in r.notes:
        render.out(f"note: {note}")
    if r.dry_run and not r.running:
        render.out("Run `gitbench gc` to remove them.")


def _where(path: str, gitdir: str) -> str:
    """Paths inside .git shown from it (``.git/gitbench/logs/...``), others in full."""
    real, git = os.path.realpath(path), os.path.realpath(gitdir)
    if real.startswith(git + "/"):
        return os.path.join(os.path.basename(git), os.path.relpath(real, git))
    return path
