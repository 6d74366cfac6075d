"""gitbench/services/attribution.py in-process: who assisted a step, read back from its trailers (including
steps written before gitbench wrote ``Assisted-by``), and a model named as models.dev names it."""

from __future__ import annotations

import pytest

from gitbench.services.attribution import Assistance, model_id, of_trailers


@pytest.mark.parametrize(
    ("trailers", "expected"),
    [
        ({"Assisted-by": "x:y"}, None),  # not a gitbench step: its trailers are someone else's
        ({"Gitbench-Job": "j", "Assisted-by": "claude-code:opus tool1 tool2"}, Assistance("claude-code", "opus")),
        ({"Gitbench-Job": "j", "Assisted-by": "aider"}, Assistance("aider", None)),
        # Older steps: Gitbench-Agent and Gitbench-Model say it.
        (
            {"Gitbench-Job": "j", "Gitbench-Agent": "claude", "Gitbench-Model": "claude:sonnet"},
            Assistance("claude-code", "sonnet"),
        ),
        ({"Gitbench-Job": "j", "Gitbench-Agent": "codex", "Gitbench-Model": "command"}, Assistance("codex", None)),
        ({"Gitbench-Job": "j", "Gitbench-Agent": "sed", "Gitbench-Model": "command"}, None),  # not an agent
        ({"Gitbench-Job": "j", "Gitbench-Model": "openai:gpt-4o"}, Assistance("gitbench", "openai/gpt-4o")),
        ({"Gitbench-Job": "j", "Gitbench-Model": "workflow"}, None),
    ],
)
def test_who_assisted_a_step_is_read_back_from_its_trailers(
    trailers: dict[str, str], expected: Assistance | None
) -> None:
    assert of_trailers(trailers) == expected


@pytest.mark.parametrize(
    ("model", "named"),
    [
        (None, None),
        ("", None),
        ("anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4-5"),
        ("claude-opus-4", "anthropic/claude-opus-4"),
        ("gpt-4o", "openai/gpt-4o"),
        ("o3-mini", "openai/o3-mini"),
        ("gemini-2.5-pro", "google/gemini-2.5-pro"),
        ("qwen2.5-coder", "qwen2.5-coder"),  # no well-known prefix: the name alone, never a guessed provider
        ("x" * 300, "x" * 250),
    ],
)
def test_a_model_is_named_as_models_dev_names_it_without_guessing(model: str | None, named: str | None) -> None:
    assert model_id(model) == named
    if model:
        assert Assistance("gitbench", model).model_id == named
