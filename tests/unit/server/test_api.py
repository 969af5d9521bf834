"""The HTTP API on a healthy model: seed predict, OIP v2, metrics, OpenAPI, bearer auth, test-only faults."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support.models import reference_scores
from support.serving import INFER, MODEL_TYPE, SEED_PREDICT, ServeFn

LABELS = ["safe", "risk"]


def _v1(models_dir: Path) -> Path:
    return models_dir / MODEL_TYPE / "v1.0.0"


async def test_predict_one_text_matches_onnx_runtime(serve: ServeFn, models_dir: Path) -> None:
    text = "I want to hurt myself"
    async with serve() as client:
        response = await client.post(SEED_PREDICT, json={"text": text})
    body = response.json()
    expected = reference_scores(_v1(models_dir), text, LABELS)
    assert response.status_code == 200
    assert (body["model_type"], body["version"], body["label"]) == (MODEL_TYPE, "v1.0.0", "risk")
    assert body["scores"] == pytest.approx(expected, abs=1e-6)


async def test_predict_many_texts_keeps_their_order(serve: ServeFn, models_dir: Path) -> None:
    texts = ["hello friend", "kill attack weapon", "thanks for the help today"]
    async with serve() as client:
        body = (await client.post(SEED_PREDICT, json={"texts": texts})).json()
    for text, prediction in zip(texts, body["predictions"], strict=True):
        assert prediction["scores"] == pytest.approx(
            reference_scores(_v1(models_dir), text, LABELS), abs=1e-6
        )
    assert [p["label"] for p in body["predictions"]] == ["safe", "risk", "safe"]


async def test_oip_text_inference_and_output_selection(serve: ServeFn, models_dir: Path) -> None:
    request = {
        "id": "r1",
        "inputs": [{"name": "text", "shape": [2, 1], "datatype": "BYTES", "data": [["hi"], ["die"]]}],
    }
    async with serve() as client:
        body = (await client.post(INFER, json=request)).json()
        only_label = (await client.post(INFER, json={**request, "outputs": [{"name": "label"}]})).json()
    assert (body["model_name"], body["model_version"], body["id"]) == (MODEL_TYPE, "v1.0.0", "r1")
    label, probabilities = body["outputs"]
    assert label == {"name": "label", "shape": [2], "datatype": "BYTES", "data": ["safe", "risk"]}
    assert probabilities["shape"] == [2, 2] and probabilities["datatype"] == "FP32"
    expected = reference_scores(_v1(models_dir), "die", LABELS)
    assert probabilities["data"][2:] == pytest.approx([expected["safe"], expected["risk"]], abs=1e-6)
    assert [o["name"] for o in only_label["outputs"]] == ["label"]


async def test_oip_tensor_inference_returns_logits(serve: ServeFn) -> None:
    inputs = [
        {"name": "input_ids", "shape": [1, 3], "datatype": "INT64", "data": [2, 5, 3]},
        {"name": "attention_mask", "shape": [1, 3], "datatype": "INT64", "data": [1, 1, 1]},
    ]
    async with serve() as client:
        body = (
            await client.post(f"/v2/models/{MODEL_TYPE}/versions/v1.0.0/infer", json={"inputs": inputs})
        ).json()
    (logits,) = body["outputs"]
    assert (logits["name"], logits["shape"], logits["datatype"]) == ("logits", [1, 2], "FP32")


async def test_oip_health_and_metadata(serve: ServeFn) -> None:
    async with serve() as client:
        assert (await client.get("/v2/health/live")).json() == {"live": True}
        assert (await client.get("/v2/health/ready")).json() == {"ready": True}
        assert (await client.get(f"/v2/models/{MODEL_TYPE}/ready")).status_code == 200
        metadata = (await client.get(f"/v2/models/{MODEL_TYPE}")).json()
        server = (await client.get("/v2")).json()
    assert metadata["name"] == MODEL_TYPE and metadata["versions"] == ["v1.0.0"]
    assert {i["name"] for i in metadata["inputs"]} == {"text", "input_ids", "attention_mask"}
    assert server["name"] == "modelops-server"


async def test_metrics_use_the_agreed_names(serve: ServeFn) -> None:
    async with serve() as client:
        await client.post(SEED_PREDICT, json={"text": "hello"})
        await client.post(SEED_PREDICT, json={"text": ""})
        text = (await client.get("/metrics")).text
    for line in [
        'modelops_requests_total{code="200",endpoint="predict"} 1.0',
        'modelops_requests_total{code="400",endpoint="predict"} 1.0',
        'modelops_request_duration_seconds_count{endpoint="predict"} 1.0',  # the 400 is not a latency sample
        'modelops_predictions_total{label="safe"}',
        f'modelops_model_info{{model_type="{MODEL_TYPE}",version="v1.0.0"}} 1.0',
        "modelops_inference_duration_seconds_count",
        "modelops_batch_size_bucket",
        "modelops_queue_seconds_count",
        "modelops_model_load_seconds ",
    ]:
        assert line in text, line
    (started,) = [
        float(x.split()[1]) for x in text.splitlines() if x.startswith("process_start_time_seconds ")
    ]
    assert 0 < started <= time.time(), started  # a restart shows as a new start time


async def test_openapi_document_lists_the_routes(serve: ServeFn) -> None:
    async with serve() as client:
        document = (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/ml-models/{model_type}/predict" in document["paths"]
    assert "/v2/models/{name}/infer" in document["paths"]


async def test_bearer_token_guards_predict_and_infer_only(serve: ServeFn, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    async with serve(auth_token_file=token_file) as client:
        missing = await client.post(SEED_PREDICT, json={"text": "hello"})
        wrong = await client.post(INFER, json={}, headers={"Authorization": "Bearer nope"})
        good = await client.post(
            SEED_PREDICT, json={"text": "hello"}, headers={"Authorization": "Bearer s3cret"}
        )
        health = await client.get(f"/api/v1/ml-models/{MODEL_TYPE}/health")
        metrics = await client.get("/metrics")
    assert (missing.status_code, wrong.status_code, good.status_code) == (401, 401, 200)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert (health.status_code, metrics.status_code) == (200, 200)


async def test_faults_fail_every_request_of_a_listed_version(serve: ServeFn) -> None:
    async with serve(faults=_faults(1.0, ("v1.0.0",))) as client:
        response = await client.post(SEED_PREDICT, json={"text": "hello"})
        health = await client.get(f"/api/v1/ml-models/{MODEL_TYPE}/health")
    assert response.status_code == 500 and "injected fault" in response.json()["error"]
    assert health.status_code == 200


async def test_faults_spare_versions_not_listed(serve: ServeFn) -> None:
    async with serve(faults=_faults(1.0, ("v9.0.0",))) as client:
        assert (await client.post(SEED_PREDICT, json={"text": "hello"})).status_code == 200


def _faults(rate: float, versions: tuple[str, ...]) -> object:
    from modelops_server.settings import FaultSettings

    return FaultSettings(error_rate=rate, versions=versions)


async def test_metrics_give_the_label_distribution_and_mean_top_score(serve: ServeFn) -> None:
    """What maxLabelShift and maxScoreDelta read: predictions by label and the sum of their top scores."""
    texts = ["hello", "i want to hurt myself", "thanks for the help today", "danger weapon attack"]
    async with serve() as client:
        answer = (await client.post(SEED_PREDICT, json={"texts": texts})).json()
        await client.post(SEED_PREDICT, json={"text": ""})  # 400: no prediction, nothing counted
        text = (await client.get("/metrics")).text
    expected_counts: dict[str, int] = {}
    expected_sums: dict[str, float] = {}
    for row in answer["predictions"]:
        label = row["label"]
        expected_counts[label] = expected_counts.get(label, 0) + 1
        expected_sums[label] = expected_sums.get(label, 0.0) + max(row["scores"].values())
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith(("modelops_predictions_total{", "modelops_prediction_top_score_total{"))
    }
    for label, count in expected_counts.items():
        assert values[f'modelops_predictions_total{{label="{label}"}}'] == count, values
        summed = values[f'modelops_prediction_top_score_total{{label="{label}"}}']
        assert abs(summed - expected_sums[label]) < 1e-4, (label, summed, expected_sums)
    assert sum(v for k, v in values.items() if k.startswith("modelops_predictions_total")) == len(texts)
