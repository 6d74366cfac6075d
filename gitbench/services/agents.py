"""Which agent a job's command runs, and which model it uses, as far as the agent tells it.

The program is the command's own name, looked for behind the usual launchers (``env``, ``npx``, ``uvx``,
``pipx run``, ``python -m``, ``node .../cli.js``, ``sh -c``). The model comes from what the agent itself reads,
in its own order: its flags, its environment variables, its config files (the project's, then the user's); and
when none of them says, after the run, from the transcript the agent wrote of it (Claude Code, codex:
``transcript_model``; only the model's name is read from it). Nothing here runs the agent or reads its output;
a model we cannot tell is left unknown, never guessed.
"""

# No `from __future__ import annotations` (see model.py): a dataclass field annotated with a string costs
# a pattern match at import and again when its __init__ is made.
import json
import os
import re
from collections.abc import Callable

from gitbench.lazy_dataclass import dataclass

AGENTS = {
    "aider",
    "claude",
    "codex",
    "gemini",
    "opencode",
    "cursor-agent",
    "goose",
    "amp",
    "qwen",
    "crush",
    "continue",
    "cline",
    "auggie",
    "droid",
    "kiro-cli",
    "copilot",
}
LAUNCHERS = {"env", "npx", "pnpx", "bunx", "uvx", "pipx", "nice", "nohup", "time", "command", "exec", "stdbuf"}
# Launcher options whose value is the next word (`nice -n 5 codex`: the agent is codex, not "5").
_OPTION_VALUES = {"-n", "-u", "-C", "-f", "-o", "-e", "-i", "-a", "--unset", "--chdir", "--adjustment", "--output"}
PACKAGES = {
    "@anthropic-ai/claude-code": "claude",
    "@openai/codex": "codex",
    "@google/gemini-cli": "gemini",
    "aider-chat": "aider",
    "opencode-ai": "opencode",
}


@dataclass(frozen=True)
class Agent:
    """The coding agent a job runs, and its model when the command line names one."""

    program: str  # "aider", "claude", "codex", "sed"...
    model: str | None = None  # as the agent names it: "openai/gpt-4o", "claude-sonnet-4-5"

    @property
    def trailer(self) -> str:
        """``Gitbench-Model`` of its steps: ``program:model`` when the model is known, else the program."""
        return f"{self.program}:{self.model}" if self.model else self.program


def program(argv: list[str]) -> str:
    """The program a command line runs, behind launchers."""
    args = list(argv)
    while args:
        head = args[0] if args[0].startswith("@") else os.path.basename(args[0])  # @scope/package (npx)
        rest = args[1:]
        if head in ("sh", "bash", "zsh", "dash") and len(rest) >= 2 and rest[0] in ("-c", "-lc"):
            import shlex  # here: most commands are no `sh -c` script (~0.4 ms of a job's start-up)

            try:  # a script: the agent it runs, if it names one of those we know; else the shell
                words = [os.path.basename(w) for w in shlex.split(rest[1])]
            except ValueError:
                return head
            return next((PACKAGES.get(w, w) for w in words if PACKAGES.get(w, w) in AGENTS), head)
        if head in LAUNCHERS or (head == "npm" and rest[:1] == ["exec"]):
            rest = [a for a in rest if a not in ("run", "exec", "--", "-y", "--yes")]
            while rest and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", rest[0]) or rest[0].startswith("-")):
                rest = rest[2:] if rest[0] in _OPTION_VALUES else rest[1:]
            args = rest
            continue
        # Each pattern only for a name it may match: compiled at first use, ~0.1 ms each of a job's start-up.
        if head.startswith("python") and re.match(r"^python[0-9.]*$", head):
            return _known(rest[1]) if rest[:1] == ["-m"] and len(rest) > 1 else "python"
        if head.startswith(("node", "bun", "deno")) and re.match(r"^(node|bun|deno)$", head) and rest:
            script = next((a for a in rest if not a.startswith("-")), "")
            for package, name in PACKAGES.items():
                if package in script:
                    return name
            return _known(os.path.splitext(os.path.basename(script))[0] or head)
        return _known(head)
    return "command"


def _known(name: str) -> str:
    # A version follows the last "@": name@1.0, @scope/name@1.0; a scoped package's own "@" is not one.
    base = name.rsplit("@", 1)[0] if "@" in name[1:] else name
    return PACKAGES.get(base, base) or "command"


def _flag(argv: list[str], *names: str) -> str | None:
    """The value of the last ``--name VALUE`` / ``--name=VALUE`` (``-m VALUE``) in argv."""
    found = None
    for i, arg in enumerate(argv):
        for n in names:
            if arg == n and i + 1 < len(argv):
                found = argv[i + 1]
            elif n.startswith("--") and arg.startswith(n + "="):
                found = arg[len(n) + 1 :]
    return found


def _yaml_model(path: str) -> str | None:
    """``model:`` from a YAML file of plain ``key: value`` lines (aider's .aider.conf.yml), without a YAML parser."""
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                m = re.match(r"^model:\s*['\"]?([^'\"#\s]+)", line)
                if m:
                    return m.group(1)
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _json_model(path: str, *keys: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    for key in keys:  # each key walks from the top of the document ("model.name", else "model")
        value = data
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and value:
            return value
    return None


def _toml_model(path: str) -> str | None:
    import tomllib  # here: ~3 ms at start-up, and only some agents' configs are TOML

    try:
        with open(path, "rb") as fh:
            value = tomllib.load(fh).get("model")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return value if isinstance(value, str) and value else None


def _aider(argv: list[str], env: dict[str, str], cwd: str, home: str) -> str | None:
    aliases = {
        "--opus": "claude-3-opus",
        "--sonnet": "sonnet",
        "--haiku": "haiku",
        "--4": "gpt-4",
        "--4o": "gpt-4o",
        "--mini": "gpt-4o-mini",
        "--deepseek": "deepseek",
        "--o1-mini": "o1-mini",
        "--o1-preview": "o1-preview",
    }
    named = _flag(argv, "--model")
    for arg in argv:
        if arg in aliases:
            named = aliases[arg]
    return (
        named
        or env.get("AIDER_MODEL")
        or _yaml_model(os.path.join(cwd, ".aider.conf.yml"))
        or _yaml_model(os.path.join(home, ".aider.conf.yml"))
    )


def _claude(argv: list[str], env: dict[str, str], cwd: str, home: str) -> str | None:
    config = env.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude")
    return (
        _flag(argv, "--model")
        or env.get("ANTHROPIC_MODEL")
        or _json_model(os.path.join(cwd, ".claude", "settings.local.json"), "model")
        or _json_model(os.path.join(cwd, ".claude", "settings.json"), "model")
        or _json_model(os.path.join(config, "settings.json"), "model")
    )


def _codex(argv: list[str], env: dict[str, str], cwd: str, home: str) -> str | None:
    named = _flag(argv, "-m", "--model")
    for i, arg in enumerate(argv):
        if arg in ("-c", "--config") and i + 1 < len(argv):
            m = re.match(r"^model\s*=\s*['\"]?([^'\"]+)['\"]?$", argv[i + 1])
            if m:
                named = m.group(1)
    config = env.get("CODEX_HOME") or os.path.join(home, ".codex")
    return named or _toml_model(os.path.join(config, "config.toml"))


def _gemini(argv: list[str], env: dict[str, str], cwd: str, home: str) -> str | None:
    return (
        _flag(argv, "-m", "--model")
        or env.get("GEMINI_MODEL")
        or _json_model(os.path.join(cwd, ".gemini", "settings.json"), "model.name", "model")
        or _json_model(os.path.join(home, ".gemini", "settings.json"), "model.name", "model")
    )


def _opencode(argv: list[str], env: dict[str, str], cwd: str, home: str) -> str | None:
    return _flag(argv, "-m", "--model") or _json_model(os.path.join(cwd, "opencode.json"), "model")


MODELS: dict[str, Callable[[list[str], dict[str, str], str, str], str | None]] = {
    "aider": _aider,
    "claude": _claude,
    "codex": _codex,
    "gemini": _gemini,
    "opencode": _opencode,
}


def identify(argv: list[str], env: dict[str, str] | None = None, cwd: str = ".") -> Agent:
    """The agent a command line runs and, where the agent tells it, its model."""
    env = dict(os.environ if env is None else env)
    name = program(argv)
    find = MODELS.get(name)
    model = find(argv, env, cwd, env.get("HOME") or os.path.expanduser("~")) if find else None
    return Agent(name, _clean(model))


def _clean(model: str | None) -> str | None:
    """A model name fit for a trailer (one line, no spaces, a sane length)."""
    if not model:
        return None
    model = model.strip()
    if not model or len(model) > 120 or not re.match(r"^[A-Za-z0-9._:/@+-]+$", model):
        return None
    return model


def transcript_model(program: str, cwds: list[str], env: dict[str, str], since: float) -> str | None:
    """The model an agent's own transcript of a run in one of ``cwds`` (a Draft's worktree, one per job, or the
    folder in it the agent started in) says it used, for a run that started at ``since`` (wall-clock seconds):
    Claude Code's ``~/.claude/projects/<cwd>/*.jsonl`` (``message.model`` of its answers), codex's
    ``~/.codex/sessions/Y/M/D/*.jsonl`` (``turn_context``'s ``model``). The last one named wins; only that field
    is read, never the conversation."""
    home = env.get("HOME") or os.path.expanduser("~")
    try:
        if program == "claude":
            base = env.get("CLAUDE_CONFIG_DIR") or os.path.join(home, ".claude")
            folders = [os.path.join(base, "projects", re.sub(r"[^A-Za-z0-9]", "-", cwd)) for cwd in cwds]
            files = [f for folder in folders for f in _recent(folder, since)]
            return _clean(_last_model(files, _claude_line)) if files else None
        if program == "codex":
            base = env.get("CODEX_HOME") or os.path.join(home, ".codex")
            import time

            days = {time.strftime("%Y/%m/%d", time.localtime(t)) for t in (since - 86400, since, time.time())}
            files = [f for day in sorted(days) for f in _recent(os.path.join(base, "sessions", day), since)]
            return _clean(_last_model(files, lambda d: _codex_line(d, cwds))) if files else None
    except OSError:
        return None
    return None


def _recent(folder: str, since: float) -> list[str]:
    """The ``*.jsonl`` files in ``folder`` written since ``since``, oldest first (a second's slack for mtimes)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith(".jsonl") and os.path.isfile(path) and os.path.getmtime(path) >= since - 1:
            found.append((os.path.getmtime(path), path))
    return [p for _, p in sorted(found)]


def _last_model(files: list[str], pick: Callable[[dict[str, object]], str | None]) -> str | None:
    model = None
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    data = json.loads(line)
                except ValueError:
                    continue
                named = pick(data) if isinstance(data, dict) else None
                model = named or model
    return model


def _claude_line(data: dict[str, object]) -> str | None:
    message = data.get("message")
    if data.get("type") != "assistant" or not isinstance(message, dict):
        return None
    model = message.get("model")
    return model if isinstance(model, str) and not model.startswith("<") else None  # "<synthetic>": not a model


def _codex_line(data: dict[str, object], cwds: list[str]) -> str | None:
    payload = data.get("payload")
    if data.get("type") != "turn_context" or not isinstance(payload, dict) or payload.get("cwd") not in cwds:
        return None
    model = payload.get("model")
    return model if isinstance(model, str) else None
