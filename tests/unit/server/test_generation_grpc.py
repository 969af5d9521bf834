"""Text generation over gRPC (`modelops.generation.v1.GenerationService`) against the real server process
serving the tiny Llama, through a real grpc channel: greedy output equals the REST API's token for token,
the stream's chunks add up to the unary answer, a cancelled stream frees its slot at once, a full server
answers RESOURCE_EXHAUSTED with a retry hint, every bad field is INVALID_ARGUMENT naming it, and the
bearer token guards it as it guards REST.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from modelops_server.grpc_protocol import GENERATION_SERVICE, message
from support.persona import PERSONA, VERSION, PersonaModels
from support.server_process import ServerProcess, metric, poll, server_process

GENERATE = f"/api/v1/ml-models/{PERSONA}/generate"
MESSAGES = [
    {"role": "system", "content": "You are kind."},
    {"role": "user", "content": "I feel a bit tired today. Caf\u00e9?"},
]
ACTIVE = "modelops_generations_active"
CANCELLED = 'modelops_generations_total{finish_reason="cancelled"}'
# far more tokens than any check below waits for (seconds on the tiny model)
LONG = {"messages": [{"role": "user", "content": "Tell me a long story"}], "max_new_tokens": 30000,
        "min_new_tokens": 30000, "temperature": 0.9, "seed": 1}  # fmt: skip
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def one_slot(persona: PersonaModels) -> Iterator[ServerProcess]:
    """One generation at a time, no queue, long generations allowed; REST and gRPC on loopback."""
    with server_process(
        persona.root, "--version", VERSION, "--max-generations", "1", "--max-queued-generations", "0",
        "--max-new-tokens", "30000", "--max-prompt-tokens", "256", model_type=PERSONA,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def channel(one_slot: ServerProcess) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(one_slot.grpc) as opened:
        yield opened


def request(body: dict[str, Any]) -> Any:
    """A GenerateRequest with the seed API's fields."""
    return message("GenerateRequest")(**body)


def unary(channel: grpc.Channel) -> Any:
    return channel.unary_unary(
        f"/{GENERATION_SERVICE}/Generate",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=message("GenerateResponse").FromString,
    )


def streaming(channel: grpc.Channel) -> Any:
    return channel.unary_stream(
        f"/{GENERATION_SERVICE}/GenerateStream",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=message("GenerateStreamResponse").FromString,
    )


def test_greedy_grpc_output_equals_rest_token_for_token(
    one_slot: ServerProcess, channel: grpc.Channel
) -> None:
    body = {"messages": MESSAGES, "max_new_tokens": 40, "temperature": 0}
    rest = httpx.post(one_slot.base + GENERATE, json=body, timeout=TIMEOUT_S).json()
    answer = unary(channel)(request(body), timeout=TIMEOUT_S)
    assert list(answer.token_ids) == rest["token_ids"] and answer.text == rest["text"]
    assert answer.finish_reason == rest["finish_reason"]
    usage = {"prompt_tokens": answer.usage.prompt_tokens, "completion_tokens": answer.usage.completion_tokens,
             "total_tokens": answer.usage.total_tokens}  # fmt: skip
    assert usage == rest["usage"]
    assert (answer.model_name, answer.model_version) == (PERSONA, VERSION)


def test_stream_chunks_add_up_to_the_unary_answer(channel: grpc.Channel) -> None:
    body = request({"messages": MESSAGES, "max_new_tokens": 48, "temperature": 0})
    whole = unary(channel)(body, timeout=TIMEOUT_S)
    events = list(streaming(channel)(body, timeout=TIMEOUT_S))
    chunks, final = events[:-1], events[-1]
    assert len(chunks) > 1 and all(e.WhichOneof("event") == "chunk" for e in chunks)
    assert final.WhichOneof("event") == "final" and final.final == whole
    assert "".join(e.chunk.text for e in chunks) == whole.text
    assert [t for e in chunks for t in e.chunk.token_ids] == list(whole.token_ids)


def test_a_seed_makes_grpc_sampling_reproducible(channel: grpc.Channel) -> None:
    body = request({"messages": MESSAGES, "max_new_tokens": 24, "temperature": 1.0, "top_p": 0.95, "seed": 7})
    first, again = unary(channel)(body, timeout=TIMEOUT_S), unary(channel)(body, timeout=TIMEOUT_S)
    assert list(first.token_ids) == list(again.token_ids)


def test_cancelling_a_stream_frees_the_slot(one_slot: ServerProcess, channel: grpc.Channel) -> None:
    before = metric(one_slot, CANCELLED)
    call = streaming(channel)(request(LONG), timeout=TIMEOUT_S)
    assert next(call).WhichOneof("event") == "chunk"
    assert metric(one_slot, ACTIVE) == 1.0
    call.cancel()
    poll(one_slot, ACTIVE, 0.0)
    poll(one_slot, CANCELLED, before + 1)
    after = unary(channel)(request({**LONG, "max_new_tokens": 4, "min_new_tokens": 0}), timeout=TIMEOUT_S)
    assert len(after.token_ids) == 4


def test_a_full_server_is_resource_exhausted_with_a_retry_hint(
    one_slot: ServerProcess, channel: grpc.Channel
) -> None:
    call = streaming(channel)(request(LONG), timeout=TIMEOUT_S)
    assert next(call).WhichOneof("event") == "chunk"
    try:
        with pytest.raises(grpc.RpcError) as refused:
            unary(channel)(request({"messages": MESSAGES, "max_new_tokens": 4}), timeout=TIMEOUT_S)
    finally:
        call.cancel()
    error: Any = refused.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "slots are busy" in error.details()
    trailers = dict(error.trailing_metadata())
    assert int(trailers["retry-after"]) >= 1
    assert int(trailers["grpc-retry-pushback-ms"]) == 1000 * int(trailers["retry-after"])
    poll(one_slot, ACTIVE, 0.0)


BAD_REQUESTS = [
    ({"messages": []}, "'messages'"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "role"),
    ({"messages": [{"role": "user", "content": ""}]}, "no content"),
    ({"messages": [{"role": "user", "content": "word " * 400}]}, "tokens long"),
    ({"messages": MESSAGES, "max_new_tokens": 0}, "'max_new_tokens'"),
    ({"messages": MESSAGES, "max_new_tokens": 10**12}, "'max_new_tokens'"),
    ({"messages": MESSAGES, "min_new_tokens": -1}, "'min_new_tokens'"),
    ({"messages": MESSAGES, "temperature": -0.5}, "'temperature'"),
    ({"messages": MESSAGES, "top_p": 0}, "'top_p'"),
    ({"messages": MESSAGES, "top_k": 0}, "'top_k'"),
    ({"messages": MESSAGES, "seed": -3}, "'seed'"),
]


@pytest.mark.parametrize(("body", "field"), BAD_REQUESTS)
@pytest.mark.parametrize("method", ["Generate", "GenerateStream"])
def test_bad_requests_are_invalid_argument_naming_the_field(
    one_slot: ServerProcess, channel: grpc.Channel, method: str, body: dict[str, Any], field: str
) -> None:
    call = unary(channel) if method == "Generate" else streaming(channel)
    with pytest.raises(grpc.RpcError) as caught:
        answer = call(request(body), timeout=TIMEOUT_S)
        list(answer) if method == "GenerateStream" else answer
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in error.details()
    assert metric(one_slot, ACTIVE) == 0.0


def test_undecodable_bytes_and_an_unknown_model_are_refused(channel: grpc.Channel) -> None:
    raw = channel.unary_unary(f"/{GENERATION_SERVICE}/Generate")
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"\xff\xff\xff", timeout=TIMEOUT_S)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "protobuf" in error.details()
    with pytest.raises(grpc.RpcError) as caught:
        unary(channel)(request({"model_name": "gpt-4", "messages": MESSAGES}), timeout=TIMEOUT_S)
    error = caught.value
    assert error.code() == grpc.StatusCode.NOT_FOUND and "gpt-4" in error.details()


def test_the_bearer_token_guards_grpc_generation(persona: PersonaModels, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("s3cret\n", encoding="utf-8")
    args = ("--version", VERSION, "--auth-token-file", str(token))
    with (
        server_process(persona.root, *args, model_type=PERSONA) as running,
        grpc.insecure_channel(running.grpc) as opened,
    ):
        body = request({"messages": MESSAGES, "max_new_tokens": 4, "min_new_tokens": 4, "temperature": 0})
        with pytest.raises(grpc.RpcError) as caught:
            unary(opened)(body, timeout=TIMEOUT_S)
        error: Any = caught.value
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = unary(opened)(body, timeout=TIMEOUT_S, metadata=(("authorization", "Bearer s3cret"),))
        assert len(answer.token_ids) == 4
