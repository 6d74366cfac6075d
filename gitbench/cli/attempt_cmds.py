"""try, drafts, compare, rebase: several labeled Drafts side by side (v1.5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitbench import errors
from gitbench.cli import render
from gitbench.cli.opening import open_for_reading, open_workbench, progress, shown

if TYPE_CHECKING:
    import typer

    from gitbench.services.workbench import Workbench


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def try_(
    models: list[str],
    job: str | None = None,
    label: list[str] | None = None,
    max_parallel: int | None = None,
    json: bool = False,
    executor: str | None = None,
) -> int:
    """Run a Workshop job again with other models, each into its own Draft labeled by model."""
    from gitbench.services import attempts

    wb = open_workbench()
    results = attempts.try_models(
        wb, list(models), job, list(label or []) or None, max_parallel, progress(json), executor
    )
    failed = [r for r in results if isinstance(r, errors.GitbenchError)]
    if json:
        import json as json_mod
        import sys

        from gitbench.model import to_json

        doc = {
            "ok": not failed,
            "result": [
                {"ok": False, "error": {"code": r.code, "message": r.message, "details": r.details}}
                if isinstance(r, errors.GitbenchError)
                else {"ok": True, "result": to_json(r)}
                for r in results
            ],
        }
        sys.stdout.write(json_mod.dumps(doc, sort_keys=True, default=str) + "\n")
    else:
        for r in results:
            if isinstance(r, errors.GitbenchError):
                render.out(f"✗ {r.details.get('draft', '').rsplit('/', 1)[-1] or '?'}: {r.message}")
            else:
                render.out(f"✓ {r.summary}")
        render.out("Compare them: gitbench drafts · gitbench compare [--check CMD] · gitbench publish --draft LABEL")
    return failed[0].exit_code if failed else 0


def drafts(json: bool = False) -> int:
    """The open Drafts, side by side: label, model, base, age, steps, files, tokens, status."""
    from gitbench.services import attempts

    wb = open_for_reading()
    return shown(attempts.listing(wb), json, lambda rows: _render_drafts(rows, wb))


def _render_drafts(rows: list[dict[str, Any]], wb: Workbench) -> None:
    if not rows:
        render.out("No Draft is open.")
        return
    published = wb.published()
    _table(
        ["label", "model", "base", "age", "steps", "files", "tokens", "status"],
        [
            [
                r["label"],
                r.get("model") or "",
                (r["base"][:12] + ("" if r["base_is_published"] else " (older)")) if r.get("base") else "",
                _age(r["age"]) if "age" in r else "",
                str(r.get("steps", "")),
                str(r.get("files", "")),
                "" if r.get("tokens") is None else str(r["tokens"]),
                r.get("status") or "",
            ]
            for r in rows
        ],
    )
    older = [r["label"] for r in rows if r.get("base") and not r["base_is_published"]]
    if older:
        render.out(
            f"Made from an older Published than {published[:12]}: {', '.join(older)}. "
            "`gitbench rebase --draft LABEL` puts one on top of it (refused if both changed a file)."
        )


def compare(
    check: str | None = None,
    no_check: bool = False,
    draft: list[str] | None = None,
    timeout: float | None = None,
    json: bool = False,
) -> int:
    """The scorecard of the open Drafts (kept on the records ref): diffstat, usage, attempts, time, check."""
    from gitbench.services import attempts

    if timeout is not None and not timeout > 0:
        raise errors.UsageError(f"--timeout takes seconds above 0, not {timeout}.")
    wb = open_workbench()
    card = attempts.compare(wb, check, list(draft or []) or None, timeout, progress(json), no_check=no_check)
    return shown(card, json, _render_scorecard)


def _render_scorecard(card: dict[str, Any]) -> None:
    heads = ["label", "model", "files", "+/-", "steps", "tokens", "attempts", "time", "status"]
    if card["check"]:
        heads.append("check")
    rows = []
    for d in card["drafts"]:
        row = [
            d["label"],
            d.get("model") or "",
            str(d["files"]),
            f"+{d['insertions']}/-{d['deletions']}",
            str(d["steps"]),
            "" if d.get("tokens") is None else str(d["tokens"]),
            "" if d.get("attempts") is None else str(d["attempts"]),
            "" if d.get("seconds") is None else f"{d['seconds']:.1f} s",
            d.get("status") or "",
        ]
        if card["check"]:
            c = d["check"]
            row.append(
                "passed" if c["passed"] else ("timed out" if c["exit_code"] is None else f"failed ({c['exit_code']})")
            )
        rows.append(row)
    _table(heads, rows)
    render.out(f"Scorecard {card['id']} kept on the records ref (scorecards/{card['id']}.json).")


def rebase(draft: str | None = None, json: bool = False) -> int:
    """Put a Draft made from an older Published on top of the current one (refused if both changed a file)."""
    from gitbench.services import attempts

    return shown(attempts.rebase(open_workbench(), draft), json)


def declare(app: typer.Typer) -> None:
    """The options and help of the commands the table does not declare (cli/table.py), for typer (imported
    only when one of these commands is parsed)."""
    import typer

    @app.command("try", help=try_.__doc__)
    def _try(
        models: list[str] = typer.Argument(..., help="The models to try, e.g. ollama:qwen2.5-coder."),
        job: str = typer.Option(None, "--job", help="The Workshop job to try again (default: the latest)."),
        label: list[str] = typer.Option(
            None, "--label", help="The Draft's label, one per model (default: from the model's name)."
        ),
        max_parallel: int = typer.Option(
            None, "--max-parallel", help="How many attempts run at once (default 3; on an executor, its capacity)."
        ),
        json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
        executor: str = typer.Option(
            None,
            "--executor",
            help=(
                "Run the model calls on a Dask cluster: dask://local or dask://HOST:PORT; local: here "
                "(default: [workflow] executor of the config, else here)."
            ),
        ),
    ) -> int:
        return try_(models, job, label, max_parallel, json, executor)

    @app.command("compare", help=compare.__doc__)
    def _compare(
        check: str = typer.Option(
            None,
            "--check",
            help="A command to run in a clean worktree of each Draft, e.g. the tests (default: [publish] check).",
        ),
        no_check: bool = typer.Option(False, "--no-check", help="Do not run the configured [publish] check."),
        draft: list[str] = typer.Option(None, "--draft", help="Only these Drafts (repeatable)."),
        timeout: float = typer.Option(
            None, "--timeout", help="Seconds the check may take per Draft (default: [publish] check_timeout, 600)."
        ),
        json: bool = typer.Option(False, "--json", help="Print the scorecard as JSON."),
    ) -> int:
        return compare(check, no_check, draft, timeout, json)

    @app.command("rebase", help=rebase.__doc__)
    def _rebase(
        draft: str = typer.Option(None, "--draft", help="The Draft to rebase (needed when several are open)."),
        json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> int:
        return rebase(draft, json)


def _table(heads: list[str], rows: list[list[str]]) -> None:
    """One line per row. On a terminal the columns after label and model fold when the line is too narrow; a
    label is pasted into --draft, so it is never cut. Into a pipe or a file, lines are as long as they need (a
    row must stay whole for grep)."""
    from rich.measure import Measurement
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for i, h in enumerate(heads):
        if i < 2:
            table.add_column(h, no_wrap=True, min_width=max([len(h), *(len(r[i]) for r in rows)]))
        else:
            table.add_column(h, overflow="fold")
    for r in rows:
        table.add_row(*r)
    console = render.console()
    if not console.is_terminal:
        needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
        console.width = max(console.width, needed)
    console.print(table)
