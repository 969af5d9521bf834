"""A ModelVersion that serves or is stable somewhere cannot be deleted; one that is not, can.

The operator keeps the `modelops.io/in-use` label (a real ModelVersion reconcile on the apiserver) and
the chart's ValidatingAdmissionPolicy refuses the DELETE; once the version no longer serves, the
label goes and the delete goes through, so the test can fail both ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops_operator import modelversion
from modelops_operator.kube import Kube, KubeError, custom_path
from support.cluster import Poller
from support.operator_objects import create, model_deployment, model_version
from support.tools import CHART_DIR, helm_path, run_tool

TEMPLATE = "templates/in-use-protection.yaml"


@pytest.fixture
def protection(apiserver: Any, kube: Kube, namespace: str) -> Iterator[None]:
    """The chart's policy applied, and in force: a labelled canary's delete is refused."""
    args: list[Any] = [helm_path(), "template", "inuse", CHART_DIR, "--kube-version", "v1.34.4"]
    manifest = run_tool([*args, "--show-only", TEMPLATE]).stdout
    kubectl = [apiserver.kubectl, "--kubeconfig", apiserver.kubeconfig]
    run_tool([*kubectl, "apply", "-f", "-"], input=manifest, env=apiserver.env)
    canary = model_version("v9.9.9", namespace=namespace)
    canary["metadata"]["labels"] = {modelversion.IN_USE_LABEL: "true"}
    name = create(kube, canary)["metadata"]["name"]
    try:
        # The apiserver compiles a new policy asynchronously; a dry-run delete probes it without loss.
        Poller(30, what="the admission policy in force").until(
            lambda: _delete(kube, namespace, name, dry_run=True)
        )
        yield
    finally:
        run_tool([*kubectl, "delete", "-f", "-", "--ignore-not-found"], input=manifest, env=apiserver.env)


def _delete(kube: Kube, namespace: str, name: str, dry_run: bool = False) -> str | None:
    """The refusal's text, or None when the ModelVersion was (or, dry run, would be) deleted."""
    query = {"dryRun": "All"} if dry_run else None
    try:
        kube.request("DELETE", custom_path(namespace, "modelversions", name), query=query)
    except KubeError as error:
        return f"{error} {error.body}"
    return None


def _serve(kube: Kube, namespace: str, name: str, version: str | None) -> None:
    status = {"servingVersion": version, "stableVersion": version} if version else {}
    kube.write_status(custom_path(namespace, "modeldeployments", name), status)


@pytest.mark.usefixtures("protection")
def test_a_serving_version_cannot_be_deleted_until_it_stops_serving(kube: Kube, namespace: str) -> None:
    mv = create(kube, model_version("v1.0.0", namespace=namespace))
    name = mv["metadata"]["name"]
    md = create(kube, model_deployment("v1.0.0", namespace=namespace))
    _serve(kube, namespace, md["metadata"]["name"], "v1.0.0")
    modelversion.reconcile_model_version(kube, namespace, name)
    labels = (kube.get(custom_path(namespace, "modelversions", name)) or {})["metadata"].get("labels", {})
    assert labels.get(modelversion.IN_USE_LABEL) == "true"
    refusal = _delete(kube, namespace, name)
    assert refusal is not None and "serves, or is the stable version of" in refusal, refusal
    assert kube.get(custom_path(namespace, "modelversions", name)) is not None

    _serve(kube, namespace, md["metadata"]["name"], None)
    modelversion.reconcile_model_version(kube, namespace, name)
    labels = (kube.get(custom_path(namespace, "modelversions", name)) or {})["metadata"].get("labels") or {}
    assert modelversion.IN_USE_LABEL not in labels
    assert _delete(kube, namespace, name) is None
    assert kube.get(custom_path(namespace, "modelversions", name)) is None


def test_the_chart_renders_the_protection_by_default_and_can_turn_it_off(tmp_path: Path) -> None:
    base: list[Any] = [helm_path(), "template", "inuse", CHART_DIR, "--kube-version", "v1.34.4"]
    assert "in-use-versions" in run_tool(base).stdout
    off = run_tool([*base, "--set", "admissionPolicy.protectInUseVersions=false"]).stdout
    assert "in-use-versions" not in off
