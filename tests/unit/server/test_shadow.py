"""Shadow mirroring (server/modelops_server/shadow.py) against real candidate servers.

The stable server runs in process (its lifespan, its real Mirror); the candidate is a real
`modelops-server` process, or a real HTTP server that answers slowly, or a closed port. What is proved:
the agreement and score-delta counters, sampling, the bounded queue (dropped, counted), and that the
user's answer is the same and not delayed whatever the candidate does.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelops_server.metrics import ServerMetrics
from modelops_server.shadow import Mirror, Target, _batches, _Job
from support.models import make_model_dir
from support.server_process import ServerProcess, free_port, server_process
from support.serving import MODEL_TYPE, SEED_PREDICT, ServeFn

TEXTS = [f"message number {i} about the weather" for i in range(12)]
DEADLINE_S = 20.0


def _target(path: Path, url: str, fraction: float = 1.0, **extra: object) -> Path:
    document = {"url": url, "version": "v2.0.0", "sampleFraction": fraction, **extra}
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _shadow_counts(metrics_text: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "modelops_shadow_requests_total":
                counts[sample.labels["result"]] = sample.value
            if sample.name in ("modelops_shadow_score_delta_sum", "modelops_shadow_score_delta_count"):
                counts[sample.name.rsplit("_", 1)[1]] = sample.value
    return counts


async def _wait_counts(client: httpx.AsyncClient, done: int) -> dict[str, float]:
    """Poll /metrics until `done` texts have an outcome (agree, disagree or error)."""
    deadline, counts = time.monotonic() + DEADLINE_S, {}
    while time.monotonic() < deadline:
        counts = _shadow_counts((await client.get("/metrics")).text)
        if sum(counts.get(k, 0) for k in ("agree", "disagree", "error")) >= done:
            return counts
        await asyncio.sleep(0.05)  # poll interval, bounded by the deadline
    raise AssertionError(f"{done} mirrored texts not judged within {DEADLINE_S}s: {counts}")


async def _predict_each(client: httpx.AsyncClient) -> list[tuple[dict[str, object], float]]:
    answers = []
    for text in TEXTS:
        started = time.perf_counter()
        response = await client.post(SEED_PREDICT, json={"text": text})
        answers.append((response.json(), time.perf_counter() - started))
        assert response.status_code == 200, response.text
    return answers


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A candidate with the same weights and its two labels swapped: it disagrees on every text."""
    models = tmp_path_factory.mktemp("swapped")
    make_model_dir(models, MODEL_TYPE, "v1.0.0", labels=("risk", "safe"))
    with server_process(models) as running:
        yield running


@pytest.fixture
def slow_candidate() -> Iterator[str]:
    """A real HTTP server that takes 3 s to answer anything."""

    class Slow(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            time.sleep(3)  # the slowness under test
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{SEED_PREDICT}"
    finally:
        httpd.shutdown()


async def test_an_equivalent_candidate_agrees_on_every_mirrored_text(
    serve: ServeFn, server: ServerProcess, tmp_path: Path
) -> None:
    target = _target(tmp_path / "target.json", server.base + SEED_PREDICT)
    async with serve(shadow_config_file=target) as client:
        await _predict_each(client)
        counts = await _wait_counts(client, len(TEXTS))
    assert counts["agree"] == len(TEXTS) and counts.get("disagree", 0) == 0, counts
    assert counts["count"] == len(TEXTS) and counts["sum"] < 1e-3 * len(TEXTS), counts


async def test_a_disagreeing_candidate_is_counted_and_the_user_answer_is_the_stable_one(
    serve: ServeFn, swapped: ServerProcess, tmp_path: Path
) -> None:
    async with serve() as plain:
        expected = [answer for answer, _ in await _predict_each(plain)]
    target = _target(tmp_path / "target.json", swapped.base + SEED_PREDICT)
    async with serve(shadow_config_file=target) as client:
        answers = [answer for answer, _ in await _predict_each(client)]
        counts = await _wait_counts(client, len(TEXTS))
    assert answers == expected
    assert counts["disagree"] == len(TEXTS) and counts.get("agree", 0) == 0, counts


async def test_a_down_candidate_costs_the_user_nothing(serve: ServeFn, tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}{SEED_PREDICT}"
    async with serve(shadow_config_file=_target(tmp_path / "target.json", closed)) as client:
        answers = await _predict_each(client)
        counts = await _wait_counts(client, len(TEXTS))
    assert all(answer["label"] in ("safe", "risk") for answer, _ in answers)
    assert counts["error"] == len(TEXTS), counts


async def test_a_slow_candidate_fills_the_bounded_queue_and_never_delays_the_user(
    serve: ServeFn, slow_candidate: str, tmp_path: Path
) -> None:
    target = _target(tmp_path / "target.json", slow_candidate, queueSize=2, timeoutSeconds=5)
    async with serve(shadow_config_file=target) as client:
        answers = await _predict_each(client)
        counts = _shadow_counts((await client.get("/metrics")).text)
    slowest = max(seconds for _, seconds in answers)
    assert slowest < 1.0, f"a user request took {slowest:.2f}s while the candidate takes 3s"
    # 4 workers hold 4 texts, the queue 2 more: the rest is dropped at once and counted
    assert counts["dropped"] >= len(TEXTS) - 6, counts


def test_sampling_mirrors_about_the_asked_fraction(tmp_path: Path) -> None:
    metrics = ServerMetrics()
    mirror = Mirror(
        _target(tmp_path / "t.json", "http://127.0.0.1:9/p", 0.25, queueSize=10_000), metrics, seed=7
    )
    mirror.reload()
    for _ in range(4000):
        mirror.offer(["a text"], [("safe", {"safe": 0.9, "risk": 0.1})])
    assert 900 <= mirror.queued <= 1100, mirror.queued


def test_the_target_file_is_reread_and_its_absence_turns_mirroring_off(tmp_path: Path) -> None:
    path = tmp_path / "target.json"
    mirror = Mirror(path, ServerMetrics())
    mirror.reload()
    assert mirror.target is None
    _target(path, "http://10.0.0.7:8080/p", 0.5)
    mirror.reload()
    assert mirror.target == Target("http://10.0.0.7:8080/p", "v2.0.0", 0.5)
    path.write_text("{}", encoding="utf-8")  # the operator's "off"
    mirror.reload()
    assert mirror.target is None
    _target(path, "file:///etc/passwd", 0.5)
    mirror.reload()
    assert mirror.target is None, "only an http:// target is ever used"


def test_mirrors_waiting_together_are_merged_per_target_and_bounded() -> None:
    one, two = Target("http://a/p", "v2", 1.0), Target("http://b/p", "v2", 1.0)
    row = ("safe", {"safe": 0.9, "risk": 0.1})
    jobs = [
        _Job(one, ["x"] * 40, [row] * 40),
        _Job(one, ["y"] * 20, [row] * 20),
        _Job(one, ["z"] * 10, [row] * 10),
    ]
    jobs.append(_Job(two, ["w"], [row]))
    assert [(b.target.url, len(b.texts)) for b in _batches(jobs)] == [
        ("http://a/p", 60), ("http://a/p", 10), ("http://b/p", 1),
    ]  # fmt: skip
