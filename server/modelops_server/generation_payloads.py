"""Request parsing for text generation: the seed generate API, OpenAI chat completions, OIP v2 generate.

Every malformed field becomes a BadRequest naming it (empty or malformed `messages`, unknown roles,
`max_new_tokens` <= 0 or above the server's limit, temperature < 0, top_p outside (0, 1], a body that
is not UTF-8 JSON), so clients get a 400 and the server keeps serving. Called by `generation_routes.py`.
"""

from __future__ import annotations

from typing import Any

from modelops.package.generation import ROLES, GenerationDefaults
from modelops_server.errors import BadRequest
from modelops_server.generation import Sampling
from modelops_server.generation_plane import GenerationRequest
from modelops_server.payloads import parse_json

MAX_TEMPERATURE = 2.0
MAX_MESSAGES = 256
SEED_FIELDS = frozenset(
    {"messages", "max_new_tokens", "min_new_tokens", "temperature", "top_p", "top_k", "seed", "stream"}
)


def _object(body: bytes) -> dict[str, Any]:
    document = parse_json(body)
    if not isinstance(document, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(document).__name__}")
    return document


def _messages(value: Any, max_chars: int) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BadRequest("'messages' must be a non-empty list of {role, content} objects")
    if len(value) > MAX_MESSAGES:
        raise BadRequest(f"'messages' has {len(value)} items; the limit is {MAX_MESSAGES}")
    messages, total = [], 0
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise BadRequest(f"'messages'[{index}] must be an object with 'role' and 'content'")
        role = item.get("role")
        if role not in ROLES:
            raise BadRequest(f"'messages'[{index}].role must be one of {list(ROLES)}, got {role!r}")
        content = _content(item.get("content"), index)
        total += len(content)
        if total > max_chars:
            raise BadRequest(f"'messages' have more than {max_chars} characters of content")
        messages.append({"role": role, "content": content})
    if not any(m["content"].strip() for m in messages):
        raise BadRequest("'messages' have no content: every message is empty")
    return messages


def _content(value: Any, index: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in value
    ):  # OpenAI's content parts, text only
        return "".join(p["text"] for p in value)
    raise BadRequest(f"'messages'[{index}].content must be a string (or a list of text parts)")


def _number(document: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = document.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"'{key}' must be a number, got {type(value).__name__}")
    if not low <= value <= high:
        raise BadRequest(f"'{key}' must be in {low}..{high}, got {value}")
    return float(value)


def _integer(document: dict[str, Any], key: str, default: int | None, low: int, high: int) -> int | None:
    value = document.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'{key}' must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise BadRequest(f"'{key}' must be in {low}..{high}, got {value}")
    return value


def _sampling(
    document: dict[str, Any],
    length_key: str,
    limit: int,
    defaults: GenerationDefaults,
    min_key: str = "min_tokens",
) -> Sampling:
    top_p = _number(document, "top_p", defaults.top_p, 0.0, 1.0)
    if top_p == 0.0:
        raise BadRequest("'top_p' must be greater than 0")
    new_tokens = int(_integer(document, length_key, min(defaults.max_new_tokens, limit), 1, limit) or 1)
    return Sampling(
        max_new_tokens=new_tokens,
        min_new_tokens=int(_integer(document, min_key, 0, 0, new_tokens) or 0),
        temperature=_number(document, "temperature", defaults.temperature, 0.0, MAX_TEMPERATURE),
        top_p=top_p,
        top_k=int(_integer(document, "top_k", defaults.top_k, 1, 1000) or 1),
        seed=_integer(document, "seed", None, 0, 2**31 - 1),
    )


def _stream(document: dict[str, Any]) -> bool:
    value = document.get("stream", False)
    if not isinstance(value, bool):
        raise BadRequest(f"'stream' must be true or false, got {value!r}")
    return value


def parse_generate(
    body: bytes, limit: int, max_chars: int, defaults: GenerationDefaults
) -> GenerationRequest:
    """The seed API: `{messages, max_new_tokens, temperature, top_p, top_k, seed, stream}`."""
    return generate_request(_object(body), limit, max_chars, defaults)


def generate_request(
    document: dict[str, Any], limit: int, max_chars: int, defaults: GenerationDefaults
) -> GenerationRequest:
    """The seed API's fields from a decoded document (the REST body, or the gRPC GenerateRequest)."""
    unknown = sorted(set(document) - SEED_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; allowed: {sorted(SEED_FIELDS)}")
    messages = _messages(document.get("messages"), max_chars)
    return GenerationRequest(
        messages, _sampling(document, "max_new_tokens", limit, defaults, "min_new_tokens"), _stream(document)
    )


def parse_chat_completions(
    body: bytes, limit: int, max_chars: int, defaults: GenerationDefaults
) -> tuple[str | None, GenerationRequest]:
    """OpenAI chat completions (other OpenAI fields are accepted and ignored); returns (model, request)."""
    document = _object(body)
    model = document.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("'model' must be a string")
    n = document.get("n", 1)
    if n != 1:
        raise BadRequest("'n' must be 1: this server returns one choice")
    key = "max_completion_tokens" if document.get("max_completion_tokens") is not None else "max_tokens"
    messages = _messages(document.get("messages"), max_chars)
    return model, GenerationRequest(messages, _sampling(document, key, limit, defaults), _stream(document))


def parse_oip_generate(
    body: bytes, limit: int, max_chars: int, defaults: GenerationDefaults, *, stream: bool
) -> GenerationRequest:
    """OIP v2 generate extension: `{text_input | messages, parameters: {max_tokens, temperature, ...}}`;
    a plain `text_input` is one user message."""
    document = _object(body)
    parameters = document.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadRequest("'parameters' must be an object")
    if "messages" in document:
        messages = _messages(document["messages"], max_chars)
    else:
        text = document.get("text_input")
        if not isinstance(text, str) or not text.strip():
            raise BadRequest("'text_input' must be a non-empty string (or send 'messages')")
        messages = _messages([{"role": "user", "content": text}], max_chars)
    merged = {
        **parameters,
        **{k: document[k] for k in ("max_tokens", "temperature", "top_p", "seed") if k in document},
    }
    return GenerationRequest(messages, _sampling(merged, "max_tokens", limit, defaults), stream)
