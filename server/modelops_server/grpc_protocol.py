"""The gRPC message classes, compiled from `protos/*.proto` when this module is imported, and what every
gRPC method shares: the HTTP-status-to-gRPC-code table, the size and bearer-token check, and `served_call`
(every ServerError becomes its gRPC status; the call is counted and timed).

grpcio-tools' protoc turns the .proto files (OIP v2's `inference` package and modelops' own
`modelops.generation.v1`) into a descriptor set that goes into a private descriptor pool, so no generated
Python files are kept in the repository and nothing clashes with a client library (such as tritonclient)
that registers the same `inference.*` names in the default pool of the same process. Imported by
`grpc_service.py` and `grpc_generation.py` only when the gRPC port is on, and by tests for the classes.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_tools import protoc

from modelops_server.auth import check_bearer
from modelops_server.errors import PayloadTooLarge, ServerError, TooManyRequests
from modelops_server.logs import get_logger, log_event
from modelops_server.metrics import ServerMetrics

LOG = get_logger("grpc")
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


@contextmanager
def served_call(metrics: ServerMetrics, name: str, context: grpc.ServicerContext) -> Iterator[None]:
    """Count and time the call of method `name`; a ServerError aborts it with the matching gRPC status
    (429 with `retry-after` trailers), a cancelled task with CANCELLED, anything else with INTERNAL."""
    started, status, endpoint = time.perf_counter(), 200, f"grpc_{name}"
    try:
        yield
    except ServerError as error:
        status = error.status
        if isinstance(error, TooManyRequests):
            context.set_trailing_metadata(
                (("retry-after", str(error.retry_after)),
                 ("grpc-retry-pushback-ms", str(1000 * error.retry_after)))
            )  # fmt: skip
        context.abort(CODES.get(status, grpc.StatusCode.INTERNAL), str(error))
    except futures.CancelledError:
        status = 499  # the client cancelled or its deadline passed; nobody reads this status
        context.abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
    except Exception as error:  # last resort: INTERNAL, and the server keeps serving
        status = 500
        log_event(LOG, "grpc_request_failed", logging.ERROR, method=name, error=repr(error))
        context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}")
    finally:
        metrics.requests.labels(endpoint, str(status)).inc()
        if not 400 <= status < 500:  # a refused caller is not a served request
            metrics.request_duration.labels(endpoint).observe(time.perf_counter() - started)
