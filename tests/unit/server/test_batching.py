"""Dynamic batching: concurrent requests share model runs and get exactly the unbatched answers."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence

import pytest

from modelops_server.batching import Batcher
from modelops_server.metrics import ServerMetrics
from support.serving import SEED_PREDICT, ServeFn

WORDS = ["hello", "friend", "hurt", "today", "kill", "sleep", "happy", "weapon", "talk", "tired"]


def _texts(i: int) -> list[str]:
    """Request i: one to three texts of different lengths (so batches need padding)."""
    return [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(1 + (i + j) % 7)) for j in range(1 + i % 3)]


async def _predict_all(serve: ServeFn, max_batch_size: int) -> tuple[list[object], str]:
    async with serve(max_batch_size=max_batch_size) as client:
        responses = await asyncio.gather(
            *(client.post(SEED_PREDICT, json={"texts": _texts(i)}) for i in range(48))
        )
        metrics = (await client.get("/metrics")).text
    assert {r.status_code for r in responses} == {200}
    return [r.json()["predictions"] for r in responses], metrics


def _batches_run(metrics: str) -> float:
    match = re.search(r"^modelops_batch_size_count (\S+)$", metrics, re.MULTILINE)
    assert match, "modelops_batch_size_count missing from /metrics"
    return float(match.group(1))


async def test_48_concurrent_requests_batched_equal_unbatched(serve: ServeFn) -> None:
    batched, batched_metrics = await _predict_all(serve, max_batch_size=16)
    unbatched, unbatched_metrics = await _predict_all(serve, max_batch_size=1)
    assert _batches_run(unbatched_metrics) == 48
    assert _batches_run(batched_metrics) < 48, "concurrent requests were never grouped"
    for got, want in zip(batched, unbatched, strict=True):
        assert [p["label"] for p in got] == [p["label"] for p in want]  # type: ignore[index]
        for g, w in zip(got, want, strict=True):  # type: ignore[call-overload]
            assert g["scores"] == pytest.approx(w["scores"], abs=1e-5)


class BlockingModel:
    """Records each batch; the first run blocks until released, so later requests must queue."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, texts: Sequence[str]) -> list[str]:
        if not self.batches:
            self.first_started.set()
            assert self.release.wait(10), "test never released the first batch"
        self.batches.append(list(texts))
        if "boom" in texts:
            raise RuntimeError("model failed")
        return [text.upper() for text in texts]


async def _started(batcher: Batcher[str], model: BlockingModel) -> asyncio.Task[list[str]]:
    batcher.start()
    first = asyncio.create_task(batcher.submit(["a"]))
    assert await asyncio.to_thread(model.first_started.wait, 10), "first batch never started"
    return first


async def test_requests_queued_behind_a_running_batch_form_the_next_batch() -> None:
    model = BlockingModel()
    batcher: Batcher[str] = Batcher(model, ServerMetrics(), max_batch_size=4, max_batch_delay_ms=0)
    first = await _started(batcher, model)
    queued = [batcher.enqueue(texts) for texts in (["b"], ["c", "d"], ["e"], ["f"])]  # all queued now
    model.release.set()
    results = await asyncio.gather(first, *queued)
    await batcher.stop()
    assert results == [["A"], ["B"], ["C", "D"], ["E"], ["F"]]
    assert model.batches == [["a"], ["b", "c", "d", "e"], ["f"]]


async def test_a_failing_batch_fails_each_of_its_requests_and_the_batcher_continues() -> None:
    model = BlockingModel()
    batcher: Batcher[str] = Batcher(model, ServerMetrics(), max_batch_size=8, max_batch_delay_ms=0)
    first = await _started(batcher, model)
    doomed = [batcher.enqueue(t) for t in (["boom"], ["x"])]
    model.release.set()
    assert await first == ["A"]
    for task in doomed:
        with pytest.raises(RuntimeError, match="model failed"):
            await task
    assert await batcher.submit(["later"]) == ["LATER"]
    await batcher.stop()
