"""Text generation over gRPC (`modelops.generation.v1.GenerationService`): a thin adapter over the same
`GenerationPlane` the REST generate routes use, so slots, queue, deadline, guardrail and metrics are one.

`grpc_service.start_grpc` registers it beside OIP v2 on the gRPC port. Each call runs in a grpcio worker
thread: it decodes the request into the seed API's fields (the REST validation, so a bad field is
INVALID_ARGUMENT naming it), starts the generation on the event loop (a slot, or RESOURCE_EXHAUSTED with
`retry-after` and `grpc-retry-pushback-ms` trailers), and relays its events. A cancelled or expired call
cancels the task on the loop; its generation closes and frees the slot at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import queue
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from modelops_server.dataplane import DataPlane
from modelops_server.errors import BadRequest
from modelops_server.generation_chunks import Chunk
from modelops_server.generation_payloads import generate_request
from modelops_server.generation_plane import Finished, GenerationRequest
from modelops_server.grpc_protocol import GENERATION_SERVICE, check_call, message, served_call

OPTIONAL_FIELDS = ("max_new_tokens", "min_new_tokens", "temperature", "top_p", "top_k", "seed")
_END = object()  # the relay task is over (finished, failed or cancelled)


def _serialize(response: Any) -> bytes:
    return bytes(response.SerializeToString())


class GenerationService:
    """Generate (the whole answer) and GenerateStream (chunks, then the final answer)."""

    def __init__(self, dataplane: DataPlane, token: str | None, loop: asyncio.AbstractEventLoop) -> None:
        self.dataplane = dataplane
        self.settings = dataplane.settings
        self.token = token
        self.loop = loop

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler for the service's two methods (requests arrive as raw bytes)."""
        handlers = {
            "Generate": grpc.unary_unary_rpc_method_handler(self.generate, response_serializer=_serialize),
            "GenerateStream": grpc.unary_stream_rpc_method_handler(
                self.generate_stream, response_serializer=_serialize
            ),
        }
        return grpc.method_handlers_generic_handler(GENERATION_SERVICE, handlers)

    def generate(self, raw: bytes, context: grpc.ServicerContext) -> Any:
        """Unary: the whole answer once the generation ends."""
        with served_call(self.dataplane.metrics, "Generate", context):
            parsed = self._parse(raw, context)
            pending = asyncio.run_coroutine_threadsafe(self._answer(parsed), self.loop)
            _cancel_with(context, pending)
            return self._response(pending.result())
        raise AssertionError("unreachable: served_call aborts the call on every error")  # pragma: no cover

    def generate_stream(self, raw: bytes, context: grpc.ServicerContext) -> Iterator[Any]:
        """Server streaming: one TextChunk per printable piece of text, then the final GenerateResponse."""
        with served_call(self.dataplane.metrics, "GenerateStream", context):
            parsed = dataclasses.replace(self._parse(raw, context), stream=True)  # chunks as they come
            items: queue.SimpleQueue[object] = queue.SimpleQueue()
            pending = asyncio.run_coroutine_threadsafe(self._relay(parsed, items.put), self.loop)
            pending.add_done_callback(lambda _done: items.put(_END))
            _cancel_with(context, pending)
            stream = message("GenerateStreamResponse")
            while (item := items.get()) is not _END:
                if isinstance(item, Chunk):
                    yield stream(chunk={"text": item.text, "token_ids": item.token_ids})
                elif isinstance(item, Finished):
                    yield stream(final=self._response(item))
            pending.result()  # the error that ended the relay, if any (none after Finished)

    def _parse(self, raw: bytes, context: grpc.ServicerContext) -> GenerationRequest:
        check_call(raw, context, self.settings.max_body_bytes, self.token)
        try:
            request = message("GenerateRequest").FromString(raw)
        except DecodeError as error:
            raise BadRequest(f"GenerateRequest is not a valid protobuf message: {error}") from error
        if request.model_name or request.model_version:
            self.dataplane.check_model(
                request.model_name or self.settings.model_type, request.model_version or None
            )
        document: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages]
        }
        document.update({k: getattr(request, k) for k in OPTIONAL_FIELDS if request.HasField(k)})
        defaults = self.dataplane.generator().spec.defaults
        return generate_request(
            document, self.settings.max_new_tokens, self.settings.max_text_chars, defaults
        )

    async def _answer(self, parsed: GenerationRequest) -> Finished:
        await self.dataplane.inject_faults()
        generation = await self.dataplane.generation.start(parsed)
        try:
            return (await generation.collect())[1]
        finally:
            generation.close()

    async def _relay(self, parsed: GenerationRequest, put: Callable[[object], None]) -> None:
        await self.dataplane.inject_faults()
        generation = await self.dataplane.generation.start(parsed)
        try:
            async for item in generation.events():
                put(item)
        finally:
            generation.close()

    def _response(self, done: Finished) -> Any:
        outcome = done.outcome
        verdict = {"guardrail": done.guardrail.to_dict()} if done.guardrail is not None else {}
        return message("GenerateResponse")(
            model_name=self.settings.model_type, model_version=self.dataplane.state.version,
            text=outcome.text, token_ids=outcome.token_ids, finish_reason=outcome.finish_reason,
            usage=done.usage, **verdict,
        )  # fmt: skip


def _cancel_with(context: grpc.ServicerContext, pending: futures.Future[Any]) -> None:
    """Cancel the task on the loop when the call ends early (client cancel, deadline, disconnect)."""
    if not context.add_callback(pending.cancel):  # the call is already over
        pending.cancel()
