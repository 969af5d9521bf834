"""Malformed requests get a 4xx with a clear message, and the server keeps serving afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from support.serving import INFER, MODEL_TYPE, SEED_PREDICT, ServeFn

IDS = {"name": "input_ids", "shape": [1, 2], "datatype": "INT64", "data": [2, 3]}
MASK = {"name": "attention_mask", "shape": [1, 2], "datatype": "INT64", "data": [1, 1]}

CASES: list[tuple[str, Any, int, str]] = [
    (SEED_PREDICT, b"{not json", 400, "not valid JSON"),
    (SEED_PREDICT, b"", 400, "body is empty"),
    (SEED_PREDICT, [1, 2], 400, "must be a JSON object"),
    (SEED_PREDICT, {}, 400, "exactly one of 'text'"),
    (SEED_PREDICT, {"text": "a", "texts": ["b"]}, 400, "exactly one of 'text'"),
    (SEED_PREDICT, {"txt": "a"}, 400, "unknown field 'txt'"),
    (SEED_PREDICT, {"text": 5}, 400, "'text'[0] must be a string, got int"),
    (SEED_PREDICT, {"text": "   "}, 400, "'text'[0] is empty"),
    (SEED_PREDICT, {"texts": []}, 400, "non-empty list"),
    (SEED_PREDICT, {"texts": "abc"}, 400, "non-empty list"),
    (SEED_PREDICT, {"texts": ["ok", None]}, 400, "'texts'[1] must be a string"),
    (SEED_PREDICT, {"text": "x" * 201}, 400, "has 201 characters; the limit is 200"),
    (SEED_PREDICT, {"texts": ["a"] * 9}, 400, "limit is 8 per request"),
    (SEED_PREDICT, {"text": "y" * 5000}, 413, "exceeds the limit of 4096 bytes"),
    ("/api/v1/ml-models/intent_classifier/predict", {"text": "a"}, 404, "unknown model type"),
    (INFER, {}, 400, "'inputs' must be a non-empty list"),
    (INFER, {"inputs": [3]}, 400, "inputs[0] must be an object"),
    (INFER, {"inputs": [{"name": "text", "shape": [1], "datatype": "TEXT", "data": ["a"]}]}, 400,
     "not an Open Inference Protocol datatype"),
    (INFER, {"inputs": [{"name": "text", "shape": [2], "datatype": "BYTES", "data": ["a"]}]}, 400,
     "has 1 values but shape [2] needs 2"),
    (INFER, {"inputs": [{"name": "text", "shape": [-1], "datatype": "BYTES", "data": ["a"]}]}, 400,
     "shape must be a list of non-negative integers"),
    (INFER, {"inputs": [{"name": "text", "shape": [1, 1, 1], "datatype": "BYTES", "data": ["a"]}]},
     400, "must have shape [N] or [N, 1]"),
    (INFER, {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [7]}]}, 400,
     "must be a string"),
    (INFER, {"inputs": [{**IDS, "datatype": "FP32"}, MASK]}, 400,
     "has datatype FP32; the model expects INT64"),
    (INFER, {"inputs": [IDS]}, 400, "do not match the model's inputs"),
    (INFER, {"inputs": [{**IDS, "shape": [2]}, MASK]}, 400, "has rank 1; the model expects rank 2"),
    (INFER, {"inputs": [{**IDS, "data": [2, "x"]}, MASK]}, 400, "data must be numbers"),
    (INFER, {"inputs": [{**IDS, "data": [2, 99999]}, MASK]}, 400, "the model rejected the input"),
    (INFER, {"inputs": [IDS, MASK], "outputs": [{"name": "nope"}]}, 400, "unknown output 'nope'"),
    (INFER, {"inputs": [IDS, MASK], "id": 5}, 400, "'id' must be a string"),
    ("/v2/models/other/infer", {"inputs": [IDS, MASK]}, 404, "unknown model 'other'"),
    (f"/v2/models/{MODEL_TYPE}/versions/v0.0.1/infer", {"inputs": [IDS]}, 404, "unknown version"),
    ("/no/such/path", {}, 404, "Not Found"),
    ("/v2/health/live", {}, 405, "Method Not Allowed"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "status", "message"), CASES, ids=lambda v: str(v)[:40])
async def test_bad_request_gets_a_clear_4xx_and_the_server_keeps_serving(
    serve: ServeFn, path: str, body: Any, status: int, message: str
) -> None:
    async with serve(max_text_chars=200, max_texts=8, max_body_bytes=4096) as client:
        content = body if isinstance(body, bytes) else None
        response = await client.post(path, content=content, json=None if content is not None else body)
        after = await client.post(SEED_PREDICT, json={"text": "still serving"})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]
    assert after.status_code == 200


async def test_long_texts_within_the_character_limit_are_truncated_to_max_length(serve: ServeFn) -> None:
    long_text = " ".join(["hello"] * 500)
    async with serve() as client:
        response = await client.post(SEED_PREDICT, json={"text": long_text})
    assert response.status_code == 200
