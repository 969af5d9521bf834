"""One error base class that carries its HTTP status, and the one handler that turns it into JSON.

Payload parsing, the data plane and the routes raise these; `app.py` answers them with `error_response`
so every failure has the same shape (`{"error": "..."}`, as the Open Inference Protocol specifies).
"""

from __future__ import annotations

import orjson
from starlette.responses import Response


class ServerError(Exception):
    """Base class: `status` is the HTTP status the client gets, the message its explanation."""

    status = 500


class BadRequest(ServerError):
    """The request body or parameters are malformed."""

    status = 400


class Unauthorized(ServerError):
    """Missing or wrong bearer token."""

    status = 401


class NotFound(ServerError):
    """Unknown model name or version."""

    status = 404


class PayloadTooLarge(ServerError):
    """The body exceeds the configured limit."""

    status = 413


class TooManyRequests(ServerError):
    """Every generation slot is busy and the queue is full; the client should retry after `retry_after` s."""

    status = 429

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedMediaType(ServerError):
    """The body is not JSON."""

    status = 415


class NotReady(ServerError):
    """The model is loading or failed verification; the reason says which."""

    status = 503


class InjectedFault(ServerError):
    """A test-only injected failure (MODELOPS_SERVER_FAULT_ERROR_RATE)."""

    status = 500


class VerificationError(ServerError):
    """The model failed a check before or after loading; the server stays up and unhealthy.

    `definitive`: the artifact itself was rejected (digest, signature, metadata, graph, golden answer), so
    no restart or retry of this version can succeed; the health JSON says so and the operator rolls back
    at once instead of waiting for the readiness deadline. Missing directories or packages are not
    definitive (storage may still appear), nor is anything unexpected.
    """

    status = 503

    def __init__(self, message: str, *, definitive: bool = False) -> None:
        super().__init__(message)
        self.definitive = definitive


def error_response(error: ServerError) -> Response:
    """The JSON answer for any ServerError."""
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
    if isinstance(error, TooManyRequests):
        headers = {"Retry-After": str(error.retry_after)}
    body = orjson.dumps({"error": str(error)})
    return Response(body, status_code=error.status, media_type="application/json", headers=headers)
