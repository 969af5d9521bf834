"""The typed, validated views of a ModelDeployment's and a ModelVersion's spec, parsed once per reconcile.

`observe` parses the ModelDeployment (`ModelDeploymentSpec.of`) before it reads anything else and hands
the view to `reconcile.plan` in `Observed.spec`; `builders`, `policy`, `canary`, `gating`, `promotion`
and the analysis read fields of it, never the raw dict. The defaults live here (or in the sub-views this
module reuses: `RolloutSpec`, `RollbackSpec`, the analysis `Thresholds`, the shared `PromotionPolicy`),
the same as the CRD's. A stored object that the CRD would refuse today (written before a rule existed)
raises `ValueError` naming the field; `reconcile.plan` reports it as Degraded=True InvalidSpec and changes
nothing. `ModelVersionSpec.of` does the same for a ModelVersion (`builders`, `policy`, `observe`).
`spec.storage` stays a plain mapping: `storage.resolve` owns its rules (it also derives one from a URI).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modelops.gates import PromotionPolicy
from modelops.names import validate_environment, validate_model_type
from modelops.versions import canonical
from modelops_operator.analysis.decision import Thresholds
from modelops_operator.rollback_spec import RollbackSpec
from modelops_operator.rollout_strategy import RolloutSpec

DEFAULT_REPLICAS = 1
MAX_REPLICAS = 100
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
DEFAULT_AUTH_KEY = "token"
DEFAULT_PUBLIC_KEY_KEY = "public.pem"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
T = TypeVar("T")


@dataclass(frozen=True)
class SecretKey:
    """A key of a Secret in the object's namespace."""

    name: str
    key: str


@dataclass(frozen=True)
class EnvVar:
    """One extra environment variable of the server (`spec.server.env[]`)."""

    name: str
    value: str = ""


@dataclass(frozen=True)
class ServerSpec:
    """`spec.server`: how the inference server runs; None leaves the operator's default."""

    image: str | None = None
    image_pull_policy: str | None = None
    threads: int | None = None
    startup_seconds: int | None = None
    max_batch_size: int | None = None
    max_batch_delay_ms: int | None = None
    auth_secret: SecretKey | None = None
    resources: Mapping[str, Any] | None = None
    env: tuple[EnvVar, ...] = ()


@dataclass(frozen=True)
class ModelDeploymentSpec:
    """The whole `spec` of a ModelDeployment, typed; `version` canonical, `version_text` as written."""

    model: str
    environment: str
    version: str
    version_text: str
    replicas: int = DEFAULT_REPLICAS
    server: ServerSpec = field(default_factory=ServerSpec)
    storage: Mapping[str, Any] | None = None
    rollout: RolloutSpec = field(default_factory=RolloutSpec)
    rollback: RollbackSpec = field(default_factory=RollbackSpec)
    analysis: Thresholds | None = None
    promotion: PromotionPolicy | None = None

    @classmethod
    def of(cls, md: Mapping[str, Any]) -> ModelDeploymentSpec:
        """The view of ModelDeployment `md`; ValueError naming the field the CRD would refuse."""
        raw = _mapping(md.get("spec"), "spec")
        rollback = _mapping(raw.get("rollback"), "spec.rollback")
        version_text = str(_required(raw, "version", "spec"))
        analysis = rollback.get("analysis")
        return cls(
            model=_field("spec.model", validate_model_type, str(_required(raw, "model", "spec"))),
            environment=_field(
                "spec.environment", validate_environment, str(_required(raw, "environment", "spec"))
            ),
            version=_field("spec.version", canonical, version_text),
            version_text=version_text,
            replicas=_int(raw, "replicas", "spec", DEFAULT_REPLICAS, (0, MAX_REPLICAS)),
            server=_server(_mapping(raw.get("server"), "spec.server")),
            storage=_mapping(raw["storage"], "spec.storage") if raw.get("storage") else None,
            rollout=_field("spec.rollout", RolloutSpec.of, md),
            rollback=_field("spec.rollback", RollbackSpec.of, md),
            analysis=None if analysis is None else _analysis(analysis),
            promotion=_field("spec.promotion", PromotionPolicy.from_spec, raw.get("promotion")),
        )


@dataclass(frozen=True)
class Signature:
    """`spec.artifact.signature` of a ModelVersion: the Secret holding the public key."""

    public_key_secret: str
    public_key_key: str = DEFAULT_PUBLIC_KEY_KEY


@dataclass(frozen=True)
class ModelVersionSpec:
    """The `spec` of a ModelVersion the operator reads: model, version, artifact and metrics."""

    model: str
    version: str
    version_text: str
    uri: str
    sha256: str
    signature: Signature | None = None
    metrics: Mapping[str, Any] | None = None

    @classmethod
    def of(cls, mv: Mapping[str, Any]) -> ModelVersionSpec:
        """The view of ModelVersion `mv`; ValueError naming the field the CRD would refuse."""
        raw = _mapping(mv.get("spec"), "spec")
        artifact = _mapping(_required(raw, "artifact", "spec"), "spec.artifact")
        signature = _mapping(artifact.get("signature"), "spec.artifact.signature")
        version_text = str(_required(raw, "version", "spec"))
        return cls(
            model=_field("spec.model", validate_model_type, str(_required(raw, "model", "spec"))),
            version=_field("spec.version", canonical, version_text),
            version_text=version_text,
            uri=str(_required(artifact, "uri", "spec.artifact")),
            sha256=str(_required(artifact, "sha256", "spec.artifact")),
            signature=Signature(
                str(_required(signature, "publicKeySecret", "spec.artifact.signature")),
                str(signature.get("publicKeyKey") or DEFAULT_PUBLIC_KEY_KEY),
            )
            if signature
            else None,
            metrics=_mapping(raw.get("metrics"), "spec.metrics") or None,
        )


def model_of(md: Mapping[str, Any]) -> str:
    """The model a listed ModelDeployment serves, read without the whole view: a ModelVersion's
    reconcile must still see one whose stored spec no longer parses (its pods keep serving)."""
    return str((md.get("spec") or {}).get("model", ""))


def environment_of(md: Mapping[str, Any]) -> str:
    """The environment of a listed ModelDeployment (see `model_of`)."""
    return str((md.get("spec") or {}).get("environment", ""))


def _server(raw: Mapping[str, Any]) -> ServerSpec:
    where = "spec.server"
    pull = raw.get("imagePullPolicy") or None
    if pull is not None and pull not in PULL_POLICIES:
        raise ValueError(f"{where}.imagePullPolicy must be one of {', '.join(PULL_POLICIES)}, not {pull!r}")
    batching = _mapping(raw.get("batching"), f"{where}.batching")
    auth = _mapping(raw.get("authSecret"), f"{where}.authSecret")
    return ServerSpec(
        image=str(raw["image"]) if raw.get("image") else None,
        image_pull_policy=pull,
        threads=_int(raw, "threads", where, None, (1, 64)),
        startup_seconds=_int(raw, "startupSeconds", where, None, (5, 3600)),
        max_batch_size=_int(batching, "maxBatchSize", f"{where}.batching", None, (1, 1024)),
        max_batch_delay_ms=_int(batching, "maxBatchDelayMs", f"{where}.batching", None, (0, 1000)),
        auth_secret=SecretKey(
            str(_required(auth, "name", f"{where}.authSecret")), str(auth.get("key") or DEFAULT_AUTH_KEY)
        )
        if auth
        else None,
        resources=_mapping(raw.get("resources"), f"{where}.resources") or None,
        env=tuple(_env(item, f"{where}.env[{i}]") for i, item in enumerate(raw.get("env") or [])),
    )


def _env(raw: Any, where: str) -> EnvVar:
    item = _mapping(raw, where)
    name = str(_required(item, "name", where))
    if not _ENV_NAME.match(name):
        raise ValueError(f"{where}.name must be a variable name (letters, digits, _), not {name!r}")
    return EnvVar(name, str(item.get("value", "")))


def _analysis(raw: Any) -> Thresholds:
    where = "spec.rollback.analysis"
    try:
        return Thresholds.from_spec(_mapping(raw, where))
    except (TypeError, ValueError) as error:
        if str(error).startswith(where):
            raise
        raise ValueError(f"{where}: {error}") from error


def _mapping(raw: Any, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where} must be an object, not {type(raw).__name__}")
    return raw


def _required(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if raw.get(key) in (None, ""):
        raise ValueError(f"{where}.{key} is required")
    return raw[key]


def _int(raw: Mapping[str, Any], key: str, where: str, default: T, bounds: tuple[int, int]) -> int | T:
    low, high = bounds
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}.{key} must be an integer, not {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{where}.{key} must be {low}..{high}, not {value}")
    return value


def _field(where: str, parse: Callable[[Any], T], raw: Any) -> T:
    """`parse(raw)`, its ValueError (or a TypeError, KeyError of a malformed value) naming `where`."""
    try:
        return parse(raw)
    except (TypeError, KeyError, ValueError) as error:
        message = str(error)
        if message.startswith(where):
            raise ValueError(message) from error
        raise ValueError(f"{where}: {message}") from error
