"""The operator's rollback analysis judges a text-generation model from a real server's /metrics.

Two real `modelops-server` processes serve the tiny Llama: one healthy, one with the test-only
`--fault-latency-ms` (what `MODELOPS_SERVER_FAULT_LATENCY_MS` sets in a pod), which delays every
generation before its first token. Generations go through all three generation endpoints; the analysis
reads each process's /metrics text, directly (as through the pod proxy) and as a Prometheus answer
filtered by the operator's own selector, and must fail the slow version on its time to first token
(p99 limit and regression against the healthy one), pass the healthy one, and call too few generations
inconclusive.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from modelops_operator.analysis.decision import Figures, Phase, Thresholds, decide, figures_from_totals
from modelops_operator.analysis.samples import parse_exposition
from modelops_operator.analysis.scrape import Targets, scrape_prometheus
from modelops_operator.analysis.window import WindowState, advance, totals
from support.persona import PERSONA, PersonaModels
from support.recorded_metrics import prometheus_answer_from_text
from support.server_process import ServerProcess, server_process

FAULT_MS = 400  # TTFT lands in the (0.25, 0.5] s bucket: p99 ≈ 500 ms, twice the limit's bucket
THRESHOLDS = Thresholds.from_spec(
    {
        "windowSeconds": 60,
        "maxErrorRate": 0.05,
        "maxLatencyP99Ms": 250,
        "maxRegression": 1.5,
        "minRequests": 12,
    }
)
MESSAGES = [{"role": "user", "content": "Hello, how are you today?"}]


def _server(persona: PersonaModels, *extra: str) -> Iterator[ServerProcess]:
    with server_process(
        persona.root, "--version", "v1.0.0", "--public-key", str(persona.public_key), "--require-signature",
        "--max-new-tokens", "8", *extra, model_type=PERSONA,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def healthy(persona: PersonaModels) -> Iterator[ServerProcess]:
    yield from _server(persona)


@pytest.fixture(scope="module")
def slow(persona: PersonaModels) -> Iterator[ServerProcess]:
    yield from _server(persona, "--fault-latency-ms", str(FAULT_MS))


def metrics_text(server: ServerProcess) -> str:
    response = httpx.get(server.base + "/metrics", timeout=10)
    response.raise_for_status()
    return response.text


def generate(server: ServerProcess, count: int) -> None:
    """`count` generations, spread over the seed, OpenAI and OIP generate endpoints (all must answer 200)."""
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            f"/api/v1/ml-models/{PERSONA}/generate",
            {"messages": MESSAGES, "max_new_tokens": 4, "temperature": 0},
        ),
        ("/v1/chat/completions", {"model": PERSONA, "messages": MESSAGES, "max_tokens": 4, "temperature": 0}),
        (f"/v2/models/{PERSONA}/generate", {"text_input": "Hello", "parameters": {"max_tokens": 4}}),
    ]
    for index in range(count):
        path, body = calls[index % len(calls)]
        response = httpx.post(server.base + path, json=body, timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text)


def window_figures(server: ServerProcess, count: int) -> tuple[Figures, str, str]:
    """Open a window on the process, serve `count` generations, and return the figures and both texts."""
    before = metrics_text(server)
    generate(server, count)
    after = metrics_text(server)
    state = advance(
        advance(WindowState(), {"pod": parse_exposition(before)}), {"pod": parse_exposition(after)}
    )
    return figures_from_totals(totals(state)), before, after


def via_prometheus(before: str, after: str) -> Figures:
    """The same window read through the Prometheus query path, filtered by the operator's selector."""
    targets = Targets(namespace="ns", pods={"pod": "v1"}, version="v1")
    state = WindowState()
    for text in (before, after):
        snapshot = scrape_prometheus(targets, lambda promql, text=text: _select(promql, {"pod": text}))
        state = advance(state, snapshot.candidate)
    return figures_from_totals(totals(state))


def _select(promql: str, texts: dict[str, str]) -> Mapping[str, Any]:
    names = re.search(r'__name__=~"([^"]+)"', promql)
    assert names is not None, promql
    answer = prometheus_answer_from_text("ns", texts)
    kept = [s for s in answer["data"]["result"] if re.fullmatch(names.group(1), s["metric"]["__name__"])]
    return {**answer, "data": {**answer["data"], "result": kept}}


def test_a_version_whose_time_to_first_token_regresses_fails(
    healthy: ServerProcess, slow: ServerProcess
) -> None:
    stable, _, _ = window_figures(healthy, 15)
    candidate, before, after = window_figures(slow, 15)

    verdict = decide(THRESHOLDS, candidate, stable, elapsed_s=20, baseline_expected=True)

    assert verdict.phase is Phase.FAILED, verdict.message
    assert candidate.requests == 15 and candidate.errors == 0
    assert "exceeds maxLatencyP99Ms 250" in verdict.message and "above maxRegression 1.5" in verdict.message
    assert candidate.p99_ms is not None and candidate.p99_ms > FAULT_MS
    assert via_prometheus(before, after) == candidate  # the Prometheus path reads the same figures


def test_a_healthy_version_passes(healthy: ServerProcess) -> None:
    candidate, before, after = window_figures(healthy, 15)

    verdict = decide(THRESHOLDS, candidate, None, elapsed_s=60)

    assert verdict.phase is Phase.PASSED, verdict.message
    assert candidate.requests == 15 and candidate.p99_ms is not None and candidate.p99_ms <= 250
    assert via_prometheus(before, after) == candidate


def test_too_few_generations_are_inconclusive(healthy: ServerProcess) -> None:
    candidate, _, _ = window_figures(healthy, 3)

    verdict = decide(THRESHOLDS, candidate, None, elapsed_s=60)

    assert verdict.phase is Phase.INCONCLUSIVE, verdict.message
    assert "only 3 requests" in verdict.message
