"""The gRPC message classes, compiled from `protos/*.proto` when this module is imported, and what every
gRPC method shares: the HTTP-status-to-gRPC-code table and the size and bearer-token check.

grpcio-tools' protoc turns the .proto files (OIP v2's `inference` package and modelops' own
`modelops.generation.v1`) into a descriptor set that goes into a private descriptor pool, so no generated
Python files are kept in the repository and nothing clashes with a client library (such as tritonclient)
that registers the same `inference.*` names in the default pool of the same process. Imported by
`grpc_service.py` and `grpc_generation.py` only when the gRPC port is on, and by tests for the classes.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc

from modelops_server.auth import check_bearer
from modelops_server.errors import PayloadTooLarge

PROTOS = ("oip_v2.proto", "modelops_generation.proto")
SERVICE = "inference.GRPCInferenceService"
GENERATION_SERVICE = "modelops.generation.v1.GenerationService"
CODES = {400: grpc.StatusCode.INVALID_ARGUMENT, 401: grpc.StatusCode.UNAUTHENTICATED,
         404: grpc.StatusCode.NOT_FOUND, 413: grpc.StatusCode.INVALID_ARGUMENT,
         429: grpc.StatusCode.RESOURCE_EXHAUSTED, 503: grpc.StatusCode.UNAVAILABLE}  # fmt: skip


def _descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    with tempfile.TemporaryDirectory(prefix="modelops-proto-") as work:
        for name in PROTOS:
            (Path(work) / name).write_bytes(
                (resources.files("modelops_server") / "protos" / name).read_bytes()
            )
        out = Path(work) / "protos.pb"
        code = protoc.main(["protoc", f"-I{work}", f"--descriptor_set_out={out}", *PROTOS])
        if code != 0:
            raise RuntimeError(f"protoc could not compile {', '.join(PROTOS)} (exit {code})")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _messages() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    for file in _descriptor_set().file:
        pool.Add(file)
    classes: dict[str, Any] = {}
    for service in (SERVICE, GENERATION_SERVICE):
        for method in pool.FindServiceByName(service).methods:
            for descriptor in (method.input_type, method.output_type):
                known = classes.setdefault(descriptor.name, message_factory.GetMessageClass(descriptor))
                if known.DESCRIPTOR.full_name != descriptor.full_name:  # short names must stay unique
                    raise RuntimeError(f"two messages are called {descriptor.name}")
    return classes


MESSAGES = _messages()
METHODS = [
    "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer",
]  # fmt: skip


def message(name: str) -> Any:
    """The message class called `name` (e.g. "ModelInferRequest", "GenerateRequest")."""
    return MESSAGES[name]


def check_call(raw: bytes, context: grpc.ServicerContext, limit: int, token: str | None) -> None:
    """413-equivalent for a message over `limit` bytes, 401-equivalent without the bearer token."""
    if len(raw) > limit:
        raise PayloadTooLarge(f"request message of {len(raw)} bytes exceeds the limit of {limit} bytes")
    metadata = dict(context.invocation_metadata() or ())
    check_bearer(str(metadata.get("authorization", "")), token)
