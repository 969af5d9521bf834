"""The operator's one typed settings object, read from `MODELOPS_OPERATOR_<FIELD>` once at start-up.

`main` builds it before kopf starts and hands it to the handlers; nothing reads the environment while
reconciling. An unknown `MODELOPS_OPERATOR_*` variable is an error (a typo must not be silently ignored),
and so is a value of the wrong type. The Helm chart maps its values onto these variables.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from modelops_operator.policy import Policy, PolicyError

ENV_PREFIX = "MODELOPS_OPERATOR_"
PULL_POLICIES = ("Always", "IfNotPresent", "Never")


class SettingsError(ValueError):
    """A MODELOPS_OPERATOR_* variable that is unknown or has a bad value."""


def _default_resources() -> dict[str, Any]:
    return {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


@dataclass(frozen=True)
class Settings:
    """Operator-wide defaults and timings; every field can be set as MODELOPS_OPERATOR_<FIELD>."""

    default_server_image: str = "localhost/modelops-server:dev"
    default_image_pull_policy: str = "IfNotPresent"
    default_startup_seconds: int = 120
    # Secret with the AWS_* variables for s3:// artifacts whose ModelDeployment names none (platform policy).
    default_s3_secret: str = ""
    resources: dict[str, Any] = field(default_factory=_default_resources)
    server_port: int = 8080
    server_grpc_port: int = 8081  # the servers' OIP v2 gRPC port (Service port `grpc`); 0 = off
    resync_seconds: float = 300.0
    # How often the liveness check lists ModelDeployments and ModelVersions to verify that the watches
    # delivered them (watchcheck.py): a watch that stopped delivering fails liveness within two periods.
    watch_check_seconds: float = 60.0
    requeue_seconds: float = 2.0
    workers: int = 4
    # An owned Deployment's or pod's event queues its ModelDeployment this much later: the events of
    # that while (the Deployment controller writes several at once) become one reconcile.
    owned_debounce_seconds: float = 0.25
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    metrics_port: int = 9090
    namespaces: tuple[str, ...] = ()
    history_limit: int = 20
    crashloop_restarts: int = 3
    health_timeout_seconds: float = 2.0
    # While a new pod's server still verifies its model, look again this often (fail-fast rollback).
    loading_poll_seconds: float = 1.0
    log_level: str = "INFO"
    # The platform team's policy (camelCase JSON, the chart's `policy` values); see policy.py.
    policy: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(
            self.default_image_pull_policy in PULL_POLICIES,
            "default_image_pull_policy",
            f"must be one of {', '.join(PULL_POLICIES)}",
        )
        _check(self.default_startup_seconds >= 5, "default_startup_seconds", "must be >= 5")
        _check(0 < self.server_port < 65536, "server_port", "must be a TCP port")
        _check(0 <= self.server_grpc_port < 65536, "server_grpc_port", "must be a TCP port or 0 (off)")
        _check(self.server_grpc_port != self.server_port, "server_grpc_port", "must differ from server_port")
        _check(0 <= self.metrics_port < 65536, "metrics_port", "must be a TCP port or 0 (off)")
        _check(self.resync_seconds > 0, "resync_seconds", "must be > 0")
        _check(self.watch_check_seconds >= 1, "watch_check_seconds", "must be >= 1")
        _check(self.requeue_seconds > 0, "requeue_seconds", "must be > 0")
        _check(1 <= self.workers <= 64, "workers", "must be between 1 and 64")
        _check(0 <= self.owned_debounce_seconds <= 5, "owned_debounce_seconds", "must be between 0 and 5")
        _check(
            0 < self.backoff_seconds <= self.max_backoff_seconds,
            "backoff_seconds",
            "must be > 0 and <= max_backoff_seconds",
        )
        _check(self.history_limit >= 1, "history_limit", "must be >= 1")
        _check(self.crashloop_restarts >= 1, "crashloop_restarts", "must be >= 1")
        _check(self.health_timeout_seconds > 0, "health_timeout_seconds", "must be > 0")
        _check(self.loading_poll_seconds > 0, "loading_poll_seconds", "must be > 0")
        _check(
            set(self.resources) <= {"requests", "limits"}, "resources", "may only contain requests and limits"
        )
        try:
            Policy.from_mapping(self.policy)
        except PolicyError as error:
            raise SettingsError(f"{ENV_PREFIX}POLICY: {error}") from error

    @functools.cached_property
    def platform_policy(self) -> Policy:
        """The parsed policy (validated in __post_init__)."""
        return Policy.from_mapping(self.policy)

    @property
    def clusterwide(self) -> bool:
        """True when no namespaces are listed: the operator watches every namespace."""
        return not self.namespaces


def _check(ok: bool, name: str, rule: str) -> None:
    if not ok:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: {rule}")


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _parse_json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


def _parse_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


_PARSERS: dict[str, Any] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": _parse_bool,
    "dict[str, Any]": _parse_json_object,
    "tuple[str, ...]": _parse_list,
}


def _parser_for(name: str) -> Any:
    hint = get_type_hints(Settings)[name]
    spelled = {int: "int", float: "float", str: "str", bool: "bool"}.get(hint, str(hint))
    return _PARSERS[spelled.replace("typing.", "")]


def from_env(environ: Mapping[str, str]) -> Settings:
    """Build Settings from the MODELOPS_OPERATOR_* entries of `environ` (other variables are ignored)."""
    known = {f.name for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in known:
            raise SettingsError(f"unknown setting {key}; known: {', '.join(sorted(known))}")
        try:
            values[name] = _parser_for(name)(raw)
        except ValueError as error:
            raise SettingsError(f"{key}={raw!r}: {error}") from error
    return Settings(**values)
