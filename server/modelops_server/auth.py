"""The bearer-token check shared by the REST routes (`app.py`) and the gRPC service (`grpc_service.py`)."""

from __future__ import annotations

import hmac

from modelops_server.errors import Unauthorized


def check_bearer(header: str, token: str | None) -> None:
    """Constant-time `Authorization: Bearer <token>` check; no token configured means open."""
    if token is None:
        return
    scheme, _, supplied = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(supplied.strip().encode(), token.encode()):
        raise Unauthorized("missing or invalid bearer token")
