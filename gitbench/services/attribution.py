"""Who helped write a step: the ``Assisted-by: AGENT:MODEL`` trailer, and ``Co-authored-by:`` when configured.

``Assisted-by`` follows the Linux kernel's and Fedora's policies for AI-assisted contributions: the agent (the
tool) and the model it ran, ``AGENT:MODEL``. Which steps carry it:

* a model job (``gitbench ask`` talking to a provider): ``gitbench:PROVIDER/MODEL`` (``gitbench:openai/gpt-4o``),
  the provider/model form of models.dev that Agent Trace uses too;
* a command step whose program is a known agent (``services/agents.py``), any program a Workshop job runs as
  its ``command:`` model, and a turn of an agent session (``integrations/``, its hooks): the agent's name and
  the model it said it uses (``claude-code:claude-sonnet-4-5``), just ``AGENT`` when it did not say which (never
  guessed);
* a caller that knows better (``assisted_agent``/``assisted_model`` of ``jobs.step_trailers``): what it says;
* a plain command (``make format``, ``sed``) and a workflow's own steps: none, they are not AI assistance.

``Co-authored-by`` comes only from the user's own config file (``[attribution] co_authored_by = "Name <email>"``):
a name is a person's, not the project's, so the versioned ``.gitbench/config.toml`` may not set it.
"""

from __future__ import annotations

import os
import re

from gitbench import errors
from gitbench.lazy_dataclass import dataclass
from gitbench.model import JobRecord

# The name an agent goes by where it differs from its program's (the program `claude` is Claude Code).
NAMES = {"claude": "claude-code", "gemini": "gemini-cli", "qwen": "qwen-code"}
GITBENCH = "gitbench"
_AGENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}\Z")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,119}\Z")
_NOT_MODELS = ("command", "workflow")  # Gitbench-Model values of steps no model wrote


@dataclass(frozen=True)
class Assistance:
    """An AI's part in a step: the agent (``gitbench`` for gitbench's own model jobs) and its model, if known."""

    agent: str
    model: str | None = None

    @property
    def trailer(self) -> str:
        return f"{self.agent}:{self.model}" if self.model else self.agent

    @property
    def model_id(self) -> str | None:
        """The model as models.dev names it (``provider/model``), as far as it can be told without guessing."""
        return model_id(self.model)


def agent_name(program: str) -> str:
    return NAMES.get(program, program)


def model_job_model(model: str) -> str | None:
    """``provider:model`` of a model job as ``provider/model``; None for a command's or a workflow's step."""
    provider, sep, name = model.partition(":")
    if not sep or not name or provider in _NOT_MODELS or not provider:
        return None
    return f"{provider}/{name}"


def of_step(
    job: JobRecord,
    program: str | None,
    model: str | None,
    agent_override: str | None = None,
    model_override: str | None = None,
) -> Assistance | None:
    """Who assisted one step: ``program`` is the command a command step ran (None for a model step), ``model``
    the step's ``Gitbench-Model`` (default the job's); the overrides come from an agent's hook payload."""
    from gitbench.services import agents

    # What a hook's payload says is the agent's word, not ours: only a plain name goes into a trailer.
    agent_override = agent_override if agent_override and _AGENT.match(agent_override) else None
    model_override = model_override if model_override and _MODEL.match(model_override) else None
    if agent_override:
        return Assistance(agent_name(agent_override), model_override)
    if program is not None:
        # Made an agent by the user: a Workshop job's `command:` model, or a session of an agent's own hooks.
        declared = job.kind == "agent" or (
            job.kind == "ask" and (job.model == "command" or job.model.startswith("command:"))
        )
        if program not in agents.AGENTS and not declared:
            return None
        return Assistance(agent_name(program), model_override or job.agent_model)
    named = model_job_model(model or job.model)
    if named is None:
        return None
    return Assistance(GITBENCH, model_override or named)


def of_trailers(trailers: dict[str, str]) -> Assistance | None:
    """Who assisted a step, read back from its trailers: ``Assisted-by``, or for a step written before gitbench
    wrote that trailer, what ``Gitbench-Model`` and ``Gitbench-Agent`` say."""
    if "Gitbench-Job" not in trailers:
        return None
    said = trailers.get("Assisted-by", "").strip()
    if said:
        agent, _, model = said.split()[0].partition(":")  # the kernel's form allows tools after it: ignored
        return Assistance(agent, model or None)
    from gitbench.services import agents

    program = trailers.get("Gitbench-Agent")
    model = trailers.get("Gitbench-Model", "")
    if program is not None:
        if program not in agents.AGENTS:
            return None
        prefix = program + ":"
        return Assistance(agent_name(program), model[len(prefix) :] if model.startswith(prefix) else None)
    named = model_job_model(model)
    return Assistance(GITBENCH, named) if named else None


_VENDORS = (("claude-", "anthropic"), ("gpt-", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"))


def model_id(model: str | None) -> str | None:
    """``provider/model`` (models.dev): as it is when it names its provider, else the provider its well-known
    prefix names (``claude-`` Anthropic, ``gpt-`` OpenAI, ``gemini-`` Google), else the name alone."""
    if not model:
        return None
    if "/" in model:
        return model[:250]
    for prefix, vendor in (*_VENDORS, ("gemini-", "google")):
        if model.startswith(prefix):
            return f"{vendor}/{model}"[:250]
    return model[:250]


def co_author() -> str | None:
    """``[attribution] co_authored_by`` from the user's config file, or None. Read when a step is committed;
    a malformed file or value counts as none here (``config.load``, which every job runs first, names it)."""
    from gitbench.providers import config

    path = config.user_config_path()
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        return None
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        value = config.attribution(config.read_file(path), path)
    except errors.GitbenchError:  # config.load, which every job runs first, names it; no step is lost for it
        value = None
    _CACHE[path] = (stamp, value)
    return value


_CACHE: dict[str, tuple[int, str | None]] = {}
