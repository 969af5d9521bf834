"""Streams in chunks: the first piece of text goes at once, later ones at most every `--stream-chunk-ms`,
and the streamed text still equals the non-streamed answer; time to first token and inter-token latency
count decoded pieces of text, however a stream groups them, streaming or not.

The buffer's own rules run on a stepping clock (no timing); the served behaviour runs the real app on
the tiny Llama in process, with intervals chosen so the chunk count is exact (0 and 10 s).
"""

from __future__ import annotations

import math
import re
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from modelops_server.generation_chunks import Chunk, ChunkBuffer, TokenClock
from modelops_server.metrics import ServerMetrics
from modelops_server.settings import ServerSettings, SettingsError
from support.persona import PERSONA, VERSION, PersonaModels
from support.serving import serving, settings_for

GENERATE = f"/api/v1/ml-models/{PERSONA}/generate"
REQUEST = {"messages": [{"role": "user", "content": "Tell me about tea"}], "max_new_tokens": 32,
           "min_new_tokens": 32, "temperature": 0}  # fmt: skip
TTFT = "modelops_generation_time_to_first_token_seconds_count"
INTER = "modelops_generation_inter_token_seconds_count"


def stepping_clock(step_s: float) -> Any:
    """A clock that advances `step_s` each time it is read."""
    ticks = count()
    return lambda: next(ticks) * step_s


def pieces(n: int) -> list[tuple[list[int], str]]:
    return [([i], f"w{i} ") for i in range(n)]


def chunked(interval_s: float, step_s: float, n: int) -> list[Chunk]:
    handed: list[Chunk] = []
    buffer = ChunkBuffer(handed.append, interval_s, stepping_clock(step_s))
    for ids, text in pieces(n):
        buffer.push(ids, text)
    buffer.flush()
    return handed


def test_the_first_piece_goes_at_once_and_chunks_are_bounded_by_the_interval() -> None:
    handed = chunked(interval_s=0.05, step_s=0.001, n=200)  # 200 pieces over 0.2 s
    assert handed[0] == Chunk("w0 ", [0])
    assert len(handed) <= 1 + math.ceil(0.2 / 0.05) + 1
    assert "".join(c.text for c in handed) == "".join(text for _, text in pieces(200))
    assert [i for c in handed for i in c.token_ids] == list(range(200))


def test_interval_zero_hands_over_every_piece() -> None:
    assert chunked(interval_s=0.0, step_s=0.001, n=5) == [Chunk(t, ids) for ids, t in pieces(5)]


def test_take_empties_the_buffer_and_an_empty_flush_hands_nothing() -> None:
    handed: list[Chunk] = []
    buffer = ChunkBuffer(handed.append, 10.0, stepping_clock(0.001))
    buffer.push([1], "a")
    buffer.push([2, 3], "b")
    assert buffer.take() == Chunk("b", [2, 3]) and buffer.take() is None
    buffer.flush()
    assert handed == [Chunk("a", [1])]


def test_the_token_clock_observes_one_first_token_and_the_gaps() -> None:
    metrics = ServerMetrics()
    clock = TokenClock(metrics, arrival=0.0, clock=stepping_clock(0.02))
    for _ in range(5):
        clock.tick()
    text = metrics.render().decode()
    assert _sample(text, TTFT) == 1 and _sample(text, INTER) == 4
    assert _sample(text, "modelops_generation_inter_token_seconds_sum") == pytest.approx(4 * 0.02)


@pytest.mark.parametrize("value", [-1.0, 10_001.0])
def test_the_chunk_interval_is_checked(tmp_path: Path, value: float) -> None:
    with pytest.raises(SettingsError, match=r"stream-chunk-ms must be in 0\.\.10000"):
        settings_for(tmp_path, stream_chunk_ms=value)


def _sample(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _settings(persona: PersonaModels, chunk_ms: float) -> ServerSettings:
    return ServerSettings(models_dir=persona.root, model_type=PERSONA, version=VERSION,
                          work_dir=persona.root.parent / "work", stream_chunk_ms=chunk_ms)  # fmt: skip


async def _stream(client: httpx.AsyncClient) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    answer = await client.post(GENERATE, json={**REQUEST, "stream": True}, timeout=60)
    events = [orjson.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")]
    return events[:-1], events[-1]


async def _counts(client: httpx.AsyncClient) -> tuple[float, float]:
    text = (await client.get("/metrics")).text
    return _sample(text, TTFT), _sample(text, INTER)


async def test_a_long_interval_streams_the_first_piece_then_the_rest(persona: PersonaModels) -> None:
    async with serving(_settings(persona, chunk_ms=10_000)) as client:
        whole = (await client.post(GENERATE, json=REQUEST, timeout=60)).json()
        chunks, final = await _stream(client)
    assert len(whole["token_ids"]) == 32 and len(chunks) == 2
    assert chunks[0]["token_ids"] == whole["token_ids"][: len(chunks[0]["token_ids"])]
    assert "".join(c["text"] for c in chunks) == whole["text"] == final["text"]
    assert [t for c in chunks for t in c["token_ids"]] == whole["token_ids"]


async def test_latency_metrics_count_pieces_streaming_or_not(persona: PersonaModels) -> None:
    async with serving(_settings(persona, chunk_ms=0)) as client:
        start = await _counts(client)
        chunks, _final = await _stream(client)  # interval 0: one event per piece of text
        streamed = await _counts(client)
        await client.post(GENERATE, json=REQUEST, timeout=60)
        plain = await _counts(client)
    assert streamed == (start[0] + 1, start[1] + len(chunks) - 1)
    assert plain == (streamed[0] + 1, streamed[1] + len(chunks) - 1)  # same greedy answer, same pieces
