"""`gitbench models`: which providers it asks, and what it says about them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import gitbench


def _providers(workbench: Path) -> dict[str, dict[str, object]]:
    res = gitbench(workbench, "models", "--json")
    assert res.returncode == 0, res.stderr
    return {p["name"]: p for p in json.loads(res.stdout)["result"]["providers"]}


def test_the_provider_of_the_default_model_is_checked_even_without_a_table_of_its_own(workbench: Path) -> None:
    # `model = "ollama:..."` alone is how most people start: models must say whether that server answers.
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('model = "ollama:qwen2.5-coder"\n')
    found = _providers(workbench)
    assert found["ollama"]["checked"] is True  # the built-in 127.0.0.1:11434: local, whatever its answer
    assert found["ollama"]["answer"]
    # Providers nobody chose are never contacted (their built-in addresses are not on this machine).
    assert found["openai"]["checked"] is False and found["anthropic"]["checked"] is False


def test_a_provider_named_only_by_an_alias_is_checked_and_the_unnamed_ones_are_not(workbench: Path) -> None:
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "gitbench" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[models]\nlocal = "ollama:llama3.1"\n')
    found = _providers(workbench)
    assert found["ollama"]["checked"] is True
    assert found["openai"]["checked"] is False and found["anthropic"]["checked"] is False
