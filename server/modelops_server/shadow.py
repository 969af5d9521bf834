"""Shadow mirroring: copy a sampled share of live predictions to a candidate version, off the request path.

During a `Shadow` rollout the operator writes the mirror target (the candidate's own ClusterIP Service,
computed by the operator, never taken from a user's spec) into a ConfigMap mounted in every server pod;
`Mirror.reload` re-reads that file about once a second, so mirroring starts and stops without a restart.
`app.Routes.predict` calls `Mirror.offer` after the user's answer is computed: a sampled request is put
on a bounded queue (dropped and counted when full) and the call returns at once, so the user's answer is
never delayed or altered. Worker tasks send the texts to the candidate (mirrors that waited together go
in one request) and record, per text, whether the candidate's top label agrees with this server's and
the absolute difference of the two top scores.
The operator reads these counters from this pod's /metrics (`modelops_shadow_*`, labelled with the
candidate version) and judges the candidate on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from modelops_server.logs import get_logger
from modelops_server.metrics import ServerMetrics

LOG = get_logger("shadow")
Prediction = tuple[str, dict[str, float]]
RELOAD_SECONDS = 1.0
WORKERS = 4
MERGED_JOBS, MERGED_TEXTS = 16, 64  # mirrors waiting together are sent as one request (less CPU each)
AGREE, DISAGREE, ERROR, DROPPED = "agree", "disagree", "error", "dropped"


@dataclass(frozen=True)
class Target:
    """Where and how much to mirror (the ConfigMap's `target.json`, written by the operator)."""

    url: str
    version: str
    sample_fraction: float
    timeout_seconds: float = 2.0
    queue_size: int = 64

    @classmethod
    def parse(cls, text: str) -> Target | None:
        """The target in `text`; None when mirroring is off (empty document) or the document is invalid."""
        document = json.loads(text) if text.strip() else {}
        if not document:
            return None
        url = str(document["url"])
        if not url.startswith("http://"):
            raise ValueError(f"shadow target url must be http://, not {url!r}")
        target = cls(
            url=url,
            version=str(document["version"]),
            sample_fraction=float(document["sampleFraction"]),
            timeout_seconds=float(document.get("timeoutSeconds", 2.0)),
            queue_size=int(document.get("queueSize", 64)),
        )
        if not 0.0 <= target.sample_fraction <= 1.0 or target.queue_size < 1 or target.timeout_seconds <= 0:
            raise ValueError(f"shadow target out of range: {document}")
        return target


@dataclass(frozen=True)
class _Job:
    target: Target
    texts: list[str]
    rows: list[Prediction]


class Mirror:
    """The mirror of one server process: target file, sampling, bounded queue, workers, metrics."""

    def __init__(
        self,
        config_file: Path | None,
        metrics: ServerMetrics,
        *,
        auth_token: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.config_file = config_file
        self.metrics = metrics
        self.target: Target | None = None
        self._headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
        self._random = random.Random(seed)
        self._queue: asyncio.Queue[_Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._seen: str | None = None

    async def start(self) -> None:
        """Read the target once and start the reload loop and the workers (nothing without a file)."""
        if self.config_file is None:
            return
        self.reload()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._reload_forever(), name="shadow-reload")]
        self._tasks += [loop.create_task(self._work(), name=f"shadow-{i}") for i in range(WORKERS)]

    async def stop(self) -> None:
        """Cancel the workers (queued mirrors are dropped) and close the client."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def reload(self) -> None:
        """Re-read the target file when its text changed; a missing file means mirroring is off."""
        try:
            text = self.config_file.read_text(encoding="utf-8") if self.config_file else ""
        except OSError:
            text = ""
        if text == self._seen:
            return
        self._seen = text
        try:
            target = Target.parse(text)
        except (ValueError, KeyError, TypeError) as error:
            LOG.warning("shadow target ignored: %s", error)
            target = None
        if target != self.target:
            LOG.info("shadow mirroring %s", f"to {target.url} ({target.version})" if target else "off")
        if target is not None and (self._queue is None or self._queue.maxsize != target.queue_size):
            self._queue = asyncio.Queue(maxsize=target.queue_size)
        self.target = target
        self.metrics.shadow_fraction.set(target.sample_fraction if target else 0.0)

    @property
    def queued(self) -> int:
        """Mirrors waiting for a worker."""
        return self._queue.qsize() if self._queue is not None else 0

    def offer(self, texts: Sequence[str], rows: Sequence[Prediction]) -> None:
        """Maybe mirror one answered request; returns at once whatever happens."""
        target, queue = self.target, self._queue
        if target is None or queue is None or self._random.random() >= target.sample_fraction:
            return
        try:
            queue.put_nowait(_Job(target, list(texts), list(rows)))
        except asyncio.QueueFull:
            self.metrics.shadow_requests.labels(target.version, DROPPED).inc(len(texts))

    async def _reload_forever(self) -> None:
        while True:
            await asyncio.sleep(RELOAD_SECONDS)
            self.reload()

    async def _work(self) -> None:
        while True:
            queue = self._queue
            if queue is None:
                await asyncio.sleep(RELOAD_SECONDS)
                continue
            jobs = [await queue.get()]
            while len(jobs) < MERGED_JOBS and not queue.empty():
                jobs.append(queue.get_nowait())  # what waited meanwhile goes in the same request
            for batch in _batches(jobs):
                with contextlib.suppress(Exception):  # a mirror never takes the server down
                    await self._mirror(batch)

    async def _mirror(self, job: _Job) -> None:
        requests = self.metrics.shadow_requests
        try:
            answers = await self._ask(job.target, job.texts)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            LOG.debug("shadow request failed: %s", error)
            requests.labels(job.target.version, ERROR).inc(len(job.texts))
            return
        for (label, scores), (their_label, their_scores) in zip(job.rows, answers, strict=True):
            requests.labels(job.target.version, AGREE if label == their_label else DISAGREE).inc()
            delta = abs(float(scores[label]) - float(their_scores[their_label]))
            self.metrics.shadow_score_delta.labels(job.target.version).observe(delta)

    async def _ask(self, target: Target, texts: list[str]) -> list[Prediction]:
        if self._client is None:
            self._client = httpx.AsyncClient()
        response = await self._client.post(
            target.url, json={"texts": texts}, headers=self._headers, timeout=target.timeout_seconds
        )
        response.raise_for_status()
        predictions: list[dict[str, Any]] = response.json()["predictions"]
        if len(predictions) != len(texts):
            raise ValueError(f"{len(predictions)} predictions for {len(texts)} texts")
        return [(str(p["label"]), {str(k): float(v) for k, v in p["scores"].items()}) for p in predictions]


def _batches(jobs: list[_Job]) -> list[_Job]:
    """Consecutive jobs of one target merged, at most MERGED_TEXTS texts per request (one job may be more)."""
    batches: list[_Job] = []
    for job in jobs:
        last = batches[-1] if batches else None
        if last is None or last.target != job.target or len(last.texts) + len(job.texts) > MERGED_TEXTS:
            batches.append(job)
        else:
            batches[-1] = _Job(job.target, last.texts + job.texts, last.rows + job.rows)
    return batches


logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per mirrored request is noise
