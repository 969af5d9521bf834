"""The optional guardrail of a text-generation server: a safety classifier is asked about the user's last
message first, and a risk message is answered with the configured crisis response instead of a
generation.

Configured by the settings `guardrail_url` (a modelops classifier's seed predict URL, e.g.
`http://safety-classifier-production:8080/api/v1/ml-models/safety_classifier/predict`, set through the
ModelDeployment's `spec.server.env` as MODELOPS_SERVER_GUARDRAIL_URL), `guardrail_label` (the risk
label), `guardrail_threshold` and `crisis_response`. `GenerationPlane.start` calls `Guardrail.check`;
the verdict goes into the response (`guardrail`) and into `modelops_guardrail_verdicts_total`. When the
classifier cannot answer, the request fails closed (503): a companion must not skip the check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import httpx

from modelops_server.errors import NotReady
from modelops_server.metrics import ServerMetrics
from modelops_server.settings import ServerSettings

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Verdict:
    """The classifier's answer about the last user message."""

    label: str
    risk_score: float
    blocked: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form for responses."""
        return asdict(self)


class Guardrail:
    """Asks the safety classifier; one pooled HTTP client per server."""

    def __init__(self, settings: ServerSettings, metrics: ServerMetrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._client: httpx.AsyncClient | None = None

    @property
    def enabled(self) -> bool:
        """Whether a classifier URL is configured."""
        return bool(self.settings.guardrail_url)

    async def check(self, messages: list[dict[str, str]]) -> Verdict | None:
        """The verdict on the last user message (None when off or there is no user message)."""
        text = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if not self.enabled or not text.strip():
            return None
        try:
            scores = await self._ask(text)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            self.metrics.guardrail_verdicts.labels("error").inc()
            raise NotReady(
                f"the guardrail classifier did not answer: {type(error).__name__}: {error}"
            ) from error
        score = float(scores.get(self.settings.guardrail_label, 0.0))
        verdict = Verdict(
            label=max(scores, key=scores.__getitem__) if scores else "",
            risk_score=round(score, 6),
            blocked=score >= self.settings.guardrail_threshold,
        )
        self.metrics.guardrail_verdicts.labels("blocked" if verdict.blocked else "allowed").inc()
        return verdict

    async def _ask(self, text: str) -> dict[str, float]:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S)
        assert self.settings.guardrail_url is not None
        response = await self._client.post(self.settings.guardrail_url, json={"text": text})
        response.raise_for_status()
        scores = response.json()["scores"]
        return {str(k): float(v) for k, v in scores.items()}

    async def close(self) -> None:
        """Close the pooled client (server shutdown)."""
        if self._client is not None:
            await self._client.aclose()
