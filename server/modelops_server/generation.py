"""A loaded, verified text-generation model: onnxruntime-genai model + Hugging Face tokenizer + chat spec.

`model.load_verified_model` calls `load_generator` for a directory whose metadata.json says
`task: text-generation`, after the files and the signature were verified on the private copy, and then
`check_golden_generation`. `generation_plane.GenerationPlane` calls `TextGenerator.run` in one thread per
generation, never on the event loop. Prompts are built with the model's Hugging Face chat template
(`modelops.package.generation.render_prompt`), tokenized with tokenizer.json, and handed to genai as
token ids, so genai's own chat-template and tokenizer code is never used.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelops.package.errors import MetadataError
from modelops.package.generation import GenerationSpec, render_prompt
from modelops.package.metadata import ModelMetadata
from modelops_server.errors import BadRequest, VerificationError

GENAI_CONFIG = "genai_config.json"
REPLACEMENT = "\ufffd"
# ORT's intra-op workers busy-wait for work by default. In the server they share the cores with the event
# loop, the HTTP/gRPC threads and other generations, and on a shared node with other pods: spinning burned
# about half of the CPU per token (25-28 ms vs 14 ms per token, int4 SmolLM2, 2 threads on 2 busy cores,
# bench/bench_generation.py) and starved the threads that deliver the tokens.
NO_SPINNING = {"session.intra_op.allow_spinning": "0", "session.inter_op.allow_spinning": "0"}
# emit(token ids of this step, new text) is called from the generation thread
Emit = Callable[[list[int], str], None]


@dataclass(frozen=True)
class Sampling:
    """One request's decoding settings (validated by the payload parser)."""

    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 50
    seed: int | None = None
    min_new_tokens: int = 0  # end-of-turn tokens are suppressed before this many (fixed-length benchmarks)

    @property
    def greedy(self) -> bool:
        """Temperature 0 means greedy decoding."""
        return self.temperature == 0.0


@dataclass
class Outcome:
    """What a finished generation produced."""

    token_ids: list[int]
    text: str
    finish_reason: str  # stop (end-of-turn token), length (max_new_tokens or context), cancelled, deadline


class TextGenerator:
    """genai model + tokenizer + spec. Thread-safe: each `run` owns its own genai Generator."""

    def __init__(self, model: Any, tokenizer: Any, spec: GenerationSpec, metadata: ModelMetadata) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.spec = spec
        self.metadata = metadata
        self.stop_ids = frozenset(spec.eos_token_ids)

    def prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """The chat template rendered and tokenized (no extra special tokens: the template has them)."""
        try:
            text = render_prompt(self.spec.chat_template, messages, self.spec.special_tokens)
        except Exception as error:  # jinja2 TemplateError (raise_exception), UndefinedError, ...
            raise BadRequest(
                f"'messages' cannot be rendered with the model's chat template: {error}"
            ) from error
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def run(
        self,
        prompt: Sequence[int],
        sampling: Sampling,
        emit: Emit,
        cancelled: threading.Event,
        deadline: float,
    ) -> Outcome:
        """Decode up to `max_new_tokens` tokens (fewer near the context length), calling `emit` as text
        becomes printable; stop at an end-of-turn token, on `cancelled`, or at `deadline` (monotonic)."""
        import onnxruntime_genai as og

        limit = min(sampling.max_new_tokens, self.spec.context_length - len(prompt))
        params = og.GeneratorParams(self.model)
        params.set_search_options(**self._search_options(len(prompt) + limit, sampling))
        generator = og.Generator(self.model, params)
        generator.append_tokens(list(prompt))
        ids: list[int] = []
        stream = _Detokenizer(self.tokenizer)
        reason = "length"
        while len(ids) < limit:
            if cancelled.is_set():
                reason = "cancelled"
                break
            if time.monotonic() > deadline:
                reason = "deadline"
                break
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            if token in self.stop_ids:
                reason = "stop"
                break
            ids.append(token)
            delta = stream.push(ids)
            if delta:
                emit(ids[stream.sent : len(ids)], delta)
                stream.sent = len(ids)
            if generator.is_done():
                break
        rest = stream.flush(ids)
        if rest or stream.sent < len(ids):  # held-back tokens (an incomplete UTF-8 sequence at the end)
            emit(ids[stream.sent :], rest)
        return Outcome(ids, stream.text, reason)

    def _search_options(self, max_length: int, sampling: Sampling) -> dict[str, Any]:
        options: dict[str, Any] = {"max_length": max_length, "do_sample": not sampling.greedy}
        if sampling.min_new_tokens:
            options["min_length"] = min(
                max_length, max_length - sampling.max_new_tokens + sampling.min_new_tokens
            )
        if not sampling.greedy:
            top_k = min(sampling.top_k, self.spec.vocab_size)  # genai crashes on top_k > vocabulary
            options.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=top_k)
            if sampling.seed is not None:
                options["random_seed"] = sampling.seed
        return options

    def greedy(self, prompt: Sequence[int], max_new_tokens: int) -> Outcome:
        """Greedy decoding without a deadline (the golden check and tests)."""
        return self.run(
            prompt, Sampling(max_new_tokens), lambda _ids, _text: None, threading.Event(), float("inf")
        )


class _Detokenizer:
    """Incremental decoding over a short window of recent tokens (not the whole answer each step), holding
    text back while it ends in an incomplete UTF-8 sequence; the deltas add up to the answer's text."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.prefix = 0  # window start: tokens before it are printed and no longer affect decoding
        self.read = 0  # tokens up to here are printed
        self.sent = 0  # tokens handed to emit
        self.text = ""

    def _decode(self, ids: list[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def push(self, ids: list[int]) -> str:
        """New printable text after the last token, or "" while it is incomplete."""
        before = self._decode(ids[self.prefix : self.read])
        after = self._decode(ids[self.prefix :])
        if len(after) <= len(before) or after.endswith(REPLACEMENT):
            return ""
        delta = after[len(before) :]
        self.prefix, self.read = self.read, len(ids)
        self.text += delta
        return delta

    def flush(self, ids: list[int]) -> str:
        """Whatever is left when the generation ends (may end in U+FFFD)."""
        before = self._decode(ids[self.prefix : self.read])
        rest = self._decode(ids[self.prefix :])[len(before) :]
        self.read = len(ids)
        self.text += rest
        return rest


def load_generator(directory: Path, metadata: ModelMetadata, threads: int) -> TextGenerator:
    """Check the graph and the tokenizer against metadata, then load both."""
    import onnxruntime_genai as og
    from tokenizers import Tokenizer

    spec = _spec(metadata)
    _check_files(directory, spec)
    try:
        tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    except Exception as error:  # tokenizers raises a bare Exception for a malformed file
        raise VerificationError(f"tokenizer.json cannot be loaded: {error}") from error
    if tokenizer.get_vocab_size(with_added_tokens=True) > spec.vocab_size:
        raise VerificationError(
            f"tokenizer.json has {tokenizer.get_vocab_size()} tokens but the model's vocabulary is "
            f"{spec.vocab_size}"
        )
    try:
        config = og.Config(str(directory))
        options = {"intra_op_num_threads": threads, "inter_op_num_threads": 1, "config_entries": NO_SPINNING}
        config.overlay(json.dumps({"model": {"decoder": {"session_options": options}}}))
        model = og.Model(config)
    except Exception as error:  # genai raises RuntimeError for a graph it cannot load
        raise VerificationError(f"onnxruntime-genai cannot load the model: {error}") from error
    return TextGenerator(model, tokenizer, spec, metadata)


def _spec(metadata: ModelMetadata) -> GenerationSpec:
    try:
        return GenerationSpec.from_dict(metadata.generation)
    except MetadataError as error:
        raise VerificationError(str(error)) from error


def _check_files(directory: Path, spec: GenerationSpec) -> None:
    """genai_config.json, the graph's logits and the stop tokens must agree with metadata."""
    try:
        config = json.loads((directory / GENAI_CONFIG).read_text(encoding="utf-8"))["model"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise VerificationError(f"{GENAI_CONFIG} is missing or unreadable: {error}") from error
    if config.get("vocab_size") != spec.vocab_size:
        raise VerificationError(
            f"{GENAI_CONFIG} vocab_size {config.get('vocab_size')} does not match metadata.json "
            f"vocab_size {spec.vocab_size}"
        )
    logits = _logits_width(directory / str(config.get("decoder", {}).get("filename", "model.onnx")))
    if logits not in (0, spec.vocab_size):
        raise VerificationError(
            f"the graph's logits have {logits} columns, metadata.json says {spec.vocab_size}"
        )
    bad = [t for t in spec.eos_token_ids if not 0 <= t < spec.vocab_size]
    if bad:
        raise VerificationError(f"metadata.json eos_token_ids {bad} are outside the vocabulary")


def _logits_width(graph: Path) -> int:
    import onnx

    try:
        proto = onnx.load(str(graph), load_external_data=False)
    except Exception as error:  # DecodeError and friends for bad bytes
        raise VerificationError(f"{graph.name} is not a valid ONNX model: {error}") from error
    for output in proto.graph.output:
        if output.name == "logits":
            dims = output.type.tensor_type.shape.dim
            return int(dims[-1].dim_value) if dims else 0
    raise VerificationError(f"{graph.name} has no 'logits' output")


def check_golden_generation(generator: TextGenerator) -> None:
    """The golden messages must tokenize to the recorded prompt and decode greedily to the recorded ids."""
    golden = generator.spec.golden
    prompt = generator.prompt_ids(golden.messages)
    if prompt != golden.prompt_token_ids:
        raise VerificationError(
            "golden check failed: the chat template and tokenizer give prompt token ids "
            f"{_short(prompt)}, metadata.json records {_short(golden.prompt_token_ids)}"
        )
    expected = [t for t in golden.token_ids if t not in generator.stop_ids]
    answer = generator.greedy(prompt, len(golden.token_ids)).token_ids
    if answer != expected:
        raise VerificationError(
            f"golden check failed: greedy generation gave token ids {_short(answer)}, "
            f"expected {_short(expected)}"
        )


def _short(ids: Sequence[int]) -> str:
    return str(list(ids[:24])) + ("..." if len(ids) > 24 else "")
