"""`gitbench chat` on a terminal: prompts one after another, and slash commands between them.

A ``cmd.Cmd`` (the standard library's line-oriented interpreter) rather than a loop of our own: it reads lines,
dispatches ``/name`` to ``do_name``, and gives ``/help`` from the docstrings. Any other line is a prompt, sent as
``gitbench ask`` would. A terminal UI home (the TUI) was the other choice; the chat session stays a plain line
interface so it works over any terminal and a pipe, beside the TUI's own ask flow.
"""

from __future__ import annotations

import cmd

from gitbench import errors
from gitbench.cli import render
from gitbench.services.workbench import Workbench

INTRO = "Type a prompt (/review, /publish, /discard, /files GLOB..., /model M, /quit)."


class ChatSession(cmd.Cmd):
    prompt = "› "
    doc_header = "Commands (/help COMMAND for one):"

    def __init__(self, wb: Workbench, files: list[str], model: str | None) -> None:
        # No completion key: cmd.Cmd would import readline for it, which writes the prompt its own way (a byte at
        # a time, garbling "›" for a reader of the terminal that decodes what it reads as it comes).
        super().__init__(completekey=None)  # type: ignore[arg-type]
        self.wb = wb
        self.files = files
        self.model = model

    def parseline(self, line: str) -> tuple[str | None, str | None, str]:
        """``/name args`` is a command; anything else is a prompt (``default``). ``EOF`` is what cmd.Cmd reads at
        the end of input (Ctrl-D), so that word alone ends the session rather than being sent."""
        line = line.strip()
        if line == "EOF":
            return "EOF", "", line
        if line.startswith("/") and line != "/":
            name, _, arg = line[1:].partition(" ")
            return name, arg.strip(), line
        return None, None, line

    def onecmd(self, line: str) -> bool:
        try:
            return bool(super().onecmd(line))  # do_help answers None
        except errors.GitbenchError as exc:  # the session goes on after a refused step
            render.error(exc, False)
            return False

    def get_names(self) -> list[str]:
        return [n for n in super().get_names() if n != "do_EOF"]  # not a command one types: /help leaves it out

    def emptyline(self) -> bool:
        return False  # cmd.Cmd would repeat the last command: an empty line does nothing here

    def default(self, line: str) -> None:
        """A prompt: a Workshop job on the files and model of the session."""
        from gitbench.cli.prompts import choose_on_draft
        from gitbench.services import ask

        choice = choose_on_draft(self.wb, None, False, kind="ask")
        render.result(ask.ask(self.wb, line, self.files, self.model, False, choice, lambda t: render.out(f"· {t}")))

    def do_review(self, arg: str) -> bool:
        """/review: the Draft's changes, with the patch."""
        from gitbench.services import review

        render.review(review.review(self.wb, patch=True), patch=True)
        return False

    def do_publish(self, arg: str) -> bool:
        """/publish: the Draft becomes Published."""
        from gitbench.services import publish

        render.result(publish.publish(self.wb))
        return False

    def do_discard(self, arg: str) -> bool:
        """/discard: the Draft is thrown away (kept in the trash)."""
        from gitbench.services import discard

        render.result(discard.discard(self.wb))
        return False

    def do_files(self, arg: str) -> bool:
        """/files GLOB...: the files the next prompts may change."""
        self.files = arg.split()
        render.out(f"files: {' '.join(self.files) or '(none)'}")
        return False

    def do_model(self, arg: str) -> bool:
        """/model PROVIDER:MODEL: the model of the next prompts (none: the default)."""
        self.model = arg or None
        render.out(f"model: {self.model or '(default)'}")
        return False

    def do_quit(self, arg: str) -> bool:
        """/quit (or /exit, /q, end of input): end the session."""
        return True

    do_exit = do_q = do_quit

    def do_EOF(self, arg: str) -> bool:  # noqa: N802 - the name cmd.Cmd gives the end of input
        render.out("")
        return True


def run(wb: Workbench, files: list[str], model: str | None) -> None:
    """The interactive session, until /quit, end of input or Ctrl-C."""
    render.out(INTRO)
    try:
        ChatSession(wb, files, model).cmdloop()
    except KeyboardInterrupt:
        render.out("")
