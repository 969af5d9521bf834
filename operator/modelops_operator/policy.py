"""The platform team's policy: what a ModelDeployment (or its ModelVersion) may make a model pod mount,
run, trust and call. Authors of ModelDeployments never decide these things; the operator's settings do.

`Settings.platform_policy` parses `MODELOPS_OPERATOR_POLICY` (the chart's `policy` values as JSON) into a
`Policy` once at start-up. `reconcile.plan` calls `check` before anything is built, and `observe` calls
`prometheus_violation` before any analysis query, so a refused spec creates nothing and makes the
operator call nothing. Pure: no cluster access. The chart's ValidatingAdmissionPolicy enforces the same
rules at admission; this check is the defence in depth behind it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from modelops_operator import storage as storage_mod
from modelops_operator.spec import EnvVar, ModelDeploymentSpec, ModelVersionSpec

DEFAULT_MODELS_DIR = "/app/models"
ENV_PREFIX = "MODELOPS_SERVER_"
# Variables the operator sets itself or that change what the server loads and trusts.
PROTECTED_ENV = frozenset(
    f"{ENV_PREFIX}{name}"
    for name in (
        "EXPECTED_DIGEST",
        "PUBLIC_KEY",
        "REQUIRE_SIGNATURE",
        "TRUSTED_KEYS",
        "AUTH_TOKEN_FILE",
        "METRICS_TOKEN_FILE",
        "PACKAGE",
        "MODELS_DIR",
        "MODEL_TYPE",
        "VERSION",
        "WORK_DIR",
        "HOST",
        "PORT",
    )
)
# camelCase key in MODELOPS_OPERATOR_POLICY / the chart's `policy` values → Policy field.
_KEYS = {
    "hostPaths": "host_paths",
    "allowPVC": "allow_pvc",
    "packageSchemes": "package_schemes",
    "packageHosts": "package_hosts",
    "images": "images",
    "requireSignature": "require_signature",
    "requireSignatureNamespaces": "require_signature_namespaces",
    "trustedKeySecrets": "trusted_key_secrets",
    "trustedKeyFingerprints": "trusted_key_fingerprints",
    "prometheusURLs": "prometheus_urls",
    "metricsAuthSecret": "metrics_auth_secret",
    "decryptionKeySecrets": "decryption_key_secrets",
}
# A Secret name (DNS subdomain): the metricsAuth Secret every model namespace holds.
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


class PolicyError(ValueError):
    """A policy setting that cannot be parsed."""


@dataclass(frozen=True)
class Policy:
    """What the platform team allows. Empty `images` means only the default server image; empty
    `package_hosts` any host of an allowed scheme; empty `trusted_key_secrets` any key Secret. The
    server refuses a public key whose fingerprint is not in a non-empty `trusted_key_fingerprints`
    (the Secret's content is the namespace's; its fingerprint is the platform's).

    `metrics_auth_secret` turns metricsAuth on: every model namespace holds a Secret of that name (key
    `token`, provisioned by the platform team); server pods mount it and answer /metrics and the health
    details only to that token, and the operator reads it (get on that one name) for its scrapes.

    `decryption_key_secrets` are the Secrets an encrypted package's `spec.storage.decryptionKeySecret`
    may name; empty: none (encrypted packages are off)."""

    host_paths: tuple[str, ...] = (DEFAULT_MODELS_DIR,)
    allow_pvc: bool = True
    package_schemes: tuple[str, ...] = ("https",)
    package_hosts: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    require_signature: bool = False
    require_signature_namespaces: tuple[str, ...] = ()
    trusted_key_secrets: tuple[str, ...] = ()
    trusted_key_fingerprints: tuple[str, ...] = ()
    prometheus_urls: tuple[str, ...] = ()
    metrics_auth_secret: str = ""
    decryption_key_secrets: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Policy:
        """Parse the camelCase mapping; unknown keys and wrong types are errors."""
        unknown = set(raw) - set(_KEYS)
        if unknown:
            raise PolicyError(f"unknown policy keys {sorted(unknown)}; known: {sorted(_KEYS)}")
        values: dict[str, Any] = {}
        for key, value in raw.items():
            name = _KEYS[key]
            default = getattr(cls(), name)
            if isinstance(default, bool):
                if not isinstance(value, bool):
                    raise PolicyError(f"policy.{key}: expected true or false")
                values[name] = value
            elif isinstance(default, str):
                if not isinstance(value, str) or (value and not _SECRET_NAME.match(value)):
                    raise PolicyError(f"policy.{key}: expected a Secret name (or empty for off)")
                values[name] = value
            else:
                if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                    raise PolicyError(f"policy.{key}: expected a list of non-empty strings")
                values[name] = tuple(value)
        for path in values.get("host_paths", ()):
            if not path.startswith("/") or ".." in path.split("/"):
                raise PolicyError(f"policy.hostPaths: {path!r} must be an absolute path without '..'")
        for fingerprint in values.get("trusted_key_fingerprints", ()):
            if len(fingerprint) != 64 or not set(fingerprint) <= set("0123456789abcdef"):
                raise PolicyError(
                    f"policy.trustedKeyFingerprints: {fingerprint!r} is not a lowercase sha256 hex"
                )
        return cls(**values)

    def as_mapping(self) -> dict[str, Any]:
        """The camelCase form (round-trips through `from_mapping`)."""
        names = {v: k for k, v in _KEYS.items()}
        return {names[f.name]: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Violation:
    """One refused field: where it is, what it asked for, and what the platform allows."""

    field: str
    value: str
    allowed: str

    @property
    def message(self) -> str:
        return f"{self.field}: {self.value!r} is not allowed by the platform policy; allowed: {self.allowed}"


def _listing(items: tuple[str, ...]) -> str:
    return ", ".join(items) if items else "none"


def check(
    md: Mapping[str, Any],
    mv: Mapping[str, Any] | None,
    policy: Policy,
    default_image: str,
    *,
    spec: ModelDeploymentSpec | None = None,
) -> Violation | None:
    """The first violation of `policy` by ModelDeployment `md` (and its ModelVersion `mv`), or None.

    `spec`: `md`'s parsed spec (parsed here when None); an invalid `mv` is left to the reconcile."""
    spec = spec or ModelDeploymentSpec.of(md)
    artifact = _artifact(mv)
    for found in (
        _image(spec.server.image, policy, default_image),
        _env(spec.server.env),
        prometheus_violation(spec, policy),
        _storage_of(spec, mv, artifact, policy),
        _signature(md, mv, artifact, policy) if mv and artifact else None,
    ):
        if found is not None:
            return found
    return None


def image_allowed(image: str, allowed: tuple[str, ...]) -> bool:
    """Exact match, or a prefix entry (one ending in '/', ':' or '@') that the image starts with."""
    return any(image == entry or (entry[-1] in "/:@" and image.startswith(entry)) for entry in allowed)


def _image(image: str | None, policy: Policy, default_image: str) -> Violation | None:
    allowed = policy.images or (default_image,)
    if image and not image_allowed(image, allowed):
        return Violation("spec.server.image", image, _listing(allowed))
    return None


def _artifact(mv: Mapping[str, Any] | None) -> ModelVersionSpec | None:
    try:
        return ModelVersionSpec.of(mv) if mv else None
    except ValueError:
        return None  # reported as ModelVersionInvalid by the reconcile


def _env(env: tuple[EnvVar, ...]) -> Violation | None:
    for index, item in enumerate(env):
        name = item.name
        if not name.startswith(ENV_PREFIX) or name in PROTECTED_ENV:
            allowed = f"{ENV_PREFIX}* except {', '.join(sorted(PROTECTED_ENV))}"
            return Violation(f"spec.server.env[{index}].name", name, allowed)
    return None


def prometheus_violation(spec: ModelDeploymentSpec, policy: Policy) -> Violation | None:
    """A Prometheus URL the platform did not allow (checked before the operator ever queries it)."""
    url = spec.analysis.prometheus_url if spec.analysis else None
    if url and not any(url == e or (e.endswith("/") and url.startswith(e)) for e in policy.prometheus_urls):
        return Violation("spec.rollback.analysis.prometheusURL", url, _listing(policy.prometheus_urls))
    return None


def _storage_of(
    spec: ModelDeploymentSpec,
    mv: Mapping[str, Any] | None,
    artifact: ModelVersionSpec | None,
    policy: Policy,
) -> Violation | None:
    if spec.storage:
        return storage_violation(spec.storage, policy, "spec.storage")
    if mv is None or artifact is None:
        return None
    uri = artifact.uri
    try:
        derived = storage_mod.resolve(None, uri, artifact.model, artifact.version_text)
    except storage_mod.StorageError:
        return None  # reported as InvalidSpec by the builders
    found = storage_violation(derived, policy, "spec.storage")
    if found is None:
        return None
    where = f"ModelVersion {mv['metadata']['name']} spec.artifact.uri"
    return Violation(where, uri, found.allowed)


def storage_violation(storage: Mapping[str, Any], policy: Policy, where: str) -> Violation | None:
    """Host paths, PVCs and package URLs the platform did not allow."""
    kind = storage.get("type")
    if kind == "hostPath":
        path = str(storage.get("path", ""))
        if not host_path_allowed(path, policy.host_paths):
            return Violation(f"{where}.path", path, _listing(policy.host_paths))
    elif kind == "pvc" and not policy.allow_pvc:
        return Violation(f"{where}.type", "pvc", "hostPath, package (PVCs are off)")
    elif kind == "package":
        return _package(str(storage.get("url", "")), policy, f"{where}.url") or _decryption_key(
            storage, policy, where
        )
    return None


def _decryption_key(storage: Mapping[str, Any], policy: Policy, where: str) -> Violation | None:
    secret = storage.get("decryptionKeySecret")
    if secret and str(secret.get("name", "")) not in policy.decryption_key_secrets:
        allowed = _listing(policy.decryption_key_secrets)
        return Violation(f"{where}.decryptionKeySecret.name", str(secret.get("name", "")), allowed)
    return None


def host_path_allowed(path: str, roots: tuple[str, ...]) -> bool:
    """`path` is one of `roots` or below one, with no '..' and no trick like `<root>-evil`."""
    if not path.startswith("/") or ".." in path.split("/"):
        return False
    normal = posixpath.normpath(path)
    return any(normal == root.rstrip("/") or normal.startswith(root.rstrip("/") + "/") for root in roots)


def _package(url: str, policy: Policy, where: str) -> Violation | None:
    parts = urlsplit(url)
    scheme = parts.scheme or "file"
    allowed = f"schemes {_listing(policy.package_schemes)}"
    if policy.package_hosts:
        allowed += f"; hosts {_listing(policy.package_hosts)}"
    if scheme not in policy.package_schemes or "@" in url:
        return Violation(where, url, allowed)
    if scheme in {"http", "https"} and policy.package_hosts and parts.hostname not in policy.package_hosts:
        return Violation(where, url, allowed)
    return None


def signature_required(policy: Policy, namespace: str) -> bool:
    """Cluster-wide, or for this namespace."""
    return policy.require_signature or namespace in policy.require_signature_namespaces


def _signature(
    md: Mapping[str, Any], mv: Mapping[str, Any], artifact: ModelVersionSpec, policy: Policy
) -> Violation | None:
    name = mv["metadata"]["name"]
    signature = artifact.signature
    if not signature:
        if signature_required(policy, md["metadata"]["namespace"]):
            return Violation(f"ModelVersion {name} spec.artifact.signature", "none", "a signature (required)")
        return None
    secret = signature.public_key_secret
    if policy.trusted_key_secrets and secret not in policy.trusted_key_secrets:
        where = f"ModelVersion {name} spec.artifact.signature.publicKeySecret"
        return Violation(where, secret, _listing(policy.trusted_key_secrets))
    return None
