"""Request parsing and response shapes for the seed predict API and the Open Inference Protocol v2.

Every malformed input becomes a BadRequest naming the field and what was expected, so clients get a 400
and the server keeps serving. Texts longer than `max_text_chars` characters are refused (400); texts within
that limit but longer than the model's `max_length` tokens are truncated to `max_length` tokens.
Called by `dataplane.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from modelops_server.errors import BadRequest
from modelops_server.tensors import NUMPY_TO_OIP, OIP_DTYPES, Cursor, decode_raw


def parse_json(body: bytes) -> Any:
    """Decode a JSON body or raise BadRequest."""
    if not body:
        raise BadRequest("request body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"request body is not valid JSON: {error}") from error


def _object(document: Any) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(document).__name__}")
    return document


def check_texts(texts: Any, max_chars: int, max_texts: int, field: str) -> list[str]:
    """Texts must be a non-empty list of non-blank strings within the limits."""
    if not isinstance(texts, list) or not texts:
        raise BadRequest(f"'{field}' must be a non-empty list of strings")
    if len(texts) > max_texts:
        raise BadRequest(f"'{field}' has {len(texts)} texts; the limit is {max_texts} per request")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise BadRequest(f"'{field}'[{index}] must be a string, got {type(text).__name__}")
        if not text.strip():
            raise BadRequest(f"'{field}'[{index}] is empty")
        if len(text) > max_chars:
            raise BadRequest(f"'{field}'[{index}] has {len(text)} characters; the limit is {max_chars}")
    return texts


def parse_predict(body: bytes, max_chars: int, max_texts: int) -> tuple[list[str], bool]:
    """`{"text": str}` or `{"texts": [str, ...]}` -> (texts, single)."""
    document = _object(parse_json(body))
    unknown = sorted(set(document) - {"text", "texts"})
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r}; send 'text' (a string) or 'texts' (a list of strings)"
        )
    if ("text" in document) == ("texts" in document):
        raise BadRequest("send exactly one of 'text' (a string) or 'texts' (a list of strings)")
    if "text" in document:
        return check_texts([document["text"]], max_chars, max_texts, "text"), True
    return check_texts(document["texts"], max_chars, max_texts, "texts"), False


def predict_response(
    model_type: str, version: str, rows: list[tuple[str, dict[str, float]]], single: bool
) -> Any:
    """Seed-style predict answer: one prediction, or a list under `predictions`."""
    predictions = [{"label": label, "scores": scores} for label, scores in rows]
    if single:
        return {"model_type": model_type, "version": version, **predictions[0]}
    return {"model_type": model_type, "version": version, "predictions": predictions}


@dataclass(frozen=True)
class InferInput:
    """One validated OIP input tensor: BYTES data as a list of strings, numbers as a list or an array."""

    name: str
    shape: list[int]
    datatype: str
    data: list[Any] | np.ndarray


@dataclass(frozen=True)
class InferRequest:
    """A validated OIP infer request; `binary` says which outputs go back as raw bytes."""

    request_id: str | None
    inputs: list[InferInput]
    outputs: list[str] | None
    binary: dict[str, bool] = field(default_factory=dict)
    binary_default: bool = False

    def output_is_binary(self, name: str) -> bool:
        """Per-output `binary_data` wins over the request's `binary_data_output`."""
        return self.binary.get(name, self.binary_default)


def parse_infer(body: bytes, binary: bytes = b"") -> InferRequest:
    """Validate the OIP v2 request structure (not yet against the model).

    `binary` is the binary data extension's section after the JSON header: inputs with
    `parameters.binary_data_size` take their bytes from it in order, and every byte must be claimed.
    """
    document = _object(parse_json(body))
    inputs = document.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest("'id' must be a string")
    cursor = Cursor(binary)
    parsed = [_infer_input(i, item, cursor) for i, item in enumerate(inputs)]
    cursor.finish()
    outputs, flags = _outputs(document)
    default = _parameters(document, "request").get("binary_data_output", False)
    if not isinstance(default, bool):
        raise BadRequest("parameters.binary_data_output must be a boolean")
    return InferRequest(request_id, parsed, outputs, flags, default)


def _parameters(item: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = item.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadRequest(f"{where}.parameters must be an object")
    return parameters


def _outputs(document: dict[str, Any]) -> tuple[list[str] | None, dict[str, bool]]:
    requested = document.get("outputs")
    if requested is None:
        return None, {}
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise BadRequest("'outputs' must be a list of objects with a 'name'")
    flags: dict[str, bool] = {}
    for index, output in enumerate(requested):
        flag = _parameters(output, f"outputs[{index}]").get("binary_data")
        if flag is not None and not isinstance(flag, bool):
            raise BadRequest(f"outputs[{index}].parameters.binary_data must be a boolean")
        if flag is not None:
            flags[output["name"]] = flag
    return [o["name"] for o in requested], flags


def _infer_input(index: int, item: Any, cursor: Cursor) -> InferInput:
    where = f"inputs[{index}]"
    if not isinstance(item, dict):
        raise BadRequest(f"{where} must be an object with name, shape, datatype and data")
    name, shape, datatype, data = (item.get(k) for k in ("name", "shape", "datatype", "data"))
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{where}.name must be a non-empty string")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise BadRequest(f"{where}.shape must be a list of non-negative integers")
    if datatype != "BYTES" and datatype not in OIP_DTYPES:
        raise BadRequest(f"{where}.datatype {datatype!r} is not an Open Inference Protocol datatype")
    size = _parameters(item, where).get("binary_data_size")
    if size is not None:
        if data is not None:
            raise BadRequest(f"{where} ({name}) has both 'data' and parameters.binary_data_size")
        return InferInput(
            name, list(shape), datatype, decode_raw(name, shape, datatype, cursor.take(name, size))
        )
    if not isinstance(data, list):
        raise BadRequest(f"{where}.data must be a list")
    flat = _flatten(data)
    if len(flat) != int(np.prod(shape, dtype=np.int64)):
        raise BadRequest(
            f"{where} ({name}) has {len(flat)} values but shape {shape} needs {int(np.prod(shape))}"
        )
    return InferInput(name, list(shape), datatype, flat)


def _flatten(data: list[Any]) -> list[Any]:
    try:
        return _ordered_flatten(data)
    except RecursionError as error:
        raise BadRequest("tensor data is nested too deeply") from error


def _ordered_flatten(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in data:
        if isinstance(value, list):
            out.extend(_ordered_flatten(value))
        else:
            out.append(value)
    return out


def to_array(tensor: InferInput, expected_dtype: Any) -> np.ndarray:
    """Numeric tensor -> numpy array of the model's dtype; wrong datatype or values -> BadRequest."""
    expected = NUMPY_TO_OIP.get(np.dtype(expected_dtype).name, "?")
    if tensor.datatype != expected:
        raise BadRequest(
            f"input {tensor.name!r} has datatype {tensor.datatype}; the model expects {expected}"
        )
    if isinstance(tensor.data, np.ndarray):
        return tensor.data.astype(expected_dtype, copy=False).reshape(tensor.shape)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in tensor.data):
        raise BadRequest(f"input {tensor.name!r} data must be numbers")
    try:
        return np.asarray(tensor.data, dtype=expected_dtype).reshape(tensor.shape)
    except (ValueError, OverflowError) as error:
        raise BadRequest(f"input {tensor.name!r} data does not fit {expected}: {error}") from error


def output_tensor(name: str, array: np.ndarray) -> dict[str, Any]:
    """An OIP output tensor (row-major flattened data)."""
    datatype = NUMPY_TO_OIP.get(array.dtype.name, "FP32")
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": array.ravel()}


def bytes_tensor(name: str, values: Sequence[str]) -> dict[str, Any]:
    """An OIP BYTES output tensor of strings."""
    return {"name": name, "shape": [len(values)], "datatype": "BYTES", "data": list(values)}
