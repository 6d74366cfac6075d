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
import re
import shlex
from dataclasses import field
from typing import Any

from gitbench import errors, schema
from gitbench.lazy_dataclass import dataclass
from gitbench.providers.sections import GcSettings as GcSettings  # the sections live there (start-up)
from gitbench.providers.sections import JobSettings as JobSettings
from gitbench.providers.sections import PublishSettings as PublishSettings
from gitbench.providers.sections import WorkflowSettings as WorkflowSettings
from gitbench.providers.sections import user_config_path as user_config_path

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
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)

    def resolve(self, text: str | None) -> ModelSpec:
        """``provider:model`` (or an alias from ``[models]``) → ModelSpec; UsageError naming the fix."""
        text = (text or self.default_model or "").strip()
        if not text:
            raise errors.UsageError(
                "No model was named and no default is configured.",
                [
                    errors.Action("Name one", "ask", ("--model", "ollama:qwen2.5-coder", "...")),
                    errors.Action('Or set a default: model = "..." in .gitbench/config.toml, or GITBENCH_MODEL'),
                    errors.Action("See what is configured", "models"),
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
                [errors.Action("See what is configured", "models")],
            )
        if provider_name == "command":
            try:
                argv = tuple(shlex.split(model))
            except ValueError as exc:
                raise errors.UsageError(f"The command in {text!r} cannot be parsed: {exc}.") from exc
            if not argv or not argv[0]:  # `command:''`: a program with no name
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
                [errors.Action("Add it under [providers.NAME] in the config", "models")],
            )
        return ModelSpec(id=f"{provider_name}:{model}", provider=provider, model=model)


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


# -- the schema of a config file (gitbench/schema.py): every setting known and of its type, so a typo is named
# instead of silently ignored (or crashing us); each message names the key and the file. Never a value of
# [providers.*] in a message: it may be a key.
_TEXT = "{key} in {file} must be a string."
_UNKNOWN = "Unknown setting {key} in {file}."


def _table(*keys: schema.Key, each: schema.Check | schema.Map | None = None, unknown: str = _UNKNOWN) -> schema.Map:
    return schema.Map(keys=keys, each=each, unknown=unknown, not_a_map="{key} in {file} must be a table.")


def _number(kind: type[int] | type[float], where: str = "{key} in {file}", at_least_1: bool = False) -> schema.Check:
    """A number of 0 or more as ``kind`` (``attempts = 2.5`` is 2, as before), or of 1 or more."""
    checks = [
        schema.check(
            lambda v: schema.is_number(v) and v >= 0, where + " must be a non-negative number, not {value!r}."
        ),
        kind,
    ]
    if at_least_1:
        checks.append(schema.check(lambda v: v >= 1, where + " must be at least 1."))
    return schema.chain(*checks)


def _escaped(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _paths_inside(value: list[str]) -> tuple[str, ...]:
    for v in value:
        if v.startswith("/") or ".." in v.replace("\\", "/").split("/"):
            raise schema.Invalid("{key} in {file}: " + _escaped(repr(v)) + " is not a path inside the Workbench.")
    return tuple(value)


def _duration(value: Any) -> float:
    seconds = duration(value)
    if seconds is None:
        raise schema.Invalid(
            '{key} in {file} must be a duration above 0 such as 600, "90s", "10m" or "1h", not {value!r}.'
        )
    return seconds


def _executor(value: Any) -> str:
    from gitbench import executors  # light: no Dask until an executor opens

    try:
        if not isinstance(value, str):
            raise errors.UsageError("not a string")
        executors.parse(value)
    except errors.UsageError:
        raise schema.Invalid(
            '{key} in {file} must be "local", "dask://local" or "dask://HOST:PORT" (a Dask scheduler), not {value!r}.'
        ) from None
    return value.strip()


def _person(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^<>\n]+ <[^<>\s]+@[^<>\s]+>", value.strip()):
        raise schema.Invalid('{key} in {file} must be one person as Git writes them, "Name <email>", not {value!r}.')
    return " ".join(value.split())


_ATTRIBUTION = _table(schema.Key("co_authored_by", _person))
FILE = _table(
    schema.Key("model", schema.check(schema.is_text, _TEXT)),
    schema.Key(
        "providers",
        _table(
            each=schema.Map(
                keys=(
                    schema.Key(
                        "kind",
                        schema.chain(
                            schema.check(schema.is_text, _TEXT),
                            schema.check(
                                lambda v: v in KINDS[:2],
                                "[{table}] in {file}: kind must be openai or anthropic, not {value!r}.",
                            ),
                        ),
                    ),
                    *(schema.Key(k, schema.check(schema.is_text, _TEXT)) for k in ("base_url", "host", "api_key")),
                    schema.Key("api_key_env", schema.check(schema.is_text, _TEXT)),
                ),
                unknown=_UNKNOWN,
                not_a_map="[{key}] in {file} must be a table.",
            )
        ),
    ),
    schema.Key(
        "models", _table(each=schema.check(schema.is_text, "{key} in {file} must be a string (provider:model)."))
    ),
    schema.Key(
        "retry",
        _table(
            schema.Key("attempts", _number(int, at_least_1=True)),
            schema.Key("backoff", _number(float)),
            schema.Key("max_wait", _number(float)),
        ),
    ),
    schema.Key("timeouts", _table(schema.Key("connect", _number(float)), schema.Key("read", _number(float)))),
    schema.Key(
        "job",
        _table(
            schema.Key("batch_files", _number(int, at_least_1=True)),
            schema.Key("max_file_bytes", _number(int)),
            schema.Key("max_edit_bytes", _number(int)),
            schema.Key("max_tokens", _number(int)),
            schema.Key(
                "copy",
                schema.chain(
                    schema.check(
                        lambda v: isinstance(v, list) and all(isinstance(p, str) and p.strip() for p in v),
                        '{key} in {file} must be a list of paths, e.g. [".env"].',
                    ),
                    _paths_inside,
                ),
            ),
            schema.Key(
                "setup",
                schema.chain(
                    schema.check(schema.is_text, "{key} in {file} must be a shell command (a string)."),
                    lambda v: v.strip() or None,
                ),
            ),
            schema.Key(
                "worktrees",
                schema.chain(
                    schema.check(lambda v: isinstance(v, str) and bool(v.strip()), "{key} in {file} must be a folder."),
                    lambda v: os.path.expanduser(v.strip()),
                ),
            ),
            schema.Key("timeout", schema.chain(_number(float), lambda v: v or None)),
        ),
    ),
    schema.Key("attribution", _ATTRIBUTION),
    schema.Key(
        "publish",
        _table(
            schema.Key(
                "check",
                schema.chain(
                    schema.check(
                        lambda v: isinstance(v, str) and "\0" not in v,
                        '{key} in {file} must be a shell command (a string), e.g. check = "pytest -q".',
                    ),
                    lambda v: v.strip() or None,  # "" switches off a check set in another file
                ),
            ),
            schema.Key("check_timeout", _duration),
            schema.Key(
                "remote",
                schema.chain(
                    schema.check(
                        lambda v: isinstance(v, str) and bool(v.strip()) and not any(c.isspace() for c in v.strip()),
                        '{key} in {file} must name a Git remote, e.g. remote = "origin", not {value!r}.',
                    ),
                    str.strip,
                ),
            ),
        ),
    ),
    schema.Key(
        "gc",
        _table(
            schema.Key("keep_auto_days", _number(float, "{key} in {file} (days)")),
            schema.Key(
                "keep_auto_last",
                schema.check(
                    lambda v: schema.is_whole(v) and v >= 0,
                    "{key} in {file} must be a whole number of checkpoints (0 or more), not {value!r}.",
                ),
            ),
            schema.Key("trash_days", _number(float, "{key} in {file} (days)")),
            schema.Key("logs_days", _number(float, "{key} in {file} (days)")),
        ),
    ),
    schema.Key("workflow", _table(schema.Key("executor", _executor))),
)
_DOCS = {
    "workflow": "docs/workflow.md, Running on a cluster",
    "job": "docs/agents.md",
    "publish": "docs/commands.md, the check",
    "gc": "docs/concepts.md, retention",
}


def _validated(path: str, data: dict[str, Any], file_schema: schema.Map = FILE) -> dict[str, Any]:
    """A config file's settings, checked against the schema and converted (durations in seconds, paths expanded);
    UsageError naming the setting and the file."""
    try:
        return schema.validate(file_schema, data, {"file": path})
    except schema.Problem as exc:
        doc = _DOCS.get(str(exc.path[0]), "docs/providers.md")
        fix = f'Fix {path}: [attribution] co_authored_by = "Your Name <you@example.com>"'
        label = fix if exc.path[0] == "attribution" else f"Fix {path} (see {doc})"
        raise errors.UsageError(exc.message, [errors.Action(label)]) from None


def choose_executor(option: str | None, cfg: Config) -> str:
    """Where workflow modules and ``try`` attempts run: ``option`` (``--executor``) beats ``[workflow] executor``
    of ``cfg``, else ``local``. The one rule for every front end (``workflow run``/``resume``, ``module-runner``,
    ``try``, the TUI). A bad address is a UsageError naming the accepted forms, before anything starts."""
    from gitbench import executors  # light: no Dask until an executor opens

    chosen = option if option is not None else cfg.workflow.executor or "local"
    executors.parse(chosen)
    return chosen


def load(workbench_root: str | None, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    user = user_config_path()
    layers: list[tuple[str, dict[str, Any]]] = [(user, _validated(user, _read(user)))]
    files = [user] if layers[0][1] else []
    if workbench_root is not None:
        path = os.path.join(workbench_root, ".gitbench", "config.toml")
        data = _validated(path, _read(path))
        _refuse_in_the_project(path, data, user)
        layers.append((path, data))
        if data:
            files.append(path)

    raw: dict[str, dict[str, Any]] = {k: {**v, "_source": "built-in"} for k, v in BUILTIN.items()}
    aliases: dict[str, str] = {}
    default_model: str | None = None
    tuning: dict[str, Any] = {}  # "section.key" → the value of the last file that sets it
    for path, data in layers:
        default_model = data.get("model", default_model)
        for name, table in data.get("providers", {}).items():
            merged = {**raw.get(name, {}), **table, "_source": path, "_configured": True}
            merged.setdefault("kind", "openai")
            raw[name] = merged
        aliases.update({str(alias): target for alias, target in data.get("models", {}).items()})
        for section in ("retry", "timeouts", "job", "publish", "gc", "workflow"):
            tuning.update({f"{section}.{key}": value for key, value in data.get(section, {}).items()})

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

    values = {attr: tuning[key] for key, attr in _SETTINGS.items() if key in tuning}
    if env.get("GITBENCH_TIMEOUT"):
        try:
            seconds = float(env["GITBENCH_TIMEOUT"])
        except ValueError as exc:
            raise errors.UsageError(f"GITBENCH_TIMEOUT must be seconds, not {env['GITBENCH_TIMEOUT']!r}.") from exc
        if seconds < 0:
            raise errors.UsageError(
                f"GITBENCH_TIMEOUT must be a non-negative number, not {seconds!r}.",
                [errors.Action("Fix the config file (see docs/providers.md)")],
            )
        values["read_timeout"] = seconds
    worktrees = tuning.get("job.worktrees")
    if env.get("GITBENCH_WORKTREES"):
        worktrees = os.path.expanduser(env["GITBENCH_WORKTREES"])
    return Config(
        default_model=default_model,
        providers=providers,
        aliases=aliases,
        settings=Settings(**values),
        files=files,
        secrets=secrets,
        job=JobSettings(
            copy=tuning.get("job.copy", ()),
            setup=tuning.get("job.setup"),
            worktrees=worktrees,
            timeout=tuning.get("job.timeout"),
        ),
        publish=PublishSettings(
            check=tuning.get("publish.check"),
            check_timeout=tuning.get("publish.check_timeout", PublishSettings.check_timeout),
            remote=tuning.get("publish.remote"),
        ),
        gc=GcSettings(**{key[3:]: value for key, value in tuning.items() if key.startswith("gc.")}),
        workflow=WorkflowSettings(executor=tuning.get("workflow.executor")),
    )


_SETTINGS = {  # "section.key" of a file → the field of Settings it sets
    "retry.attempts": "attempts",
    "retry.backoff": "backoff",
    "retry.max_wait": "max_wait",
    "timeouts.connect": "connect_timeout",
    "timeouts.read": "read_timeout",
    "job.batch_files": "batch_files",
    "job.max_file_bytes": "max_file_bytes",
    "job.max_edit_bytes": "max_edit_bytes",
    "job.max_tokens": "max_tokens",
}


def _refuse_in_the_project(path: str, data: dict[str, Any], user: str) -> None:
    """What the Workbench's file, versioned with the project, must not hold: a credit each user makes on their
    own commits, an API key, where this machine keeps its worktrees."""
    if "attribution" in data:
        raise errors.UsageError(
            f"[attribution] in {path}: a Co-authored-by credit is a statement each user makes on their own "
            "commits, and that file is versioned with the project: everyone who clones it would make it.",
            [errors.Action(f"Move [attribution] to your own config file, {user} (docs/providers.md)")],
        )
    for name, table in data.get("providers", {}).items():
        if "api_key" in table:
            raise errors.UsageError(
                f"{path} holds an API key ([providers.{name}] api_key). That file is versioned: the key would "
                "be published with the project. Nothing was sent anywhere.",
                [
                    errors.Action(
                        f"Move the key to {user}, or name its environment variable",
                        text=f'api_key_env = "{name.upper()}_API_KEY"',
                    )
                ],
            )
    if "worktrees" in data.get("job", {}):
        raise errors.UsageError(
            f"job.worktrees in {path}: where Draft worktrees go is a setting of this machine, not of the "
            "project, so it belongs in your own config file.",
            [errors.Action(f"Move it to {user}")],
        )


def attribution(data: dict[str, Any], path: str) -> str | None:
    """``[attribution] co_authored_by = "Name <email>"`` of a config file, checked: the ``Co-authored-by:``
    trailer of every AI step (docs/concepts.md), or None (the default: no such trailer)."""
    checked = _validated(path, {"attribution": data["attribution"]} if "attribution" in data else {})
    value: str | None = checked.get("attribution", {}).get("co_authored_by")
    return value


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
