"""Dynamic batching: concurrent requests share one model run, and the model never runs on the event loop.

The data plane submits each request's texts; one worker task groups what is queued (up to
`max_batch_size` rows) and runs it in a single inference thread. Batching is adaptive: when the worker is
idle a request runs at once (no fixed wait); while a batch is running the next requests queue up and form
the next batch. Only when the previous batch found a backlog does the worker wait up to
`max_batch_delay_ms` to fill a batch. With `max_batch_size == 1` every request runs alone (no batching).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from modelops_server.metrics import ServerMetrics

Row = TypeVar("Row")


@dataclass
class _Job(Generic[Row]):
    texts: Sequence[str]
    future: asyncio.Future[list[Row]]
    queued_at: float = field(default_factory=time.perf_counter)


class Batcher(Generic[Row]):
    """Groups submitted texts into model runs of `run_batch(texts) -> one result per text`."""

    def __init__(
        self,
        run_batch: Callable[[Sequence[str]], list[Row]],
        metrics: ServerMetrics,
        max_batch_size: int,
        max_batch_delay_ms: float,
    ) -> None:
        self._run_batch = run_batch
        self._metrics = metrics
        self._max_rows = max_batch_size
        self._delay_s = max_batch_delay_ms / 1000.0
        self._pending: deque[_Job[Row]] = deque()
        self._wakeup = asyncio.Event()
        self._backlog = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker task on the running loop."""
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="batcher")

    async def stop(self) -> None:
        """Stop the worker and the inference thread; pending requests fail with CancelledError."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        for job in self._pending:
            job.future.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: Sequence[str]) -> list[Row]:
        """Queue texts and wait for their results (same order)."""
        return await self.enqueue(texts)

    def enqueue(self, texts: Sequence[str]) -> asyncio.Future[list[Row]]:
        """Queue texts now (no await) and return the future of their results."""
        job: _Job[Row] = _Job(texts, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._wakeup.set()
        return job.future

    async def run_in_thread(self, function: Callable[[], Any]) -> Any:
        """Run other model work (raw tensors, warm-up) on the same inference thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, function)

    async def _work(self) -> None:
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            if self._backlog and self._delay_s > 0 and self._queued_rows() < self._max_rows:
                await asyncio.sleep(self._delay_s)
            jobs = self._take()
            await self._run(jobs)
            self._backlog = bool(self._pending)

    def _queued_rows(self) -> int:
        return sum(len(job.texts) for job in self._pending)

    def _take(self) -> list[_Job[Row]]:
        jobs = [self._pending.popleft()]
        rows = len(jobs[0].texts)
        while self._pending and rows + len(self._pending[0].texts) <= self._max_rows:
            job = self._pending.popleft()
            rows += len(job.texts)
            jobs.append(job)
        return jobs

    async def _run(self, jobs: list[_Job[Row]]) -> None:
        started = time.perf_counter()
        texts = [text for job in jobs for text in job.texts]
        for job in jobs:
            self._metrics.queue_seconds.observe(started - job.queued_at)
        self._metrics.batch_size.observe(len(texts))
        try:
            results = await asyncio.get_running_loop().run_in_executor(self.executor, self._run_batch, texts)
        except Exception as error:  # every waiting request gets the model's failure
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
            return
        finally:
            self._metrics.inference_duration.observe(time.perf_counter() - started)
        self._deliver(jobs, results)

    @staticmethod
    def _deliver(jobs: list[_Job[Row]], results: list[Row]) -> None:
        offset = 0
        for job in jobs:
            count = len(job.texts)
            if not job.future.done():
                job.future.set_result(results[offset : offset + count])
            offset += count
