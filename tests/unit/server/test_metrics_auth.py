"""metricsAuth on the server: /metrics and the health details need the metrics token; the probe paths
(/v2/health/live, /v2/health/ready) stay open and answer a bare boolean; predict is not affected."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from modelops.vocabulary import METRICS_TOKEN_HEADER
from modelops_operator.analysis.samples import REQUESTS, bucket_key, parse_exposition
from modelops_server.settings import SettingsError
from support.serving import MODEL_TYPE, SEED_HEALTH, SEED_PREDICT, ServeFn, settings_for

TOKEN = "m3trics-t0ken"
MODEL_READY = f"/v2/models/{MODEL_TYPE}/ready"
DETAILS = ("/metrics", SEED_HEALTH, MODEL_READY)


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics-token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.mark.parametrize("path", DETAILS)
async def test_details_need_the_metrics_token(serve: ServeFn, token_file: Path, path: str) -> None:
    async with serve(metrics_token_file=token_file) as client:
        missing = await client.get(path)
        wrong = await client.get(path, headers={METRICS_TOKEN_HEADER: "nope"})
        wrong_bearer = await client.get(path, headers={"Authorization": "Bearer nope"})
        by_header = await client.get(path, headers={METRICS_TOKEN_HEADER: TOKEN})
        by_bearer = await client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert (missing.status_code, wrong.status_code, wrong_bearer.status_code) == (401, 401, 401)
    for refused in (missing, wrong, wrong_bearer):
        assert "metrics token" in refused.json()["error"]
        assert "v1.0.0" not in refused.text and "healthy" not in refused.text, refused.text
    assert (by_header.status_code, by_bearer.status_code) == (200, 200), by_header.text


async def test_probe_paths_stay_open_and_reveal_nothing(serve: ServeFn, token_file: Path) -> None:
    async with serve(metrics_token_file=token_file) as client:
        live = await client.get("/v2/health/live")
        ready = await client.get("/v2/health/ready")
    assert (live.status_code, live.json()) == (200, {"live": True})
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


async def test_predict_is_not_behind_the_metrics_token(serve: ServeFn, token_file: Path) -> None:
    async with serve(metrics_token_file=token_file) as client:
        answer = await client.post(SEED_PREDICT, json={"text": "hello"})
    assert answer.status_code == 200, answer.text


async def test_refused_scrapes_are_counted_as_4xx(serve: ServeFn, token_file: Path) -> None:
    async with serve(metrics_token_file=token_file) as client:
        await client.get("/metrics")
        text = (await client.get("/metrics", headers={METRICS_TOKEN_HEADER: TOKEN})).text
    assert 'modelops_requests_total{code="401",endpoint="metrics"} 1.0' in text, text


async def test_without_metrics_auth_everything_stays_open(serve: ServeFn) -> None:
    async with serve() as client:
        codes = [(await client.get(path)).status_code for path in DETAILS]
    assert codes == [200, 200, 200]


def test_an_empty_metrics_token_file_stops_the_server(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SettingsError, match=r"metrics token file .* is empty"):
        settings_for(tmp_path, metrics_token_file=empty).read_metrics_token()


async def test_refused_callers_count_neither_as_requests_nor_in_the_latency(
    serve: ServeFn, tmp_path: Path
) -> None:
    """What the operator's analysis reads: 401s are neither served requests nor latency samples."""
    auth = tmp_path / "auth"
    auth.write_text("p")
    async with serve(auth_token_file=auth) as client:
        for _ in range(5):
            assert (await client.post(SEED_PREDICT, json={"text": "x"})).status_code == 401
        for _ in range(2):
            good = await client.post(SEED_PREDICT, json={"text": "x"}, headers={"Authorization": "Bearer p"})
            assert good.status_code == 200
        text = (await client.get("/metrics")).text
    counters = parse_exposition(text)
    assert counters[REQUESTS] == 2 and counters[bucket_key(math.inf)] == 2, counters
    assert 'modelops_requests_total{code="401",endpoint="predict"} 5.0' in text
