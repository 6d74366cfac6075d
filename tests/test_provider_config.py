"""Provider configuration (issue 3 "Providers"): a TOML file per user and per Workbench, environment variables
over both, aliases under [models]; a key is never written in the versioned Workbench file; a bad file is a usage
error naming it; `gitbench models` asks only the providers the user chose, and says which answer.

Every address a test lets gitbench contact is on 127.0.0.1. Where a test proves that something is *not*
contacted, proxies point at a local trap, so even a wrong request could not leave the machine.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitbench import errors
from gitbench.providers import config as provider_config
from tests.conftest import git, gitbench
from tests.provider_server import ProviderServer, hang

CANARY_KEY = "sk-canary-config-5d1e0b7a"


def user_file() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"


def write_user(text: str) -> Path:
    path = user_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_workbench(wb: Path, text: str) -> Path:
    path = wb / ".gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def fake(server: ProviderServer, name: str = "fake", **extra: str) -> str:
    lines = [f"[providers.{name}]", 'kind = "openai"', f'base_url = "{server.url}/v1"']
    lines += [f'{k} = "{v}"' for k, v in extra.items()]
    return "\n".join(lines) + "\n"


FAST = "[retry]\nattempts = 1\nbackoff = 0.01\n[timeouts]\nconnect = 2\nread = 2\n"


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    srv = ProviderServer()
    yield srv
    srv.close()


def ok_json(res: Any) -> Any:
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout)["result"]


def error_json(res: Any, code: int) -> dict[str, Any]:
    assert res.returncode == code, res.stdout + res.stderr
    err: dict[str, Any] = json.loads(res.stdout)["error"]
    return err


def trailer(wb: Path, ref: str, key: str) -> str:
    return git(wb, "log", "-1", f"--format=%(trailers:key={key},valueonly)", ref).strip()


# -- files and their precedence -------------------------------------------------------------------------------------


def test_the_workbench_file_overrides_the_user_file_key_by_key(tmp_path: Path) -> None:
    user = write_user(
        'model = "mine:a"\n[providers.mine]\nkind = "openai"\nbase_url = "http://127.0.0.1:1/v1"\n'
        f'api_key = "{CANARY_KEY}"\n[providers.ant]\nkind = "anthropic"\n'
        'base_url = "http://127.0.0.1:2"\n[retry]\nattempts = 5\nbackoff = 0.5\n'
        '[job]\nbatch_files = 7\nmax_edit_bytes = 100\n[models]\nfast = "mine:a"\n'
    )
    shared = write_workbench(
        tmp_path,
        'model = "mine:b"\n[providers.mine]\nbase_url = "http://127.0.0.1:3/v1"\n'
        '[job]\nbatch_files = 2\n[models]\nfast = "ant:c"\nslow = "mine:z"\n',
    )
    cfg = provider_config.load(str(tmp_path), env={})

    assert cfg.files == [str(user), str(shared)]
    assert cfg.default_model == "mine:b"
    mine = cfg.providers["mine"]
    assert mine.base_url == "http://127.0.0.1:3/v1"  # the Workbench's
    assert mine.api_key == CANARY_KEY and mine.kind == "openai"  # still the user's
    assert mine.source == str(shared) and mine.configured
    assert cfg.providers["ant"].source == str(user)
    assert cfg.settings.batch_files == 2 and cfg.settings.max_edit_bytes == 100
    assert cfg.settings.attempts == 5 and cfg.settings.backoff == 0.5
    assert cfg.aliases == {"fast": "ant:c", "slow": "mine:z"}
    assert CANARY_KEY in cfg.secrets  # known, so the logs can redact it


def test_without_files_the_built_in_providers_are_known_but_none_is_configured(tmp_path: Path) -> None:
    cfg = provider_config.load(str(tmp_path), env={})
    assert cfg.files == [] and cfg.default_model is None
    assert {"openai", "ollama", "anthropic"} <= set(cfg.providers)
    assert not any(p.configured for p in cfg.providers.values())
    assert cfg.providers["ollama"].base_url == "http://127.0.0.1:11434/v1"
    assert cfg.settings == provider_config.Settings()
    with pytest.raises(errors.UsageError, match="No model was named"):
        cfg.resolve(None)


@pytest.mark.parametrize(
    ("env", "provider", "base_url", "key"),
    [
        ({"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, "openai", "http://127.0.0.1:9/v1", None),
        ({"OPENAI_API_KEY": CANARY_KEY}, "openai", "https://api.openai.com/v1", CANARY_KEY),
        ({"OLLAMA_HOST": "127.0.0.1:9"}, "ollama", "http://127.0.0.1:9/v1", None),
        ({"OLLAMA_HOST": "http://127.0.0.1:9/"}, "ollama", "http://127.0.0.1:9/v1", None),
        ({"ANTHROPIC_API_KEY": CANARY_KEY}, "anthropic", "https://api.anthropic.com", CANARY_KEY),
        ({"ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}, "anthropic", "http://127.0.0.1:9", None),
    ],
    ids=[
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "OLLAMA_HOST",
        "OLLAMA_HOST-url",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
    ],
)
def test_an_environment_variable_configures_its_built_in_provider(
    tmp_path: Path, env: dict[str, str], provider: str, base_url: str, key: str | None
) -> None:
    p = provider_config.load(str(tmp_path), env=env).providers[provider]
    assert p.configured and p.base_url == base_url and p.api_key == key


def test_the_environment_overrides_both_files(tmp_path: Path) -> None:
    write_user(
        'model = "openai:from-user"\n[providers.openai]\nbase_url = "http://127.0.0.1:1/v1"\n'
        'api_key = "sk-from-the-user-file"\n[providers.ollama]\nhost = "http://127.0.0.1:2"\n'
        "[timeouts]\nread = 30\n"
    )
    write_workbench(tmp_path, 'model = "openai:from-workbench"\n[timeouts]\nread = 40\n')
    cfg = provider_config.load(str(tmp_path), env={})
    assert cfg.default_model == "openai:from-workbench" and cfg.settings.read_timeout == 40
    assert cfg.providers["ollama"].base_url == "http://127.0.0.1:2/v1"  # `host`, as Ollama spells it

    cfg = provider_config.load(
        str(tmp_path),
        env={
            "GITBENCH_MODEL": "ollama:from-env",
            "GITBENCH_TIMEOUT": "2.5",
            "OPENAI_BASE_URL": "http://127.0.0.1:5/v1",
            "OPENAI_API_KEY": CANARY_KEY,
            "OLLAMA_HOST": "127.0.0.1:6",
        },
    )
    assert cfg.default_model == "ollama:from-env"
    assert cfg.settings.read_timeout == 2.5
    assert cfg.providers["openai"].base_url == "http://127.0.0.1:5/v1"
    assert cfg.providers["openai"].source == "$OPENAI_BASE_URL"
    assert cfg.providers["openai"].api_key == CANARY_KEY  # the variable named by api_key_env wins over the file
    assert cfg.providers["ollama"].base_url == "http://127.0.0.1:6/v1"


def test_a_workbench_file_may_name_the_variable_that_holds_a_key(tmp_path: Path) -> None:
    write_workbench(
        tmp_path, '[providers.team]\nkind = "anthropic"\nbase_url = "http://127.0.0.1:7"\napi_key_env = "TEAM_KEY"\n'
    )
    cfg = provider_config.load(str(tmp_path), env={"TEAM_KEY": CANARY_KEY})
    team = cfg.providers["team"]
    assert team.kind == "anthropic" and team.api_key == CANARY_KEY and team.api_key_env == "TEAM_KEY"
    assert provider_config.load(str(tmp_path), env={}).providers["team"].api_key is None


def test_aliases_resolve_through_each_other_to_a_provider_and_model(tmp_path: Path) -> None:
    write_user(
        'model = "quick"\n[models]\nquick = "fast"\nfast = "ollama:qwen2.5-coder"\nagent = "command:aider '
        '--yes {prompt}"\nloop = "pool"\npool = "loop"\n'
    )
    cfg = provider_config.load(str(tmp_path), env={})
    spec = cfg.resolve(None)
    assert (spec.id, spec.provider.name, spec.model) == ("ollama:qwen2.5-coder", "ollama", "qwen2.5-coder")
    agent = cfg.resolve("agent")
    assert agent.id == "command:aider" and agent.argv == ("aider", "--yes", "{prompt}")
    with pytest.raises(errors.UsageError, match="is not a model"):
        cfg.resolve("loop")
    with pytest.raises(errors.UsageError, match="Unknown provider 'nowhere'"):
        cfg.resolve("nowhere:x")
    with pytest.raises(errors.UsageError, match="provider:model"):
        cfg.resolve("justaname")


def test_gitbench_timeout_must_be_seconds(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match="GITBENCH_TIMEOUT must be seconds"):
        provider_config.load(str(tmp_path), env={"GITBENCH_TIMEOUT": "soon"})
    with pytest.raises(errors.UsageError, match="non-negative"):
        provider_config.load(str(tmp_path), env={"GITBENCH_TIMEOUT": "-3"})


# -- the environment and the files decide where a real job goes -----------------------------------------------------


def test_ollama_host_and_gitbench_model_send_the_job_to_that_server_without_a_key(
    workbench: Path, server: ProviderServer
) -> None:
    write_user(FAST)
    host = server.url.removeprefix("http://")
    res = gitbench(
        workbench,
        "ask",
        "Add a line",
        "--files",
        "src/**",
        "--json",
        env={"OLLAMA_HOST": host, "GITBENCH_MODEL": "ollama:test-model"},
    )
    result = ok_json(res)
    [post] = server.posts
    assert post["path"] == "/v1/chat/completions" and post["body"]["model"] == "test-model"
    assert "Authorization" not in post["headers"]
    assert trailer(workbench, result["draft"], "Gitbench-Model") == "ollama:test-model"


def test_openai_base_url_and_key_from_the_environment_reach_the_server_and_nothing_else(
    workbench: Path, server: ProviderServer
) -> None:
    write_user(FAST)
    res = gitbench(
        workbench,
        "ask",
        "Add a line",
        "--files",
        "src/**",
        "--model",
        "openai:test-model",
        "--json",
        env={"OPENAI_BASE_URL": f"{server.url}/v1", "OPENAI_API_KEY": CANARY_KEY},
    )
    result = ok_json(res)
    [post] = server.posts
    assert post["headers"]["Authorization"] == f"Bearer {CANARY_KEY}"
    assert CANARY_KEY not in res.stdout + res.stderr
    assert CANARY_KEY not in git(workbench, "log", "--all", "--format=%B")
    for log in (workbench / ".git/gitbench/logs").iterdir():
        assert CANARY_KEY not in log.read_text()
    assert trailer(workbench, result["draft"], "Gitbench-Model") == "openai:test-model"


def test_anthropic_key_and_base_url_from_the_environment_speak_the_messages_api(
    workbench: Path, server: ProviderServer
) -> None:
    write_user(FAST)
    res = gitbench(
        workbench,
        "ask",
        "Add a line",
        "--files",
        "src/**",
        "--model",
        "anthropic:test-model",
        "--json",
        env={"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": CANARY_KEY},
    )
    ok_json(res)
    [post] = server.posts
    assert post["path"] == "/v1/messages" and post["headers"]["x-api-key"] == CANARY_KEY
    assert post["headers"]["anthropic-version"]
    assert CANARY_KEY not in res.stdout + res.stderr


def test_the_workbench_file_chooses_the_model_and_the_batch_size_over_the_users(
    project: Path, server: ProviderServer
) -> None:
    for i in range(3):
        (project / f"src/m{i}.py").write_text(f"m = {i}\n")
    write_workbench(project, 'model = "team:other-model"\n[job]\nbatch_files = 2\n')
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "shared config")
    assert gitbench(project, "init").returncode == 0
    write_user('model = "team:test-model"\n' + FAST + fake(server, "team") + "[job]\nbatch_files = 50\n")

    result = ok_json(gitbench(project, "ask", "Add a line", "--files", "src/**", "--json"))
    assert [p["body"]["model"] for p in server.posts] == ["other-model", "other-model"]  # 4 files, 2 a batch
    assert result["job"]["model"] == "team:other-model" and result["job"]["steps_total"] == 2


def test_an_alias_names_the_model_of_a_job_and_its_trailers_show_what_it_stood_for(
    workbench: Path, server: ProviderServer
) -> None:
    write_user(FAST + fake(server) + '[models]\nquick = "fake:other-model"\n')
    result = ok_json(gitbench(workbench, "ask", "Add a line", "--files", "src/**", "--model", "quick", "--json"))
    assert [p["body"]["model"] for p in server.posts] == ["other-model"]
    assert trailer(workbench, result["draft"], "Gitbench-Model") == "fake:other-model"
    assert result["job"]["models"] == ["fake:other-model"]


def test_gitbench_timeout_shortens_the_wait_for_a_hung_provider(workbench: Path, server: ProviderServer) -> None:
    write_user('model = "fake:test-model"\n' + FAST.replace("read = 2", "read = 60") + fake(server))
    server.push(hang(30))
    started = time.monotonic()
    res = gitbench(workbench, "ask", "Add a line", "--files", "src/**", "--json", env={"GITBENCH_TIMEOUT": "0.5"})
    err = error_json(res, 23)
    assert err["code"] == "timeout" and err["details"]["report"]["status"] == "paused"
    assert time.monotonic() - started < 20  # 0.5 s, not the file's 60 s (nor the 30 s hang)


# -- what is refused, and how it is said ----------------------------------------------------------------------------


def test_an_api_key_in_the_workbench_file_is_refused_and_nothing_is_sent(
    workbench: Path, server: ProviderServer
) -> None:
    write_user('model = "fake:test-model"\n' + FAST + fake(server))
    shared = write_workbench(workbench, fake(server, api_key=CANARY_KEY))
    published = git(workbench, "rev-parse", "main").strip()
    tags = git(workbench, "tag", "-l")

    for args in (["ask", "Add a line", "--files", "src/**"], ["models"]):
        res = gitbench(workbench, *args, "--json")
        err = error_json(res, 2)
        assert err["code"] == "usage"
        assert str(shared) in err["message"] and "API key" in err["message"]
        assert "Nothing was sent" in err["message"]
        assert any("api_key_env" in (a.get("command") or "") for a in err["actions"])
        assert CANARY_KEY not in res.stdout + res.stderr
    banner = gitbench(workbench, "ask", "Add a line", "--files", "src/**", env={"COLUMNS": "300"}).stderr
    assert "holds an API key" in banner and CANARY_KEY not in banner
    assert server.requests == []
    assert git(workbench, "rev-parse", "main").strip() == published and git(workbench, "tag", "-l") == tags
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/") == ""  # no job started: no Draft


BAD = [
    ("bad-toml", 'model = "fake:test-model\n', "not valid TOML"),
    ("bad-toml-table", "[providers.fake\n", "not valid TOML"),
    ("attempts-a-string", '[retry]\nattempts = "three"\n', "retry.attempts"),
    ("attempts-negative", "[retry]\nattempts = -1\n", "non-negative"),
    ("attempts-a-boolean", "[retry]\nattempts = true\n", "retry.attempts"),
    ("attempts-zero", "[retry]\nattempts = 0\n", "at least 1"),
    ("batch-files-zero", "[job]\nbatch_files = 0\n", "job.batch_files"),
    ("timeout-a-table", "[timeouts]\nread = {seconds = 3}\n", "timeouts.read"),
    ("unknown-setting", "[retry]\nattemps = 3\n", "Unknown setting retry.attemps"),
    ("unknown-section", "[retries]\nattempts = 3\n", "Unknown setting retries"),
    ("unknown-top-level", 'modle = "fake:test-model"\n', "Unknown setting modle"),
    (
        "unknown-provider-key",
        '[providers.fake]\nbase-url = "http://127.0.0.1:1/v1"\n',
        "Unknown setting providers.fake.base-url",
    ),
    ("provider-kind", '[providers.fake]\nkind = "grpc"\n', "kind must be openai or anthropic"),
    ("provider-not-a-table", "providers = 5\n", "providers"),
    ("provider-entry-not-a-table", "[providers]\nfake = 5\n", "[providers.fake]"),
    ("provider-url-not-text", "[providers.fake]\nbase_url = 5\n", "providers.fake.base_url"),
    ("model-not-text", "model = 5\n", "model"),
    ("alias-not-text", "[models]\nfast = 5\n", "models.fast"),
]


@pytest.mark.parametrize("where", ["user", "workbench"])
@pytest.mark.parametrize(("text", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_config_file_is_a_usage_error_naming_the_file(
    tmp_path: Path, where: str, text: str, fragment: str
) -> None:
    write_user('model = "ollama:x"\n' if where == "workbench" else text)
    path = write_workbench(tmp_path, text) if where == "workbench" else user_file()
    with pytest.raises(errors.UsageError) as info:
        provider_config.load(str(tmp_path), env={})
    assert str(path) in info.value.message and fragment in info.value.message, info.value.message


@pytest.mark.parametrize(
    ("where", "case"),
    [
        ("user", "bad-toml"),
        ("workbench", "unknown-provider-key"),
        ("workbench", "attempts-zero"),
        ("user", "provider-not-a-table"),
    ],
)
def test_a_bad_config_file_stops_ask_and_models_before_anything_is_sent(
    workbench: Path, server: ProviderServer, where: str, case: str
) -> None:
    text, fragment = next(b[1:] for b in BAD if b[0] == case)
    write_user('model = "fake:test-model"\n' + FAST + fake(server) if where == "workbench" else text)
    path = write_workbench(workbench, text) if where == "workbench" else user_file()

    err = error_json(gitbench(workbench, "models", "--json"), 2)
    assert err["code"] == "usage"
    assert str(path) in err["message"] and fragment in err["message"], err["message"]
    res = gitbench(workbench, "ask", "Add a line", "--files", "src/**", env={"COLUMNS": "300"})
    assert res.returncode == 2 and "usage" in res.stderr and fragment in " ".join(res.stderr.split())
    assert server.requests == []
    assert git(workbench, "for-each-ref", "refs/heads/gitbench/") == ""  # refused before any job started


# -- gitbench models ------------------------------------------------------------------------------------------------


class Trap:
    """A listener on 127.0.0.1 that records every connection: the proxy for anything that should not be asked."""

    def __init__(self, port: int = 0) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.hits: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(4096))
                except OSError:
                    self.hits.append(b"")

    def close(self) -> None:
        self.sock.close()


def models(wb: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = ok_json(gitbench(wb, "models", "--json", *args, env=env))
    return data


def test_models_asks_a_configured_provider_and_shows_its_models(workbench: Path, server: ProviderServer) -> None:
    write_user(FAST)
    host = server.url.removeprefix("http://")
    data = models(workbench, env={"OLLAMA_HOST": host})
    ollama = {p["name"]: p for p in data["providers"]}["ollama"]
    assert ollama["configured"] and ollama["checked"] and ollama["ok"]
    assert ollama["source"] == "$OLLAMA_HOST" and ollama["base_url"] == f"{server.url}/v1"
    assert ollama["models"] == ["other-model", "test-model"] and "answers" in ollama["answer"]
    assert [(r["method"], r["path"]) for r in server.requests] == [("GET", "/v1/models")]

    text = gitbench(workbench, "models", env={"OLLAMA_HOST": host, "COLUMNS": "200"})
    assert text.returncode == 0
    line = next(ln for ln in text.stdout.splitlines() if "ollama" in ln)
    assert line.startswith("ok ") and "answers (2 model(s))" in line


def test_models_never_contacts_a_provider_nobody_configured(workbench: Path, server: ProviderServer) -> None:
    write_user('model = "fake:test-model"\n' + FAST + fake(server))
    trap = Trap()
    try:
        proxy = f"http://127.0.0.1:{trap.port}"
        # Any request for api.openai.com or api.anthropic.com would go to the trap, never off this machine.
        env = {
            "HTTP_PROXY": proxy,
            "HTTPS_PROXY": proxy,
            "ALL_PROXY": proxy,
            "http_proxy": proxy,
            "https_proxy": proxy,
            "all_proxy": proxy,
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
        data = models(workbench, env=env)
    finally:
        trap.close()
    found = {p["name"]: p for p in data["providers"]}
    assert found["fake"]["checked"] and found["fake"]["ok"]
    for name in ("openai", "anthropic", "ollama"):
        assert not found[name]["configured"] and not found[name]["checked"], found[name]
        assert found[name]["answer"] is None
    assert trap.hits == []
    assert [(r["method"], r["path"]) for r in server.requests] == [("GET", "/v1/models")]


def test_a_provider_that_is_down_is_reported_as_not_answering_and_models_still_succeeds(
    workbench: Path, server: ProviderServer
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        closed = s.getsockname()[1]  # a port nothing listens on once this block ends
    write_user(
        FAST
        + f'[providers.down]\nbase_url = "http://127.0.0.1:{closed}/v1"\n'
        + f'[providers.wrongpath]\nbase_url = "{server.url}/nothing-here"\n'
        + fake(server)
    )
    res = gitbench(workbench, "models", "--json")
    found = {p["name"]: p for p in ok_json(res)["providers"]}
    assert found["down"]["checked"] and not found["down"]["ok"]
    assert "cannot connect" in found["down"]["answer"] and str(closed) in found["down"]["answer"]
    assert found["wrongpath"]["checked"] and not found["wrongpath"]["ok"] and "HTTP 404" in found["wrongpath"]["answer"]
    assert found["fake"]["ok"]

    text = gitbench(workbench, "models", env={"COLUMNS": "200"})
    assert text.returncode == 0
    line = next(ln for ln in text.stdout.splitlines() if " down " in ln)
    assert line.startswith("-- ") and "cannot connect" in line


def test_models_no_check_contacts_nobody(workbench: Path, server: ProviderServer) -> None:
    write_user('model = "fake:test-model"\n' + FAST + fake(server))
    data = models(workbench, "--no-check", env={"OLLAMA_HOST": server.url.removeprefix("http://")})
    assert not any(p["checked"] for p in data["providers"])
    assert server.requests == []


def test_models_json_shape_lists_files_aliases_and_whether_a_key_is_set_never_the_key(
    workbench: Path, server: ProviderServer
) -> None:
    user = write_user(
        'model = "quick"\n' + FAST + fake(server, api_key=CANARY_KEY) + "[models]\nquick = "
        '"fake:test-model"\nagent = "command:no-such-agent-cli {prompt}"\n'
    )
    shared = write_workbench(workbench, "[job]\nbatch_files = 3\n")
    res = gitbench(workbench, "models", "--json")
    assert CANARY_KEY not in res.stdout + res.stderr
    data = ok_json(res)
    assert set(data) >= {"default_model", "aliases", "providers", "commands", "config_files", "user_config"}
    assert data["default_model"] == "quick"
    assert data["aliases"] == {"quick": "fake:test-model", "agent": "command:no-such-agent-cli {prompt}"}
    assert data["config_files"] == [str(user), str(shared)] and data["user_config"] == str(user)
    assert data["commands"] == [
        {"model": "command:no-such-agent-cli {prompt}", "program": "no-such-agent-cli", "found": None}
    ]
    fields = {"name", "kind", "base_url", "configured", "source", "key", "key_env", "checked", "ok", "answer", "models"}
    for p in data["providers"]:
        assert set(p) >= fields, p
        assert isinstance(p["key"], bool)
    found = {p["name"]: p for p in data["providers"]}
    assert found["fake"]["key"] is True and found["fake"]["source"] == str(user)
    assert found["fake"]["kind"] == "openai" and found["fake"]["ok"]
    # The Authorization header carried the key to the (local) provider; nothing printed it.
    assert server.requests[0]["headers"]["Authorization"] == f"Bearer {CANARY_KEY}"
