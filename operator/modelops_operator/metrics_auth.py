"""metricsAuth on the operator's side: the token it presents when it reads a server pod's details.

When the platform policy names `metricsAuthSecret`, server pods answer `/metrics`, the seed health JSON
and model readiness only to the token in that Secret (key `token`, one Secret of that name in every
model namespace). `observe` builds one `MetricsToken` per ModelDeployment it observes and hands it to
the health-reason read and the analysis scrape (`analysis.scrape.proxy_fetcher`); the Secret is read
at most once per observation, and only when a pod is actually asked. The token travels in
METRICS_TOKEN_HEADER: through the apiserver's pod proxy `Authorization` is the operator's own credential
and is never passed on to the pod.
"""

from __future__ import annotations

import base64
import binascii

from modelops.vocabulary import METRICS_TOKEN_HEADER
from modelops_operator.kube import Kube, KubeError

TOKEN_KEY = "token"


class MetricsToken:
    """The metrics token of one namespace, read from its Secret when first needed (no token when off)."""

    def __init__(self, kube: Kube | None, namespace: str, secret: str) -> None:
        self.kube = kube
        self.namespace = namespace
        self.secret = secret
        self._headers: dict[str, str] | None = None

    @classmethod
    def off(cls) -> MetricsToken:
        return cls(None, "", "")

    def headers(self) -> dict[str, str]:
        """The request headers carrying the token; {} when metricsAuth is off.

        Raises KubeError naming the Secret when it is missing, unreadable or holds no token."""
        if not self.secret:
            return {}
        if self._headers is None:
            self._headers = {METRICS_TOKEN_HEADER: self._read()}
        return self._headers

    def _read(self) -> str:
        assert self.kube is not None
        where = f"metrics token Secret {self.namespace}/{self.secret}"
        found = self.kube.get(f"/api/v1/namespaces/{self.namespace}/secrets/{self.secret}")
        if found is None:
            raise KubeError(404, f"{where}: not found")
        encoded = (found.get("data") or {}).get(TOKEN_KEY, "")
        try:
            token = base64.b64decode(encoded, validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            token = ""
        if not token:
            raise KubeError(422, f"{where}: no token in key {TOKEN_KEY!r}")
        return token
