"""Generation limits and failure modes on the tiny Llama: a client that disconnects mid-stream frees its
slot at once (its generation ends as `cancelled`), a full server answers 429 with Retry-After, the
deadline ends a generation, a tampered golden generation keeps the model from ever being Ready, and
the server's chat-template rendering equals `transformers`' `apply_chat_template`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelops.package.generation import render_prompt
from modelops_server.settings import ServerSettings
from support.persona import PERSONA, VERSION, PersonaModels, seal, tamper_golden
from support.server_process import ServerProcess, metric, poll, server_process
from support.serving import serving

GENERATE = f"/api/v1/ml-models/{PERSONA}/generate"
# 30,000 tokens with no end of turn: seconds on the tiny model, far longer than any check below
LONG = {"messages": [{"role": "user", "content": "Tell me a long story"}], "max_new_tokens": 30000,
        "min_new_tokens": 30000, "temperature": 0.9, "seed": 1, "stream": True}  # fmt: skip


@pytest.fixture(scope="module")
def one_slot(persona: PersonaModels) -> Iterator[ServerProcess]:
    """One generation at a time, no queue, long generations allowed."""
    with server_process(
        persona.root, "--version", VERSION, "--max-generations", "1", "--max-queued-generations", "0",
        "--max-new-tokens", "30000", model_type=PERSONA,
    ) as running:  # fmt: skip
        yield running


def first_event(lines: Iterator[str]) -> str:
    """The first `data:` line, leaving the stream open."""
    for line in lines:
        if line.startswith("data: "):
            return line
    raise AssertionError("the stream ended before its first event")


def test_a_disconnect_mid_stream_frees_the_slot(one_slot: ServerProcess) -> None:
    cancelled = 'modelops_generations_total{finish_reason="cancelled"}'
    before = metric(one_slot, cancelled)
    with (
        httpx.Client(base_url=one_slot.base, timeout=30) as client,
        client.stream("POST", GENERATE, json=LONG) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()  # kept open: closing this iterator would close the connection
        assert first_event(lines)
        assert metric(one_slot, "modelops_generations_active") == 1.0
    # leaving the block closed the connection with the generation far from done
    poll(one_slot, "modelops_generations_active", 0.0)
    poll(one_slot, cancelled, before + 1)
    after = httpx.post(
        one_slot.base + GENERATE,
        timeout=30,
        json={**LONG, "stream": False, "max_new_tokens": 4, "min_new_tokens": 0},
    )
    assert after.status_code == 200


def test_a_full_server_answers_429_with_retry_after(one_slot: ServerProcess) -> None:
    with (
        httpx.Client(base_url=one_slot.base, timeout=30) as client,
        client.stream("POST", GENERATE, json=LONG) as response,
    ):
        lines = response.iter_lines()
        assert first_event(lines)
        refused = httpx.post(one_slot.base + "/v1/chat/completions", timeout=10,
                             json={"messages": LONG["messages"], "max_tokens": 4})  # fmt: skip
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1 and "slots are busy" in refused.json()["error"]
    poll(one_slot, "modelops_generations_active", 0.0)


def _settings(persona: PersonaModels, root: Path, version: str, **overrides: object) -> ServerSettings:
    values: dict[str, object] = {
        "models_dir": root, "model_type": PERSONA, "version": version, "work_dir": root.parent / "work",
        "public_key": persona.public_key, "require_signature": True, **overrides,
    }  # fmt: skip
    return ServerSettings(**values)  # type: ignore[arg-type]


async def test_the_deadline_ends_a_generation(persona: PersonaModels, tmp_path: Path) -> None:
    settings = _settings(persona, persona.root, VERSION, generation_deadline_s=0.3, max_new_tokens=30000)
    async with serving(settings) as client:
        answer = await client.post(GENERATE, json={**LONG, "stream": False}, timeout=30)
    assert answer.status_code == 200 and answer.json()["finish_reason"] == "deadline"
    assert 0 < answer.json()["usage"]["completion_tokens"] < 30000


async def test_a_tampered_golden_generation_is_never_ready(persona: PersonaModels, tmp_path: Path) -> None:
    root = tmp_path / "models"
    tamper_golden(persona, root, "v1.0.1")
    async with serving(_settings(persona, root, "v1.0.1")) as client:
        health = await client.get(f"/api/v1/ml-models/{PERSONA}/health")
        generate = await client.post(GENERATE, json={"messages": [{"role": "user", "content": "hi"}]})
    assert health.status_code == 503 and health.json()["status"] == "unhealthy"
    assert "golden check failed: greedy generation" in health.json()["reason"]
    assert generate.status_code == 503


CONVERSATIONS = [
    [{"role": "user", "content": "Hello"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Caf\u00e9 \U0001f60a?"},
     {"role": "assistant", "content": "Sure."}, {"role": "user", "content": "  spaces  \n and lines "}],
]  # fmt: skip


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_prompts_use_the_hugging_face_chat_template(
    persona: PersonaModels, messages: list[dict[str, str]]
) -> None:
    import json

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(persona.source))
    spec = json.loads((persona.model_dir / "metadata.json").read_text())["generation"]
    ours = render_prompt(spec["chat_template"], messages, spec["special_tokens"])
    assert ours == tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert ours.endswith("<|im_start|>assistant\n") and "<|endoftext|>" not in ours


def _swap_tokenizer(model_dir: Path) -> None:
    """Another byte-level tokenizer (trained on other text): same size, different merges."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=special, initial_alphabet=alphabet)
    tokenizer.train_from_iterator(["zebra quartz jukebox"] * 20, trainer)
    tokenizer.save(str(model_dir / "tokenizer.json"))


def _wrong_vocabulary(model_dir: Path) -> None:
    path = model_dir / "genai_config.json"
    config = json.loads(path.read_text())
    config["model"]["vocab_size"] += 1
    path.write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [(_swap_tokenizer, "golden check failed: the chat template and tokenizer give prompt token ids"),
     (_wrong_vocabulary, "genai_config.json vocab_size")],
)  # fmt: skip
async def test_a_graph_or_tokenizer_that_does_not_match_metadata_is_never_ready(
    persona: PersonaModels, tmp_path: Path, tamper: Any, reason: str
) -> None:
    root = tmp_path / "models"
    target = root / PERSONA / VERSION
    shutil.copytree(persona.model_dir, target)
    tamper(target)
    seal(target, persona.private_key)
    async with serving(_settings(persona, root, VERSION)) as client:
        health = await client.get(f"/api/v1/ml-models/{PERSONA}/health")
    assert health.status_code == 503 and reason in health.json()["reason"], health.json()
