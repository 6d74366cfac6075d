"""gitbench/providers/config.py in-process: a model named on the command line, and config files that cannot be
used, each refused with a message that names the problem and the file (tests/test_provider_config.py has the
rest, through the CLI)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitbench import errors
from gitbench.providers import config


def user_file(text: str) -> Path:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "command:aider 'unclosed",
            'The command in "command:aider \'unclosed" cannot be parsed: No closing quotation.',
        ),
        ("command:''", "command: needs a program, e.g. command:aider --yes-always --message {prompt}."),
    ],
)
def test_a_command_model_that_names_no_program_is_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(errors.UsageError) as info:
        config.load(str(tmp_path), env={}).resolve(text)
    assert info.value.message == message


def test_a_command_model_runs_its_program_with_its_arguments(tmp_path: Path) -> None:
    spec = config.load(str(tmp_path), env={}).resolve("command:aider --yes-always --message '{prompt}'")
    assert spec.id == "command:aider" and spec.argv == ("aider", "--yes-always", "--message", "{prompt}")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[job]\ncopy = [".env", "../secrets.txt"]\n', "job.copy in {file}: '../secrets.txt' is not a path inside"),
        ('[job]\ncopy = ["/etc/passwd"]\n', "'/etc/passwd' is not a path inside the Workbench"),
        ('[attribution]\nco_authored_by = "just a name"\n', 'must be one person as Git writes them, "Name <email>"'),
        ("[attribution]\nco_authored_by = 5\n", "not 5"),
    ],
)
def test_a_user_config_setting_that_cannot_be_used_is_named_with_its_file(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = user_file(text)
    with pytest.raises(errors.UsageError) as info:
        config.load(str(tmp_path), env={})
    assert fragment.replace("{file}", str(path)) in info.value.message, info.value.message


def test_a_person_is_written_as_git_writes_them() -> None:
    assert config.attribution({"attribution": {"co_authored_by": " Ada   Lovelace <ada@example.org> "}}, "f") == (
        "Ada Lovelace <ada@example.org>"
    )
    assert config.attribution({}, "f") is None


def test_where_worktrees_go_is_this_machine_s_setting_not_the_project_s(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".gitbench").mkdir(parents=True)
    (project / ".gitbench" / "config.toml").write_text('[job]\nworktrees = "/tmp/wt"\n')
    with pytest.raises(errors.UsageError) as info:
        config.load(str(project), env={})
    assert info.value.message.startswith(f"job.worktrees in {project / '.gitbench' / 'config.toml'}: where Draft")
    assert info.value.actions[0].label == f"Move it to {config.user_config_path()}"
    user_file('[job]\nworktrees = "~/drafts"\n')
    (project / ".gitbench" / "config.toml").write_text("")
    assert config.load(str(project), env={}).job.worktrees == os.path.expanduser("~/drafts")
    loaded = config.load(str(project), env={"GITBENCH_WORKTREES": "~/elsewhere"})
    assert loaded.job.worktrees == os.path.expanduser("~/elsewhere")  # the environment wins, ~ expanded


def test_a_config_path_that_is_a_folder_is_a_file_error_naming_it(tmp_path: Path) -> None:
    folder = Path(config.user_config_path())
    folder.mkdir(parents=True)
    with pytest.raises(errors.FileIOError) as info:
        config.load(str(tmp_path), env={})
    assert info.value.message.startswith(f"The config file {folder} cannot be read: ")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("90s", 90.0), (" 15M ", 900.0), ("2h", 7200.0), ("600", 600.0)],
)
def test_a_duration_is_seconds_or_a_number_with_its_unit(value: object, seconds: float) -> None:
    assert config.duration(value) == seconds


@pytest.mark.parametrize("value", [0, -5, True, None, [10], "", "soon", "10x", "0s"])
def test_what_is_not_a_duration_above_zero_is_none(value: object) -> None:
    assert config.duration(value) is None


def test_the_sections_an_everyday_command_reads_are_config_load_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """providers/sections.py answers without config.py when there is no file: the same values, the same errors."""
    from gitbench.providers import sections

    def same() -> None:
        for root in (str(tmp_path), None):
            loaded = config.load(root)
            assert sections.job(root) == loaded.job
            assert sections.publish(root) == loaded.publish
            assert sections.gc(root) == loaded.gc

    monkeypatch.delenv("GITBENCH_TIMEOUT", raising=False)
    monkeypatch.delenv("GITBENCH_WORKTREES", raising=False)
    same()
    monkeypatch.setenv("GITBENCH_WORKTREES", "~/elsewhere")
    same()
    assert sections.job(str(tmp_path)).worktrees == os.path.expanduser("~/elsewhere")
    monkeypatch.setenv("GITBENCH_TIMEOUT", "soon")
    with pytest.raises(errors.UsageError, match="GITBENCH_TIMEOUT must be seconds"):
        sections.job(str(tmp_path))
    monkeypatch.delenv("GITBENCH_TIMEOUT")
    (tmp_path / ".gitbench").mkdir()
    (tmp_path / ".gitbench" / "config.toml").write_text('[job]\nsetup = "make"\n[publish]\ncheck = "pytest"\n')
    user_file('[gc]\ntrash_days = 3\n[job]\ncopy = [".env"]\n')
    same()
    assert sections.job(str(tmp_path)).setup == "make" and sections.publish(str(tmp_path)).check == "pytest"
    assert sections.gc(None).trash_days == 3.0
    user_file("[gc\n")
    with pytest.raises(errors.UsageError, match="is not valid TOML"):
        sections.gc(str(tmp_path))
