"""HTTP routes of text-generation models: the seed generate API, OpenAI chat completions and the OIP v2
generate extension, each streaming (Server-Sent Events) or not.

`app.py` adds these routes to the table (wrapped by its `_route`, so they are timed, counted and turn
ServerErrors into JSON). Every request is parsed (`generation_payloads`), started on the
`GenerationPlane` (slot or 429) before any byte is sent, so every error before the first token is a
normal 4xx/5xx; a streaming response closes its generation when it ends or the client goes away.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from modelops_server.errors import NotFound, ServerError
from modelops_server.generation_admission import Admission
from modelops_server.generation_chunks import Chunk
from modelops_server.generation_payloads import parse_chat_completions, parse_generate, parse_oip_generate
from modelops_server.generation_plane import Finished, Generation, GenerationRequest

if TYPE_CHECKING:
    from modelops_server.app import Routes

OPENAI_REASONS = {
    "stop": "stop", "length": "length", "deadline": "length", "cancelled": "stop",
    "guardrail": "content_filter",
}  # fmt: skip
Shape = Callable[[Chunk | Finished], list[Any]]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def sse(data: Any) -> bytes:
    """One Server-Sent Event carrying JSON (or a bare string such as OpenAI's [DONE])."""
    payload = data.encode() if isinstance(data, str) else orjson.dumps(data)
    return b"data: " + payload + b"\n\n"


class GenerationStream(StreamingResponse):
    """An SSE response that closes its generation however it ends (finished, error, client gone)."""

    def __init__(self, generation: Generation, content: AsyncIterator[bytes]) -> None:
        super().__init__(content, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self.generation = generation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.generation.close()


async def _events(generation: Generation, shape: Shape, trailer: list[Any]) -> AsyncIterator[bytes]:
    try:
        async for item in generation.events():
            for data in shape(item):
                yield sse(data)
    except ServerError as error:
        yield sse({"error": str(error)})
        return
    for data in trailer:
        yield sse(data)


Handler = Callable[["GenerationRoutes", Request], Awaitable[Response]]


def _admitted(handler: Handler) -> Handler:
    """Take an admission as soon as the request reaches its handler (`generation_admission`): running
    streams pause between tokens while it is set up; the generation ends it, or the handler's error."""

    @functools.wraps(handler)
    async def admitted(self: GenerationRoutes, request: Request) -> Response:
        admission = request.state.admission = self.dataplane.generation.gate.admit()
        try:
            return await handler(self, request)
        except BaseException:
            admission.end()
            raise

    return admitted


class GenerationRoutes:
    """The handlers; `routes` gives the body reader, auth and the data plane."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.dataplane = routes.dataplane
        self.settings = routes.settings

    async def _request(self, request: Request, parse: Callable[..., Any]) -> Any:
        self.routes.authorize(request)
        defaults = self.dataplane.generator().spec.defaults
        admission: Admission = request.state.admission
        with admission.waiting():
            body = await self.routes.body(request)
        parsed = parse(body, self.settings.max_new_tokens, self.settings.max_text_chars, defaults)
        with admission.waiting():
            await self.dataplane.inject_faults()  # after parsing: the latency counts in time to first token
        return parsed

    @_admitted
    async def generate(self, request: Request) -> Response:
        """POST /api/v1/ml-models/{model_type}/generate"""
        self.routes.seed_model(request)
        parsed: GenerationRequest = await self._request(request, parse_generate)
        generation = await self.dataplane.generation.start(parsed, request.state.admission)
        head = {"model_type": self.settings.model_type, "version": self.dataplane.state.version}
        if not parsed.stream:
            text, done = await generation.collect()
            return _json({**head, **_seed_final(done), "text": text})

        def shape(item: Chunk | Finished) -> list[Any]:
            if isinstance(item, Chunk):
                return [{"text": item.text, "token_ids": item.token_ids}]
            return [{**head, **_seed_final(item), "done": True, "text": item.outcome.text}]

        return GenerationStream(generation, _events(generation, shape, []))

    @_admitted
    async def chat_completions(self, request: Request) -> Response:
        """POST /v1/chat/completions (OpenAI-compatible)."""
        model, parsed = await self._request(request, parse_chat_completions)
        if model not in (None, self.settings.model_type):
            raise NotFound(f"unknown model {model!r}; this server serves {self.settings.model_type!r}")
        generation = await self.dataplane.generation.start(parsed, request.state.admission)
        head = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "created": int(time.time()),
            "model": self.settings.model_type,
        }
        if not parsed.stream:
            text, done = await generation.collect()
            reason = OPENAI_REASONS[done.outcome.finish_reason]
            message = {"role": "assistant", "content": text}
            choice = {"index": 0, "message": message, "finish_reason": reason, "logprobs": None}
            verdict = {"guardrail": done.guardrail.to_dict()} if done.guardrail else {}
            return _json(
                {**head, "object": "chat.completion", "choices": [choice], "usage": done.usage, **verdict}
            )
        chunk = {**head, "object": "chat.completion.chunk"}

        def shape(item: Chunk | Finished) -> list[Any]:
            if isinstance(item, Chunk):
                return [
                    {
                        **chunk,
                        "choices": [{"index": 0, "delta": {"content": item.text}, "finish_reason": None}],
                    }
                ]
            reason = OPENAI_REASONS[item.outcome.finish_reason]
            return [
                {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]},
                {**chunk, "choices": [], "usage": item.usage},
            ]

        first = {
            **chunk,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }

        async def body() -> AsyncIterator[bytes]:
            yield sse(first)
            async for data in _events(generation, shape, ["[DONE]"]):
                yield data

        return GenerationStream(generation, body())

    @_admitted
    async def oip_generate(self, request: Request) -> Response:
        """POST /v2/models/{name}/generate and /generate_stream (OIP v2 generate extension)."""
        self.dataplane.check_model(request.path_params["name"], request.path_params.get("version"))
        stream = request.url.path.endswith("_stream")
        parsed: GenerationRequest = await self._request(
            request, functools.partial(parse_oip_generate, stream=stream)
        )
        generation = await self.dataplane.generation.start(parsed, request.state.admission)
        head = {"model_name": self.settings.model_type, "model_version": self.dataplane.state.version}
        if not stream:
            text, done = await generation.collect()
            return _json({**head, "text_output": text, **_seed_final(done)})

        def shape(item: Chunk | Finished) -> list[Any]:
            if isinstance(item, Chunk):
                return [{**head, "text_output": item.text}]
            return [{**head, "text_output": "", **_seed_final(item)}]

        return GenerationStream(generation, _events(generation, shape, []))


def _seed_final(done: Finished) -> dict[str, Any]:
    final = {
        "finish_reason": done.outcome.finish_reason,
        "usage": done.usage,
        "token_ids": done.outcome.token_ids,
    }
    if done.guardrail is not None:
        final["guardrail"] = done.guardrail.to_dict()
    return final
