"""Model provider configuration: a TOML file per user and per Workbench; environment variables override both.

Files, later ones winning key by key:

1. ``$XDG_CONFIG_HOME/gitbench/config.toml`` (default ``~/.config/gitbench/config.toml``): the user's; the only
   place a key may be written down (``api_key``), since nothing there is versioned.
2. ``.gitbench/config.toml`` in the Workbench: versioned with Published, shared with everyone who clones the
   project, so it may name the environment variable that holds a key (``api_key_env``) but never hold a key.
3. Environment: ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``, ``OLLAMA_HOST``, ``ANTHROPIC_BASE_URL``,
   ``ANTHROPIC_API_KEY``, ``GITBENCH_MODEL``, ``GITBENCH_TIMEOUT``.

The full reference is in ``docs/providers.md``.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from typing import Any

from gitbench import errors

KINDS = ("openai", "anthropic", "command")
BUILTIN: dict[str, dict[str, Any]] = {
    "openai": {"kind": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "ollama": {"kind": "openai", "base_url": "http://127.0.0.1:11434/v1", "api_key_env": ""},
    "anthropic": {"kind": "anthropic", "base_url": "https://api.anthropic.com", "api_key_env": "ANTHROPIC_API_KEY"},
}


@dataclass(frozen=True)
class Provider:
    """One provider endpoint, resolved: where it is and how to authenticate."""

    name: str
    kind: str  # openai | anthropic | command
    base_url: str = ""
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str = ""
    configured: bool = False  # named in a config file or by an environment variable
    source: str = "built-in"


@dataclass(frozen=True)
class ModelSpec:
    """``provider:model`` resolved against the configuration."""

    id: str  # as written in trailers and reports: "ollama:qwen2.5-coder", "command:aider"
    provider: Provider
    model: str  # the model name sent to the provider; for command, the argv as one string
    argv: tuple[str, ...] = ()  # command: only


@dataclass(frozen=True)
class Settings:
    attempts: int = 3
    backoff: float = 1.0  # seconds before the 2nd attempt; doubled for each next one
    max_wait: float = 60.0  # cap on one wait, Retry-After included
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    batch_files: int = 10
    max_file_bytes: int = 256 * 1024  # larger files are listed as skipped, never sent
    max_edit_bytes: int = 1024 * 1024  # a larger file written by a model is refused
    max_tokens: int = 8192


@dataclass(frozen=True)
class JobSettings:
    """``[job]`` settings for jobs that run a command in a Draft's worktree (docs/agents.md)."""

    copy: tuple[str, ...] = ()  # untracked files copied from the checked-out folder into each new worktree
    setup: str | None = None  # a shell command run in each new worktree before the job
    worktrees: str | None = None  # where Draft worktrees go (user config or GITBENCH_WORKTREES only)
    timeout: float | None = None  # seconds; a job running longer is stopped


@dataclass(frozen=True)
class PublishSettings:
    """``[publish]``: the check that gates a publish (docs/commands.md#the-check)."""

    check: str | None = None  # a shell command run in a clean worktree of the Draft's tip before Published moves
    check_timeout: float = 600.0  # seconds; a check running longer is stopped and refuses the publish
    remote: str | None = None  # publish to this Git remote's Published first, as a compare-and-swap (docs/teams.md)


@dataclass(frozen=True)
class GcSettings:
    """``[gc]``: what ``gitbench gc`` keeps (docs/concepts.md#retention). Publish, init and manual checkpoints are
    always kept; an auto or pre-restore checkpoint is kept while it is younger than ``keep_auto_days`` or among
    the newest ``keep_auto_last`` of them."""

    keep_auto_days: float = 30.0
    keep_auto_last: int = 50
    trash_days: float = 14.0  # discarded Drafts (refs/gitbench/trash) and worktree leftovers
    logs_days: float = 30.0  # .git/gitbench/logs and the folders of ended jobs


@dataclass
class Config:
    default_model: str | None
    providers: dict[str, Provider]
    aliases: dict[str, str]
    settings: Settings
    files: list[str]
    secrets: list[str]  # every key value known, for redaction in logs
    job: JobSettings = field(default_factory=JobSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    gc: GcSettings = field(default_factory=GcSettings)

    def resolve(self, text: str | None) -> ModelSpec:
        """``provider:model`` (or an alias from ``[models]``) → ModelSpec; UsageError naming the fix."""
        text = (text or self.default_model or "").strip()
        if not text:
            raise errors.UsageError(
                "No model was named and no default is configured.",
                [
                    errors.Action("Name one", "gitbench ask --model ollama:qwen2.5-coder ..."),
                    errors.Action('Or set a default: model = "..." in .gitbench/config.toml, or GITBENCH_MODEL'),
                    errors.Action("See what is configured", "gitbench models"),
                ],
            )
        seen = set()
        while text in self.aliases and text not in seen:
            seen.add(text)
            text = self.aliases[text]
        provider_name, sep, model = text.partition(":")
        if not sep or not model.strip():
            raise errors.UsageError(
                f"{text!r} is not a model: write provider:model, e.g. openai:gpt-4o-mini, ollama:qwen2.5-coder, "
                "anthropic:claude-sonnet-4-5 or command:aider --yes-always.",
                [errors.Action("See what is configured", "gitbench models")],
            )
        if provider_name == "command":
            try:
                argv = tuple(shlex.split(model))
            except ValueError as exc:
                raise errors.UsageError(f"The command in {text!r} cannot be parsed: {exc}.") from exc
            if not argv:
                raise errors.UsageError("command: needs a program, e.g. command:aider --yes-always --message {prompt}.")
            return ModelSpec(
                id=f"command:{argv[0]}",
                provider=Provider("command", "command", configured=True),
                model=model,
                argv=argv,
            )
        provider = self.providers.get(provider_name)
        if provider is None:
            known = ", ".join(sorted([*self.providers, "command"]))
            raise errors.UsageError(
                f"Unknown provider {provider_name!r} in {text!r}. Known: {known}.",
                [errors.Action("Add it under [providers.NAME] in the config", "gitbench models")],
            )
        return ModelSpec(id=f"{provider_name}:{model}", provider=provider, model=model)


def user_config_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "gitbench", "config.toml")


def read_file(path: str) -> dict[str, Any]:
    """A config file's TOML (empty when there is none)."""
    return _read(path)


def _read(path: str) -> dict[str, Any]:
    try:
        fh = open(path, "rb")  # opened first: with no file (the usual case) tomllib is never imported
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise errors.FileIOError(f"The config file {path} cannot be read: {exc.strerror or exc}.") from exc
    import tomllib  # here: ~3 ms at start-up, and most jobs run without a config file

    try:
        with fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise errors.UsageError(
            f"The config file {path} is not valid TOML: {exc}.", [errors.Action(f"Fix {path} (see docs/providers.md)")]
        ) from exc
    except OSError as exc:
        raise errors.FileIOError(f"The config file {path} cannot be read: {exc.strerror or exc}.") from exc


SECTIONS: dict[str, type] = {
    "model": str,
    "providers": dict,
    "models": dict,
    "retry": dict,
    "timeouts": dict,
    "job": dict,
    "attribution": dict,
    "publish": dict,
    "gc": dict,
}
PROVIDER_KEYS = ("kind", "base_url", "host", "api_key", "api_key_env")


def _check_shape(path: str, data: dict[str, Any]) -> None:
    """Every setting known and of its type, so a typo is named instead of silently ignored (or crashing us)."""
    fix = [errors.Action(f"Fix {path} (see docs/providers.md)")]
    for key, value in data.items():
        if key not in SECTIONS:
            raise errors.UsageError(f"Unknown setting {key} in {path}.", fix)
        if not isinstance(value, SECTIONS[key]):
            what = "a string" if SECTIONS[key] is str else "a table"
            raise errors.UsageError(f"{key} in {path} must be {what}.", fix)
    for name, table in data.get("providers", {}).items():
        if not isinstance(table, dict):
            raise errors.UsageError(f"[providers.{name}] in {path} must be a table.", fix)
        for key, value in table.items():  # never the value in a message: it may be a key
            if key not in PROVIDER_KEYS:
                raise errors.UsageError(f"Unknown setting providers.{name}.{key} in {path}.", fix)
            if not isinstance(value, str):
                raise errors.UsageError(f"providers.{name}.{key} in {path} must be a string.", fix)
    for alias, target in data.get("models", {}).items():
        if not isinstance(target, str):
            raise errors.UsageError(f"models.{alias} in {path} must be a string (provider:model).", fix)


def _number(value: Any, where: str, kind: type[int] | type[float]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise errors.UsageError(
            f"{where} must be a non-negative number, not {value!r}.",
            [errors.Action("Fix the config file (see docs/providers.md)")],
        )
    return kind(value)


def load(workbench_root: str | None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    layers: list[tuple[str, dict[str, Any]]] = []
    user = user_config_path()
    layers.append((user, _read(user)))
    _check_shape(*layers[0])
    attribution(layers[0][1], user)
    if workbench_root is not None:
        path = os.path.join(workbench_root, ".gitbench", "config.toml")
        data = _read(path)
        _check_shape(path, data)
        if "attribution" in data:
            raise errors.UsageError(
                f"[attribution] in {path}: a Co-authored-by credit is a statement each user makes on their own "
                "commits, and that file is versioned with the project: everyone who clones it would make it.",
                [errors.Action(f"Move [attribution] to your own config file, {user} (docs/providers.md)")],
            )
        for name, table in (data.get("providers") or {}).items():
            if isinstance(table, dict) and "api_key" in table:
                raise errors.UsageError(
                    f"{path} holds an API key ([providers.{name}] api_key). That file is versioned: the key would "
                    "be published with the project. Nothing was sent anywhere.",
                    [
                        errors.Action(
                            f"Move the key to {user}, or name its environment variable",
                            f'api_key_env = "{name.upper()}_API_KEY"',
                        )
                    ],
                )
        layers.append((path, data))
    files = [p for p, d in layers if d]

    raw: dict[str, dict[str, Any]] = {k: {**v, "_source": "built-in"} for k, v in BUILTIN.items()}
    aliases: dict[str, str] = {}
    default_model: str | None = None
    tuning: dict[str, Any] = {}
    for path, data in layers:
        if isinstance(data.get("model"), str):
            default_model = data["model"]
        for name, table in (data.get("providers") or {}).items():
            if not isinstance(table, dict):
                raise errors.UsageError(f"[providers.{name}] in {path} must be a table.")
            merged = {**raw.get(name, {}), **table, "_source": path, "_configured": True}
            merged.setdefault("kind", "openai")
            if merged["kind"] not in KINDS[:2]:
                raise errors.UsageError(
                    f"[providers.{name}] in {path}: kind must be openai or anthropic, not {merged['kind']!r}."
                )
            raw[name] = merged
        for alias, target in (data.get("models") or {}).items():
            aliases[str(alias)] = str(target)
        for section in ("retry", "timeouts", "job", "publish", "gc"):
            for key, value in (data.get(section) or {}).items():
                tuning[f"{section}.{key}"] = (value, path)

    def env_set(name: str, key: str, var: str) -> None:
        if env.get(var):
            raw[name][key] = env[var]
            raw[name]["_configured"] = True
            raw[name]["_source"] = f"${var}"

    env_set("openai", "base_url", "OPENAI_BASE_URL")
    env_set("anthropic", "base_url", "ANTHROPIC_BASE_URL")
    if env.get("OLLAMA_HOST"):
        host = env["OLLAMA_HOST"].rstrip("/")
        raw["ollama"]["base_url"] = (host if "://" in host else f"http://{host}") + "/v1"
        raw["ollama"]["_configured"] = True
        raw["ollama"]["_source"] = "$OLLAMA_HOST"
    elif "host" in raw["ollama"]:
        raw["ollama"]["base_url"] = str(raw["ollama"]["host"]).rstrip("/") + "/v1"
    if env.get("GITBENCH_MODEL"):
        default_model = env["GITBENCH_MODEL"]

    providers: dict[str, Provider] = {}
    secrets: list[str] = []
    for name, table in raw.items():
        key_env = str(table.get("api_key_env", ""))
        key = env.get(key_env) if key_env else None
        key = key or table.get("api_key")
        if key:
            secrets.append(str(key))
        configured = bool(table.get("_configured")) or bool(key_env and env.get(key_env))
        providers[name] = Provider(
            name=name,
            kind=str(table["kind"]),
            base_url=str(table.get("base_url", "")),
            api_key=str(key) if key else None,
            api_key_env=key_env,
            configured=configured,
            source=str(table.get("_source")),
        )

    defaults = Settings()
    mapping = {
        "retry.attempts": ("attempts", int),
        "retry.backoff": ("backoff", float),
        "retry.max_wait": ("max_wait", float),
        "timeouts.connect": ("connect_timeout", float),
        "timeouts.read": ("read_timeout", float),
        "job.batch_files": ("batch_files", int),
        "job.max_file_bytes": ("max_file_bytes", int),
        "job.max_edit_bytes": ("max_edit_bytes", int),
        "job.max_tokens": ("max_tokens", int),
    }
    values: dict[str, Any] = {}
    job = _job_settings(tuning, user, env)
    publish = _publish_settings(tuning)
    gc = _gc_settings(tuning)
    for key, (value, path) in tuning.items():
        if key in JOB_KEYS or key in PUBLISH_KEYS or key in GC_KEYS:
            continue
        if key not in mapping:
            raise errors.UsageError(
                f"Unknown setting {key} in {path}.",
                [errors.Action("See the settings gitbench knows", "docs/providers.md")],
            )
        attr, kind = mapping[key]
        values[attr] = _number(value, f"{key} in {path}", kind)
        if attr in ("attempts", "batch_files") and values[attr] < 1:
            raise errors.UsageError(
                f"{key} in {path} must be at least 1.", [errors.Action(f"Fix {path} (see docs/providers.md)")]
            )
    if env.get("GITBENCH_TIMEOUT"):
        try:
            values["read_timeout"] = _number(float(env["GITBENCH_TIMEOUT"]), "GITBENCH_TIMEOUT", float)
        except ValueError as exc:
            raise errors.UsageError(f"GITBENCH_TIMEOUT must be seconds, not {env['GITBENCH_TIMEOUT']!r}.") from exc
    settings = Settings(**{**defaults.__dict__, **values})
    if settings.attempts < 1 or settings.batch_files < 1:
        raise errors.UsageError("retry.attempts and job.batch_files must be at least 1.")
    return Config(
        default_model=default_model,
        providers=providers,
        aliases=aliases,
        settings=settings,
        files=files,
        secrets=secrets,
        job=job,
        publish=publish,
        gc=gc,
    )


def attribution(data: dict[str, Any], path: str) -> str | None:
    """``[attribution] co_authored_by = "Name <email>"`` of a config file, checked: the ``Co-authored-by:``
    trailer of every AI step (docs/concepts.md), or None (the default: no such trailer)."""
    table = data.get("attribution")
    if table is None:
        return None
    fix = [errors.Action(f'Fix {path}: [attribution] co_authored_by = "Your Name <you@example.com>"')]
    if not isinstance(table, dict):
        raise errors.UsageError(f"attribution in {path} must be a table.", fix)
    for key in table:
        if key != "co_authored_by":
            raise errors.UsageError(f"Unknown setting attribution.{key} in {path}.", fix)
    value = table.get("co_authored_by")
    if value is None:
        return None
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[^<>\n]+ <[^<>\s]+@[^<>\s]+>", value.strip()):
        raise errors.UsageError(
            f"attribution.co_authored_by in {path} must be one person as Git writes them, "
            f'"Name <email>", not {value!r}.',
            fix,
        )
    return " ".join(value.split())


JOB_KEYS = ("job.copy", "job.setup", "job.worktrees", "job.timeout")


def _job_settings(tuning: dict[str, tuple[Any, str]], user: str, env: dict[str, str]) -> JobSettings:
    """``[job] copy, setup, worktrees, timeout``, checked: a wrong type names the file and the fix."""

    def fix(path: str) -> list[errors.Action]:
        return [errors.Action(f"Fix {path} (see docs/agents.md)")]

    copy: tuple[str, ...] = ()
    setup = worktrees = None
    timeout: float | None = None
    if "job.copy" in tuning:
        value, path = tuning["job.copy"]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise errors.UsageError(f'job.copy in {path} must be a list of paths, e.g. [".env"].', fix(path))
        for v in value:
            if v.startswith("/") or ".." in v.replace("\\", "/").split("/"):
                raise errors.UsageError(f"job.copy in {path}: {v!r} is not a path inside the Workbench.", fix(path))
        copy = tuple(value)
    if "job.setup" in tuning:
        value, path = tuning["job.setup"]
        if not isinstance(value, str):
            raise errors.UsageError(f"job.setup in {path} must be a shell command (a string).", fix(path))
        setup = value.strip() or None
    if "job.worktrees" in tuning:
        value, path = tuning["job.worktrees"]
        if path != user:
            raise errors.UsageError(
                f"job.worktrees in {path}: where Draft worktrees go is a setting of this machine, not of the "
                "project, so it belongs in your own config file.",
                [errors.Action(f"Move it to {user}")],
            )
        if not isinstance(value, str) or not value.strip():
            raise errors.UsageError(f"job.worktrees in {path} must be a folder.", fix(path))
        worktrees = os.path.expanduser(value.strip())
    if env.get("GITBENCH_WORKTREES"):
        worktrees = os.path.expanduser(env["GITBENCH_WORKTREES"])
    if "job.timeout" in tuning:
        value, path = tuning["job.timeout"]
        timeout = _number(value, f"job.timeout in {path}", float) or None
    return JobSettings(copy=copy, setup=setup, worktrees=worktrees, timeout=timeout)


PUBLISH_KEYS = ("publish.check", "publish.check_timeout", "publish.remote")


def duration(value: Any) -> float | None:
    """Seconds from a number or a text such as ``90``, ``90s``, ``15m``, ``2h`` (None: not a duration > 0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if not isinstance(value, str):
        return None
    raw = value.strip().lower()
    factor = {"s": 1, "m": 60, "h": 3600}.get(raw[-1:], 0)
    try:
        seconds = float(raw[:-1] if factor else raw) * (factor or 1)
    except ValueError:
        return None
    return seconds if seconds > 0 and seconds != float("inf") else None


def _publish_settings(tuning: dict[str, tuple[Any, str]]) -> PublishSettings:
    """``[publish] check, check_timeout``, checked: a wrong type names the file and the fix."""

    def fix(path: str) -> list[errors.Action]:
        return [errors.Action(f"Fix {path} (see docs/commands.md, the check)")]

    check: str | None = None
    timeout = PublishSettings.check_timeout
    if "publish.check" in tuning:
        value, path = tuning["publish.check"]
        if not isinstance(value, str) or "\0" in value:
            raise errors.UsageError(
                f'publish.check in {path} must be a shell command (a string), e.g. check = "pytest -q".', fix(path)
            )
        check = value.strip() or None  # "" switches off a check set in another file
    if "publish.check_timeout" in tuning:
        value, path = tuning["publish.check_timeout"]
        seconds = duration(value)
        if seconds is None:
            raise errors.UsageError(
                f'publish.check_timeout in {path} must be a duration above 0 such as 600, "90s", "10m" or '
                f'"1h", not {value!r}.',
                fix(path),
            )
        timeout = seconds
    remote: str | None = None
    if "publish.remote" in tuning:
        value, path = tuning["publish.remote"]
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
            raise errors.UsageError(
                f'publish.remote in {path} must name a Git remote, e.g. remote = "origin", not {value!r}.', fix(path)
            )
        remote = value.strip()
    return PublishSettings(check=check, check_timeout=timeout, remote=remote)


GC_KEYS = ("gc.keep_auto_days", "gc.keep_auto_last", "gc.trash_days", "gc.logs_days")


def _gc_settings(tuning: dict[str, tuple[Any, str]]) -> GcSettings:
    """``[gc] keep_auto_days, keep_auto_last, trash_days, logs_days``, checked: a wrong value names the file."""
    values: dict[str, Any] = {}
    for key in GC_KEYS:
        if key not in tuning:
            continue
        value, path = tuning[key]
        name = key.split(".", 1)[1]
        if name == "keep_auto_last":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise errors.UsageError(
                    f"gc.keep_auto_last in {path} must be a whole number of checkpoints (0 or more), not {value!r}.",
                    [errors.Action(f"Fix {path} (see docs/concepts.md, retention)")],
                )
            values[name] = value
        else:
            values[name] = _number(value, f"{key} in {path} (days)", float)
    return GcSettings(**values)
