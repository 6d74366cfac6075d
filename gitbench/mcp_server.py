"""`gitbench mcp`: the Workbench as an MCP server over stdio, for agents (Claude Code, Codex, Cursor).

A front end like ``cli/``: the tools call the same services as the CLI commands, under the same rules, and answer
with the same JSON as ``--json``: ``{"ok": true, "result": ...}`` as the tool's structured content, or, for an
error, an ``isError`` result whose structured content is ``{"ok": false, "error": {code, exit_code, message,
actions, details}}``. The model reads the error's code and the commands that recover from it.

Published moves only with the user's explicit approval: ``publish`` and ``restore`` ask the user through MCP
elicitation, stating what will happen; a client that cannot ask gets ``approval-required`` (exit class 17) with the
command for the user to run. No tool argument can approve anything: the model could set it itself.

One long-lived process: the SDK and pydantic are imported once, when the server starts (never by the other
commands). Each call runs its service in a worker thread, on a Workbench built afresh on the repository that
thread keeps open (see ``workbench()``). Standard output is the protocol channel: the SDK points file descriptor 1
at standard error while it serves, so nothing else can write to it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, MCPServer, Resolve
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from gitbench import errors
from gitbench.git.repo import GitRepo
from gitbench.model import Checkpoint, CheckpointKind, OperationResult, Review, Status, to_json
from gitbench.services.crash import as_error  # what the CLI's one error handler would say (cli/app.handle)
from gitbench.services.workbench import Workbench

INSTRUCTIONS = """\
gitbench keeps AI edits to this project safe, reviewable and reversible, using Git. Published (the main branch) is
what the user has accepted; your work goes into a Draft (a branch), made by `gitbench exec` or an agent job.
Use `status` to see where things are, `review` to see what a Draft changes, `checkpoint` before anything risky,
`checkpoints` for the history. `publish` and `restore` move Published: the user is asked to approve each one, and
when they cannot be asked here the error names the command for them to run. `discard` removes a Draft (the user
can bring it back with `gitbench discard --undo`). Errors carry a stable `code` and the actions that recover."""


# --- the structured content of every answer (the same JSON as the CLI's --json) ------------------------------
# The output schemas: what a successful call answers. An error answer (isError) carries {"ok": false, "error": ...}
# instead, as the CLI's --json does; MCP does not check error results against the output schema.


class StatusAnswer(TypedDict):
    ok: Literal[True]
    result: Status


class ReviewAnswer(TypedDict):
    ok: Literal[True]
    result: Review


class OperationAnswer(TypedDict):
    ok: Literal[True]
    result: OperationResult


class CheckpointsAnswer(TypedDict):
    ok: Literal[True]
    result: list[Checkpoint]
    older: int  # how many older checkpoints are not in the list (`all` lists them)


class WhyAnswer(TypedDict):
    ok: Literal[True]
    result: dict[str, Any]


class Approval(BaseModel):
    """The form the user answers (MCP elicitation): one yes/no."""

    approve: bool = Field(description="Yes: do it. No: change nothing.")


# --- running a service: in a worker thread, every error an answer ---------------------------------------------


def ok(data: Any, **more: Any) -> CallToolResult:
    content = {"ok": True, "result": to_json(data), **more}
    return CallToolResult(content=[TextContent(type="text", text=_dumps(content))], structured_content=content)


def failed(exc: errors.GitbenchError) -> CallToolResult:
    content = {"ok": False, "error": exc.to_dict()}
    lines = [f"error: {exc.code} (exit {exc.exit_code}): {exc.message}"]
    lines += [f"- {a.label}" + (f": `{a.command}`" if a.command else "") for a in exc.actions]
    text = "\n".join(lines) + "\n" + _dumps(content)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=content, is_error=True)


def _dumps(data: Any) -> str:
    # Compact: the text is what a model reads (tokens), and a client parses it on every call.
    return json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)


async def run(work: Callable[[], Any], answer: Callable[[Any], CallToolResult] = ok) -> CallToolResult:
    """``work()`` (a blocking service call) in a worker thread; its value (made an answer by ``answer``) or its
    error as the tool's answer."""
    try:
        return answer(await anyio.to_thread.run_sync(work))
    except Exception as exc:  # noqa: BLE001 - every failure is an answer the model can read, as in the CLI
        return failed(as_error(exc))


_opened = threading.local()


def workbench() -> Workbench:
    """The Workbench, opened afresh for each call (its state: the lock, what recovery did) on the repository this
    worker thread keeps open. A pygit2 Repository belongs to one thread; kept, it keeps what libgit2 has parsed
    (the index: ~90 ms at 100k files; attributes, pack indexes) and still re-reads refs, the index and packs when
    another process changes them, so no call sees stale state (tests/test_mcp.py checks it)."""
    git = getattr(_opened, "git", None)
    if git is None:
        git = _opened.git = GitRepo(os.path.abspath("."))
    return Workbench(".", git=git)


# --- approval ---------------------------------------------------------------------------------------------------
#
# The SDK's resolvers ask the question: a client on protocol 2025-11-25 or older gets an `elicitation/create`
# request in the middle of the call; one on 2026-07-28 or newer (Claude Code) gets an `input_required` result and
# calls again with the answer. Either way the answer counts only for the exact question shown, and the question
# names the commits: if the Draft or Published moved meanwhile, the user is asked again.


@dataclass
class Plan:
    """What publish or restore would do, worked out before the user is asked: the question, the command the user
    can run instead, and the state they approve (checked again, under the lock, before anything moves). Or the
    error that stops it before anyone is asked (no Draft, no such checkpoint: the CLI says these first too)."""

    what: str = ""
    question: str = ""
    command: errors.Action = errors.Action("")  # what the user runs instead
    label: str = ""
    head: str = ""  # the Draft's head (publish) or the checkpoint's commit (restore)
    published: str = ""
    checkpoint: str = ""
    error: errors.GitbenchError | None = None


def plan_publish(draft: str | None, check: str | None, no_check: bool) -> Plan:
    from gitbench.model import DRAFT_PREFIX
    from gitbench.services import drafts
    from gitbench.services import review as review_service

    try:
        if check is not None and no_check:
            raise errors.UsageError("check and no_check contradict each other: give one of them.")
        wb = workbench()
        wb.recover_if_idle()
        ref = drafts.require_idle_draft(wb, own_draft(wb, draft), "published")
        own_turn(wb, ref)
        rv = review_service.review(wb, label=ref[len(DRAFT_PREFIX) :])
        published = wb.published()
        configured = _configured_check(wb)
    except Exception as exc:  # noqa: BLE001 - said before anyone is asked, as an answer
        return Plan(error=as_error(exc))
    what = f"publishing the Draft {rv.draft}"
    args = ("--draft", rv.draft, *(("--check", check) if check else ()), *(("--no-check",) if no_check else ()))
    command = errors.Action(f"The user runs it: {what}", "publish", args)
    files = ", ".join(f.path for f in rv.files[:10]) + (" ..." if len(rv.files) > 10 else "")
    question = (
        f"Publish the Draft {rv.draft}? {len(rv.files)} file(s) change (+{rv.insertions} -{rv.deletions}): {files}. "
        f"Published ({wb.branch}) moves from {published[:12]} to {rv.head[:12]}; a publish checkpoint is taken and "
        "the Draft removed. `gitbench restore` can undo it."
    )
    if check:
        question += f" The check `{check}` must pass first"
        question += (
            f", INSTEAD OF the project's check `{configured}` (which will not run)."
            if configured and check != configured
            else "."
        )
    elif configured and no_check:
        question += f" The project's check `{configured}` will NOT run (skipped at the agent's request; recorded)."
    elif configured:
        question += f" The project's check `{configured}` must pass first."
    return Plan(what, question, command, rv.draft, rv.head, published)


def own_draft(wb: Workbench, label: str | None) -> str | None:
    """The Draft a call means: the one it names; else, when gitbench's hooks gave the agent this server serves a
    session, that session's Draft (beside any other open Draft, which the agent did not make); else None (the only
    one, as for the CLI)."""
    from gitbench.services import drafts

    if label is not None or drafts.AGENT is None or not drafts.sessions_kept(wb):
        return label
    from gitbench.integrations import core
    from gitbench.model import DRAFT_PREFIX, JobStatus

    for data in core.open_sessions(wb.git.gitdir, agent=drafts.AGENT):
        ref, job = data.get("draft"), drafts.job_record(wb, str(data.get("job")))
        # A session /clear ended has a file too (its agent lives on): only the open one counts.
        if isinstance(ref, str) and job is not None and job.status == JobStatus.SESSION and wb.git.ref(ref):
            return ref[len(DRAFT_PREFIX) :]
    return None


def own_turn(wb: Workbench, ref: str) -> None:
    """The Draft is the asking agent's own session's (its hooks are installed too): what the agent changed in the
    turn it is in is in the worktree, not yet a step (its turn's end makes it one). A publish now would leave it out
    and set it aside under refs/gitbench/leftovers, after a question saying "0 file(s)". It becomes the turn's step
    first, as the turn's end would make it, so the question names it and the publish takes it."""
    from gitbench.services import drafts

    if drafts.AGENT is None or not drafts.sessions_kept(wb):
        return
    from gitbench.integrations import core
    from gitbench.integrations.base import HookEvent

    for data in core.open_sessions(wb.git.gitdir, ref, agent=drafts.AGENT):
        if not data.get("session") or not data.get("job"):
            continue
        event = HookEvent(str(data.get("agent")), "turn-end", str(data["session"]), str(data.get("root") or wb.root))
        reply = core.step(event, data, during="up to the publish it asked for")
        if reply.error:
            raise errors.JobFailed(
                f"{reply.error.rstrip('.')}. Nothing was published: the user can publish once the turn has ended.",
                [errors.Action("See the Draft", "review", ("--draft", ref.rsplit("/", 1)[-1]))],
            )


def _configured_check(wb: Workbench) -> str | None:
    """The project's ``[publish] check``, if any (what a publish runs unless told otherwise)."""
    from gitbench.providers import config

    command = config.load(wb.git.workdir).publish.check
    return command or None


def plan_restore(name: str, keep_draft: bool) -> Plan:
    from gitbench.services import drafts

    try:
        wb = workbench()
        wb.recover_if_idle()
        cp = wb.checkpoint(name)
        if not keep_draft:
            drafts.require_no_draft(wb, "restore")  # say so before asking, not after (as the CLI does)
        published = wb.published()
    except Exception as exc:  # noqa: BLE001 - said before anyone is asked, as an answer
        return Plan(error=as_error(exc))
    why = f"{cp.kind}, {cp.message}" if cp.message else cp.kind
    question = (
        f"Restore {cp.name} ({why})? Published ({wb.branch}) moves from {published[:12]} to {cp.commit[:12]} and "
        "the job records go back to that checkpoint. A pre-restore checkpoint of the current state is taken first, "
        "so this can be undone."
    )
    what = f"restoring {cp.name}"
    command = errors.Action(
        f"The user runs it: {what}", "restore", (cp.name, "--yes", *(("--keep-draft",) if keep_draft else ()))
    )
    return Plan(what, question, command, head=cp.commit, published=published, checkpoint=cp.name)


def can_ask(ctx: Context) -> bool:
    """Can this client show the user a yes/no form? It declared form elicitation, and either speaks a protocol
    that carries it in the result (2026-07-28 and later) or has a channel for requests from the server."""
    caps = ctx.client_capabilities
    form = caps.elicitation if caps is not None else None
    # A bare `elicitation: {}` means forms; one that names only URL elicitation cannot show a form.
    if form is None or (form.form is None and form.url is not None):
        return False
    version = ctx.protocol_version or ""
    return version >= "2026-07-28" or bool(ctx.session.can_send_request)


async def ask_publish(ctx: Context, plan: Annotated[Plan, Resolve(plan_publish)]) -> Elicit[Approval] | None:
    return Elicit(plan.question, Approval) if plan.error is None and can_ask(ctx) else None


async def ask_restore(ctx: Context, plan: Annotated[Plan, Resolve(plan_restore)]) -> Elicit[Approval] | None:
    return Elicit(plan.question, Approval) if plan.error is None and can_ask(ctx) else None


def approval(plan: Plan, answer: ElicitationResult[Approval]) -> errors.GitbenchError | None:
    """None if the user said yes to ``plan``; else why not, as the error to answer with."""
    if plan.error is not None:
        return plan.error
    action = plan.command
    if isinstance(answer, AcceptedElicitation) and answer.data is None:  # not asked: the client cannot ask
        return errors.ApprovalRequired(
            f"{plan.what[0].upper()}{plan.what[1:]} moves Published, which needs the user's explicit approval, and "
            "this MCP client cannot ask the user (it does not support elicitation). Nothing was changed. Ask the "
            "user to run the command themselves.",
            [action],
            {"command": plan.command.command},
        )
    if isinstance(answer, AcceptedElicitation) and answer.data.approve:
        return None
    said = "said no" if isinstance(answer, AcceptedElicitation) else "declined"
    said = "dismissed the question" if answer.action == "cancel" else said
    return errors.ApprovalDeclined(
        f"The user {said}: {plan.what} did not happen; nothing was changed.",
        [action],
        {"command": plan.command.command},
    )


def moved(plan: Plan) -> errors.ApprovalDeclined:
    return errors.ApprovalDeclined(
        f"Something moved while the user was being asked ({plan.what}): what they approved is not what would happen "
        "now. Nothing was changed; look again and ask again.",
        [errors.Action("See where things are", "status")],
    )


def do_publish(plan: Plan, check: str | None, no_check: bool) -> OperationResult:
    """Publish exactly what the user approved: under the Workbench lock (publish takes it again, re-entrantly), the
    Draft and Published must still be where they were when the user was asked."""
    from gitbench.model import DRAFT_PREFIX
    from gitbench.services import publish as publish_service

    wb = workbench()
    with wb.changing("publish"):
        if wb.git.ref(DRAFT_PREFIX + plan.label) != plan.head or wb.published() != plan.published:
            raise moved(plan)
        return publish_service.publish(wb, plan.label, check=check, no_check=no_check)


def do_restore(plan: Plan, keep_draft: bool) -> OperationResult:
    from gitbench.services import restore as restore_service

    wb = workbench()
    with wb.changing("restore"):
        if wb.published() != plan.published or wb.checkpoint(plan.checkpoint).commit != plan.head:
            raise moved(plan)
        return restore_service.restore(wb, plan.checkpoint, keep_draft)


# --- the server -------------------------------------------------------------------------------------------------

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
MOVES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)

DraftLabel = Annotated[
    str | None,
    Field(
        description="Which Draft, when several are open (see `status`); omitted: the only one, or your own "
        "session's when gitbench gave you one."
    ),
]


def server() -> MCPServer:
    from gitbench import __version__

    mcp = MCPServer("gitbench", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    @mcp.tool(annotations=READ)
    async def status() -> Annotated[CallToolResult, StatusAnswer]:
        """Where the Workbench is: Published (branch, commit, last checkpoint), the open Draft(s), the last job,
        files edited outside gitbench, reminders. Same as `gitbench status --json`."""
        from gitbench.services import status as status_service

        return await run(lambda: status_service.status(workbench()))

    @mcp.tool(annotations=READ)
    async def review(
        draft: DraftLabel = None,
        patch: Annotated[bool, Field(description="Include the full diff (unified patch).")] = False,
    ) -> Annotated[CallToolResult, ReviewAnswer]:
        """What the Draft changes against Published: files, diffstat, and with `patch` the diff. Same as
        `gitbench review --json`."""
        from gitbench.services import review as review_service

        def work() -> Review:
            wb = workbench()
            wb.recover_if_idle()
            return review_service.review(wb, patch, label=own_draft(wb, draft))

        return await run(work)

    @mcp.tool(annotations=WRITE)
    async def checkpoint(
        message: Annotated[str, Field(description="Why this checkpoint (its tag message).")] = "",
    ) -> Annotated[CallToolResult, OperationAnswer]:
        """Take a manual checkpoint (an annotated tag) of Published and the records; `restore` goes back to it.
        Same as `gitbench checkpoint -m MESSAGE --json`."""
        from gitbench.services import checkpoints as cps

        def work() -> OperationResult:
            wb = workbench()
            with wb.changing("checkpoint"):
                cp = cps.create(wb, CheckpointKind.MANUAL, message)
            return OperationResult(
                "checkpoint",
                f"Took {cp.name} of Published {cp.commit[:12]}.",
                checkpoints=[cp.name],
                notes=list(wb.recovered),
            )

        return await run(work)

    @mcp.tool(annotations=READ)
    async def checkpoints(
        limit: Annotated[int, Field(description="How many of the newest to list.", ge=1)] = 30,
        all: Annotated[bool, Field(description="List every checkpoint (there may be thousands).")] = False,
    ) -> Annotated[CallToolResult, CheckpointsAnswer]:
        """The checkpoint history, oldest first, the newest `limit` of it: name, kind (auto, publish, manual,
        pre-restore), date, job, message; `older` says how many older ones are not listed. Same as
        `gitbench checkpoints [--limit N | --all] --json`."""
        from gitbench.services import checkpoints as cps

        def work() -> tuple[list[Checkpoint], int]:
            wb = workbench()
            wb.recover_if_idle()
            return cps.history_page(wb, None if all else limit)

        return await run(work, lambda page: ok(page[0], older=page[1]))

    @mcp.tool(annotations=MOVES)
    async def publish(
        plan: Annotated[Plan, Resolve(plan_publish)],
        answer: Annotated[ElicitationResult[Approval], Resolve(ask_publish)],
        draft: DraftLabel = None,
        check: Annotated[
            str | None, Field(description="A command that must pass on the Draft before it is published.")
        ] = None,
        no_check: Annotated[bool, Field(description="Skip the publish check the Workbench configures.")] = False,
    ) -> Annotated[CallToolResult, OperationAnswer]:
        """Publish the Draft: fast-forward Published to it atomically, take a publish checkpoint, remove the
        Draft. The user is asked to approve first (MCP elicitation); a client that cannot ask gets the error
        `approval-required` with the command for the user to run. Same as `gitbench publish --json`."""
        refused = approval(plan, answer)
        if refused is not None:
            return failed(refused)
        return await run(lambda: do_publish(plan, check, no_check))

    @mcp.tool(annotations=MOVES)
    async def discard(draft: DraftLabel = None) -> Annotated[CallToolResult, OperationAnswer]:
        """Remove the Draft; Published is untouched. Recoverable: `gitbench discard --undo` brings it back (for
        14 days). Same as `gitbench discard --yes --json`."""
        from gitbench.services import discard as discard_service

        def work() -> OperationResult:
            wb = workbench()
            return discard_service.discard(wb, own_draft(wb, draft))

        return await run(work)

    @mcp.tool(annotations=MOVES)
    async def restore(
        plan: Annotated[Plan, Resolve(plan_restore)],
        answer: Annotated[ElicitationResult[Approval], Resolve(ask_restore)],
        name: Annotated[
            str,
            Field(
                description="The checkpoint (see `checkpoints`): `checkpoint/261203-072105-k3mq`, a unique "
                "beginning of its name (`261203-0721`), or an older Workbench's `checkpoint/3` or `3`."
            ),
        ],
        keep_draft: Annotated[
            bool, Field(description="Publish conflict only: restore Published to where the open Draft started.")
        ] = False,
    ) -> Annotated[CallToolResult, OperationAnswer]:
        """Go back in time: Published and the job records as they were at the checkpoint. A pre-restore
        checkpoint is taken first, so it can be undone. The user is asked to approve first (MCP elicitation); a
        client that cannot ask gets `approval-required` with the command for the user to run. Same as
        `gitbench restore NAME --yes --json`."""
        refused = approval(plan, answer)
        if refused is not None:
            return failed(refused)
        return await run(lambda: do_restore(plan, keep_draft))

    @mcp.tool(annotations=READ)
    async def why(
        target: Annotated[str, Field(description="`PATH`, `PATH:LINE` or `PATH:START-END`.")],
        rev: Annotated[str | None, Field(description="Look at this revision instead of Published.")] = None,
    ) -> Annotated[CallToolResult, WhyAnswer]:
        """Why a file or lines are as they are: the job, step, model and prompt summary that last changed them,
        from the audit trail. Same as `gitbench why TARGET --json`."""

        from gitbench.services import why as why_service

        def work() -> Any:
            return why_service.why(workbench(), target, rev).to_json()

        return await run(work)

    return mcp


def serve(folder: str | None = None) -> None:
    """Run the server on stdin/stdout until the client closes it. ``folder``: the project (default: here)."""
    if folder is not None:
        try:
            os.chdir(folder)
        except OSError as exc:
            raise errors.NotAWorkbench(
                f"--workbench {folder}: {exc.strerror or exc}; no Workbench there.",
                [errors.Action("Name the project's folder (a Workbench: `gitbench init` in it first)")],
            ) from exc
    workbench()  # not a Workbench: say so now, on stderr, rather than in every call
    from gitbench.services import drafts

    drafts.AGENT = os.getppid()  # the agent that started this server: its own session does not hold it back
    server().run("stdio")
