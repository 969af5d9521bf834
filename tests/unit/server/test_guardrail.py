"""The guardrail of a text-generation server, against a real safety-classifier server process: a message
whose risk score reaches the threshold is answered with the crisis response (no generation, verdict in
the response and in a metric); below it the model generates; a classifier that cannot answer fails the
request closed (503).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from modelops_server.settings import ServerSettings
from support.persona import PERSONA, VERSION, PersonaModels
from support.server_process import ServerProcess, free_port
from support.serving import MODEL_TYPE, serving

GENERATE = f"/api/v1/ml-models/{PERSONA}/generate"
RISK_TEXT = "I don't want to be here anymore"
CRISIS = "Please call your local emergency number or a crisis line now."


def _settings(persona: PersonaModels, tmp_path: Path, url: str, threshold: float) -> ServerSettings:
    return ServerSettings(
        models_dir=persona.root, model_type=PERSONA, version=VERSION, work_dir=tmp_path / "work",
        guardrail_url=url, guardrail_threshold=threshold, crisis_response=CRISIS,
    )  # fmt: skip


def _risk(server: ServerProcess, text: str) -> float:
    answer = httpx.post(
        f"{server.base}/api/v1/ml-models/{MODEL_TYPE}/predict", json={"text": text}, timeout=10
    )
    return float(answer.json()["scores"]["risk"])


async def test_a_risk_message_gets_the_crisis_response(
    server: ServerProcess, persona: PersonaModels, tmp_path: Path
) -> None:
    url = f"{server.base}/api/v1/ml-models/{MODEL_TYPE}/predict"
    score = _risk(server, RISK_TEXT)
    body: dict[str, Any] = {"messages": [{"role": "user", "content": RISK_TEXT}], "max_new_tokens": 8}
    async with serving(_settings(persona, tmp_path, url, threshold=score)) as client:
        blocked = (await client.post(GENERATE, json=body)).json()
        chat = (await client.post("/v1/chat/completions", json=body)).json()
        metrics = (await client.get("/metrics")).text
    assert blocked["text"] == CRISIS and blocked["finish_reason"] == "guardrail"
    assert blocked["guardrail"] == {"label": blocked["guardrail"]["label"], "risk_score": round(score, 6),
                                    "blocked": True}  # fmt: skip
    assert blocked["usage"]["completion_tokens"] == 0
    assert chat["choices"][0]["message"]["content"] == CRISIS
    assert chat["choices"][0]["finish_reason"] == "content_filter" and chat["guardrail"]["blocked"]
    assert 'modelops_guardrail_verdicts_total{verdict="blocked"} 2.0' in metrics


async def test_below_the_threshold_the_model_generates(
    server: ServerProcess, persona: PersonaModels, tmp_path: Path
) -> None:
    url = f"{server.base}/api/v1/ml-models/{MODEL_TYPE}/predict"
    score = _risk(server, RISK_TEXT)
    body = {"messages": [{"role": "user", "content": RISK_TEXT}], "max_new_tokens": 8, "stream": True}
    async with serving(_settings(persona, tmp_path, url, threshold=min(1.0, score + 1e-3))) as client:
        streamed = (await client.post(GENERATE, json=body)).text
        metrics = (await client.get("/metrics")).text
    assert CRISIS not in streamed and '"blocked":false' in streamed
    assert 'modelops_guardrail_verdicts_total{verdict="allowed"} 1.0' in metrics


async def test_an_unreachable_classifier_fails_closed(persona: PersonaModels, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1/ml-models/{MODEL_TYPE}/predict"
    body = {"messages": [{"role": "user", "content": "hello"}], "max_new_tokens": 4}
    async with serving(_settings(persona, tmp_path, url, threshold=0.5)) as client:
        answer = await client.post(GENERATE, json=body)
    assert answer.status_code == 503 and "guardrail classifier did not answer" in answer.json()["error"]
