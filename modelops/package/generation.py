"""The `generation` part of a text-generation model's metadata.json, and how a chat becomes a prompt.

A generative model directory (written by `modelops.export_generation`) holds the onnxruntime-genai
files (model.onnx, its external data, genai_config.json), the Hugging Face tokenizer files and
metadata.json with `task: text-generation` and a `generation` object that this module parses:
the model's own Hugging Face chat template, its stop tokens, generation defaults and the golden
generation (fixed messages, their prompt token ids and the greedy answer's token ids) that the server
replays before it is Ready. The exporter and the inference server both build prompts with
`render_prompt`, which renders the template the way `transformers`' `apply_chat_template` does
(sandboxed Jinja, trimmed blocks), so the server needs no `transformers`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelops.package.errors import MetadataError

ROLES = ("system", "user", "assistant")
GOLDEN_MESSAGES = (
    {"role": "system", "content": "You are a kind, brief companion."},
    {"role": "user", "content": "Hello, how are you today?"},
)
GOLDEN_NEW_TOKENS = 16


@dataclass(frozen=True)
class GenerationDefaults:
    """Sampling settings a request gets when it does not name them."""

    max_new_tokens: int = 128
    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.0


@dataclass(frozen=True)
class GenerationGolden:
    """Greedy decoding of `messages` must give `prompt_token_ids` then `token_ids` exactly."""

    messages: list[dict[str, str]]
    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str = ""


@dataclass(frozen=True)
class GenerationSpec:
    """metadata.json `generation`: everything the server needs besides the graph and the tokenizer."""

    chat_template: str
    eos_token_ids: list[int]
    context_length: int
    vocab_size: int
    golden: GenerationGolden
    special_tokens: dict[str, str] = field(default_factory=dict)
    defaults: GenerationDefaults = field(default_factory=GenerationDefaults)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for metadata.json."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> GenerationSpec:
        """Parse and validate; raise MetadataError naming the bad field."""
        where = "metadata generation"
        mapping = _mapping(data, where)
        golden = _mapping(mapping.get("golden"), f"{where}.golden")
        try:
            spec = cls(
                chat_template=_typed(mapping, "chat_template", str, where),
                eos_token_ids=_ints(mapping, "eos_token_ids", where),
                context_length=_typed(mapping, "context_length", int, where),
                vocab_size=_typed(mapping, "vocab_size", int, where),
                special_tokens={str(k): str(v) for k, v in dict(mapping.get("special_tokens", {})).items()},
                defaults=GenerationDefaults(**dict(mapping.get("defaults", {}))),
                golden=GenerationGolden(
                    messages=_messages(golden.get("messages"), f"{where}.golden.messages"),
                    prompt_token_ids=_ints(golden, "prompt_token_ids", f"{where}.golden"),
                    token_ids=_ints(golden, "token_ids", f"{where}.golden"),
                    text=str(golden.get("text", "")),
                ),
            )
        except (TypeError, ValueError) as error:
            raise MetadataError(f"{where}: {error}") from error
        if not spec.eos_token_ids or not spec.golden.token_ids:
            raise MetadataError(f"{where}: 'eos_token_ids' and 'golden.token_ids' must not be empty")
        return spec


def render_prompt(template: str, messages: Sequence[dict[str, str]], special_tokens: dict[str, str]) -> str:
    """The prompt text for `messages`, as `tokenizer.apply_chat_template(..., add_generation_prompt=True)`
    renders it (same Jinja options; the template runs sandboxed, since it comes with the model)."""
    compiled = _compiled_template(template)
    return str(compiled.render(messages=list(messages), add_generation_prompt=True, **special_tokens))


def _mapping(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MetadataError(f"{where}: expected an object, got {type(data).__name__}")
    return data


def _typed(mapping: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MetadataError(f"{where}: field {key!r} must be {kind.__name__}")
    return value


def _ints(mapping: dict[str, Any], key: str, where: str) -> list[int]:
    value = mapping.get(key)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise MetadataError(f"{where}: field {key!r} must be a list of integers")
    return list(value)


def _messages(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise MetadataError(f"{where}: must be a non-empty list of {{role, content}} objects")
    out = []
    for item in value:
        if (
            not isinstance(item, dict)
            or item.get("role") not in ROLES
            or not isinstance(item.get("content"), str)
        ):
            raise MetadataError(f"{where}: each message needs a role in {list(ROLES)} and a string content")
        out.append({"role": item["role"], "content": item["content"]})
    return out


@functools.lru_cache(maxsize=8)
def _compiled_template(template: str) -> Any:
    """The sandboxed Jinja template, compiled once per template text: compiling costs milliseconds, which
    the server would otherwise pay on every request before its first token."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    def strftime_now(form: str) -> str:
        return datetime.now(UTC).strftime(form)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.globals.update(raise_exception=raise_exception, strftime_now=strftime_now)
    return env.from_string(template)
