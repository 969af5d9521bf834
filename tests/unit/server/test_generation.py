"""Text generation end to end on a tiny Llama: built in the test (random weights, 2 layers), exported with
onnxruntime-genai's builder, manifested, signed, and served by the real `modelops-server` process.

Greedy output equals `transformers`' greedy output token for token; streaming gives the same text as
non-streaming; the official `openai` client works against `/v1`; the OIP generate extension answers;
20 concurrent streams finish; every malformed request gets a 4xx naming its field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from support.persona import PERSONA, PersonaModels
from support.server_process import ServerProcess, server_process

GENERATE = f"/api/v1/ml-models/{PERSONA}/generate"
HEALTH = f"/api/v1/ml-models/{PERSONA}/health"
MESSAGES = [
    {"role": "system", "content": "You are kind."},
    {"role": "user", "content": "I feel a bit tired today. Caf\u00e9?"},
]
MAX_NEW = 64


@pytest.fixture(scope="module")
def persona_server(persona: PersonaModels) -> Iterator[ServerProcess]:
    with server_process(
        persona.root, "--version", "v1.0.0", "--public-key", str(persona.public_key), "--require-signature",
        "--max-new-tokens", str(MAX_NEW), "--max-prompt-tokens", "256", model_type=PERSONA,
    ) as running:  # fmt: skip
        yield running


def sse_events(response: httpx.Response) -> list[Any]:
    """The JSON payloads of a Server-Sent Events body (`[DONE]` kept as a string)."""
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            payload = line.removeprefix("data: ")
            events.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return events


def torch_greedy(persona: PersonaModels, messages: list[dict[str, str]], new_tokens: int) -> list[int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(persona.source))
    model = AutoModelForCausalLM.from_pretrained(str(persona.source)).eval()
    prompt = torch.tensor([tokenizer.apply_chat_template(messages, add_generation_prompt=True)])
    with torch.no_grad():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new_tokens,
                             do_sample=False)  # fmt: skip
    ids = [int(t) for t in out[0, prompt.shape[1] :]]
    return [t for t in ids if t != tokenizer.eos_token_id]


def test_health_is_the_seed_shape_and_names_the_task(persona_server: ServerProcess) -> None:
    body = httpx.get(persona_server.base + HEALTH, timeout=10).json()
    assert body["status"] == "healthy" and body["loadable"] and body["model_type"] == PERSONA
    assert body["metadata"]["task"] == "text-generation" and body["metadata"]["signed"] is True


def test_greedy_output_equals_transformers_token_for_token(
    persona_server: ServerProcess, persona: PersonaModels
) -> None:
    request = {"messages": MESSAGES, "max_new_tokens": 40, "temperature": 0}
    answer = httpx.post(persona_server.base + GENERATE, json=request, timeout=30).json()
    assert answer["token_ids"] == torch_greedy(persona, MESSAGES, 40)
    assert answer["usage"]["completion_tokens"] == len(answer["token_ids"])
    assert answer["usage"]["prompt_tokens"] > 10 and answer["finish_reason"] in ("stop", "length")


def test_streaming_gives_the_same_text_as_non_streaming(persona_server: ServerProcess) -> None:
    request = {"messages": MESSAGES, "max_new_tokens": 48, "temperature": 0}
    whole = httpx.post(persona_server.base + GENERATE, json=request, timeout=30).json()
    with httpx.stream(
        "POST", persona_server.base + GENERATE, json={**request, "stream": True}, timeout=30
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r)
    chunks, final = events[:-1], events[-1]
    assert len(chunks) > 1 and all("text" in c for c in chunks)
    assert "".join(c["text"] for c in chunks) == whole["text"] == final["text"]
    assert final["done"] is True and final["usage"] == whole["usage"]
    assert [t for c in chunks for t in c["token_ids"]] == whole["token_ids"]


def test_the_openai_client_works_streaming_and_not(persona_server: ServerProcess) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{persona_server.base}/v1", api_key="unused", max_retries=0)
    seed = httpx.post(persona_server.base + GENERATE, timeout=30,
                      json={"messages": MESSAGES, "max_new_tokens": 20, "temperature": 0}).json()  # fmt: skip
    completion = client.chat.completions.create(
        model=PERSONA,
        messages=MESSAGES,
        max_tokens=20,
        temperature=0,  # type: ignore[arg-type]
    )
    assert completion.choices[0].message.content == seed["text"]
    assert completion.usage is not None and completion.usage.completion_tokens == len(seed["token_ids"])
    stream = client.chat.completions.create(
        model=PERSONA,
        messages=MESSAGES,
        max_tokens=20,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
    )
    parts = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(parts) == seed["text"]


def test_oip_generate_extension(persona_server: ServerProcess) -> None:
    body = {"text_input": "Hello there", "parameters": {"max_tokens": 16, "temperature": 0}}
    answer = httpx.post(f"{persona_server.base}/v2/models/{PERSONA}/generate", json=body, timeout=30).json()
    assert answer["model_name"] == PERSONA and isinstance(answer["text_output"], str)
    with httpx.stream("POST", f"{persona_server.base}/v2/models/{PERSONA}/generate_stream", json=body,
                      timeout=30) as response:  # fmt: skip
        events = sse_events(response)
    assert "".join(e["text_output"] for e in events) == answer["text_output"]
    assert events[-1]["usage"]["completion_tokens"] == answer["usage"]["completion_tokens"]


def test_a_seed_makes_sampling_reproducible(persona_server: ServerProcess) -> None:
    body = {"messages": MESSAGES, "max_new_tokens": 24, "temperature": 1.0, "top_p": 0.95, "seed": 7}
    first = httpx.post(persona_server.base + GENERATE, json=body, timeout=30).json()
    again = httpx.post(persona_server.base + GENERATE, json=body, timeout=30).json()
    assert first["token_ids"] == again["token_ids"]


async def _one_stream(client: httpx.AsyncClient, index: int) -> dict[str, Any]:
    body = {"messages": [{"role": "user", "content": f"Story number {index}"}], "max_new_tokens": 32,
            "temperature": 0.8, "seed": index, "stream": True}  # fmt: skip
    async with client.stream("POST", GENERATE, json=body) as response:
        assert response.status_code == 200, await response.aread()
        lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    return dict(orjson.loads(lines[-1].removeprefix("data: ")))


def test_twenty_concurrent_streams_finish(persona_server: ServerProcess) -> None:
    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=persona_server.base, timeout=60) as client:
            return await asyncio.gather(*(_one_stream(client, i) for i in range(20)))

    finals = asyncio.run(run())
    assert all(f["done"] and f["finish_reason"] in ("stop", "length") for f in finals)
    metrics = httpx.get(persona_server.base + "/metrics", timeout=10).text
    assert "modelops_generations_active 0.0" in metrics
    assert "modelops_generation_time_to_first_token_seconds_count" in metrics


BAD_INPUTS = [
    (GENERATE, {}, "'messages'"),
    (GENERATE, {"messages": []}, "'messages'"),
    (GENERATE, {"messages": "hello"}, "'messages'"),
    (GENERATE, {"messages": [{"role": "user"}]}, "content"),
    (GENERATE, {"messages": [{"role": "robot", "content": "hi"}]}, "role"),
    (GENERATE, {"messages": [{"role": "user", "content": ""}]}, "no content"),
    (GENERATE, {"messages": [{"role": "user", "content": "word " * 400}]}, "tokens long"),
    (GENERATE, {"messages": MESSAGES, "max_new_tokens": 0}, "'max_new_tokens'"),
    (GENERATE, {"messages": MESSAGES, "max_new_tokens": 10**9}, "'max_new_tokens'"),
    (GENERATE, {"messages": MESSAGES, "max_new_tokens": "ten"}, "'max_new_tokens'"),
    (GENERATE, {"messages": MESSAGES, "temperature": -0.5}, "'temperature'"),
    (GENERATE, {"messages": MESSAGES, "top_p": 0}, "'top_p'"),
    (GENERATE, {"messages": MESSAGES, "stream": "yes"}, "'stream'"),
    (GENERATE, {"messages": MESSAGES, "bogus": 1}, "'bogus'"),
    ("/v1/chat/completions", {"messages": MESSAGES, "max_tokens": -1}, "'max_tokens'"),
    ("/v1/chat/completions", {"messages": MESSAGES, "n": 2}, "'n'"),
    (f"/v2/models/{PERSONA}/generate", {"text_input": "  "}, "'text_input'"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_INPUTS)
def test_bad_input_is_a_4xx_naming_the_field(
    persona_server: ServerProcess, path: str, body: Any, field: str
) -> None:
    answer = httpx.post(persona_server.base + path, json=body, timeout=10)
    assert answer.status_code == 400, answer.text
    assert field in answer.json()["error"]


@pytest.mark.parametrize("raw", [b"\xff\xfe{not utf-8", b"[1, 2", b""])
def test_non_utf8_or_broken_bodies_are_400(persona_server: ServerProcess, raw: bytes) -> None:
    answer = httpx.post(persona_server.base + GENERATE, content=raw, timeout=10,
                        headers={"content-type": "application/json"})  # fmt: skip
    assert answer.status_code == 400 and "body" in answer.json()["error"]
    assert httpx.get(persona_server.base + HEALTH, timeout=10).status_code == 200


def test_unknown_model_in_openai_request_is_404(persona_server: ServerProcess) -> None:
    answer = httpx.post(f"{persona_server.base}/v1/chat/completions", timeout=10,
                        json={"model": "gpt-4", "messages": MESSAGES})  # fmt: skip
    assert answer.status_code == 404 and "gpt-4" in answer.json()["error"]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzed_generation_requests_never_get_a_server_error(
    persona_server: ServerProcess, mode: str
) -> None:
    """schemathesis on the generation operations of the server's own /openapi.json (bounded)."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{persona_server.base}/openapi.json")
    operations = [r.ok() for r in schema.include(path_regex="generate|chat/completions").get_all_operations()]
    assert len(operations) == 4, [op.label for op in operations]
    failures: list[str] = []
    for operation in operations:  # each operation gets its own bounded share of examples

        @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
        def call(case: Any) -> None:
            response = case.call(base_url=persona_server.base, timeout=30)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
                )

        call()
    assert not failures, failures[:5]
    assert httpx.get(persona_server.base + HEALTH, timeout=10).status_code == 200


def test_top_k_above_the_vocabulary_is_clamped(persona_server: ServerProcess) -> None:
    """onnxruntime-genai aborts the process on top_k > vocabulary size (found by the fuzz test)."""
    body = {"messages": MESSAGES, "max_new_tokens": 4, "temperature": 1.0, "top_k": 1000}
    assert httpx.post(persona_server.base + GENERATE, json=body, timeout=30).status_code == 200
    assert httpx.get(persona_server.base + HEALTH, timeout=10).status_code == 200


def test_oip_model_metadata_describes_text_in_text_out(persona_server: ServerProcess) -> None:
    meta = httpx.get(f"{persona_server.base}/v2/models/{PERSONA}", timeout=10).json()
    assert meta["platform"] == "onnxruntime_genai"
    assert [i["name"] for i in meta["inputs"]] == ["text_input"] and meta["outputs"][0][
        "name"
    ] == "text_output"
