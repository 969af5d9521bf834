"""Built objects against a real apiserver: server-side dry-run, owner-reference garbage collection,
and whole reconciles (create, revert) whose writes the apiserver accepts."""

from __future__ import annotations

from typing import Any

import pytest

from modelops_operator import builders, controller, modelversion
from modelops_operator.kube import Kube, KubeError, custom_path, object_path
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from support.cluster import Poller, temporary_namespace
from support.operator_objects import DIGEST, create, model_deployment, model_version

SETTINGS = Settings()


STORAGES = {
    "hostPath": {"type": "hostPath", "path": "/app/models"},
    "pvc": {"type": "pvc", "claimName": "models", "subPath": "seed"},
    "package": {"type": "package", "url": "https://models.example/{model}/{version}.tar.gz"},
    "s3-cached": {"type": "package", "url": "s3://models/{model}/{version}/", "s3": {"secretName": "creds"},
                  "cache": True},
    "s3-encrypted": {"type": "package", "url": "s3://models/{model}/{version}.tar.gz.enc",
                     "decryptionKeySecret": {"name": "model-key"}},
}  # fmt: skip


@pytest.mark.parametrize("storage", sorted(STORAGES))
def test_built_objects_pass_server_side_dry_run(kube: Kube, namespace: str, storage: str) -> None:
    md = create(
        kube,
        model_deployment(
            "v1.0.0",
            namespace=namespace,
            storage=STORAGES[storage],
            server={"authSecret": {"name": "token"}, "threads": 2},
        ),
    )
    mv = model_version(
        "v1.0.0",
        namespace=namespace,
        artifact={"uri": "/app/models", "sha256": DIGEST, "signature": {"publicKeySecret": "k"}},
    )
    deployment = builders.build_deployment(md, mv, SETTINGS)
    service = builders.build_service(md, SETTINGS)
    dry_dep = kube.apply(deployment, dry_run=True)
    dry_svc = kube.apply(service, dry_run=True)
    assert (
        dry_dep["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"]
        == "/api/v1/ml-models/safety_classifier/health"
    )
    assert dry_dep["metadata"]["ownerReferences"][0]["uid"] == md["metadata"]["uid"]
    assert dry_dep["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert [(p["name"], p["port"]) for p in dry_svc["spec"]["ports"]] == [("http", 8080), ("grpc", 8081)]
    assert kube.get(object_path(deployment)) is None, "a dry run must not persist"


def test_owned_objects_are_garbage_collected(kube: Kube, namespace: str) -> None:
    md = create(kube, model_deployment("v1.0.0", namespace=namespace))
    deployment = builders.build_deployment(md, model_version("v1.0.0", namespace=namespace), SETTINGS)
    kube.apply(deployment)
    kube.apply(builders.build_service(md, SETTINGS))
    kube.request("DELETE", custom_path(namespace, "modeldeployments", md["metadata"]["name"]))
    Poller(60, what="Deployment garbage-collected after its ModelDeployment").until(
        lambda: kube.get(object_path(deployment)) is None
    )


def _events(kube: Kube, namespace: str, reason: str) -> list[dict[str, Any]]:
    return [e for e in kube.list_items(f"/api/v1/namespaces/{namespace}/events") if e.get("reason") == reason]


def test_reconcile_creates_deployment_status_and_events(kube: Kube, namespace: str) -> None:
    create(kube, model_version("v1.0.0", namespace=namespace))
    md = create(kube, model_deployment("v1.0.0", namespace=namespace))
    name = md["metadata"]["name"]
    metrics = OperatorMetrics()
    for _ in range(2):  # idempotent: the second run changes nothing and posts nothing
        controller.reconcile_model_deployment(kube, SETTINGS, metrics, namespace, name)
    dep = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    assert dep is not None and builders.template_version(dep) == "v1.0.0"
    assert kube.get(f"/api/v1/namespaces/{namespace}/services/{name}") is not None
    status = kube.get(custom_path(namespace, "modeldeployments", name))["status"]  # type: ignore[index]
    assert status["phase"] == "Progressing"
    assert status["rollout"]["version"] == "v1.0.0"
    assert {c["type"] for c in status["conditions"]} == {"Available", "Progressing", "Degraded"}
    assert len(_events(kube, namespace, "Deploying")) == 1
    assert metrics.reconciles.labels("ModelDeployment", "ok")._value.get() == 2


def _deploy_and_wait(kube: Kube, md: dict[str, Any], version: str) -> str:
    """Apply the Deployment of `version` and wait until its controller has observed it; its path."""
    namespace = md["metadata"]["namespace"]
    kube.apply(builders.build_deployment(md, model_version(version, namespace=namespace), SETTINGS))
    dep_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{md['metadata']['name']}"
    Poller(30, what="Deployment observed by its controller").until(
        lambda: (kube.get(dep_path) or {}).get("status", {}).get("observedGeneration")
    )
    return dep_path


def _overdue_rollout(kube: Kube, namespace: str) -> tuple[dict[str, Any], str, str]:
    """v1.2.0 rolling out long past its deadline over a stable v1.1.0: the next reconcile reverts."""
    for version in ("v1.1.0", "v1.2.0"):
        create(kube, model_version(version, namespace=namespace))
    md = create(kube, model_deployment("v1.2.0", namespace=namespace))
    name = md["metadata"]["name"]
    path = custom_path(namespace, "modeldeployments", name)
    kube.write_status(
        path,
        {
            "stableVersion": "v1.1.0",
            "servingVersion": "v1.1.0",
            "rollout": {"version": "v1.2.0", "startedAt": "2020-01-01T00:00:00Z"},
        },
    )
    return md, name, path


def test_failed_rollout_reverts_spec_as_the_operator(kube: Kube, namespace: str) -> None:
    md, name, path = _overdue_rollout(kube, namespace)
    dep_path = _deploy_and_wait(kube, md, "v1.2.0")
    controller.reconcile_model_deployment(kube, SETTINGS, OperatorMetrics(), namespace, name)
    after = kube.get(path)
    assert after is not None
    assert after["spec"]["version"] == "v1.1.0"
    managers = {f["manager"] for f in after["metadata"]["managedFields"] if "spec" in str(f.get("fieldsV1"))}
    assert "modelops-operator" in managers
    assert after["status"]["failedVersions"][0]["version"] == "v1.2.0"
    assert after["status"]["lastRollback"] == {
        **after["status"]["lastRollback"],
        "from": "v1.2.0",
        "to": "v1.1.0",
    }
    assert _events(kube, namespace, "RolledBack")
    dep = kube.get(dep_path)
    assert builders.template_version(dep) == "v1.1.0"


class RevertFailsOnce(Kube):
    """Our own API wrapper with one 503 on the first spec patch: the apiserver hiccup between the
    status write and the revert."""

    failed = False

    def json_patch(self, path: str, ops: list[dict[str, Any]]) -> Any:
        if not self.failed and not path.endswith("/status") and "/spec/version" in str(ops):
            self.failed = True
            raise KubeError(503, "service unavailable (injected)")
        return super().json_patch(path, ops)


def test_a_revert_whose_patch_failed_is_applied_by_the_next_reconcile(kube: Kube, namespace: str) -> None:
    md, name, path = _overdue_rollout(kube, namespace)
    _deploy_and_wait(kube, md, "v1.2.0")
    flaky = RevertFailsOnce(kube.api)
    with pytest.raises(KubeError, match="injected"):
        controller.reconcile_model_deployment(flaky, SETTINGS, OperatorMetrics(), namespace, name)
    between = kube.get(path) or {}
    assert between["spec"]["version"] == "v1.2.0", "the injected failure must have stopped the revert"
    assert between["status"]["pendingRevert"]["to"] == "v1.1.0"
    controller.reconcile_model_deployment(flaky, SETTINGS, OperatorMetrics(), namespace, name)
    after = kube.get(path) or {}
    assert after["spec"]["version"] == "v1.1.0", "the pending revert was not retried"
    controller.reconcile_model_deployment(flaky, SETTINGS, OperatorMetrics(), namespace, name)
    settled = kube.get(path) or {}
    assert "pendingRevert" not in settled["status"]
    assert settled["status"]["conditions"] and settled["status"]["lastRollback"]["to"] == "v1.1.0"


def test_model_version_status_is_written(kube: Kube, namespace: str) -> None:
    mv = create(kube, model_version("v1.0.0", namespace=namespace))
    modelversion.reconcile_model_version(kube, namespace, mv["metadata"]["name"])
    status = kube.get(custom_path(namespace, "modelversions", mv["metadata"]["name"]))["status"]  # type: ignore[index]
    assert status["phase"] == "Registered"
    assert status["registeredAt"] == mv["metadata"]["creationTimestamp"]


def test_resync_reconciles_every_object_of_the_watched_namespace(kube: Kube, namespace: str) -> None:
    from modelops_operator import handlers

    create(kube, model_version("v1.0.0", namespace=namespace))
    md = create(kube, model_deployment("v1.0.0", namespace=namespace))
    runtime = handlers.Runtime(Settings(namespaces=(namespace,)), kube, OperatorMetrics())
    handlers.resync_once(runtime)
    assert runtime.queue.run_due() == 2
    name = md["metadata"]["name"]
    dep = kube.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    assert dep is not None and builders.template_version(dep) == "v1.0.0"
    mv = kube.get(custom_path(namespace, "modelversions", "safety-classifier-v1-0-0"))
    assert mv is not None and mv["status"]["phase"] == "Registered"
    assert not kube.get(custom_path(namespace, "modeldeployments", name))["metadata"].get("finalizers")  # type: ignore[index]


def _unowned_deployment(namespace: str) -> dict[str, Any]:
    labels = {"app": "unowned"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "unowned", "namespace": namespace, "labels": labels},
        "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "c", "image": "example.invalid/c"}]}}},
    }  # fmt: skip


def test_the_watch_check_lists_the_owned_deployments_beside_the_custom_objects(
    apiserver: Any, kube: Kube, namespace: str
) -> None:
    """What the liveness watch check compares with the watches' deliveries: every watched stream's
    objects, label-selected like the owned-object watches (a Deployment the operator does not own is
    no evidence about any watch). A watched namespace with nothing in it is listed too: the apiserver
    answers a metadata-only list of nothing with `items: null`, which once failed the whole resync and
    left the watch check without a verdict for ever."""
    from modelops_operator import handlers

    create(kube, model_version("v1.0.0", namespace=namespace))
    name = create(kube, model_deployment("v1.0.0", namespace=namespace))["metadata"]["name"]
    kube.request("POST", f"/apis/apps/v1/namespaces/{namespace}/deployments", _unowned_deployment(namespace))
    with temporary_namespace(apiserver.client, "it-empty") as empty:
        runtime = handlers.Runtime(Settings(namespaces=(namespace, empty)), kube, OperatorMetrics())
        handlers.resync_once(runtime)
        assert runtime.queue.run_due() == 2
        labels = {listed.label for listed in handlers.list_watched(runtime)}
    pods = {label for label in labels if label.startswith("pods ")}
    assert labels - pods == {
        f"modeldeployments {namespace}/{name}",
        f"modelversions {namespace}/safety-classifier-v1-0-0",
        f"deployments {namespace}/{name}",
    }, labels
    # The controller manager makes the owned Deployment's pods (no kubelet runs them); none of the other.
    assert all(pod.startswith(f"pods {namespace}/{name}-") for pod in pods), pods
