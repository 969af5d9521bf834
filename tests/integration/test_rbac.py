"""Proves the chart's RBAC on a real kube-apiserver: `kubectl auth can-i` as the operator's ServiceAccount.

The rendered ServiceAccount and RBAC objects are applied to the integration apiserver, then every verb
the operator uses must be allowed and everything it must not do (read secrets, write CRDs, create pods,
escalate through RBAC) must be denied, first cluster-wide and then with `operator.watchNamespaces`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from modelops.vocabulary import METRICS_TOKEN_HEADER
from modelops_operator import controller, modelversion
from modelops_operator.kube import Kube, KubeError, custom_path, load_client
from modelops_operator.metrics import OperatorMetrics
from modelops_operator.metrics_auth import MetricsToken
from modelops_operator.reconcile import RETRY_ANNOTATION as RETRY
from modelops_operator.settings import Settings
from support.operator_objects import model_deployment, model_version
from support.tools import CHART_DIR, helm_path, run_tool

RBAC_TEMPLATES = ("templates/serviceaccount.yaml", "templates/rbac.yaml")

# (verb, resource, extra kubectl args) the operator uses in every namespace it watches.
NEEDED = [
    *[(v, "modeldeployments.modelops.io", ()) for v in ("get", "list", "watch", "patch")],
    *[(v, "modelversions.modelops.io", ()) for v in ("get", "list", "watch", "patch")],
    ("patch", "modeldeployments.modelops.io", ("--subresource=status",)),
    ("patch", "modelversions.modelops.io", ("--subresource=status",)),
    *[(v, "deployments.apps", ()) for v in ("create", "get", "list", "watch", "patch")],
    *[(v, "services", ()) for v in ("create", "get", "patch")],
    *[(v, "pods", ()) for v in ("get", "list", "watch", "patch")],
    *[(v, "configmaps", ()) for v in ("create", "patch")],
    ("get", "pods", ("--subresource=proxy",)),
    ("create", "events", ()),
]
# Verbs the chart granted before the trim and the operator never used, and everything else it must not do.
FORBIDDEN = [
    ("update", "modeldeployments.modelops.io", ()),
    ("update", "modelversions.modelops.io", ()),
    ("update", "modeldeployments.modelops.io", ("--subresource=status",)),
    ("get", "modelversions.modelops.io", ("--subresource=status",)),
    *[(v, "deployments.apps", ()) for v in ("update", "delete", "deletecollection")],
    *[(v, "services", ()) for v in ("update", "delete", "list", "watch")],
    ("patch", "events", ()),
    ("patch", "events.events.k8s.io", ()),
    ("get", "secrets", ()),
    ("list", "secrets", ()),
    ("get", "configmaps", ()),
    ("delete", "configmaps", ()),
    ("create", "pods", ()),
    ("delete", "pods", ()),
    ("create", "pods", ("--subresource=exec",)),
    ("create", "pods", ("--subresource=proxy",)),
    ("create", "modeldeployments.modelops.io", ()),
    ("delete", "modelversions.modelops.io", ()),
    ("create", "replicasets.apps", ()),
    ("create", "rolebindings.rbac.authorization.k8s.io", ()),
    ("impersonate", "serviceaccounts", ()),
    ("create", "serviceaccounts", ("--subresource=token",)),
]
CLUSTER_FORBIDDEN = [
    ("create", "customresourcedefinitions.apiextensions.k8s.io", ()),
    ("delete", "customresourcedefinitions.apiextensions.k8s.io", ()),
    ("patch", "customresourcedefinitions.apiextensions.k8s.io", ()),
    ("create", "clusterroles.rbac.authorization.k8s.io", ()),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", ()),
    ("create", "namespaces", ()),
    ("list", "nodes", ()),
    ("get", "secrets", ("--all-namespaces",)),
]


@dataclass
class Install:
    """The applied RBAC of one rendered release, and how to ask the apiserver about its ServiceAccount."""

    apiserver: Any
    namespace: str
    service_account: str

    def kubectl(self, *args: str, check: bool = True) -> str:
        command = [self.apiserver.kubectl, "--kubeconfig", self.apiserver.kubeconfig, *args]
        return run_tool(command, check=check, env=self.apiserver.env).stdout.strip()

    def can_i(self, verb: str, resource: str, extra: tuple[str, ...], namespace: str | None = None) -> str:
        subject = f"--as=system:serviceaccount:{self.namespace}:{self.service_account}"
        where = [] if "--all-namespaces" in extra else ["-n", namespace or self.namespace]
        return self.kubectl("auth", "can-i", verb, resource, *extra, subject, *where, check=False)


def render_rbac(release: str, namespace: str, *overrides: str) -> str:
    args: list[Any] = [
        helm_path(),
        "template",
        release,
        CHART_DIR,
        "-n",
        namespace,
        "--kube-version",
        "v1.34.4",
    ]
    for template in RBAC_TEMPLATES:
        args += ["--show-only", template]
    for override in overrides:
        args += ["--set", override]
    return run_tool(args).stdout


@pytest.fixture
def install_rbac(apiserver: Any, crds: Any) -> Iterator[Any]:
    """Applies the chart's RBAC for a fresh release in fresh namespaces; deletes it all afterwards."""
    applied: list[tuple[Install, str]] = []

    def install(*overrides: str, watched: tuple[str, ...] = ()) -> Install:
        suffix = secrets.token_hex(3)
        release, namespace = f"rbac-{suffix}", f"modelops-rbac-{suffix}"
        target = Install(apiserver, namespace, f"{release}-modelops")
        for name in (namespace, *watched):
            target.kubectl("create", "namespace", name)
        manifest = render_rbac(release, namespace, *overrides)
        run_tool(
            [apiserver.kubectl, "--kubeconfig", apiserver.kubeconfig, "apply", "-f", "-"],
            input=manifest,
            env=apiserver.env,
        )
        applied.append((target, manifest))
        return target

    yield install
    for target, manifest in applied:
        run_tool(
            [
                target.apiserver.kubectl,
                "--kubeconfig",
                target.apiserver.kubeconfig,
                "delete",
                "-f",
                "-",
                "--ignore-not-found",
                "--wait=false",
            ],
            input=manifest,
            env=target.apiserver.env,
            check=False,
        )


def answers(target: Install, checks: list[Any], namespace: str | None = None) -> dict[str, str]:
    return {
        " ".join([verb, resource, *extra]): target.can_i(verb, resource, extra, namespace)
        for verb, resource, extra in checks
    }


def test_cluster_wide_operator_can_do_what_it_needs_in_any_namespace(install_rbac: Any) -> None:
    target = install_rbac()
    for namespace in (target.namespace, "some-team"):
        got = answers(target, NEEDED, namespace)
        assert got == dict.fromkeys(got, "yes"), (
            f"denied in {namespace}: {[k for k, v in got.items() if v != 'yes']}"
        )
    crd_reads = answers(
        target, [(v, "customresourcedefinitions.apiextensions.k8s.io", ()) for v in ("get", "list")]
    )
    assert set(crd_reads.values()) == {"yes"}, crd_reads


def test_cluster_wide_operator_cannot_do_what_it_must_not(install_rbac: Any) -> None:
    target = install_rbac()
    got = answers(target, FORBIDDEN, "some-team") | answers(target, CLUSTER_FORBIDDEN)
    assert got == dict.fromkeys(got, "no"), f"allowed: {[k for k, v in got.items() if v != 'no']}"


def test_watch_namespaces_grants_only_those_namespaces(install_rbac: Any) -> None:
    watched = f"team-{secrets.token_hex(3)}"
    target = install_rbac(f"operator.watchNamespaces={{{watched}}}", watched=(watched,))
    inside = answers(target, NEEDED, watched)
    assert inside == dict.fromkeys(inside, "yes"), [k for k, v in inside.items() if v != "yes"]
    outside = answers(target, NEEDED, "default")
    assert outside == dict.fromkeys(outside, "no"), [k for k, v in outside.items() if v != "no"]


def test_the_operator_reconciles_as_its_service_account(install_rbac: Any, apiserver: Any) -> None:
    """The trimmed rules are enough in practice: whole reconciles run with the ServiceAccount's rights
    (impersonated) create the Deployment and Service, write both statuses, post Events and patch the spec."""
    watched = f"team-{secrets.token_hex(3)}"
    target = install_rbac(f"operator.watchNamespaces={{{watched}}}", watched=(watched,))
    admin = Kube(load_client(str(apiserver.kubeconfig)))
    as_operator = load_client(str(apiserver.kubeconfig))
    as_operator.set_default_header(
        "Impersonate-User", f"system:serviceaccount:{target.namespace}:{target.service_account}"
    )
    kube = Kube(as_operator)
    with pytest.raises(KubeError) as denied:  # the impersonation is real: secrets stay out of reach
        kube.list_items(f"/api/v1/namespaces/{watched}/secrets")
    assert denied.value.status == 403
    mv = model_version("v1.0.0", namespace=watched)
    admin.request("POST", custom_path(watched, "modelversions"), mv)
    md = model_deployment("v1.0.0", namespace=watched)
    md["metadata"] = {"name": md["metadata"]["name"], "namespace": watched, "annotations": {RETRY: "v1.0.0"}}
    admin.request("POST", custom_path(watched, "modeldeployments"), md)
    name = md["metadata"]["name"]
    controller.reconcile_model_deployment(kube, Settings(), OperatorMetrics(), watched, name)
    modelversion.reconcile_model_version(kube, watched, mv["metadata"]["name"])
    assert admin.get(f"/apis/apps/v1/namespaces/{watched}/deployments/{name}") is not None
    assert admin.get(f"/api/v1/namespaces/{watched}/services/{name}") is not None
    stored = admin.get(custom_path(watched, "modeldeployments", name)) or {}
    assert stored["status"]["rollout"]["version"] == "v1.0.0"
    assert RETRY not in (stored["metadata"].get("annotations") or {}), "the spec patch was refused"
    assert (admin.get(custom_path(watched, "modelversions", mv["metadata"]["name"])) or {}).get("status")
    reasons = {e.get("reason") for e in admin.list_items(f"/api/v1/namespaces/{watched}/events")}
    assert "Deploying" in reasons


HTTP_ROUTES = "httproutes.gateway.networking.k8s.io"


def test_http_routes_are_granted_get_and_patch_only_when_asked(install_rbac: Any, http_routes: None) -> None:
    """Canary traffic routing: get and patch on HTTPRoutes with rbac.httpRoutes, nothing more; none
    without it."""
    target = install_rbac("rbac.httpRoutes=true")
    allowed = answers(target, [(v, HTTP_ROUTES, ()) for v in ("get", "patch")], "some-team")
    assert allowed == dict.fromkeys(allowed, "yes"), allowed
    more = ("list", "watch", "create", "update", "delete")
    denied = answers(target, [(v, HTTP_ROUTES, ()) for v in more], "some-team")
    denied |= answers(target, [("patch", f"{HTTP_ROUTES}", ("--subresource=status",))], "some-team")
    denied |= answers(target, [("patch", "gateways.gateway.networking.k8s.io", ())], "some-team")
    assert denied == dict.fromkeys(denied, "no"), denied
    default = install_rbac()
    off = answers(default, [(v, HTTP_ROUTES, ()) for v in ("get", "patch")], "some-team")
    assert off == dict.fromkeys(off, "no"), off


def test_metrics_auth_grants_get_on_the_one_named_secret(install_rbac: Any, apiserver: Any) -> None:
    """metricsAuth: the operator may read the platform's metrics token Secret (that name only) and
    `MetricsToken` reads it as the ServiceAccount; any other Secret stays out of reach."""
    watched = f"team-{secrets.token_hex(3)}"
    target = install_rbac(
        f"operator.watchNamespaces={{{watched}}}",
        "policy.metricsAuthSecret=modelops-metrics",
        watched=(watched,),
    )
    assert target.can_i("get", "secrets/modelops-metrics", (), watched) == "yes"
    for verb, resource in (
        ("get", "secrets/other"),
        ("list", "secrets"),
        ("watch", "secrets"),
        ("update", "secrets/modelops-metrics"),
    ):
        assert target.can_i(verb, resource, (), watched) == "no", (verb, resource)
    assert target.can_i("get", "secrets/modelops-metrics", (), "default") == "no"
    admin = Kube(load_client(str(apiserver.kubeconfig)))
    for name in ("modelops-metrics", "other"):
        secret = {"metadata": {"name": name}, "stringData": {"token": f"{name}-t0ken"}}
        admin.request("POST", f"/api/v1/namespaces/{watched}/secrets", secret)
    as_operator = load_client(str(apiserver.kubeconfig))
    as_operator.set_default_header(
        "Impersonate-User", f"system:serviceaccount:{target.namespace}:{target.service_account}"
    )
    kube = Kube(as_operator)
    assert MetricsToken(kube, watched, "modelops-metrics").headers() == {
        METRICS_TOKEN_HEADER: "modelops-metrics-t0ken"
    }
    with pytest.raises(KubeError) as denied:
        MetricsToken(kube, watched, "other").headers()
    assert denied.value.status == 403
