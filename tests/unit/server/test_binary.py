"""The OIP REST binary data extension on the real app: equal results to JSON, and 400 for every bad layout."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops_server.errors import BadRequest
from modelops_server.tensors import Cursor, decode_raw, encode_raw
from support.serving import INFER, SEED_PREDICT, ServeFn

HEADER = "Inference-Header-Content-Length"
TEXTS = ["I want to hurt myself", "thanks for the help today"]


def _bytes_tensor(texts: list[str]) -> bytes:
    return b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)


def _binary_body(document: dict[str, Any], raw: bytes) -> tuple[bytes, dict[str, str]]:
    header = orjson.dumps(document)
    return header + raw, {HEADER: str(len(header)), "content-type": "application/octet-stream"}


def _split(content: bytes, header_length: str) -> tuple[dict[str, Any], bytes]:
    size = int(header_length)
    return orjson.loads(content[:size]), content[size:]


def _text_request(texts: list[str], raw: bytes | None = None, **extra: Any) -> dict[str, Any]:
    size = len(raw if raw is not None else _bytes_tensor(texts))
    tensor = {"name": "text", "shape": [len(texts), 1], "datatype": "BYTES",
              "parameters": {"binary_data_size": size}}  # fmt: skip
    return {"inputs": [tensor], **extra}


async def test_binary_text_request_and_binary_outputs_equal_the_seed_predictions(serve: ServeFn) -> None:
    raw = _bytes_tensor(TEXTS)
    body, headers = _binary_body(_text_request(TEXTS, parameters={"binary_data_output": True}), raw)
    async with serve() as client:
        response = await client.post(INFER, content=body, headers=headers)
        seed = (await client.post(SEED_PREDICT, json={"texts": TEXTS})).json()["predictions"]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    document, tail = _split(response.content, response.headers[HEADER])
    label, probabilities = document["outputs"]
    assert "data" not in label and "data" not in probabilities
    label_raw = tail[: label["parameters"]["binary_data_size"]]
    prob_raw = tail[label["parameters"]["binary_data_size"] :]
    assert len(prob_raw) == probabilities["parameters"]["binary_data_size"] == 2 * 2 * 4
    assert decode_raw("label", [2], "BYTES", label_raw) == [p["label"] for p in seed]
    scores = np.frombuffer(prob_raw, dtype="<f4").reshape(2, 2)
    expected = [[p["scores"]["safe"], p["scores"]["risk"]] for p in seed]
    assert scores == pytest.approx(np.array(expected), abs=1e-6)


async def test_per_output_binary_flag_overrides_the_request_default(serve: ServeFn) -> None:
    outputs = [{"name": "label", "parameters": {"binary_data": False}}, {"name": "probabilities"}]
    request = _text_request(TEXTS, outputs=outputs, parameters={"binary_data_output": True})
    body, headers = _binary_body(request, _bytes_tensor(TEXTS))
    async with serve() as client:
        response = await client.post(INFER, content=body, headers=headers)
    document, tail = _split(response.content, response.headers[HEADER])
    label, probabilities = document["outputs"]
    assert label["data"] == ["risk", "safe"]
    assert probabilities["parameters"]["binary_data_size"] == len(tail) == 16


async def test_binary_int64_inputs_give_the_json_logits(serve: ServeFn) -> None:
    ids, mask = np.array([[2, 5, 3]], dtype="<i8"), np.ones((1, 3), dtype="<i8")
    tensors = [{"name": n, "shape": [1, 3], "datatype": "INT64", "parameters": {"binary_data_size": 24}}
               for n in ("input_ids", "attention_mask")]  # fmt: skip
    body, headers = _binary_body({"inputs": tensors}, ids.tobytes() + mask.tobytes())
    plain = [{"name": n, "shape": [1, 3], "datatype": "INT64", "data": a.ravel().tolist()}
             for n, a in (("input_ids", ids), ("attention_mask", mask))]  # fmt: skip
    async with serve() as client:
        binary = (await client.post(INFER, content=body, headers=headers)).json()
        json_answer = (await client.post(INFER, json={"inputs": plain})).json()
    assert binary["outputs"] == json_answer["outputs"]
    assert binary["outputs"][0]["datatype"] == "FP32"


def _bad_bodies() -> dict[str, tuple[bytes, dict[str, str]]]:
    raw = _bytes_tensor(TEXTS)
    good, headers = _binary_body(_text_request(TEXTS), raw)
    header_len = int(headers[HEADER])
    overrun = struct.pack("<I", 1000) + b"abc"
    return {
        "truncated payload": (good[:-3], headers),
        "header length past the body": (good, {**headers, HEADER: str(len(good) + 10)}),
        "header length not a number": (good, {**headers, HEADER: "12abc"}),
        "header length zero": (good, {**headers, HEADER: "0"}),
        "trailing bytes": (good + b"xx", headers),
        "BYTES length overruns": _binary_body(_text_request(["x"], overrun), overrun),
        "BYTES prefix truncated": _binary_body(_text_request(["x"], b"\x01\x00"), b"\x01\x00"),
        "header cut inside JSON": (good, {**headers, HEADER: str(header_len - 5)}),
        "too few BYTES elements": _binary_body(_text_request(["a", "b", "c"], raw), raw),
        "FP32 size mismatch": _binary_body(
            {
                "inputs": [
                    {
                        "name": "input_ids",
                        "shape": [1, 3],
                        "datatype": "FP32",
                        "parameters": {"binary_data_size": 8},
                    }
                ]
            },
            b"\x00" * 8,
        ),
        "negative binary size": _binary_body(
            {
                "inputs": [
                    {
                        "name": "text",
                        "shape": [1],
                        "datatype": "BYTES",
                        "parameters": {"binary_data_size": -1},
                    }
                ]
            },
            b"",
        ),
        "both data and binary": _binary_body(
            {
                "inputs": [
                    {
                        "name": "text",
                        "shape": [1],
                        "datatype": "BYTES",
                        "data": ["x"],
                        "parameters": {"binary_data_size": 5},
                    }
                ]
            },
            _bytes_tensor(["x"]),
        ),
        "not UTF-8": _binary_body(
            _text_request(["x"], b"\x02\x00\x00\x00\xff\xfe"), b"\x02\x00\x00\x00\xff\xfe"
        ),
    }


async def test_every_malformed_binary_body_is_a_400_and_the_server_keeps_serving(serve: ServeFn) -> None:
    async with serve() as client:
        answers = {
            case: await client.post(INFER, content=body, headers=headers)
            for case, (body, headers) in _bad_bodies().items()
        }
        after = await client.post(SEED_PREDICT, json={"text": "hello"})
    wrong = {case: (r.status_code, r.text) for case, r in answers.items() if r.status_code != 400}
    assert not wrong, wrong
    assert all(r.json()["error"] for r in answers.values())
    assert after.status_code == 200


@given(st.lists(st.text(max_size=20), min_size=1, max_size=8), st.data())
def test_bytes_round_trip_and_any_cut_is_a_bad_request(texts: list[str], data: st.DataObject) -> None:
    raw = encode_raw("BYTES", texts)
    assert decode_raw("t", [len(texts)], "BYTES", raw) == texts
    cut = data.draw(st.integers(0, len(raw) - 1))
    with pytest.raises(BadRequest):
        decode_raw("t", [len(texts)], "BYTES", raw[:cut])


@given(st.lists(st.floats(width=32, allow_nan=False), min_size=1, max_size=16))
def test_fp32_round_trip_is_little_endian(values: list[float]) -> None:
    raw = encode_raw("FP32", np.asarray(values, dtype=np.float32))
    assert raw == np.asarray(values, dtype="<f4").tobytes()
    assert decode_raw("t", [len(values)], "FP32", raw).tolist() == values  # type: ignore[union-attr]


def test_cursor_refuses_to_read_past_the_end_or_leave_bytes() -> None:
    cursor = Cursor(b"abcd")
    assert cursor.take("a", 3) == b"abc"
    with pytest.raises(BadRequest, match="only 1 bytes"):
        cursor.take("b", 2)
    with pytest.raises(BadRequest, match="1 bytes of binary data follow"):
        cursor.finish()
