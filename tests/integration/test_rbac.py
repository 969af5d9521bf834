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

from support.tools import CHART_DIR, helm_path, run_tool

RBAC_TEMPLATES = ("templates/serviceaccount.yaml", "templates/rbac.yaml")

# (verb, resource, extra kubectl args) the operator uses in every namespace it watches.
NEEDED = [
    *[(v, "modeldeployments.modelops.io", ()) for v in ("get", "list", "watch", "patch")],
    *[(v, "modelversions.modelops.io", ()) for v in ("get", "list", "watch", "patch")],
    ("patch", "modeldeployments.modelops.io", ("--subresource=status",)),
    ("patch", "modelversions.modelops.io", ("--subresource=status",)),
    *[(v, "deployments.apps", ()) for v in ("create", "get", "patch")],
    *[(v, "services", ()) for v in ("create", "get", "patch")],
    *[(v, "pods", ()) for v in ("get", "list")],
    ("get", "pods", ("--subresource=proxy",)),
    ("create", "events", ()),
]
# Verbs the chart granted before the trim and the operator never used, and everything else it must not do.
FORBIDDEN = [
    ("update", "modeldeployments.modelops.io", ()),
    ("update", "modelversions.modelops.io", ()),
    ("update", "modeldeployments.modelops.io", ("--subresource=status",)),
    ("get", "modelversions.modelops.io", ("--subresource=status",)),
    *[(v, "deployments.apps", ()) for v in ("update", "delete", "list", "watch", "deletecollection")],
    *[(v, "services", ()) for v in ("update", "delete", "list", "watch")],
    ("watch", "pods", ()),
    ("patch", "events", ()),
    ("patch", "events.events.k8s.io", ()),
    ("get", "secrets", ()),
    ("list", "secrets", ()),
    ("get", "configmaps", ()),
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
