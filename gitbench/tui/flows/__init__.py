"""What the user can do, as the CLI does it: the seed's prompt first, then the service call (in a thread), then
its result in the status bar or its error in the banner.

Each flow is a coroutine run by ``GitbenchApp.start``; a GitbenchError it raises is shown with its actions. The
prompts are the seeds': a new job while a Draft is open (Publish / Discard / Cancel), the stale Draft (Discard /
Keep), the publish conflict (Discard, or Restore Published from a checkpoint), the corrupted Draft (discard or
restore), and the confirmations the CLI asks for (discard, restore).
"""

from gitbench.tui.flows.checkpoints import checkpoint, discard_then_restore, recover, report, restore
from gitbench.tui.flows.common import refresh
from gitbench.tui.flows.draft import discard, keep, opening, publish, undo_discard
from gitbench.tui.flows.jobs import ask, resume, resume_switching_model, resume_work, workflow_run, workflow_tool

__all__ = [
    "ask",
    "checkpoint",
    "discard",
    "discard_then_restore",
    "keep",
    "opening",
    "publish",
    "recover",
    "refresh",
    "report",
    "restore",
    "resume",
    "resume_switching_model",
    "resume_work",
    "undo_discard",
    "workflow_run",
    "workflow_tool",
]
