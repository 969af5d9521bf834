"""The hostile-spec table on a real kube-apiserver, twice: refused at admission by the chart's
ValidatingAdmissionPolicy (the message names the field), and, in a namespace the policy does not bind,
refused by the operator's own reconcile: Degraded=True PolicyViolation naming the field, nothing created.

The chart is rendered with the table's `policy` values and a binding limited to namespaces labelled
`modelops-policy-test=on`, so that the second half runs on the same apiserver without the policy.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops_operator import conditions as c
from modelops_operator import controller
from modelops_operator.kube import Kube, KubeError, custom_path, load_client
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.settings import Settings
from support.cluster import Poller
from support.hostile_specs import POLICY, TABLE, Hostile, model_deployment_for, model_version_for
from support.operator_objects import create
from support.tools import CHART_DIR, helm_path, run_tool

LABEL = "modelops-policy-test"


@dataclass(frozen=True)
class Setup:
    kube: Kube
    enforced: str  # the policy binds here
    unbound: str  # no admission policy: only the operator stands in the way


def _render(tmp: Path, release: str) -> str:
    values = tmp / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {"policy": POLICY, "admissionPolicy": {"namespaceSelector": {"matchLabels": {LABEL: "on"}}}}
        )
    )
    args: list[Any] = [helm_path(), "template", release, CHART_DIR, "-f", values]
    args += ["--kube-version", "v1.34.4", "--show-only", "templates/admission-policy.yaml"]
    return run_tool(args).stdout


def _denied(kube: Kube, obj: dict[str, Any]) -> str | None:
    """The admission error's text, or None when the object was created (and is deleted again)."""
    try:
        create(kube, obj)
    except KubeError as error:
        return f"{error} {error.body}"
    plural = "modelversions" if obj["kind"] == "ModelVersion" else "modeldeployments"
    kube.request("DELETE", custom_path(obj["metadata"]["namespace"], plural, obj["metadata"]["name"]))
    return None


@pytest.fixture(scope="module")
def setup(apiserver: Any, crds: list[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    suffix = secrets.token_hex(3)
    kube = Kube(load_client(str(apiserver.kubeconfig)))
    enforced, unbound = f"policy-on-{suffix}", f"policy-off-{suffix}"
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": enforced, "labels": {LABEL: "on"}}})
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": unbound}})
    manifest = _render(tmp_path_factory.mktemp("policy"), f"pol-{suffix}")
    kubectl = [apiserver.kubectl, "--kubeconfig", apiserver.kubeconfig]
    run_tool([*kubectl, "apply", "-f", "-"], input=manifest, env=apiserver.env)
    # The apiserver compiles each new policy asynchronously (the ModelDeployment and the ModelVersion
    # policies apart): wait until a hostile row of each kind is really refused.
    md_row = next(r for r in TABLE if r.kind == "md")
    mv_row = next(r for r in TABLE if r.kind != "md")
    probes = [model_deployment_for(md_row, 998, enforced), model_version_for(mv_row, 999, enforced)]
    Poller(60, what="the ValidatingAdmissionPolicies to refuse a hostile spec of each kind").until(
        lambda: all(_denied(kube, probe) is not None for probe in probes)
    )
    try:
        yield Setup(kube, enforced, unbound)
    finally:
        run_tool([*kubectl, "delete", "-f", "-", "--ignore-not-found"], input=manifest, env=apiserver.env)
        for name in (enforced, unbound):
            kube.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_admission_refuses_the_hostile_spec_naming_the_field(setup: Setup, row: Hostile) -> None:
    index = TABLE.index(row)
    mv = model_version_for(row, index, setup.enforced)
    md = model_deployment_for(row, index, setup.enforced)
    if row.kind == "md":
        create(setup.kube, mv)  # the clean ModelVersion is admitted
        hostile = md
    else:
        hostile = mv
    refused = _denied(setup.kube, hostile)
    assert refused is not None, f"{row.name}: admitted"
    print(f"{row.name}: {refused.split(' {', 1)[0]}")  # the refusal, for the report (pytest -rP)
    assert "ValidatingAdmissionPolicy" in refused and row.field.rstrip("[") in refused, refused
    assert "platform policy" in refused, refused


@pytest.mark.parametrize("row", TABLE, ids=[r.name for r in TABLE])
def test_without_admission_the_operator_refuses_and_creates_nothing(setup: Setup, row: Hostile) -> None:
    index = TABLE.index(row)
    namespace = setup.unbound
    md = model_deployment_for(row, index, namespace)
    create(setup.kube, model_version_for(row, index, namespace))
    create(setup.kube, md)
    name = md["metadata"]["name"]
    settings = Settings(policy=POLICY)
    controller.reconcile_model_deployment(setup.kube, settings, OperatorMetrics(), namespace, name)
    stored = setup.kube.get(custom_path(namespace, "modeldeployments", name))
    degraded = c.find(stored["status"]["conditions"], c.DEGRADED)
    assert degraded is not None and degraded["reason"] == c.REASON_POLICY_VIOLATION, stored["status"]
    assert degraded["status"] == "True" and row.field in degraded["message"], degraded
    selector = f"app.kubernetes.io/instance={name}"
    for path in (
        f"/apis/apps/v1/namespaces/{namespace}/deployments",
        f"/api/v1/namespaces/{namespace}/services",
    ):
        assert setup.kube.list_items(path, selector) == [], f"{row.name}: created {path}"


def test_metadata_patches_of_an_object_admitted_earlier_still_go_through(setup: Setup) -> None:
    """A ModelDeployment admitted before the policy binds may still be annotated (kopf's progress
    annotations, the retry annotation), while a spec change is judged."""
    row = next(r for r in TABLE if r.name == "hostPath /etc")
    index = TABLE.index(row)
    md = model_deployment_for(row, index, setup.unbound)
    md["metadata"]["name"] = "admitted-earlier"
    create(setup.kube, md)
    path = custom_path(setup.unbound, "modeldeployments", "admitted-earlier")
    _label(setup.kube, setup.unbound, "on")
    try:
        Poller(30, what="the binding to cover the relabelled namespace").until(
            lambda: _denied(setup.kube, {**model_deployment_for(row, 998, setup.unbound)}) is not None
        )
        annotation = [
            {"op": "add", "path": "/metadata/annotations", "value": {"modelops.io/retry": "v1.0.0"}}
        ]
        setup.kube.json_patch(path, annotation)
        with pytest.raises(KubeError, match=r"spec\.storage\.path"):
            setup.kube.json_patch(path, [{"op": "replace", "path": "/spec/replicas", "value": 2}])
    finally:
        _label(setup.kube, setup.unbound, None)


def _label(kube: Kube, namespace: str, value: str | None) -> None:
    body = {"metadata": {"labels": {LABEL: value}}}
    kube.request(
        "PATCH", f"/api/v1/namespaces/{namespace}", body, content_type="application/merge-patch+json"
    )
