"""Which watch events queue which reconciles (the mapping that replaced polling every object)."""

from __future__ import annotations

from typing import Any

from modelops_operator import handlers
from modelops_operator.builders import INSTANCE_LABEL
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings

MD, MV = handlers.MD, handlers.MV


def runtime() -> handlers.Runtime:
    return handlers.Runtime(Settings(), kube=None, metrics=OperatorMetrics())  # type: ignore[arg-type]


def queued(rt: handlers.Runtime) -> set[Any]:
    return set(rt.queue.pending())


def test_a_model_deployment_event_queues_it_and_the_versions_of_its_model() -> None:
    rt = runtime()
    handlers.on_model_version(rt, None, "ns", "safety-classifier-v1-0-0", "safety_classifier")
    handlers.on_model_version(rt, None, "ns", "intent-classifier-v1-0-0", "intent_classifier")
    handlers.on_model_version(rt, None, "other", "safety-classifier-v1-0-0", "safety_classifier")
    rt.queue = handlers.Runtime(Settings(), kube=None, metrics=OperatorMetrics()).queue  # type: ignore[arg-type]
    handlers.on_model_deployment(rt, "MODIFIED", "ns", "safety-classifier-production", "safety_classifier")
    assert queued(rt) == {(MD, "ns", "safety-classifier-production"), (MV, "ns", "safety-classifier-v1-0-0")}


def test_a_model_version_event_queues_the_deployments_of_its_model() -> None:
    rt = runtime()
    for env in ("staging", "production"):
        handlers.on_model_deployment(rt, None, "ns", f"safety-classifier-{env}", "safety_classifier")
    handlers.on_model_deployment(rt, None, "ns", "intent-classifier-production", "intent_classifier")
    rt.queue = runtime().queue
    handlers.on_model_version(rt, "ADDED", "ns", "safety-classifier-v1-1-0", "safety_classifier")
    assert queued(rt) == {
        (MV, "ns", "safety-classifier-v1-1-0"),
        (MD, "ns", "safety-classifier-staging"),
        (MD, "ns", "safety-classifier-production"),
    }


def test_a_deleted_model_deployment_is_forgotten_and_not_queued() -> None:
    rt = runtime()
    handlers.on_model_deployment(rt, None, "ns", "safety-classifier-staging", "safety_classifier")
    rt.queue = runtime().queue
    handlers.on_model_deployment(rt, "DELETED", "ns", "safety-classifier-staging", "safety_classifier")
    assert queued(rt) == set()
    handlers.on_model_version(rt, "MODIFIED", "ns", "safety-classifier-v1-0-0", "safety_classifier")
    assert queued(rt) == {(MV, "ns", "safety-classifier-v1-0-0")}


def test_owned_deployment_and_pod_events_map_back_to_their_model_deployment() -> None:
    rt = runtime()
    handlers.on_owned(rt, "ns", {INSTANCE_LABEL: "safety-classifier-production", "x": "y"})
    handlers.on_owned(rt, "ns", {"app": "unrelated"})
    assert queued(rt) == {(MD, "ns", "safety-classifier-production")}
