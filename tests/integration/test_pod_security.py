"""Generated server pods pass the Pod Security Standards `restricted` profile on a real apiserver.

The apiserver enforces Pod Security admission on pods; a server-side dry-run of the pod that the
Deployment's template makes, in a namespace labelled `pod-security.kubernetes.io/enforce=restricted`,
is admitted for package and PVC storage, while the pod spec of before (root allowed, an init container
without a securityContext) is rejected there, so the test can fail. hostPath storage can never be
`restricted` (the profile forbids hostPath volumes); it is rejected too.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from modelops_operator import builders
from modelops_operator.kube import Kube, KubeError, load_client
from modelops_operator.settings import Settings
from support.cluster import Poller
from support.operator_objects import DIGEST, model_deployment, model_version

SETTINGS = Settings()
PACKAGE = {"type": "package", "url": "https://models.example/{model}/{version}.tar.gz"}
PVC = {"type": "pvc", "claimName": "models", "subPath": "seed"}


@pytest.fixture(scope="module")
def restricted(apiserver: Any) -> Iterator[tuple[Kube, str]]:
    kube = Kube(load_client(str(apiserver.kubeconfig)))
    name = f"restricted-{secrets.token_hex(3)}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": name, "labels": labels}})
    # Pods need the namespace's default ServiceAccount, which the controller-manager creates.
    Poller(30, what=f"ServiceAccount {name}/default").until(
        lambda: kube.get(f"/api/v1/namespaces/{name}/serviceaccounts/default")
    )
    yield kube, name
    kube.request("DELETE", f"/api/v1/namespaces/{name}")


def _pod_spec(namespace: str, storage: dict[str, Any]) -> dict[str, Any]:
    md = model_deployment(
        "v1.0.0", namespace=namespace, storage=storage, server={"authSecret": {"name": "tok"}}
    )
    artifact = {"uri": "/app/models", "sha256": DIGEST, "signature": {"publicKeySecret": "k"}}
    mv = model_version("v1.0.0", namespace=namespace, artifact=artifact)
    spec: dict[str, Any] = builders.build_deployment(md, mv, SETTINGS)["spec"]["template"]["spec"]
    return spec


def _dry_run_pod(kube: Kube, namespace: str, spec: dict[str, Any]) -> str | None:
    """None when the apiserver admits the pod (dry run), else its refusal."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "server", "namespace": namespace},
        "spec": spec,
    }
    try:
        kube.request("POST", f"/api/v1/namespaces/{namespace}/pods", pod, query={"dryRun": "All"})
    except KubeError as error:
        return f"{error} {error.body}"
    return None


def _old_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The pod spec the operator generated before the restricted profile."""
    old = copy.deepcopy(spec)
    old["securityContext"] = {"runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}}
    old.pop("automountServiceAccountToken", None)
    for init in old.get("initContainers", []):
        init.pop("securityContext", None)
        init.pop("resources", None)
    return old


@pytest.mark.parametrize("storage", [PACKAGE, PVC], ids=["package", "pvc"])
def test_generated_pod_is_admitted_in_a_restricted_namespace(
    restricted: tuple[Kube, str], storage: Any
) -> None:
    kube, namespace = restricted
    spec = _pod_spec(namespace, storage)
    assert spec["automountServiceAccountToken"] is False
    for container in [*spec["containers"], *spec.get("initContainers", [])]:
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, container["name"]
        assert "memory" in container["resources"]["limits"], container["name"]
    assert _dry_run_pod(kube, namespace, spec) is None


def test_old_pod_spec_is_rejected_in_a_restricted_namespace(restricted: tuple[Kube, str]) -> None:
    kube, namespace = restricted
    refused = _dry_run_pod(kube, namespace, _old_spec(_pod_spec(namespace, PACKAGE)))
    assert refused is not None and 'violates PodSecurity "restricted:latest"' in refused, refused
    assert "runAsNonRoot" in refused and "fetch-model" in refused, refused


def test_host_path_storage_cannot_be_restricted(restricted: tuple[Kube, str]) -> None:
    kube, namespace = restricted
    refused = _dry_run_pod(kube, namespace, _pod_spec(namespace, {"type": "hostPath", "path": "/app/models"}))
    assert refused is not None and "hostPath" in refused, refused
