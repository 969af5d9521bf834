"""The OIP v2 gRPC message classes, compiled from `protos/oip_v2.proto` when this module is imported.

grpcio-tools' protoc turns the .proto into a descriptor set that goes into a private descriptor pool, so
no generated Python files are kept in the repository and nothing clashes with a client library (such as
tritonclient) that registers the same `inference.*` names in the default pool of the same process.
Imported by `grpc_service.py` only when the gRPC port is on.
"""

from __future__ import annotations

import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc

PROTO = "oip_v2.proto"
PACKAGE = "inference"
SERVICE = f"{PACKAGE}.GRPCInferenceService"


def _descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    source = resources.files("modelops_server") / "protos" / PROTO
    with tempfile.TemporaryDirectory(prefix="modelops-proto-") as work:
        proto = Path(work) / PROTO
        proto.write_bytes(source.read_bytes())
        out = Path(work) / "oip_v2.pb"
        code = protoc.main(["protoc", f"-I{work}", f"--descriptor_set_out={out}", str(proto)])
        if code != 0:
            raise RuntimeError(f"protoc could not compile {PROTO} (exit {code})")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def _messages() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    for file in _descriptor_set().file:
        pool.Add(file)
    service = pool.FindServiceByName(SERVICE)
    classes: dict[str, Any] = {}
    for method in service.methods:
        for descriptor in (method.input_type, method.output_type):
            classes[descriptor.name] = message_factory.GetMessageClass(descriptor)
    return classes


MESSAGES = _messages()
METHODS = [
    "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer",
]  # fmt: skip


def message(name: str) -> Any:
    """The message class called `name` (e.g. "ModelInferRequest")."""
    return MESSAGES[name]
