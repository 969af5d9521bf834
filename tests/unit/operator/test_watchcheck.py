"""The watch check's verdict: an object two lists show unchanged that no watch event carried."""

from __future__ import annotations

from typing import Any

from modelops_operator import handlers
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from modelops_operator.watchcheck import Listed, WatchCheck, discovered


def body(uid: str, version: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "resourceVersion": version, "namespace": "ns", "name": uid}}


def listed(uid: str, version: str) -> Listed:
    return Listed(uid, version, f"modeldeployments ns/{uid}")


def test_objects_the_watch_delivered_are_healthy() -> None:
    check = WatchCheck()
    check.delivered(None, body("a", "5"))  # kopf's initial listing
    check.delivered("MODIFIED", body("b", "7"))
    for _ in range(3):
        check.listed([listed("a", "5"), listed("b", "7")])
    assert check.problem() is None


def test_an_undelivered_object_is_stale_only_at_the_second_list() -> None:
    check = WatchCheck()
    check.listed([listed("a", "5")])
    assert check.problem() is None, "one list: the event may still be on its way"
    check.listed([listed("a", "5")])
    assert check.problem() == (
        "watch streams are not delivering: no event carried the current version of modeldeployments ns/a"
    )


def test_a_version_delivered_after_the_list_clears_the_verdict() -> None:
    check = WatchCheck()
    check.listed([listed("a", "5")])
    check.delivered("MODIFIED", body("a", "5"))
    check.listed([listed("a", "5")])
    assert check.problem() is None


def test_an_object_changing_between_lists_is_no_proof() -> None:
    """Its newest version may still be on its way; only a version two lists agree on is judged."""
    check = WatchCheck()
    check.listed([listed("a", "5")])
    check.listed([listed("a", "6")])
    assert check.problem() is None


def test_a_stale_verdict_lasts_until_a_list_finds_the_watch_caught_up() -> None:
    check = WatchCheck()
    for _ in range(2):
        check.listed([listed("a", "5")])
    assert check.problem() is not None
    check.delivered("MODIFIED", body("a", "5"))
    check.listed([listed("a", "5")])
    assert check.problem() is None


def test_deleted_and_unlisted_objects_are_forgotten() -> None:
    """What the watch delivered of an object gone from the lists no longer vouches for it."""
    check = WatchCheck()
    check.delivered("ADDED", body("a", "5"))
    check.delivered("ADDED", body("b", "6"))
    check.delivered("DELETED", body("a", "9"))
    check.listed([])
    for _ in range(2):
        check.listed([listed("a", "5"), listed("b", "6")])
    assert "ns/a, modeldeployments ns/b" in (check.problem() or "")


def test_the_message_names_a_few_stale_objects() -> None:
    check = WatchCheck()
    objects = [listed(f"o{i}", "1") for i in range(5)]
    check.listed(objects)
    check.listed(objects)
    problem = check.problem() or ""
    assert problem.endswith("ns/o0, modeldeployments ns/o1, modeldeployments ns/o2 and 2 more"), problem


def test_the_handlers_report_what_the_watches_deliver() -> None:
    rt = handlers.Runtime(Settings(), kube=None, metrics=OperatorMetrics())  # type: ignore[arg-type]
    md = {**body("a", "5"), "spec": {"model": "m", "version": "v1.0.0"}}
    mv = {**body("b", "6"), "spec": {"model": "m", "version": "v1.0.0"}}
    handlers.on_model_deployment(rt, "ADDED", md)
    handlers.on_model_version(rt, "ADDED", mv)
    for _ in range(2):
        rt.watch.listed([listed("a", "5"), listed("b", "6")])
    assert rt.watch.problem() is None


def discovery(groups: list[str], resources: list[str]) -> Any:
    answers = {
        "/apis": {"groups": [{"name": g, "versions": [{"version": "v1alpha1"}]} for g in groups]},
        "/apis/modelops.io/v1alpha1": {"resources": [{"name": r} for r in resources]},
    }
    return answers.__getitem__


def test_discovery_must_list_the_group_and_its_resources() -> None:
    both = ["modeldeployments", "modelversions"]
    assert discovered(discovery(["apps", "modelops.io"], both), both)
    assert not discovered(discovery(["apps"], both), both), "the group missing from /apis (a restart)"
    assert not discovered(discovery(["modelops.io"], both[:1]), both)


def test_discovery_that_fails_is_not_ready() -> None:
    def down(path: str) -> Any:
        raise ConnectionRefusedError(path)

    assert not discovered(down, ["modeldeployments"])


def test_owned_deployments_and_pods_count_as_delivered() -> None:
    """The owned-object watches are streams of their own: what they deliver is recorded too, so only a
    stalled stream (not one that carries no ModelDeployment) is named."""
    rt = handlers.Runtime(Settings(), kube=None, metrics=OperatorMetrics())  # type: ignore[arg-type]
    owned = {"metadata": {**body("d", "7")["metadata"], "labels": {handlers.INSTANCE_LABEL: "md"}}}
    handlers.on_owned(rt, "Deployment", "MODIFIED", owned)
    stalled = Listed("p", "8", "pods ns/p")
    for _ in range(2):
        rt.watch.listed([listed("d", "7"), stalled])
    assert (
        rt.watch.problem()
        == "watch streams are not delivering: no event carried the current version of pods ns/p"
    )
