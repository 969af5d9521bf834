"""Reading observed Deployments and pods into the reconcile's state, and API error classes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from modelops_operator.kube import KubeError, object_path
from modelops_operator.observe import deployment_state, pod_state
from modelops_operator.settings import Settings


def test_deployment_state_reads_counters_and_deadline() -> None:
    dep = {
        "metadata": {"generation": 4},
        "spec": {"replicas": 2, "template": {"metadata": {"annotations": {"modelops.io/version": "v1.2.0"}}}},
        "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2,
                   "availableReplicas": 2,
                   "conditions": [{"type": "Progressing", "status": "False",
                                   "reason": "ProgressDeadlineExceeded",
                                   "lastUpdateTime": "2026-01-01T12:00:30Z"}]},
    }  # fmt: skip
    state = deployment_state(dep)
    assert state.version == "v1.2.0"
    assert (state.replicas, state.status_replicas, state.updated, state.ready) == (2, 3, 1, 2)
    assert state.settled and not state.complete
    assert state.progress_deadline_exceeded
    assert state.progress_deadline_at == datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)


def _pod(ready: bool, container: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "p", "namespace": "ns", "annotations": {"modelops.io/version": "v1.1.0"}},
        "status": {"conditions": [{"type": "Ready", "status": str(ready)}],
                   "containerStatuses": [{"name": "server", **container}]},
    }  # fmt: skip


def test_crash_looping_pod_reports_restarts_and_last_exit() -> None:
    container = {"restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}  # fmt: skip
    state = pod_state(None, _pod(False, container), "safety_classifier", Settings())  # type: ignore[arg-type]
    assert state.version == "v1.1.0" and not state.ready
    assert state.restarts == 4
    assert state.waiting_reason == "CrashLoopBackOff"
    assert state.why_unready() == "last exit 1: Error"


def test_failed_fetch_init_container_is_the_reason_with_its_restarts() -> None:
    pod = _pod(False, {"restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}})
    message = '{"event": "fetch_failed"}\nerror: s3://models/x/: access denied (check the credentials)\n'
    pod["status"]["initContainerStatuses"] = [
        {"name": "fetch-model", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": message}}},
    ]  # fmt: skip
    state = pod_state(None, pod, "m", Settings())  # type: ignore[arg-type]
    assert state.restarts == 3
    assert (
        state.why_unready()
        == "init container fetch-model: s3://models/x/: access denied (check the credentials)"
    )
    pod["status"]["initContainerStatuses"][0]["state"] = {
        "terminated": {"exitCode": 0, "reason": "Completed"}
    }
    assert pod_state(None, pod, "m", Settings()).restarts == 0  # type: ignore[arg-type]


def test_ready_pod_is_not_asked_for_a_reason() -> None:
    state = pod_state(None, _pod(True, {"state": {"running": {}}}), "m", Settings())  # type: ignore[arg-type]
    assert state.ready and state.health_reason is None


@pytest.mark.parametrize(
    ("status", "temporary"),
    [
        (409, True),
        (429, True),
        (503, True),
        (0, True),
        (400, False),
        (403, False),
        (422, False),
        (404, False),
    ],
)
def test_error_classes(status: int, temporary: bool) -> None:
    assert KubeError(status, "x").temporary is temporary


def test_object_paths() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"}}
    assert object_path(dep) == "/apis/apps/v1/namespaces/n/deployments/d"
    assert object_path(svc) == "/api/v1/namespaces/n/services/s"


class _HealthAnswer:
    """Stands in for the apiserver pod proxy: the server's seed health answer (or the proxy's error)."""

    def __init__(self, status: int, body: Any) -> None:
        self.answer = (status, body)

    def pod_proxy_get(self, *_: Any, **__: Any) -> tuple[int, Any]:
        return self.answer


def _running_unready(kube: Any, *, deleting: bool = False) -> Any:
    pod = _pod(False, {"state": {"running": {}}})
    if deleting:
        pod["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    return pod_state(kube, pod, "m", Settings())


SEED = {"model_type": "m", "version": "v1.1.0", "status": "unhealthy", "available": True, "loadable": False}


def test_definitive_failure_is_read_from_the_health_json() -> None:
    reason = "sha256 mismatch for model.onnx: expected aa, got bb"
    failure = {"reason": reason, "definitive": True, "since": "2026-01-01T12:00:01.250Z"}
    state = _running_unready(_HealthAnswer(503, {**SEED, "reason": reason, "failure": failure}))
    assert (state.health_reason, state.definitive, state.loading) == (reason, True, False)
    assert state.failed_since == "2026-01-01T12:00:01.250Z"
    assert _running_unready(_HealthAnswer(503, {**SEED, "failure": failure}), deleting=True).terminating


def test_transient_failure_and_loading_are_not_definitive() -> None:
    reason = "model version directory /models/m/v1.1.0 does not exist"
    failure = {"reason": reason, "definitive": False, "since": "2026-01-01T12:00:01.250Z"}
    state = _running_unready(_HealthAnswer(503, {**SEED, "reason": reason, "failure": failure}))
    assert (state.health_reason, state.definitive, state.loading) == (reason, False, False)
    state = _running_unready(_HealthAnswer(503, {**SEED, "reason": "model is loading"}))
    assert (state.health_reason, state.definitive, state.loading) == ("model is loading", False, True)


def test_a_server_without_failure_field_is_not_loading_once_it_failed() -> None:
    """An older server image says why in `reason` only: never definitive, and not polled as loading."""
    state = _running_unready(_HealthAnswer(503, {**SEED, "reason": "golden check failed: x"}))
    assert (state.health_reason, state.definitive, state.loading) == ("golden check failed: x", False, False)


def test_the_apiservers_own_error_is_not_the_servers_reason() -> None:
    refused = "error trying to reach service: dial tcp 10.0.0.5:8080: connect: connection refused"
    status = {"kind": "Status", "status": "Failure", "reason": "ServiceUnavailable", "code": 503,
              "message": refused}  # fmt: skip
    state = _running_unready(_HealthAnswer(503, status))
    assert (state.health_reason, state.definitive, state.loading) == (None, False, False)
