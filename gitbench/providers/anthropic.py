"""The Anthropic Messages API."""

from __future__ import annotations

from typing import Any

from gitbench.providers.config import ModelSpec

VERSION = "2023-06-01"


def request(spec: ModelSpec, system: str, user: str, max_tokens: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    headers = {"Content-Type": "application/json", **auth_headers(spec.provider.api_key)}
    body = {
        "model": spec.model,
        "max_tokens": max_tokens,
        "temperature": 0,
        "system": system,
        "messages": [{"role": "user", "content": user}],
    }
    return spec.provider.base_url.rstrip("/") + "/v1/messages", headers, body


def answer(data: Any) -> tuple[str, int | None, int | None]:
    try:
        blocks = data["content"]
        text = "".join(b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text")
    except (KeyError, TypeError) as exc:
        raise ValueError("the answer has no content blocks") from exc
    if not blocks:
        raise ValueError("the answer's content is empty")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return text, _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))


def models_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/v1/models"


def auth_headers(api_key: str | None) -> dict[str, str]:
    headers = {"anthropic-version": VERSION}
    if api_key:
        headers["x-api-key"] = api_key
    return headers


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
