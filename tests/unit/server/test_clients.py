"""Unmodified third-party clients against the real `modelops-server` process: tritonclient over REST
(binary data on and off) and over gRPC, numeric and BYTES tensors, results equal to the seed predict API.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

from support.models import corrupt_model
from support.server_process import MAX_BODY, ServerProcess, free_port
from support.serving import MODEL_TYPE, SEED_PREDICT, ServeFn

TEXTS = ["I want to hurt myself", "thanks for the help today", "kill attack weapon"]
IDS = np.array([[2, 5, 3], [4, 1, 0]], dtype=np.int64)


@pytest.fixture(scope="module")
def seed(server: ServerProcess) -> list[dict[str, object]]:
    answer = httpx.post(f"{server.base}{SEED_PREDICT}", json={"texts": TEXTS}, timeout=10)
    return list(answer.json()["predictions"])


def _texts() -> np.ndarray:
    return np.array([[t.encode()] for t in TEXTS], dtype=np.object_)


def _check_text_result(labels: np.ndarray, probabilities: np.ndarray, seed: list[dict[str, object]]) -> None:
    assert [v.decode() if isinstance(v, bytes) else v for v in labels.ravel()] == [p["label"] for p in seed]
    expected = [[p["scores"]["safe"], p["scores"]["risk"]] for p in seed]  # type: ignore[index]
    assert probabilities.shape == (len(TEXTS), 2)
    assert probabilities == pytest.approx(np.array(expected), abs=1e-6)


def _logits(base: str) -> list[float]:
    inputs = [{"name": n, "shape": list(IDS.shape), "datatype": "INT64", "data": a.ravel().tolist()}
              for n, a in (("input_ids", IDS), ("attention_mask", np.ones_like(IDS)))]  # fmt: skip
    answer = httpx.post(f"{base}/v2/models/{MODEL_TYPE}/infer", json={"inputs": inputs}, timeout=10)
    return list(answer.json()["outputs"][0]["data"])


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_http(server: ServerProcess, seed: list[dict[str, object]], binary: bool) -> None:
    client = httpclient.InferenceServerClient(url=server.http)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(MODEL_TYPE)
    assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
    assert client.get_model_metadata(MODEL_TYPE)["versions"] == ["v1.0.0"]
    text = httpclient.InferInput("text", [len(TEXTS), 1], "BYTES")
    text.set_data_from_numpy(_texts(), binary_data=binary)
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = client.infer(MODEL_TYPE, [text], outputs=outputs)
    _check_text_result(result.as_numpy("label"), result.as_numpy("probabilities"), seed)
    default = client.infer(MODEL_TYPE, [text])  # no outputs named: binary_data_output for all
    _check_text_result(default.as_numpy("label"), default.as_numpy("probabilities"), seed)
    tensors = []
    for name, array in (("input_ids", IDS), ("attention_mask", np.ones_like(IDS))):
        tensor = httpclient.InferInput(name, list(array.shape), "INT64")
        tensor.set_data_from_numpy(array, binary_data=binary)
        tensors.append(tensor)
    logits = client.infer(MODEL_TYPE, tensors, outputs=[httpclient.InferRequestedOutput("logits", binary)])
    assert logits.as_numpy("logits").ravel().tolist() == pytest.approx(_logits(server.base), abs=1e-6)
    client.close()


def test_tritonclient_grpc(server: ServerProcess, seed: list[dict[str, object]]) -> None:
    client = grpcclient.InferenceServerClient(url=server.grpc)
    assert client.is_server_live() and client.is_server_ready() and client.is_model_ready(MODEL_TYPE)
    assert list(client.get_server_metadata().extensions) == ["binary_tensor_data"]
    metadata = client.get_model_metadata(MODEL_TYPE)
    assert (metadata.name, list(metadata.versions)) == (MODEL_TYPE, ["v1.0.0"])
    assert {i.name for i in metadata.inputs} == {"text", "input_ids", "attention_mask"}
    text = grpcclient.InferInput("text", [len(TEXTS), 1], "BYTES")
    text.set_data_from_numpy(_texts())
    result = client.infer(MODEL_TYPE, [text])
    _check_text_result(result.as_numpy("label"), result.as_numpy("probabilities"), seed)
    tensors = []
    for name, array in (("input_ids", IDS), ("attention_mask", np.ones_like(IDS))):
        tensor = grpcclient.InferInput(name, list(array.shape), "INT64")
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    logits = client.infer(MODEL_TYPE, tensors, outputs=[grpcclient.InferRequestedOutput("logits")])
    assert logits.as_numpy("logits").ravel().tolist() == pytest.approx(_logits(server.base), abs=1e-6)
    client.close()


def _model_infer(
    server: ServerProcess, request: service_pb2.ModelInferRequest
) -> service_pb2.ModelInferResponse:
    with grpc.insecure_channel(server.grpc, options=[("grpc.max_send_message_length", -1)]) as channel:
        call = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=service_pb2.ModelInferRequest.SerializeToString,
            response_deserializer=service_pb2.ModelInferResponse.FromString,
        )
        return call(request, timeout=10)


def test_grpc_typed_contents_are_accepted(server: ServerProcess, seed: list[dict[str, object]]) -> None:
    request = service_pb2.ModelInferRequest(model_name=MODEL_TYPE, id="typed")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[len(TEXTS)])
    tensor.contents.bytes_contents.extend(t.encode() for t in TEXTS)
    answer = _model_infer(server, request)
    assert answer.id == "typed" and [o.name for o in answer.outputs] == ["label", "probabilities"]
    probabilities = np.frombuffer(answer.raw_output_contents[1], dtype="<f4").reshape(len(TEXTS), 2)
    _check_text_result(np.array([p["label"] for p in seed]), probabilities, seed)


def _bad_grpc_requests() -> dict[str, service_pb2.ModelInferRequest]:
    def text(shape: list[int], raw: bytes) -> service_pb2.ModelInferRequest:
        request = service_pb2.ModelInferRequest(model_name=MODEL_TYPE, raw_input_contents=[raw])
        request.inputs.add(name="text", datatype="BYTES", shape=shape)
        return request

    ids = service_pb2.ModelInferRequest(model_name=MODEL_TYPE)
    ids.inputs.add(name="input_ids", datatype="INT64", shape=[1, 3]).contents.int64_contents.extend([1, 2])
    ids.inputs.add(name="attention_mask", datatype="INT64", shape=[1, 3]).contents.int64_contents.extend(
        [1] * 3
    )
    return {
        "BYTES length overruns": text([1], b"\xff\x00\x00\x00abc"),
        "truncated length prefix": text([1], b"\x01\x00"),
        "wrong shape for the values": text([3], b"\x01\x00\x00\x00a"),
        "typed contents short of the shape": ids,
        "raw count differs from inputs": service_pb2.ModelInferRequest(
            model_name=MODEL_TYPE, inputs=[ids.inputs[0]], raw_input_contents=[b"", b""]),
        "message over the size limit": text([1], b"\x00" * (MAX_BODY + 10)),
    }  # fmt: skip


def test_bad_grpc_requests_are_invalid_argument_and_the_server_keeps_serving(server: ServerProcess) -> None:
    codes = {}
    for case, request in _bad_grpc_requests().items():
        with pytest.raises(grpc.RpcError) as caught:
            _model_infer(server, request)
        codes[case] = caught.value.code()  # type: ignore[attr-defined]
    assert codes == dict.fromkeys(codes, grpc.StatusCode.INVALID_ARGUMENT)
    unknown = service_pb2.ModelInferRequest(model_name="nope")
    with pytest.raises(grpc.RpcError) as caught:
        _model_infer(server, unknown)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    client = grpcclient.InferenceServerClient(url=server.grpc)
    assert client.is_model_ready(MODEL_TYPE)
    with pytest.raises(InferenceServerException):
        client.get_model_metadata("nope")
    metrics = httpx.get(f"{server.base}/metrics", timeout=5).text
    assert 'modelops_requests_total{code="400",endpoint="grpc_ModelInfer"}' in metrics


async def test_grpc_in_process_shares_auth_and_metrics_with_rest(serve: ServeFn, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cret\n")
    port = free_port()
    async with serve(grpc_port=port, auth_token_file=token_file) as client:
        grpc_client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
        text = grpcclient.InferInput("text", [1], "BYTES")
        text.set_data_from_numpy(np.array([b"hello"], dtype=np.object_))
        with pytest.raises(InferenceServerException, match="bearer token"):
            await asyncio.to_thread(grpc_client.infer, MODEL_TYPE, [text])
        good = await asyncio.to_thread(
            grpc_client.infer, MODEL_TYPE, [text], headers={"authorization": "Bearer s3cret"}
        )
        metrics = (await client.get("/metrics")).text
        grpc_client.close()
    assert good.as_numpy("label").tolist() == [b"safe"]
    assert 'modelops_requests_total{code="401",endpoint="grpc_ModelInfer"} 1.0' in metrics
    assert 'modelops_requests_total{code="200",endpoint="grpc_ModelInfer"} 1.0' in metrics


def test_our_proto_matches_the_fields_tritonclient_uses() -> None:
    from modelops_server.grpc_protocol import MESSAGES

    def fields(descriptor: object) -> set[tuple[str, int, int]]:
        found = set()
        for field in descriptor.fields:  # type: ignore[attr-defined]
            found.add((field.name, field.number, field.type))
            if field.message_type is not None and not field.message_type.GetOptions().map_entry:
                found |= {(f"{field.name}.{n}", k, t) for n, k, t in fields(field.message_type)}
        return found

    oip = {
        name: ours for name, ours in MESSAGES.items() if ours.DESCRIPTOR.full_name.startswith("inference.")
    }
    assert len(oip) == 12, sorted(oip)
    for name, ours in oip.items():
        theirs = fields(getattr(service_pb2, name).DESCRIPTOR)
        assert fields(ours.DESCRIPTOR) <= theirs, name


async def test_grpc_readiness_follows_the_golden_check(serve: ServeFn, models_dir: Path) -> None:
    corrupt_model(models_dir / MODEL_TYPE / "v1.0.0")
    port = free_port()
    async with serve(grpc_port=port) as client:
        grpc_client = grpcclient.InferenceServerClient(url=f"127.0.0.1:{port}")
        live, ready = await asyncio.to_thread(
            lambda: (grpc_client.is_server_live(), grpc_client.is_server_ready())
        )
        model_ready = await asyncio.to_thread(grpc_client.is_model_ready, MODEL_TYPE)
        text = grpcclient.InferInput("text", [1], "BYTES")
        text.set_data_from_numpy(np.array([b"hello"], dtype=np.object_))
        with pytest.raises(InferenceServerException) as caught:
            await asyncio.to_thread(grpc_client.infer, MODEL_TYPE, [text])
        rest_ready = (await client.get("/v2/health/ready")).status_code
        grpc_client.close()
    assert (live, ready, model_ready, rest_ready) == (True, False, False, 503)
    assert caught.value.status() == "StatusCode.UNAVAILABLE"


@pytest.mark.parametrize(("grpc_port", "message"), [(8080, "must differ from port"), (70000, "0..65535")])
def test_grpc_port_settings_are_checked(tmp_path: Path, grpc_port: int, message: str) -> None:
    from modelops_server.settings import SettingsError
    from support.serving import settings_for

    with pytest.raises(SettingsError, match=message):
        settings_for(tmp_path, grpc_port=grpc_port)
