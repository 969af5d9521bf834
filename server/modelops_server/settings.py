"""The server's one typed settings object, built and validated once at start-up by `cli.py`.

Nothing reads the environment while serving: every flag (and its `MODELOPS_SERVER_*` variable) ends up
here, and the data plane, batcher and app receive this object.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelops.names import validate_model_type

CRISIS_RESPONSE = (
    "I'm really sorry you're going through this. You don't have to face it alone. If you are in danger "
    "or thinking about harming yourself, please call your local emergency number now, or reach a crisis "
    "line (in the US, call or text 988; in the UK and Ireland, Samaritans at 116 123). Talking to someone "
    "you trust can help too."
)


class SettingsError(ValueError):
    """A setting is out of range or inconsistent; the server refuses to start."""


@dataclass(frozen=True)
class FaultSettings:
    """Test-only fault injection (off by default) for the rollback-analysis tests."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    versions: tuple[str, ...] = ()

    def applies_to(self, version: str) -> bool:
        """Faults hit only the listed versions; an empty list means every version."""
        return not self.versions or version in self.versions

    @property
    def active(self) -> bool:
        """Whether any fault is configured at all."""
        return self.error_rate > 0 or self.latency_ms > 0


@dataclass(frozen=True)
class ServerSettings:
    """Everything one server process needs; see `cli.py` for the flags and their variables."""

    models_dir: Path
    model_type: str
    version: str = "latest"
    host: str = "0.0.0.0"  # the pod's port must be reachable from the Service
    port: int = 8080
    grpc_port: int = 0  # OIP v2 gRPC; 0 = off
    package: str | None = None
    work_dir: Path = Path("/tmp/modelops-server")
    expected_digest: str | None = None
    public_key: Path | None = None
    require_signature: bool = False
    trusted_keys: tuple[str, ...] = ()  # sha256 fingerprints the public key must have (platform policy)
    threads: int = 1
    max_batch_size: int = 8
    max_batch_delay_ms: float = 2.0
    max_text_chars: int = 10_000
    max_texts: int = 256
    max_body_bytes: int = 1 << 20
    auth_token_file: Path | None = None
    max_prompt_tokens: int = 2048  # text generation: longer prompts are refused (400)
    max_new_tokens: int = 512  # text generation: the most tokens one request may ask for
    max_generations: int = 4  # generations running at once
    max_queued_generations: int = 32  # waiting for a slot; past this, 429 with Retry-After
    generation_deadline_s: float = 120.0  # a generation (queueing included) ends at this age
    stream_chunk_ms: float = 50.0  # a stream's tokens reach the client at most this often (0 = each token)
    guardrail_url: str | None = None  # a safety classifier's seed predict URL; off when None
    guardrail_label: str = "risk"  # the classifier's label that means risk
    guardrail_threshold: float = 0.5  # risk score from which the crisis response replaces generation
    crisis_response: str = CRISIS_RESPONSE
    # The platform's metricsAuth: /metrics and the health details need this token (auth.py); the
    # liveness and readiness paths (/v2/health/live, /v2/health/ready) stay open and reveal nothing.
    metrics_token_file: Path | None = None
    # Shadow rollouts: the operator's mirror target file (shadow.py); re-read while serving, absent = off.
    shadow_config_file: Path | None = None
    log_level: str = "INFO"
    faults: FaultSettings = field(default_factory=FaultSettings)

    def __post_init__(self) -> None:
        try:
            validate_model_type(self.model_type)
        except ValueError as error:
            raise SettingsError(str(error)) from error
        _check_ranges(self)
        if self.require_signature and self.public_key is None:
            raise SettingsError("--require-signature needs --public-key to verify the signature with")

    @property
    def batching(self) -> bool:
        """Batching is on when more than one request may share a model run."""
        return self.max_batch_size > 1

    def read_auth_token(self) -> str | None:
        """The bearer token from the mounted Secret file, read once at start-up."""
        return _read_token(self.auth_token_file, "auth token")

    def read_metrics_token(self) -> str | None:
        """The metrics token from the mounted Secret file, read once at start-up."""
        return _read_token(self.metrics_token_file, "metrics token")

    def describe(self) -> dict[str, Any]:
        """JSON-ready view for the start-up log line (no secrets: only the token file's path)."""
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}


def _read_token(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise SettingsError(f"{what} file {path} is empty")
    return token


def _check_ranges(settings: ServerSettings) -> None:
    checks = [
        (1 <= settings.port <= 65535, "port must be in 1..65535"),
        (0 <= settings.grpc_port <= 65535, "grpc-port must be in 0..65535 (0 turns gRPC off)"),
        (settings.grpc_port != settings.port, "grpc-port must differ from port"),
        (settings.threads >= 1, "threads must be >= 1"),
        (settings.max_batch_size >= 1, "max-batch-size must be >= 1"),
        (settings.max_batch_delay_ms >= 0, "max-batch-delay-ms must be >= 0"),
        (settings.max_text_chars >= 1, "max-text-chars must be >= 1"),
        (settings.max_texts >= 1, "max-texts must be >= 1"),
        (settings.max_body_bytes >= 1024, "max-body-bytes must be >= 1024"),
        (settings.max_prompt_tokens >= 1, "max-prompt-tokens must be >= 1"),
        (settings.max_new_tokens >= 1, "max-new-tokens must be >= 1"),
        (settings.max_generations >= 1, "max-generations must be >= 1"),
        (settings.max_queued_generations >= 0, "max-queued-generations must be >= 0"),
        (settings.generation_deadline_s > 0, "generation-deadline-s must be > 0"),
        (0 <= settings.stream_chunk_ms <= 10_000, "stream-chunk-ms must be in 0..10000"),
        (0.0 <= settings.guardrail_threshold <= 1.0, "guardrail-threshold must be in 0..1"),
        (bool(settings.crisis_response.strip()), "crisis-response must not be empty"),
        (
            not settings.guardrail_url or settings.guardrail_url.startswith(("http://", "https://")),
            "guardrail-url must be an http(s) URL",
        ),
        (0.0 <= settings.faults.error_rate <= 1.0, "fault error rate must be in 0..1"),
        (settings.faults.latency_ms >= 0, "fault latency must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise SettingsError(message)
