"""Checks a model directory before it is loaded: manifest digests, signature, metadata, ONNX validity,
and that the ONNX graph's inputs and outputs are the ones metadata.json declares.

Called by `model.load_verified_model`; every failure is a VerificationError whose message names the file
and the check, and becomes the health endpoint's `reason`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelops.package.errors import PackageError, SignatureError
from modelops.package.manifest import manifest_digest, verify_manifest
from modelops.package.metadata import ModelMetadata, TensorSpec
from modelops.package.signing import key_fingerprint, signature_path, verify_model_dir
from modelops_server.errors import VerificationError
from modelops_server.settings import ServerSettings

MODEL_FILE = "model.onnx"


def verify_files(directory: Path, settings: ServerSettings) -> str:
    """Manifest (with the pinned digest) then signature; return the artifact digest."""
    try:
        verify_manifest(directory, settings.expected_digest)
        _verify_signature(directory, settings)
        return manifest_digest(directory)
    except PackageError as error:
        raise VerificationError(str(error)) from error


def _verify_signature(directory: Path, settings: ServerSettings) -> None:
    if settings.public_key is None:
        return
    if settings.trusted_keys:
        fingerprint = key_fingerprint(settings.public_key)
        if fingerprint not in settings.trusted_keys:
            raise SignatureError(
                f"public key {fingerprint} is not trusted by the platform policy; "
                f"trusted: {', '.join(settings.trusted_keys)}"
            )
    if not signature_path(directory).is_file():
        if settings.require_signature:
            raise SignatureError(
                "missing signature model.sig: the model is unsigned and require-signature is set"
            )
        return
    verify_model_dir(directory, settings.public_key)


def load_metadata(directory: Path, location_version: str, model_type: str) -> ModelMetadata:
    """metadata.json, checked against the directory it sits in."""
    try:
        metadata = ModelMetadata.load(directory)
    except PackageError as error:
        raise VerificationError(str(error)) from error
    if metadata.model_type != model_type:
        raise VerificationError(
            f"metadata.json model_type is {metadata.model_type!r}, expected {model_type!r}"
        )
    if metadata.version != location_version:
        raise VerificationError(
            f"metadata.json version is {metadata.version!r}, expected {location_version!r}"
        )
    return metadata


def check_onnx(directory: Path, metadata: ModelMetadata) -> None:
    """onnx.checker on model.onnx, then its inputs/outputs against metadata."""
    import onnx

    path = directory / MODEL_FILE
    try:
        proto = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(proto)
    except Exception as error:  # onnx raises DecodeError, ValidationError and others for bad bytes
        raise VerificationError(f"{MODEL_FILE} is not a valid ONNX model: {_first_line(error)}") from error
    _compare("inputs", _graph_inputs(proto), metadata.inputs)
    _compare("outputs", _graph_outputs(proto), metadata.outputs)
    _check_label_count(proto, metadata)


def _first_line(error: Exception) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


def _tensor_entries(values: Any) -> dict[str, str]:
    from onnx import helper

    return {v.name: helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name for v in values}


def _graph_inputs(proto: Any) -> dict[str, str]:
    initializers = {init.name for init in proto.graph.initializer}
    return {k: v for k, v in _tensor_entries(proto.graph.input).items() if k not in initializers}


def _graph_outputs(proto: Any) -> dict[str, str]:
    return _tensor_entries(proto.graph.output)


def _normal_dtype(dtype: str) -> str:
    return {"float": "float32", "double": "float64", "long": "int64", "int": "int32"}.get(dtype, dtype)


def _compare(kind: str, graph: dict[str, str], declared: list[TensorSpec]) -> None:
    if not declared:
        return
    expected = {spec.name: _normal_dtype(spec.dtype) for spec in declared}
    if expected != graph:
        raise VerificationError(
            f"{MODEL_FILE} {kind} {_describe(graph)} do not match metadata.json {kind} {_describe(expected)}"
        )


def _describe(entries: dict[str, str]) -> str:
    return "[" + ", ".join(f"{name}:{dtype}" for name, dtype in sorted(entries.items())) + "]"


def _check_label_count(proto: Any, metadata: ModelMetadata) -> None:
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    last = dims[-1].dim_value if dims else 0
    if last and last != len(metadata.labels):
        raise VerificationError(
            f"{MODEL_FILE} output has {last} classes but metadata.json lists {len(metadata.labels)} labels"
        )
