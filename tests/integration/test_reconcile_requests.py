"""What one reconcile asks the apiserver, on a real one: nothing it can know is unchanged.

A server-side apply that would change nothing still costs the apiserver a full request (decode, merge,
compare). The operator applies a Deployment again only when it is not exactly as this process left it
(its uid and generation are the ones its last apply returned); a hand edit of its spec bumps the
generation, so it is still reverted at once.
"""

from __future__ import annotations

from typing import Any

from modelops_operator import controller
from modelops_operator.kube import Kube, load_client
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from support.operator_objects import create, model_deployment, model_version

SETTINGS = Settings()


class CountingKube(Kube):
    """The operator's API wrapper, recording every request it makes (method, path)."""

    def __init__(self, kubeconfig: str) -> None:
        super().__init__(load_client(kubeconfig))
        self.calls: list[tuple[str, str]] = []

    def request(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        self.calls.append((method, path))
        return super().request(method, path, body, **options)


def test_an_unchanged_deployment_is_not_applied_again_and_a_hand_edit_is_reverted(
    kube: Kube, namespace: str, apiserver: Any
) -> None:
    counting = CountingKube(str(apiserver.kubeconfig))
    create(kube, model_version("v1.0.0", namespace=namespace))
    md = create(kube, model_deployment("v1.0.0", namespace=namespace))
    name = md["metadata"]["name"]
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"

    def reconcile() -> list[tuple[str, str]]:
        counting.calls.clear()
        controller.reconcile_model_deployment(counting, SETTINGS, OperatorMetrics(), namespace, name)
        return [call for call in counting.calls if call == ("PATCH", path)]

    assert reconcile() == [("PATCH", path)], "the first reconcile creates the Deployment"
    assert reconcile() == [], "nothing changed: no apply"
    kube.json_patch(path, [{"op": "replace", "path": "/spec/replicas", "value": 5}])
    assert reconcile() == [("PATCH", path)], "a hand edit bumps the generation: applied again"
    dep = kube.get(path) or {}
    assert dep["spec"]["replicas"] == md["spec"]["replicas"], "the hand edit is reverted"
    assert reconcile() == []
