"""The token checks shared by the REST routes (`app.py`) and the gRPC service (`grpc_service.py`).

Two tokens, both optional: the bearer token of predict/infer (`--auth-token-file`), and the metrics token
(`--metrics-token-file`, the platform's `metricsAuth`) that guards `/metrics` and the health details.
A metrics caller presents it as `Authorization: Bearer <token>` (Prometheus) or in METRICS_TOKEN_HEADER:
the operator reads pods through the apiserver's pod proxy, which consumes `Authorization` itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from modelops.vocabulary import METRICS_TOKEN_HEADER
from modelops_server.errors import Unauthorized


def check_bearer(header: str, token: str | None) -> None:
    """Constant-time `Authorization: Bearer <token>` check; no token configured means open."""
    if token is None:
        return
    if not _bearer_matches(header, token):
        raise Unauthorized("missing or invalid bearer token")


def check_metrics_token(headers: Mapping[str, str], token: str | None) -> None:
    """The metrics token in METRICS_TOKEN_HEADER or as a bearer token; no token configured means open."""
    if token is None:
        return
    supplied = headers.get(METRICS_TOKEN_HEADER.lower(), "").strip()
    if supplied and hmac.compare_digest(supplied.encode(), token.encode()):
        return
    if _bearer_matches(headers.get("authorization", ""), token):
        return
    raise Unauthorized(f"missing or invalid metrics token (Authorization: Bearer or {METRICS_TOKEN_HEADER})")


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, supplied = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode())
