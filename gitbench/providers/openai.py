"""The OpenAI-compatible chat-completions protocol (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio...)."""

from __future__ import annotations

from typing import Any

from gitbench.providers.config import ModelSpec


def request(spec: ModelSpec, system: str, user: str, max_tokens: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if spec.provider.api_key:
        headers["Authorization"] = f"Bearer {spec.provider.api_key}"
    # No max_tokens or temperature: newer OpenAI models reject both (max_completion_tokens, fixed temperature),
    # while every compatible server has a sensible default for them.
    body = {"model": spec.model, "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
    return spec.provider.base_url.rstrip("/") + "/chat/completions", headers, body


def answer(data: Any) -> tuple[str, int | None, int | None]:
    """(text, input tokens, output tokens); ValueError when the JSON is not a chat completion."""
    try:
        text = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError("the answer has no choices[0].message.content") from exc
    if not isinstance(text, str):
        raise ValueError("choices[0].message.content is not text")
    usage = data.get("usage") if isinstance(data, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    return text, _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))


def models_url(spec_base_url: str) -> str:
    return spec_base_url.rstrip("/") + "/models"


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
