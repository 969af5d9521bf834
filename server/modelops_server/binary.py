"""The Open Inference Protocol's REST binary data extension, called by the infer route in `app.py`.

A request may carry `Inference-Header-Content-Length: N`: its first N bytes are the JSON header and the
rest is raw tensor data (`tensors.py` layout) claimed by the inputs' `binary_data_size` parameters.
Outputs asked for with `binary_data` (or the request's `binary_data_output`) come back the same way. A
length that is not a number, or that points past the body, is a 400.
"""

from __future__ import annotations

from typing import Any

import orjson

from modelops_server.errors import BadRequest
from modelops_server.payloads import InferRequest, parse_infer
from modelops_server.tensors import encode_raw

HEADER = "inference-header-content-length"
BINARY_MEDIA_TYPE = "application/octet-stream"
EXTENSIONS = ["binary_tensor_data"]  # what server metadata announces, over REST and gRPC


def parse_rest_infer(body: bytes, header_length: str | None) -> InferRequest:
    """The infer request from a plain JSON body or from a JSON header followed by binary tensors."""
    if header_length is None:
        return parse_infer(body)
    value = header_length.strip()
    if not value.isascii() or not value.isdigit():
        raise BadRequest(f"Inference-Header-Content-Length must be a byte count, got {header_length!r}")
    size = int(value)
    if size == 0 or size > len(body):
        raise BadRequest(
            f"Inference-Header-Content-Length {size} does not fit the {len(body)}-byte body "
            "(it must be 1..body length)"
        )
    return parse_infer(body[:size], body[size:])


def encode_rest_infer(request: InferRequest, answer: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The response body and its extra headers: plain JSON, or a JSON header then the binary outputs."""
    outputs = answer["outputs"]
    chunks: list[bytes] = []
    shaped: list[dict[str, Any]] = []
    for output in outputs:
        if request.output_is_binary(output["name"]):
            raw = encode_raw(output["datatype"], output["data"])
            chunks.append(raw)
            meta = {k: v for k, v in output.items() if k != "data"}
            shaped.append({**meta, "parameters": {"binary_data_size": len(raw)}})
        else:
            shaped.append(output)
    header = orjson.dumps({**answer, "outputs": shaped}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return header, {"content-type": "application/json"}
    headers = {"content-type": BINARY_MEDIA_TYPE, HEADER: str(len(header))}
    return header + b"".join(chunks), headers
