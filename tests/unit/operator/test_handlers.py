"""Which watch events queue which reconciles (the mapping that replaced polling every object)."""

from __future__ import annotations

from typing import Any

from modelops_operator import handlers
from modelops_operator.builders import INSTANCE_LABEL
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings

MD, MV = handlers.MD, handlers.MV
MODEL = "safety_classifier"


def runtime() -> handlers.Runtime:
    return handlers.Runtime(Settings(), kube=None, metrics=OperatorMetrics())  # type: ignore[arg-type]


def drain(rt: handlers.Runtime) -> set[Any]:
    """The keys queued so far; the queue is emptied (as if the reconciles ran)."""
    keys = set(rt.queue.pending())
    rt.queue = runtime().queue
    return keys


def md(
    name: str,
    version: str,
    *,
    ns: str = "ns",
    stable: str | None = None,
    serving: str | None = None,
    generation: int = 1,
) -> Any:
    status = {k: v for k, v in (("stableVersion", stable), ("servingVersion", serving)) if v}
    meta = {"namespace": ns, "name": name, "generation": generation}
    return {"metadata": meta, "spec": {"model": MODEL, "version": version}, "status": status}


def mv(version: str, ns: str = "ns", model: str = MODEL, generation: int = 1) -> Any:
    name = f"{model.replace('_', '-')}-{version.replace('.', '-')}"
    meta = {"namespace": ns, "name": name, "generation": generation}
    return {"metadata": meta, "spec": {"model": model, "version": version}}


def test_a_new_version_queues_only_the_deployments_that_name_it() -> None:
    rt = runtime()
    for env in range(100):  # 100 environments of one model, as in the scale benchmark
        handlers.on_model_deployment(rt, None, md(f"env-{env}", f"v1.0.{env}"))
    drain(rt)
    handlers.on_model_version(rt, "ADDED", mv("v1.0.7"))
    assert drain(rt) == {(MV, "ns", "safety-classifier-v1-0-7"), (MD, "ns", "env-7")}


def test_a_deployment_event_queues_the_versions_it_names_before_and_after() -> None:
    rt = runtime()
    for version in ("v1.0.0", "v1.1.0", "v1.2.0"):
        handlers.on_model_version(rt, None, mv(version))
    handlers.on_model_version(rt, None, mv("v1.1.0", ns="other"))
    handlers.on_model_deployment(rt, None, md("prod", "v1.0.0", stable="v1.0.0", serving="v1.0.0"))
    drain(rt)
    handlers.on_model_deployment(
        rt, "MODIFIED", md("prod", "1.1.0", stable="v1.0.0", serving="v1.0.0", generation=2)
    )
    assert drain(rt) == {
        (MD, "ns", "prod"),
        (MV, "ns", "safety-classifier-v1-0-0"),
        (MV, "ns", "safety-classifier-v1-1-0"),
    }, "spec.version 1.1.0 and v1.1.0 are one version"
    handlers.on_model_deployment(
        rt, "MODIFIED", md("prod", "v1.1.0", stable="v1.1.0", serving="v1.1.0", generation=3)
    )
    assert (MV, "ns", "safety-classifier-v1-0-0") in drain(rt), "v1.0.0 must learn it no longer serves"


def test_a_deleted_deployment_is_not_queued_but_its_versions_are() -> None:
    rt = runtime()
    handlers.on_model_version(rt, None, mv("v1.0.0"))
    handlers.on_model_deployment(rt, None, md("staging", "v1.0.0", serving="v1.0.0"))
    drain(rt)
    handlers.on_model_deployment(rt, "DELETED", md("staging", "v1.0.0", serving="v1.0.0"))
    assert drain(rt) == {(MV, "ns", "safety-classifier-v1-0-0")}
    handlers.on_model_version(rt, "MODIFIED", mv("v1.0.0", generation=2))
    assert drain(rt) == {(MV, "ns", "safety-classifier-v1-0-0")}, "the deleted deployment is forgotten"


def test_owned_deployment_and_pod_events_map_back_to_their_model_deployment() -> None:
    rt = runtime()
    ours = {INSTANCE_LABEL: "safety-classifier-production", "x": "y"}
    handlers.on_owned(rt, "Pod", "ADDED", {"metadata": {"namespace": "ns", "name": "p", "labels": ours}})
    other = {"metadata": {"namespace": "ns", "name": "q", "labels": {"app": "unrelated"}}}
    handlers.on_owned(rt, "Pod", "ADDED", other)
    assert drain(rt) == {(MD, "ns", "safety-classifier-production")}


def test_the_operators_own_status_writes_do_not_queue_the_object_again() -> None:
    rt = runtime()
    handlers.on_model_version(rt, None, mv("v1.0.0"))
    body = md("prod", "v1.0.0")
    body["metadata"]["generation"] = 1
    handlers.on_model_deployment(rt, "ADDED", body)
    drain(rt)
    written = {**body, "status": {"phase": "Progressing", "servingVersion": "v1.0.0"}}
    handlers.on_model_deployment(rt, "MODIFIED", written)
    assert drain(rt) == {(MV, "ns", "safety-classifier-v1-0-0")}, "only the version whose status says so"
    annotated = {
        **written,
        "metadata": {**written["metadata"], "annotations": {"modelops.io/retry": "v1.0.0"}},
    }
    handlers.on_model_deployment(rt, "MODIFIED", annotated)
    assert (MD, "ns", "prod") in drain(rt), "an annotation is the user's intent"
    version = mv("v1.0.0")
    version["status"] = {"phase": "Deployed"}
    handlers.on_model_version(rt, "MODIFIED", version)
    assert drain(rt) == set(), "a ModelVersion status write concerns nobody"
    version["status"] = {"phase": "Deployed", "environments": [{"environment": "staging"}]}
    handlers.on_model_version(rt, "MODIFIED", version)
    assert drain(rt) == set(), "gate evidence, and prod has no promotion gates"
    gated = {
        **annotated,
        "spec": {**annotated["spec"], "promotion": {"requires": [{"environment": "staging"}]}},
    }
    handlers.on_model_deployment(
        rt, "MODIFIED", {**gated, "metadata": {**gated["metadata"], "generation": 2}}
    )
    drain(rt)
    version["status"] = {
        "phase": "Deployed",
        "environments": [{"environment": "staging", "analysisPassed": True}],
    }
    handlers.on_model_version(rt, "MODIFIED", version)
    assert drain(rt) == {(MD, "ns", "prod")}, "gate evidence: the gated deployment judges it again"
    version["status"] = {"phase": "Invalid"}
    handlers.on_model_version(rt, "MODIFIED", version)
    assert drain(rt) == {(MV, "ns", "safety-classifier-v1-0-0"), (MD, "ns", "prod")}


def deployment(ready: int, *, updated_at: str, generation: int = 1) -> dict[str, Any]:
    """An owned Deployment as its watch event carries it."""
    return {
        "metadata": {
            "namespace": "ns",
            "name": "safety-classifier-production",
            "uid": "u1",
            "generation": generation,
            "labels": {INSTANCE_LABEL: "safety-classifier-production"},
        },
        "spec": {"replicas": 2, "template": {"metadata": {"annotations": {"modelops.io/version": "v1.0.0"}}}},
        "status": {
            "observedGeneration": generation,
            "replicas": 2,
            "readyReplicas": ready,
            "conditions": [
                {"type": "Progressing", "reason": "ReplicaSetUpdated", "lastUpdateTime": updated_at}
            ],
        },
    }


def test_an_owned_deployment_write_that_changes_nothing_the_plan_reads_queues_nothing() -> None:
    rt = runtime()
    handlers.on_owned(rt, "Deployment", "ADDED", deployment(0, updated_at="12:00:00"))
    assert drain(rt) == {(MD, "ns", "safety-classifier-production")}
    handlers.on_owned(rt, "Deployment", "MODIFIED", deployment(0, updated_at="12:00:01"))
    assert drain(rt) == set(), "only a condition's timestamp moved"
    handlers.on_owned(rt, "Deployment", "MODIFIED", deployment(1, updated_at="12:00:01"))
    assert drain(rt) == {(MD, "ns", "safety-classifier-production")}, "one more pod ready"
    handlers.on_owned(rt, "Deployment", "DELETED", deployment(1, updated_at="12:00:01"))
    assert drain(rt) == {(MD, "ns", "safety-classifier-production")}, "deleted by hand: recreate it"


def test_owned_events_are_looked_at_a_little_later_as_one() -> None:
    rt = runtime()
    handlers.on_owned(rt, "Deployment", "ADDED", deployment(0, updated_at="12:00:00"))
    handlers.on_owned(rt, "Deployment", "MODIFIED", deployment(1, updated_at="12:00:00"))
    [(key, delay)] = rt.queue.pending().items()
    assert key == (MD, "ns", "safety-classifier-production")
    assert 0 < delay <= Settings().owned_debounce_seconds


def test_a_deployment_deleted_and_created_again_under_its_name_is_queued() -> None:
    """`make demo` replays its story by deleting and re-applying the same manifests: the new object has
    generation 1 and the same annotations as the old one, and only its uid tells them apart."""
    rt = runtime()
    old = md("staging", "v1.0.0")
    old["metadata"]["uid"] = "old-uid"
    handlers.on_model_deployment(rt, "ADDED", old)
    drain(rt)
    handlers.on_model_deployment(rt, "DELETED", old)
    drain(rt)
    new = md("staging", "v1.0.0")
    new["metadata"]["uid"] = "new-uid"
    handlers.on_model_deployment(rt, "ADDED", new)
    assert (MD, "ns", "staging") in drain(rt), "the object created again was never reconciled"
    missed = md("staging", "v1.0.0")
    missed["metadata"]["uid"] = "third-uid"  # its DELETED event was missed (a watch restart)
    handlers.on_model_deployment(rt, "MODIFIED", missed)
    assert (MD, "ns", "staging") in drain(rt)


def test_a_status_write_that_no_model_version_reads_queues_none() -> None:
    """Each ModelVersion reconcile lists every ModelDeployment of its model: a status write of one of
    them (replica counts, the Deployment's progress) queues its versions only when their status reads
    what changed (serving, stable, Available, failures, analysis verdict)."""
    rt = runtime()
    handlers.on_model_version(rt, None, mv("v1.0.0"))
    body = md("prod", "v1.0.0", serving="v1.0.0")
    handlers.on_model_deployment(rt, "ADDED", body)
    drain(rt)
    counted = {**body, "status": {**body["status"], "readyReplicas": 0, "ready": "0/0"}}
    handlers.on_model_deployment(rt, "MODIFIED", counted)
    assert drain(rt) == set(), "replica counts are no ModelVersion's concern"
    available = {"type": "Available", "status": "True", "reason": "ScaledToZero"}
    became = {**counted, "status": {**counted["status"], "conditions": [available]}}
    handlers.on_model_deployment(rt, "MODIFIED", became)
    assert drain(rt) == {(MV, "ns", "safety-classifier-v1-0-0")}, "Available is evidence"
    failed = [{"version": "v1.0.0", "time": "2026-01-01T00:00:00Z", "cause": "Timeout"}]
    handlers.on_model_deployment(
        rt, "MODIFIED", {**became, "status": {**became["status"], "failedVersions": failed}}
    )
    assert drain(rt) == {(MV, "ns", "safety-classifier-v1-0-0")}, "a failure is evidence"


def test_kopf_keeps_no_diff_base() -> None:
    """Only event handlers: kopf needs no diff base, so it builds none per event (a deep copy each)."""
    storage = handlers.kopf_settings(Settings()).persistence.diffbase_storage
    assert isinstance(storage, handlers.NoDiffBase)
    assert storage.build(body={"spec": {"a": 1}}) is None  # type: ignore[arg-type]
