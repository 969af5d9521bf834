"""Kubernetes backend: versions are `ModelVersion` objects, deployments are `ModelDeployment` objects.

`register_model` creates a ModelVersion named `model_version_name(type, version)`; `deploy_model`
creates the environment's ModelDeployment or merge-patches its `spec.version`; the serving version is
read from `status.servingVersion`, which only the operator writes once pods answer — cluster truth,
not what was asked. Chosen by `modelops.registry.factory` when a cluster is configured.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from modelops import gates
from modelops.names import deployment_name, model_version_name, type_to_dns
from modelops.registry.errors import BackendError, PromotionBlockedError, VersionConflictError
from modelops.registry.kubernetes_objects import (
    DEPLOYED_AT_ANNOTATION,
    record_from_deployment,
    record_from_version,
    version_object,
)
from modelops.registry.records import Artifact, DeploymentRecord, VersionRecord, utc_now
from modelops.vocabulary import (
    API_VERSION,
    ENVIRONMENT_LABEL,
    GROUP,
    MODEL_DEPLOYMENTS,
    MODEL_LABEL,
    MODEL_VERSIONS,
    VERSION,
)

VERSIONS, DEPLOYMENTS = MODEL_VERSIONS, MODEL_DEPLOYMENTS
ENV_LABEL = ENVIRONMENT_LABEL
FIELD_MANAGER = "modelctl"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def _api_error(action: str, error: ApiException) -> BackendError:
    if error.status == 404:
        return BackendError(f"{action}: not found (are the modelops CRDs installed?)")
    reason = _api_message(error)
    return BackendError(f"{action}: API server answered {error.status}: {reason}")


def _api_message(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except ValueError:
        return str(error.reason)


class KubernetesBackend:
    """Registry stored as modelops.io/v1alpha1 objects in one namespace."""

    def __init__(
        self, api: client.CustomObjectsApi, namespace: str, models_dir: Path | str | None = None
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.models_dir = Path(models_dir or "models").resolve()

    @classmethod
    def from_config(
        cls, kubeconfig: Path | None, namespace: str | None = None, models_dir: Path | str | None = None
    ) -> KubernetesBackend:
        """Connect with a kubeconfig file, or the in-cluster service account when kubeconfig is None."""
        try:
            return cls._connect(kubeconfig, namespace, models_dir)
        except Exception as error:  # the config loader raises ConfigException, YAML and OS errors alike
            raise BackendError(f"cannot configure the Kubernetes client: {error}") from error

    @classmethod
    def _connect(
        cls, kubeconfig: Path | None, namespace: str | None, models_dir: Path | str | None
    ) -> KubernetesBackend:
        if kubeconfig is not None:
            api_client = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
            _contexts, current = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig)
            )
            default_namespace = (current or {}).get("context", {}).get("namespace", "default")
        else:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
            api_client = client.ApiClient()
            default_namespace = SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip()
        return cls(client.CustomObjectsApi(api_client), namespace or default_namespace, models_dir)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the API; a server that cannot be reached becomes a BackendError (ApiException passes)."""
        try:
            return method(*args, **kwargs)
        except urllib3.exceptions.HTTPError as error:
            host = self.api.api_client.configuration.host
            raise BackendError(f"cannot reach the Kubernetes API server at {host}: {error}") from error

    def _get(self, plural: str, name: str) -> dict[str, Any] | None:
        try:
            obj = self._call(
                self.api.get_namespaced_custom_object, GROUP, VERSION, self.namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404 and f'"{name}" not found' in _api_message(error):
                return None  # the object is missing; a 404 without this message means no CRD
            raise _api_error(f"reading {plural}/{name}", error) from error
        return cast(dict[str, Any], obj)

    def _list(self, plural: str, selector: str = "") -> list[dict[str, Any]]:
        try:
            listing = self._call(
                self.api.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                plural,
                label_selector=selector,
            )
        except ApiException as error:
            raise _api_error(f"listing {plural}", error) from error
        return list(cast(dict[str, Any], listing).get("items") or [])

    def with_artifact(self, record: VersionRecord) -> VersionRecord:
        """The record, its artifact derived from the models directory's manifest when not given."""
        if record.artifact is not None:
            return record
        from modelops.package.manifest import manifest_digest

        model_dir = self.models_dir / record.model_type / record.version
        try:
            digest = manifest_digest(model_dir)
        except Exception as error:
            raise BackendError(
                f"{record.model_type} {record.version} needs an artifact: "
                f"no readable manifest.json in {model_dir}"
            ) from error
        return replace(record, artifact=Artifact(uri=str(model_dir), sha256=digest))

    def create_version(self, record: VersionRecord) -> VersionRecord:
        """Create the ModelVersion; an existing one with the same content is returned as is."""
        record = self.with_artifact(record)
        body = version_object(record)
        try:
            self._call(
                self.api.create_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                VERSIONS,
                body,
                field_manager=FIELD_MANAGER,
            )
        except ApiException as error:
            if error.status != 409:
                raise _api_error(f"registering {record.model_type} {record.version}", error) from error
            return self._existing_version(record)
        return record

    def _existing_version(self, record: VersionRecord) -> VersionRecord:
        stored = self.get_version(record.model_type, record.version)
        if stored is None or not stored.same_content(record):
            raise VersionConflictError(
                f"{record.model_type} {record.version} is already registered with different "
                "metadata or artifact; register a new version instead"
            )
        return stored

    def get_version(self, model_type: str, version: str) -> VersionRecord | None:
        """The ModelVersion as a record, or None."""
        obj = self._get(VERSIONS, model_version_name(model_type, version))
        return None if obj is None else record_from_version(obj)

    def list_versions(self, model_type: str) -> list[VersionRecord]:
        """ModelVersions of the type (by label, checked against spec.model)."""
        items = self._list(VERSIONS, f"{MODEL_LABEL}={type_to_dns(model_type)}")
        records = [record_from_version(item) for item in items]
        return [record for record in records if record.model_type == model_type]

    def list_model_types(self) -> list[str]:
        """Types with a ModelVersion or a ModelDeployment."""
        objects = self._list(VERSIONS) + self._list(DEPLOYMENTS)
        return sorted({str(obj["spec"]["model"]) for obj in objects if obj.get("spec", {}).get("model")})

    def _deployment_body(self, model_type: str, environment: str, version: str) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "ModelDeployment",
            "metadata": {
                "name": deployment_name(model_type, environment),
                "labels": {MODEL_LABEL: type_to_dns(model_type), ENV_LABEL: environment},
                "annotations": {DEPLOYED_AT_ANNOTATION: utc_now()},
            },
            "spec": {
                "model": model_type,
                "environment": environment,
                "version": version,
                "replicas": 1,
                "storage": {"type": "hostPath", "path": str(self.models_dir)},
            },
        }

    def set_deployment(self, model_type: str, environment: str, version: str) -> DeploymentRecord:
        """Create the ModelDeployment, or merge-patch spec.version when it exists."""
        name = deployment_name(model_type, environment)
        existing = self._get(DEPLOYMENTS, name)
        if existing is not None:
            self.check_gates(existing, model_type, version)
        if existing is None:
            try:
                obj = self._call(
                    self.api.create_namespaced_custom_object,
                    GROUP,
                    VERSION,
                    self.namespace,
                    DEPLOYMENTS,
                    self._deployment_body(model_type, environment, version),
                    field_manager=FIELD_MANAGER,
                )
                return record_from_deployment(cast(dict[str, Any], obj))
            except ApiException as error:
                if error.status != 409:  # 409: created concurrently; patch it below
                    raise _api_error(f"deploying {model_type} {version} to {environment}", error) from error
        return self._patch_version(name, version)

    def check_gates(self, md: dict[str, Any], model_type: str, version: str) -> None:
        """PromotionBlockedError when `md`'s promotion gates keep `version` out (as the operator would)."""
        mv = self.raw_version(model_type, version)
        if not gates.needs_gate(md, version, mv) or gates.override_reason(md, version):
            return
        result = gates.check_objects(md, version, mv, datetime.now(UTC))
        if not result.open:
            environment = md["spec"]["environment"]
            raise PromotionBlockedError(
                f"{model_type} {version} may not be deployed to {environment} yet: {result.message}",
                result.opens_at,
            )

    def raw_version(self, model_type: str, version: str) -> dict[str, Any] | None:
        """The ModelVersion object itself (status included), or None."""
        return self._get(VERSIONS, model_version_name(model_type, version))

    def raw_deployments(self, model_type: str) -> list[dict[str, Any]]:
        """The ModelDeployment objects of one model type (status included)."""
        return [item for item in self._list(DEPLOYMENTS) if item.get("spec", {}).get("model") == model_type]

    def _patch_version(self, name: str, version: str) -> DeploymentRecord:
        patch = {
            "metadata": {"annotations": {DEPLOYED_AT_ANNOTATION: utc_now()}},
            "spec": {"version": version},
        }
        return record_from_deployment(self._patch_deployment(name, patch, "updating"))

    def raw_deployment(self, model_type: str, environment: str) -> dict[str, Any] | None:
        """The environment's ModelDeployment object (status included), or None."""
        return self._get(DEPLOYMENTS, deployment_name(model_type, environment))

    def annotate_deployment(self, model_type: str, environment: str, key: str, value: str) -> None:
        """Set one annotation on the environment's ModelDeployment (e.g. modelops.io/promote)."""
        name = deployment_name(model_type, environment)
        self._patch_deployment(name, {"metadata": {"annotations": {key: value}}}, "annotating")

    def _patch_deployment(self, name: str, patch: dict[str, Any], doing: str) -> dict[str, Any]:
        """Merge-patch one ModelDeployment; an API error says what was being done (`doing`)."""
        try:
            obj = self._call(
                self.api.patch_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                DEPLOYMENTS,
                name,
                patch,
                field_manager=FIELD_MANAGER,
            )
        except ApiException as error:
            raise _api_error(f"{doing} {DEPLOYMENTS}/{name}", error) from error
        return cast(dict[str, Any], obj)

    def get_deployment(self, model_type: str, environment: str) -> DeploymentRecord | None:
        """The environment's ModelDeployment as a record, or None."""
        obj = self._get(DEPLOYMENTS, deployment_name(model_type, environment))
        return None if obj is None else record_from_deployment(obj)

    def list_deployments(self, model_type: str | None = None) -> list[DeploymentRecord]:
        """ModelDeployments of one type or all, sorted by type then environment."""
        selector = f"{MODEL_LABEL}={type_to_dns(model_type)}" if model_type else ""
        records = [record_from_deployment(obj) for obj in self._list(DEPLOYMENTS, selector)]
        return sorted(
            (r for r in records if model_type is None or r.model_type == model_type),
            key=lambda r: (r.model_type, r.environment),
        )
