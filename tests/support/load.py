"""A real load generator for the e2e rollout tests: a pool of HTTP clients POSTing predictions.

Used by `tests/e2e/test_canary.py` (the share each version answers) and `tests/e2e/test_shadow.py` (user
errors and client-side latency with and without mirroring). A new connection per request, so kube-proxy
picks an endpoint per request; a connection that cannot be opened is retried until a deadline (kube-proxy
rewrites its rules whenever the endpoints change); every answer is recorded with its time, status, the
model version that answered and its latency.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from support.cluster import Poller

CONNECT_RETRY_S = 10.0


@dataclass(frozen=True)
class Answer:
    at: float
    status: int  # 0: no HTTP answer within the connect-retry deadline
    version: str | None
    seconds: float = 0.0  # the request's latency as the client saw it


class Load:
    """A pool of HTTP clients POSTing predictions to the Service until stopped, every answer recorded."""

    def __init__(self, url: str, workers: int = 4, pace_s: float = 0.05) -> None:
        self.url, self.pace_s = url, pace_s
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="load")
        self._workers = workers

    def __enter__(self) -> Load:
        for _ in range(self._workers):
            self._pool.submit(self._run)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True)

    def answers(self, since: float = 0.0, until: float = float("inf")) -> list[Answer]:
        with self._lock:
            return [a for a in self._answers if since <= a.at <= until]

    def wait_for(self, count: int, since: float, timeout: float) -> list[Answer]:
        return Poller(timeout, what=f"{count} answers").until(
            lambda: found if len(found := self.answers(since)) >= count else None
        )

    def _run(self) -> None:
        # A new connection per request: kube-proxy picks an endpoint per connection, so a kept-alive
        # connection would pin a worker to one pod and the share would say nothing about the weights.
        limits = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(timeout=5, limits=limits, headers={"Connection": "close"}) as client:
            while not self._stop.is_set():
                answer = self._send(client)
                with self._lock:
                    self._answers.append(answer)
                self._stop.wait(self.pace_s)  # pacing of the load, not synchronisation

    def _send(self, client: httpx.Client) -> Answer:
        deadline = time.monotonic() + CONNECT_RETRY_S
        while True:
            started = time.monotonic()
            try:
                response = client.post(self.url, json={"text": "hello, how are you today?"})
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if time.monotonic() >= deadline or self._stop.is_set():
                    return Answer(time.monotonic(), 0, None)
                continue
            except httpx.HTTPError:
                return Answer(time.monotonic(), 0, None)
            version = response.json().get("version") if response.status_code == 200 else None
            now = time.monotonic()
            return Answer(now, response.status_code, version, now - started)
