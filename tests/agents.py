"""Real agent CLIs (aider, Claude Code, codex) for tests: where they are, the sealed environment that points them
at the scripted model server (tests/agent_server.py) and keeps every byte on 127.0.0.1, and their command lines
with their default safety settings.

The agents are installed by ``.ci/install-agents`` (aider in ``.venv-agents/aider``, Claude Code and codex in
``.agents``); a missing agent fails the test with that hint, it is never skipped.

Usage::

    with AgentServer() as server:
        server.script(replace("app.py", "hello", "bye"))
        env = environment("claude", server)            # writes the agent's config files into $HOME
        res = run(command("claude", "Say bye"), env, cwd=repo, trace=tmp_path / "net.strace")
        assert outside_traffic(tmp_path / "net.strace") == []

For a gitbench job, ``use(monkeypatch, "aider", server)`` puts the same environment into the test process (so
``gitbench`` and the agent it starts inherit it), ``command_template(...)`` gives the argv with ``{prompt}`` where
the prompt goes and ``command_model(...)`` the whole ``command:...`` model string. Nothing here depends on the
repository's path: the agents work in their current directory.

What keeps each agent off the network (each verified with strace: only 127.0.0.1 and local sockets):

- aider: ``AIDER_CHECK_UPDATE=false`` (PyPI version check), ``AIDER_ANALYTICS=false`` (PostHog; also no opt-in
  question), ``AIDER_SHOW_RELEASE_NOTES=false``, ``AIDER_DETECT_URLS=false`` (no scraping of URLs in a prompt),
  ``LITELLM_LOCAL_MODEL_COST_MAP=True`` (litellm fetches its cost map from GitHub when imported) and a model
  metadata file naming the model (``AIDER_MODEL_METADATA_FILE``; without it aider's own ModelInfoManager
  downloads the same map from GitHub for any model it does not know).
- Claude Code: ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` (without it: ``HEAD /api/hello`` and DNS look-ups of
  api.anthropic.com), plus ``DISABLE_TELEMETRY``, ``DISABLE_ERROR_REPORTING``, ``DISABLE_AUTOUPDATER``,
  ``DISABLE_BUG_COMMAND``, ``DISABLE_COST_WARNINGS`` and ``CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL``
  for good measure; the Haiku/Sonnet/Opus/subagent model names all point at the scripted model.
- codex: a custom provider in ``$CODEX_HOME/config.toml`` (no retries), ``[analytics] enabled = false``
  (ab.chatgpt.com), ``[features] plugins = false, remote_plugin = false, apps = false`` (``git ls-remote
  https://github.com/openai/plugins.git``, api.github.com and chatgpt.com) and
  ``check_for_update_on_startup = false``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from tests.agent_server import AgentServer, create, replace

ROOT = Path(__file__).resolve().parent.parent
AIDER_VENV = ROOT / ".venv-agents" / "aider"
NPM_BIN = ROOT / ".agents" / "node_modules" / ".bin"
AGENTS = ("aider", "claude", "codex")
# The model each agent asks for (what the server records in every request it gets from that agent).
MODELS = {"aider": "aider-test-model", "claude": "claude-test-model", "codex": "codex-test-model"}
API_KEY = "sk-agent-server-dummy-key"  # never a real key: the server accepts anything
INSTALL_HINT = "run `bash .ci/install-agents` (it installs aider, Claude Code and codex where the tests look)"

# Inherited variables that would steer an agent elsewhere (keys, hosts, proxies, a parent agent's session).
FOREIGN = (
    "OPENAI_",
    "ANTHROPIC_",
    "AIDER_",
    "LITELLM_",
    "CLAUDE",
    "CODEX_",
    "AZURE_",
    "GEMINI_",
    "GOOGLE_",
    "OPENROUTER_",
    "OLLAMA_",
    "AWS_",
    "HF_",
    "HUGGINGFACE_",
    "OTEL_",
    "MCP_",
)
PROXIES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy", "ws_proxy", "wss_proxy")


def binary(agent: str) -> Path:
    """The agent's executable: from the install locations of ``.ci/install-agents``, else PATH; missing: fail."""
    name = {"aider": "aider", "claude": "claude", "codex": "codex"}[agent]
    local = AIDER_VENV / "bin" / "aider" if agent == "aider" else NPM_BIN / name
    if local.exists() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    if found:
        return Path(found)
    pytest.fail(
        f"{agent}: `{name}` is not installed ({local} is missing and it is not on PATH): {INSTALL_HINT}", pytrace=False
    )


def environment(
    agent: str, server: AgentServer, home: Path | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment to run ``agent`` against ``server``: ``base`` (default: this process's, which the
    ``hermetic`` fixture sealed) without foreign keys, hosts and proxies, plus the agent's settings. Writes the
    agent's config files under ``home`` (default: $HOME, a temporary folder in tests)."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.upper().startswith(FOREIGN) and k.lower() not in PROXIES
    }
    home = Path(home or env["HOME"])
    env["HOME"] = str(home)
    env.setdefault("XDG_CONFIG_HOME", str(home / ".config"))
    env.update(
        {
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "DO_NOT_TRACK": "1",
            "NO_COLOR": "1",
            "TERM": "dumb",
        }
    )
    model = MODELS[agent]
    if agent == "aider":
        env.update(_aider_env(server, home, Path(env["XDG_CONFIG_HOME"]), model))
    elif agent == "claude":
        env.update(_claude_env(server, model))
        # An interactive first start checks that api.anthropic.com answers, unless onboarding is done.
        state = home / ".claude.json"
        data = json.loads(state.read_text()) if state.exists() else {}
        if not data.get("hasCompletedOnboarding"):
            state.write_text(json.dumps({**data, "hasCompletedOnboarding": True}))
    elif agent == "codex":
        env.update(_codex_env(server, home, model))
        # The codex TUI fetches a tip from raw.githubusercontent.com at every start: a closed local port as its
        # proxy keeps that on the machine (NO_PROXY lets the model server be reached directly).
        env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    else:
        raise ValueError(f"unknown agent {agent!r}; one of {AGENTS}")
    return env


def use(monkeypatch: pytest.MonkeyPatch, agent: str, server: AgentServer) -> dict[str, str]:
    """Put ``environment(agent, server)`` into this process's environment (for gitbench jobs that start the
    agent), removing the foreign variables; returns it."""
    env = environment(agent, server)
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def command(agent: str, prompt: str, files: Sequence[str] = ("app.py",)) -> list[str]:
    """The agent's non-interactive command line, with its default safety settings.

    - aider: git and auto-commits on (its defaults), ``--yes-always`` to answer its questions, ``--message`` for
      one prompt, then exit. ``files`` are added to the chat (aider only edits files in the chat without asking).
    - Claude Code: ``-p`` (print mode: no TUI, no trust dialog) with ``--permission-mode acceptEdits`` (edits in
      the working directory are allowed; anything else, Bash included, is denied without a prompt).
    - codex: ``exec`` with ``--sandbox workspace-write`` (approval policy stays ``never``: nothing escalates).
      exec's own default is the read-only sandbox, in which codex cannot edit at all (its patch is rejected);
      workspace-write is the nearest setting that lets it edit and it works in this container (bundled
      bubblewrap + seccomp: the agent's shell commands get no network).
    """
    exe = str(binary(agent))
    model = MODELS[agent]
    if agent == "aider":
        return [exe, "--model", f"openai/{model}", "--yes-always", "--message", prompt, *files]
    if agent == "claude":
        return [exe, "-p", prompt, "--permission-mode", "acceptEdits", "--model", model]
    if agent == "codex":
        return [exe, "exec", "--sandbox", "workspace-write", "--color", "never", "--model", model, prompt]
    raise ValueError(f"unknown agent {agent!r}; one of {AGENTS}")


def command_template(agent: str, files: Sequence[str] = ("app.py",)) -> list[str]:
    """``command()`` with ``{prompt}`` where the prompt goes (gitbench's ``command:`` model syntax)."""
    return command(agent, "{prompt}", files)


def command_model(agent: str, files: Sequence[str] = ("app.py",)) -> str:
    """The agent as a gitbench model: ``command:`` and its command line (shell-quoted), ``{prompt}`` standing
    where the prompt goes (gitbench splits it with shlex, so the quoted ``'{prompt}'`` is one argument)."""
    return "command:" + shlex.join(command_template(agent, files))


def run(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 60, trace: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run an agent to the end: no standard input (codex reads a piped one to its end), its own process group
    (killed whole on timeout, so no grandchild outlives the test). With ``trace``, it runs under strace, which
    logs every connect/send of the agent and its children there (see ``outside_traffic``)."""
    argv = list(argv)
    if trace is not None:
        strace = shutil.which("strace")
        if strace is None:
            pytest.fail(
                "strace is needed to check that agents talk only to 127.0.0.1: apt-get install strace "
                "(.ci/run does it)",
                pytrace=False,
            )
        argv = [
            strace,
            "-f",
            "-qq",
            "--seccomp-bpf",
            "-s",
            "256",
            "-e",
            "trace=connect,sendto,sendmsg,sendmmsg",
            "-o",
            str(trace),
            *argv,
        ]
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(
            f"{Path(argv[0]).name} did not finish in {timeout:.0f} s\n--- stdout\n{out[-4000:]}\n"
            f"--- stderr\n{err[-4000:]}",
            pytrace=False,
        )
    finally:
        try:  # whatever the agent left running in its group (background shells, daemons) goes too
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    res = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    res.elapsed = time.monotonic() - started  # type: ignore[attr-defined]
    return res


_ADDR = re.compile(
    r'sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), (?:sin_addr=inet_addr\("([^"]+)"\)|'
    r'sin6_flowinfo=[^,]*, inet_pton\(AF_INET6, "([^"]+)"\))'
)
_DNS_NAME = re.compile(r'\\0\\0\\1\\0\\0\\0\\0\\0\\0((?:\\[0-7]{1,3}|\\[tnvfr]|[^"\\])+?)\\0\\0(?:\\1|\\34)\\0\\1')


def outside_traffic(trace: Path) -> list[str]:
    """Every destination in an strace log that is not on this machine: ``address:port`` of each connect/send to
    an IPv4/IPv6 address outside 127.0.0.0/8 and ::1, plus the host names in DNS queries. Local sockets
    (AF_UNIX, e.g. nscd user look-ups; AF_NETLINK) are fine."""
    found: dict[str, None] = {}
    for line in trace.read_text(errors="replace").splitlines():
        if not re.search(r"\b(connect|sendto|sendmsg|sendmmsg)\(", line):
            continue
        for m in _ADDR.finditer(line):
            addr = m.group(2) or m.group(3)
            if not (addr.startswith("127.") or addr in ("::1", "::ffff:127.0.0.1")):
                found[f"{addr}:{m.group(1)}"] = None
        for m in _DNS_NAME.finditer(line):
            found["dns:" + re.sub(r"\\[0-7]{1,3}|\\[tnvfr]", ".", m.group(1)).strip(".")] = None
    return list(found)


# --- per agent ---------------------------------------------------------------------------------------------------


def _aider_env(server: AgentServer, home: Path, xdg_config: Path, model: str) -> dict[str, str]:
    # Aider asks its ModelInfoManager about the model before anything else; a model it knows from this file is
    # never looked up online (and gets no "unknown context window" warning).
    metadata = home / ".aider.model.metadata.json"
    metadata.write_text(
        json.dumps(
            {
                f"openai/{model}": {
                    "max_input_tokens": 128000,
                    "max_output_tokens": 8192,
                    "max_tokens": 8192,
                    "input_cost_per_token": 0.0,
                    "output_cost_per_token": 0.0,
                    "litellm_provider": "openai",
                    "mode": "chat",
                }
            },
            indent=2,
        )
    )
    # Aider adds `.aider*` to the project's .gitignore unless Git already ignores it; the user's global excludes
    # file does, so aider leaves .gitignore alone and its files (.aider.chat.history.md, .aider.input.history,
    # .aider.tags.cache.v4/) stay out of `git status` and of anything that honours ignores (pygit2 does).
    ignore = xdg_config / "git" / "ignore"
    ignore.parent.mkdir(parents=True, exist_ok=True)
    text = ignore.read_text() if ignore.exists() else ""
    if ".aider*" not in text.splitlines():
        ignore.write_text(text + ("" if not text or text.endswith("\n") else "\n") + ".aider*\n")
    return {
        "OPENAI_API_BASE": f"{server.url}/v1",
        "OPENAI_BASE_URL": f"{server.url}/v1",  # what gitbench's own `openai` provider reads, should it be asked
        "OPENAI_API_KEY": API_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "AIDER_MODEL_METADATA_FILE": str(metadata),
        "AIDER_CHECK_UPDATE": "false",
        "AIDER_ANALYTICS": "false",
        "AIDER_SHOW_RELEASE_NOTES": "false",
        "AIDER_DETECT_URLS": "false",
        "AIDER_PRETTY": "false",
        "AIDER_FANCY_INPUT": "false",
    }


def _claude_env(server: AgentServer, model: str) -> dict[str, str]:
    return {
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": API_KEY,
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
        "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_SUBAGENT_MODEL": model,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_BUG_COMMAND": "1",
        "DISABLE_COST_WARNINGS": "1",
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
    }


def _codex_env(server: AgentServer, home: Path, model: str) -> dict[str, str]:
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(f'''\
model = "{model}"
model_provider = "agent_server"
check_for_update_on_startup = false

[model_providers.agent_server]
name = "agent_server"
base_url = "{server.url}/v1"
env_key = "AGENT_SERVER_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
apps = false
''')
    return {"CODEX_HOME": str(codex_home), "AGENT_SERVER_API_KEY": API_KEY}


# The one edit the agent tests script: every agent is asked the same, and does the same.
NOTES = "Greeting changed by the agent.\n"
PROMPT = "Make greet() say goodbye instead of hello, and write notes.txt."
COMMIT = "fix: say goodbye instead of hello"


@contextlib.contextmanager
def scripted_server() -> Iterator[AgentServer]:
    """The scripted model server, set to make the agent change app.py's greeting and write notes.txt."""
    with AgentServer() as s:
        s.script(
            replace("app.py", '"hello"', '"goodbye"'),
            create("notes.txt", NOTES),
            say="Done: greet() now says goodbye.",
            commit_message=COMMIT,
        )
        yield s
