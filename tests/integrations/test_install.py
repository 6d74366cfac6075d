"""gitbench/integrations/install.py, `gitbench agent install|uninstall`, called in-process on a real Workbench: a
settings file gitbench cannot read or understand is named in the error with what to do, and nothing is written;
the user's own settings are never lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.integrations.install import install, uninstall


@pytest.fixture
def here(workbench: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(workbench)
    return workbench


def codex_config() -> Path:
    return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex") / "config.toml"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[unclosed\n", "is not valid TOML"),
        ("sandbox_workspace_write = 1\n", "[sandbox_workspace_write] is not a table"),
        (
            '[sandbox_workspace_write]\nwritable_roots = "/tmp"\n',
            "sandbox_workspace_write.writable_roots is not a list",
        ),
    ],
)
def test_a_codex_config_it_cannot_use_is_named_and_nothing_is_written(here: Path, text: str, said: str) -> None:
    config = codex_config()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(text)
    with pytest.raises(errors.UsageError) as caught:
        install("codex", False)
    message = caught.value.message
    assert message.startswith(f"{config}: The Codex config.toml {said}") and message.endswith("; nothing was written.")
    assert [a.label for a in caught.value.actions] == ["Fix it, then install again"]
    assert config.read_text() == text and not (here / ".codex" / "hooks.json").exists()


def test_uninstall_with_a_broken_codex_config_names_it_and_keeps_the_hooks(here: Path) -> None:
    install("codex", False)
    hooks = (here / ".codex" / "hooks.json").read_text()
    codex_config().write_text("[unclosed\n")
    with pytest.raises(errors.UsageError, match="config.toml: The Codex config.toml is not valid TOML"):
        uninstall("codex", False)
    assert (here / ".codex" / "hooks.json").read_text() == hooks and codex_config().read_text() == "[unclosed\n"


def test_uninstall_without_a_settings_file_says_there_was_nothing(here: Path) -> None:
    res = uninstall("claude-code", False)
    assert res.summary.endswith("settings.local.json does not exist; there were no gitbench hooks to remove.")


def test_uninstall_of_settings_without_our_hooks_changes_nothing(here: Path) -> None:
    settings = here / ".claude" / "settings.local.json"
    settings.parent.mkdir()
    mine = json.dumps({"permissions": {"allow": ["Bash(ls)"]}}, indent=1)
    settings.write_text(mine)
    assert uninstall("claude-code", False).summary == f"{settings} holds no gitbench hooks; nothing changed."
    assert settings.read_text() == mine


def test_uninstall_of_settings_that_are_no_json_names_the_file_and_what_to_do(here: Path) -> None:
    settings = here / ".claude" / "settings.local.json"
    settings.parent.mkdir()
    settings.write_text("{not json")
    with pytest.raises(errors.UsageError) as caught:
        uninstall("claude-code", False)
    assert caught.value.message.startswith(f"{settings}: ")
    assert [a.label for a in caught.value.actions] == [
        f"Fix {settings} (or take gitbench's hooks out by hand), then uninstall again"
    ]
    assert settings.read_text() == "{not json"


def test_a_settings_path_that_cannot_be_read_is_a_file_error_naming_it(here: Path) -> None:
    settings = here / ".claude" / "settings.local.json"
    settings.mkdir(parents=True)  # a folder where the file should be
    with pytest.raises(errors.FileIOError, match=f"reading {settings}") as caught:
        install("claude-code", False)
    assert [a.command for a in caught.value.actions] == ["gitbench recover"]
    assert settings.is_dir() and not list(settings.iterdir())


def test_install_twice_changes_nothing_the_second_time(here: Path) -> None:
    first = install("claude-code", False)
    settings = Path(first.data["path"])
    text = settings.read_text()
    assert (
        install("claude-code", False).summary
        == f"gitbench's claude-code hooks are already in {settings}; nothing changed."
    )
    assert settings.read_text() == text


@pytest.mark.parametrize(
    ("agent", "folder", "name"), [("claude-code", ".claude", "settings.local.json"), ("codex", ".codex", "hooks.json")]
)
def test_uninstall_takes_out_what_install_added_and_nothing_of_the_users(
    here: Path, agent: str, folder: str, name: str
) -> None:
    exclude = here / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text("# mine\n/build/\n")
    install(agent, False)
    assert f"/{folder}/{name}" in exclude.read_text().splitlines()
    res = uninstall(agent, False)
    # The file, its line in .git/info/exclude, and the folder install made for it alone: all gone.
    assert not (here / folder).exists() and res.summary.endswith(f"with {folder}/ (empty).")
    assert exclude.read_text() == "# mine\n/build/\n"
    # A folder with the agent's own files in it stays, and so do they.
    install(agent, False)
    (here / folder / "own.json").write_text("{}\n")
    uninstall(agent, False)
    assert [p.name for p in (here / folder).iterdir()] == ["own.json"]
    assert exclude.read_text() == "# mine\n/build/\n"
