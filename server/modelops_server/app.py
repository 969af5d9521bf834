"""HTTP transport: thin Starlette routes over the data plane, with metrics, auth and the error handler.

Built by `create_app(settings)` (called by `cli.py serve` and by tests). Each route is wrapped once by
`_route`, which times it, counts it by status code and turns any ServerError into its JSON answer; there
is no middleware on the predict/infer path. Predict and infer need the bearer token when one is
configured; `/metrics` and the health details (the seed health JSON, model readiness with its reason)
need the metrics token when the platform turns `metricsAuth` on. Liveness and readiness
(`/v2/health/live`, `/v2/health/ready`) always stay open: they answer a bare boolean, for the probes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from modelops_server.auth import check_bearer, check_metrics_token
from modelops_server.binary import EXTENSIONS, HEADER, encode_rest_infer, parse_rest_infer
from modelops_server.dataplane import DataPlane
from modelops_server.errors import NotFound, PayloadTooLarge, ServerError, error_response
from modelops_server.generation_routes import GenerationRoutes
from modelops_server.logs import get_logger, log_event
from modelops_server.metrics import CONTENT_TYPE
from modelops_server.openapi import openapi_document
from modelops_server.payloads import parse_predict, predict_response
from modelops_server.settings import ServerSettings
from modelops_server.shadow import Mirror

LOG = get_logger("app")
Handler = Callable[[Request], Awaitable[Response]]


def json_response(body: Any, status: int = 200) -> Response:
    """orjson-encoded JSON response."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
    )


class Routes:
    """The handlers; each one parses, calls the data plane and shapes the answer."""

    def __init__(
        self,
        dataplane: DataPlane,
        token: str | None,
        metrics_token: str | None = None,
        mirror: Mirror | None = None,
    ) -> None:
        self.dataplane = dataplane
        self.mirror = mirror or Mirror(None, dataplane.metrics)
        self.settings = dataplane.settings
        self.token = token
        self.metrics_token = metrics_token

    async def body(self, request: Request) -> bytes:
        """The request body, refused with 413 beyond max_body_bytes (checked while reading)."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "0")
        if declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def authorize(self, request: Request) -> None:
        """Bearer-token check (constant-time) when a token is configured."""
        check_bearer(request.headers.get("authorization", ""), self.token)

    def authorize_details(self, request: Request) -> None:
        """Metrics-token check for /metrics and the health details (metricsAuth)."""
        check_metrics_token(request.headers, self.metrics_token)

    def seed_model(self, request: Request) -> None:
        """404 unless the path names the served model type."""
        model_type = request.path_params["model_type"]
        if model_type != self.settings.model_type:
            raise NotFound(
                f"unknown model type {model_type!r}; this server serves {self.settings.model_type!r}"
            )

    async def health(self, request: Request) -> Response:
        self.authorize_details(request)
        self.seed_model(request)
        status, body = self.dataplane.health()
        return json_response(body, status)

    async def predict(self, request: Request) -> Response:
        self.authorize(request)
        self.seed_model(request)
        texts, single = parse_predict(
            await self.body(request), self.settings.max_text_chars, self.settings.max_texts
        )
        rows = await self.dataplane.predict(texts)
        self.mirror.offer(texts, rows)  # returns at once: the mirror never delays this answer
        return json_response(
            predict_response(self.settings.model_type, self.dataplane.state.version, rows, single)
        )

    async def infer(self, request: Request) -> Response:
        self.authorize(request)
        self.dataplane.check_model(request.path_params["name"], request.path_params.get("version"))
        infer_request = parse_rest_infer(await self.body(request), request.headers.get(HEADER))
        body, headers = encode_rest_infer(infer_request, await self.dataplane.infer(infer_request))
        return Response(body, headers=headers)

    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        ready = self.dataplane.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    async def model_ready(self, request: Request) -> Response:
        self.authorize_details(request)
        self.dataplane.check_model(request.path_params["name"], request.path_params.get("version"))
        ready = self.dataplane.ready
        body = {"name": self.settings.model_type, "ready": ready, "reason": self.dataplane.state.reason}
        return json_response(body, 200 if ready else 503)

    async def model_metadata(self, request: Request) -> Response:
        self.dataplane.check_model(request.path_params["name"], request.path_params.get("version"))
        return json_response(self.dataplane.model_metadata())

    async def server_metadata(self, request: Request) -> Response:
        return json_response({"name": "modelops-server", "version": "0.1.0", "extensions": EXTENSIONS})

    async def metrics(self, request: Request) -> Response:
        self.authorize_details(request)
        return Response(self.dataplane.metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(self, request: Request) -> Response:
        return json_response(openapi_document(self.settings.model_type, self.dataplane.state.version))


def _route(path: str, name: str, handler: Handler, dataplane: DataPlane, methods: list[str]) -> Route:
    requests = dataplane.metrics.requests
    duration = dataplane.metrics.request_duration.labels(name)
    counters: dict[int, Any] = {}  # labels() costs ~3.5 µs a call; a cached child's inc() ~0.5 µs

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except ServerError as error:
            response = error_response(error)
        except Exception as error:  # last resort: answer 500 as JSON and keep serving
            log_event(LOG, "request_failed", logging.ERROR, endpoint=name, error=repr(error))
            response = error_response(ServerError(f"internal error: {type(error).__name__}"))
        counter = counters.get(response.status_code)
        if counter is None:
            counter = counters[response.status_code] = requests.labels(name, str(response.status_code))
        counter.inc()
        if not 400 <= response.status_code < 500:  # a refused caller is not a served request (analysis)
            duration.observe(time.perf_counter() - started)
        return response

    return Route(path, endpoint, methods=methods, name=name)


def _routes(handlers: Routes, dataplane: DataPlane) -> list[Route]:
    seed = "/api/v1/ml-models/{model_type}"
    model = "/v2/models/{name}"
    versioned = "/v2/models/{name}/versions/{version}"
    generate = GenerationRoutes(handlers)
    table: list[tuple[str, str, Handler, str]] = [
        (f"{seed}/generate", "generate", generate.generate, "POST"),
        ("/v1/chat/completions", "chat_completions", generate.chat_completions, "POST"),
        (f"{model}/generate", "generate_oip", generate.oip_generate, "POST"),
        (f"{model}/generate_stream", "generate_oip", generate.oip_generate, "POST"),
        (f"{seed}/health", "health", handlers.health, "GET"),
        (f"{seed}/predict", "predict", handlers.predict, "POST"),
        ("/v2/health/live", "live", handlers.live, "GET"),
        ("/v2/health/ready", "ready", handlers.ready, "GET"),
        ("/v2", "server_metadata", handlers.server_metadata, "GET"),
        (model, "model_metadata", handlers.model_metadata, "GET"),
        (versioned, "model_metadata", handlers.model_metadata, "GET"),
        (f"{model}/ready", "model_ready", handlers.model_ready, "GET"),
        (f"{versioned}/ready", "model_ready", handlers.model_ready, "GET"),
        (f"{model}/infer", "infer", handlers.infer, "POST"),
        (f"{versioned}/infer", "infer", handlers.infer, "POST"),
        ("/metrics", "metrics", handlers.metrics, "GET"),
        ("/openapi.json", "openapi", handlers.openapi, "GET"),
    ]
    return [_route(path, name, handler, dataplane, [method]) for path, name, handler, method in table]


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    response = json_response({"error": f"{detail}: {request.method} {request.url.path}"}, status)
    response.headers.update((isinstance(exc, HTTPException) and exc.headers) or {})  # 405 carries Allow
    return response


class DirectRoutes:
    """Pure ASGI middleware: POSTs to the exact predict/infer paths skip routing and exception middleware.

    These two paths carry the traffic; everything else (and every other method) goes through Starlette.
    """

    def __init__(self, app: ASGIApp, endpoints: dict[str, tuple[Handler, dict[str, str]]]) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = (
            self.endpoints.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if direct is None:
            await self.app(scope, receive, send)
            return
        endpoint, path_params = direct
        scope["path_params"] = path_params
        response = await endpoint(Request(scope, receive))
        await response(scope, receive, send)


def _hot_paths(routes: list[Route], model_type: str) -> dict[str, tuple[Handler, dict[str, str]]]:
    by_name = {route.name: route.endpoint for route in routes}
    return {
        f"/api/v1/ml-models/{model_type}/predict": (by_name["predict"], {"model_type": model_type}),
        f"/v2/models/{model_type}/infer": (by_name["infer"], {"name": model_type}),
    }


def create_app(settings: ServerSettings, dataplane: DataPlane | None = None) -> Starlette:
    """The ASGI app; its lifespan starts the batcher and the background model load."""
    plane = dataplane or DataPlane(settings)
    token = settings.read_auth_token()
    mirror = Mirror(settings.shadow_config_file, plane.metrics, auth_token=token)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await plane.start()
        await mirror.start()
        grpc_server = None
        try:
            if settings.grpc_port:
                from modelops_server.grpc_service import start_grpc

                grpc_server = start_grpc(plane, settings, token)
            yield
        finally:
            if grpc_server is not None:
                await asyncio.to_thread(grpc_server.stop(grace=2).wait)
            await mirror.stop()
            await plane.stop()
            await plane.generation.guardrail.close()

    routes = _routes(Routes(plane, token, settings.read_metrics_token(), mirror), plane)
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(DirectRoutes, endpoints=_hot_paths(routes, settings.model_type))
    app.state.dataplane = plane
    return app
