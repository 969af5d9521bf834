"""OIP v2 over gRPC (`inference.GRPCInferenceService`) on its own port, started by `app.py`'s lifespan,
with text generation (`grpc_generation.GenerationService`) served on the same port.

A synchronous grpcio server with its own worker threads: protobuf parsing and encoding run there, off the
event loop, and each request is handed to the same DataPlane (batcher, readiness, metrics) on the loop
that serves REST. The same bearer token, body size limit and readiness apply; every ServerError becomes
the gRPC status matching its HTTP status (400/413 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 404 NOT_FOUND,
503 UNAVAILABLE), and the request is counted in `modelops_requests_total` as `grpc_<Method>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from modelops_server.binary import EXTENSIONS
from modelops_server.dataplane import DataPlane
from modelops_server.errors import BadRequest, NotReady
from modelops_server.grpc_generation import GenerationService
from modelops_server.grpc_protocol import METHODS, SERVICE, check_call, message, served_call
from modelops_server.logs import get_logger, log_event
from modelops_server.payloads import InferInput, InferRequest
from modelops_server.settings import ServerSettings
from modelops_server.tensors import decode_raw, element_count, encode_raw

LOG = get_logger("grpc")
CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
            "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
            "UINT32": "uint_contents", "UINT64": "uint64_contents", "FP32": "fp32_contents",
            "FP64": "fp64_contents", "BYTES": "bytes_contents"}  # fmt: skip
SERVER_VERSION = "0.1.0"
INFER_TIMEOUT_S = 120.0
Handler = Callable[[Any], Any]


class InferenceService:
    """The six OIP methods; each one takes the raw request bytes so size and decoding are checked here."""

    def __init__(self, dataplane: DataPlane, token: str | None, loop: asyncio.AbstractEventLoop) -> None:
        self.dataplane = dataplane
        self.settings = dataplane.settings
        self.token = token
        self.loop = loop

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler registering every method under the protocol's service name."""
        table = {
            "ServerLive": (self.server_live, False),
            "ServerReady": (self.server_ready, False),
            "ModelReady": (self.model_ready, False),
            "ServerMetadata": (self.server_metadata, False),
            "ModelMetadata": (self.model_metadata, False),
            "ModelInfer": (self.model_infer, True),
        }
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(
                self._wrap(name, *table[name]),
                request_deserializer=None,
                response_serializer=lambda response: response.SerializeToString(),
            )
            for name in METHODS
        }
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def _wrap(self, name: str, handle: Handler, guarded: bool) -> Callable[[bytes, Any], Any]:
        request_type = message(f"{name}Request")

        def call(raw: bytes, context: grpc.ServicerContext) -> Any:
            with served_call(self.dataplane.metrics, name, context):
                if guarded:
                    self._guard(raw, context)
                try:
                    request = request_type.FromString(raw)
                except DecodeError as error:
                    raise BadRequest(f"{name} request is not a valid protobuf message: {error}") from error
                return handle(request)
            raise AssertionError(
                "unreachable: served_call aborts the call on every error"
            )  # pragma: no cover

        return call

    def _guard(self, raw: bytes, context: grpc.ServicerContext) -> None:
        check_call(raw, context, self.settings.max_body_bytes, self.token)

    def server_live(self, request: Any) -> Any:
        return message("ServerLiveResponse")(live=True)

    def server_ready(self, request: Any) -> Any:
        return message("ServerReadyResponse")(ready=self.dataplane.ready)

    def model_ready(self, request: Any) -> Any:
        self.dataplane.check_model(request.name, request.version or None)
        return message("ModelReadyResponse")(ready=self.dataplane.ready)

    def server_metadata(self, request: Any) -> Any:
        return message("ServerMetadataResponse")(
            name="modelops-server", version=SERVER_VERSION, extensions=EXTENSIONS
        )

    def model_metadata(self, request: Any) -> Any:
        self.dataplane.check_model(request.name, request.version or None)
        return message("ModelMetadataResponse")(**self.dataplane.model_metadata())

    def model_infer(self, request: Any) -> Any:
        self.dataplane.check_model(request.model_name, request.model_version or None)
        infer_request = to_infer_request(request)
        pending = asyncio.run_coroutine_threadsafe(self.dataplane.infer(infer_request), self.loop)
        try:
            answer = pending.result(timeout=INFER_TIMEOUT_S)
        except TimeoutError as error:
            pending.cancel()
            raise NotReady(f"no answer from the model within {INFER_TIMEOUT_S}s") from error
        return to_infer_response(answer)


def to_infer_request(request: Any) -> InferRequest:
    """The protobuf request as the data plane's InferRequest; raw contents and typed contents both work."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise BadRequest(f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs")
    inputs = [_input(tensor, raw[i] if raw else None) for i, tensor in enumerate(request.inputs)]
    if not inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    outputs = [o.name for o in request.outputs] or None
    return InferRequest(request.id or None, inputs, outputs)


def _input(tensor: Any, raw: bytes | None) -> InferInput:
    name, datatype, shape = tensor.name, tensor.datatype, list(tensor.shape)
    if not name:
        raise BadRequest("every input needs a name")
    if any(d < 0 for d in shape):
        raise BadRequest(f"input {name!r}: shape {shape} has a negative dimension")
    if raw is not None:
        return InferInput(name, shape, datatype, decode_raw(name, shape, datatype, raw))
    field = CONTENTS.get(datatype)
    if field is None:
        raise BadRequest(f"input {name!r}: datatype {datatype!r} needs raw_input_contents or is unknown")
    values: list[Any] = list(getattr(tensor.contents, field))
    if datatype == "BYTES":
        try:
            values = [v.decode("utf-8") for v in values]
        except UnicodeDecodeError as error:
            raise BadRequest(f"input {name!r}: a BYTES element is not UTF-8") from error
    if len(values) != element_count(shape):
        raise BadRequest(
            f"input {name!r} has {len(values)} values but shape {shape} needs {element_count(shape)}"
        )
    return InferInput(name, shape, datatype, values)


def to_infer_response(answer: dict[str, Any]) -> Any:
    """The data plane's answer as ModelInferResponse, every tensor in raw_output_contents."""
    outputs = [{k: o[k] for k in ("name", "datatype", "shape")} for o in answer["outputs"]]
    raw = [encode_raw(o["datatype"], o["data"]) for o in answer["outputs"]]
    return message("ModelInferResponse")(
        model_name=answer["model_name"], model_version=answer["model_version"], id=answer["id"] or "",
        outputs=outputs, raw_output_contents=raw,
    )  # fmt: skip


def start_grpc(dataplane: DataPlane, settings: ServerSettings, token: str | None) -> grpc.Server:
    """Bind and start the gRPC server on `settings.grpc_port` (refuses a port already in use)."""
    options = [
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", 4 * settings.max_body_bytes),
    ]
    # a generation stream holds its worker while it runs or waits for a slot: enough workers that
    # every admitted or queued generation has one, and the next one meets the plane's own 429
    generations = settings.max_generations + settings.max_queued_generations + 1
    workers = max(8, 2 * settings.max_batch_size) + generations
    server = grpc.server(futures.ThreadPoolExecutor(workers, thread_name_prefix="grpc"), options=options)
    loop = asyncio.get_running_loop()
    server.add_generic_rpc_handlers(
        (
            InferenceService(dataplane, token, loop).handler(),
            GenerationService(dataplane, token, loop).handler(),
        )
    )
    server.add_insecure_port(f"{settings.host}:{settings.grpc_port}")
    server.start()
    log_event(LOG, "grpc_listening", host=settings.host, port=settings.grpc_port)
    return server
