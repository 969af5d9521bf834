"""Promotion gates with real server pods on localkube: v1.1.0 applied to production before it ran in
staging is blocked (v1.0.0 keeps serving); once v1.1.0 has been healthy in staging for the (test-sized)
window, production rolls it out by itself. Then v1.2.0, whose recall is below `minMetrics`, is blocked
with the figure until the break-glass annotation lets it through and leaves a Warning Event.

Figure printed (run with `-s`): staging's v1.1.0 Available → production starts rolling it out.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from support.cluster import Kubectl, Poller, condition, condition_is
from support.e2e import (
    model_root,
    model_version_object,
    model_versions,
    readable_by_all,
    running_operator,
    wait_event,
)

MODEL = "safety_classifier"
PRODUCTION, STAGING = "safety-classifier-production", "safety-classifier-staging"
WINDOW_S = 15


@pytest.fixture
def models(namespace: str) -> Iterator[tuple[Path, dict[str, Path]]]:
    root = model_root(namespace)
    dirs = model_versions(root, MODEL, ["v1.0.0", "v1.1.0", "v1.2.0"])
    readable_by_all(root)
    yield root, dirs
    shutil.rmtree(root, ignore_errors=True)


def _md(namespace: str, env: str, version: str, root: Path, image: str) -> dict[str, Any]:
    name = PRODUCTION if env == "production" else STAGING
    return {
        "apiVersion": "modelops.io/v1alpha1", "kind": "ModelDeployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"model": MODEL, "environment": env, "version": version, "replicas": 1,
                 "server": {"image": image, "imagePullPolicy": "IfNotPresent", "startupSeconds": 60},
                 "storage": {"type": "hostPath", "path": str(root)}},
    }  # fmt: skip


def _get(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return kubectl.existing("modeldeployment", name, namespace)


def _wait_stable(
    kubectl: Kubectl, namespace: str, name: str, version: str, timeout: float = 90
) -> dict[str, Any]:
    def stable() -> dict[str, Any] | None:
        md = _get(kubectl, namespace, name)
        status = md.get("status", {})
        ok = status.get("stableVersion") == version and status.get("servingVersion") == version
        return md if ok and condition_is(md, "Available", "True") else None

    result: dict[str, Any] = Poller(timeout, what=f"{name}: {version} serving and stable").until(stable)
    return result


def _blocked(kubectl: Kubectl, namespace: str, version: str = "v1.1.0") -> dict[str, Any] | None:
    md = _get(kubectl, namespace, PRODUCTION)
    blocked = condition_is(md, "Degraded", "True", "PromotionBlocked")
    return md if blocked and md["status"]["promotion"]["version"] == version else None


def _template_version(kubectl: Kubectl, namespace: str, name: str) -> str | None:
    dep = kubectl.get("deployment", name, namespace) or {}
    return (
        dep.get("spec", {})
        .get("template", {})
        .get("metadata", {})
        .get("annotations", {})
        .get("modelops.io/version")
    )


@pytest.mark.usefixtures("crds_installed")
def test_production_waits_for_staging_then_rolls_out_by_itself(
    cluster: Any, namespace: str, models: tuple[Path, dict[str, Path]], load_image: Any, tmp_path: Path
) -> None:
    kubectl: Kubectl = cluster.client
    image = str(load_image("server"))
    root, dirs = models
    objects = {v: model_version_object(namespace, MODEL, v, d) for v, d in dirs.items()}
    objects["v1.2.0"]["spec"]["metrics"] = {"recall": 0.5}
    kubectl.apply(*objects.values())
    with running_operator(cluster.kubeconfig, namespace, tmp_path) as operator:
        kubectl.apply(_md(namespace, "production", "v1.0.0", root, image))
        _wait_stable(kubectl, namespace, PRODUCTION, "v1.0.0")

        gate = {"requires": [{"environment": "staging", "healthyForSeconds": WINDOW_S}]}
        patch = {"spec": {"version": "v1.1.0", "promotion": gate}}
        kubectl.run(
            "patch", "modeldeployment", PRODUCTION, "-n", namespace, "--type=merge", "-p", _json(patch)
        )
        blocked = Poller(30, what="production Degraded PromotionBlocked").until(
            lambda: _blocked(kubectl, namespace)
        )
        message = (condition(blocked, "Degraded") or {}).get("message")
        assert message == "v1.1.0 has not run in staging; v1.0.0 keeps serving", operator.log_tail()
        wait_event(kubectl, namespace, PRODUCTION, "PromotionBlocked")
        assert _template_version(kubectl, namespace, PRODUCTION) == "v1.0.0"

        kubectl.apply(_md(namespace, "staging", "v1.1.0", root, image))
        _wait_stable(kubectl, namespace, STAGING, "v1.1.0")
        staged = time.monotonic()
        Poller(60, what="the gate's health window in production's message").until(
            lambda: (
                "healthy in staging for" in str(condition(_get(kubectl, namespace, PRODUCTION), "Degraded"))
                or _template_version(kubectl, namespace, PRODUCTION) == "v1.1.0"
            )
        )
        Poller(WINDOW_S + 30, interval=0.2, what="production rolling out v1.1.0 by itself").until(
            lambda: _template_version(kubectl, namespace, PRODUCTION) == "v1.1.0"
        )
        waited = time.monotonic() - staged
        print(f"\nstaging v1.1.0 Available -> production rollout started: {waited:.1f}s (window {WINDOW_S}s)")
        md = _wait_stable(kubectl, namespace, PRODUCTION, "v1.1.0")
        assert md["status"]["promotion"]["phase"] == "Open", operator.log_tail()
        assert condition_is(md, "Degraded", "False")
        wait_event(kubectl, namespace, PRODUCTION, "PromotionGatesOpen")
        evidence = Poller(30, what="v1.1.0's evidence for staging and production").until(
            lambda: _serving_evidence(kubectl, namespace)
        )
        # The operator's own timestamps: the rollout started only once the window had passed.
        opened = _time(md["status"]["rollout"]["startedAt"]) - _time(evidence["staging"]["availableSince"])
        assert opened.total_seconds() >= WINDOW_S, (opened, evidence, md["status"]["rollout"])
        _override_low_recall(kubectl, namespace)


def _override_low_recall(kubectl: Kubectl, namespace: str) -> None:
    """v1.2.0's recall is below minMetrics: blocked with the figure; the override lets it through."""
    patch = {"spec": {"version": "v1.2.0", "promotion": {"requires": [], "minMetrics": {"recall": 0.9}}}}
    kubectl.run("patch", "modeldeployment", PRODUCTION, "-n", namespace, "--type=merge", "-p", _json(patch))
    blocked = Poller(30, what="v1.2.0 blocked by minMetrics").until(
        lambda: _blocked(kubectl, namespace, "v1.2.0")
    )
    message = (condition(blocked, "Degraded") or {}).get("message")
    assert message == "v1.2.0 recall 0.5 is below the minimum 0.9; v1.1.0 keeps serving"
    kubectl.run(
        "annotate", "modeldeployment", PRODUCTION, "-n", namespace,
        "modelops.io/override-gates=v1.2.0", "modelops.io/override-reason=e2e break-glass",
    )  # fmt: skip
    warning = wait_event(kubectl, namespace, PRODUCTION, "PromotionGatesOverridden")
    assert warning["type"] == "Warning" and "recall 0.5 is below the minimum 0.9" in warning["message"]
    md = _wait_stable(kubectl, namespace, PRODUCTION, "v1.2.0")
    assert md["status"]["promotion"]["override"]["reason"] == "e2e break-glass"


def _serving_evidence(kubectl: Kubectl, namespace: str) -> dict[str, Any] | None:
    mv = kubectl.get("modelversion", "safety-classifier-v1-1-0", namespace) or {}
    envs = {r["environment"]: r for r in mv.get("status", {}).get("environments", [])}
    serving = all(envs.get(env, {}).get("availableSince") for env in ("staging", "production"))
    return envs if serving else None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _json(value: Any) -> str:
    import json

    return json.dumps(value)
