"""The objects of a Shadow rollout: the candidate's Deployment and Service, and the mirror-target ConfigMap.

`shadow` (the strategy) decides; this module builds. The candidate pods carry
`app.kubernetes.io/name: modelops-shadow` instead of `modelops-server`, so the ModelDeployment's Service
never selects them (no user traffic) while `app.kubernetes.io/instance` still names the ModelDeployment
(their watch events wake it). Their own ClusterIP Service `<name>-shadow` is the only mirror target
there is: the ConfigMap `<name>-shadow` that every server pod mounts (builders) holds its ClusterIP URL,
computed here from the observed Service and the model type, never from anything a user wrote.
An empty document (`{}`) turns mirroring off. Pure.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from modelops.vocabulary import GROUP
from modelops_operator import builders
from modelops_operator.rollout_strategy import ShadowSpec
from modelops_operator.settings import Settings
from modelops_operator.spec import ModelDeploymentSpec

NAME_LABEL = "app.kubernetes.io/name"
SHADOW_APP = "modelops-shadow"
TARGET_ANNOTATION = f"{GROUP}/shadow-target"  # on the stable pods: their kubelet refreshes the file now
OFF = "{}"


def selector(md: dict[str, Any]) -> dict[str, str]:
    """The candidate pods' labels that its Deployment and Service select."""
    return {**builders.selector_labels(md["metadata"]["name"]), NAME_LABEL: SHADOW_APP}


def label_selector(md: dict[str, Any]) -> str:
    """`selector` as a label-selector query."""
    return ",".join(f"{k}={v}" for k, v in selector(md).items())


def deployment(
    md: dict[str, Any], mv: dict[str, Any], settings: Settings, spec: ModelDeploymentSpec
) -> dict[str, Any]:
    """The candidate's Deployment: the version's server pods, not selected by the user-facing Service."""
    name = builders.shadow_name(md["metadata"]["name"])
    built = builders.build_deployment(md, mv, settings, slot=name, spec=spec)
    built["metadata"]["labels"][NAME_LABEL] = SHADOW_APP
    built["metadata"]["labels"].pop(builders.SLOT_LABEL, None)
    built["spec"]["replicas"] = (spec.rollout.shadow or ShadowSpec()).replicas
    built["spec"]["selector"] = {"matchLabels": selector(md)}
    template = built["spec"]["template"]
    template["metadata"]["labels"] = {
        **{k: v for k, v in template["metadata"]["labels"].items() if k != builders.SLOT_LABEL},
        NAME_LABEL: SHADOW_APP,
    }
    _no_mirroring(template["spec"])
    return built


def _no_mirroring(pod_spec: dict[str, Any]) -> None:
    """The candidate mirrors nothing itself: no target file, no flag."""
    pod_spec["volumes"] = [v for v in pod_spec["volumes"] if v["name"] != builders.SHADOW_VOLUME]
    container = pod_spec["containers"][0]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != builders.SHADOW_VOLUME]
    command = container["command"]
    at = command.index("--shadow-config-file")
    container["command"] = command[:at] + command[at + 2 :]


def service(md: dict[str, Any], settings: Settings, spec: ModelDeploymentSpec) -> dict[str, Any]:
    """The candidate's own ClusterIP Service: only the stable pods' mirrors reach it."""
    built = builders.build_service(md, settings, spec=spec)
    built["metadata"]["name"] = builders.shadow_name(md["metadata"]["name"])
    built["metadata"]["labels"][NAME_LABEL] = SHADOW_APP
    built["spec"]["selector"] = selector(md)
    built["spec"]["ports"] = [p for p in built["spec"]["ports"] if p["name"] == "http"]
    return built


def target_document(
    md: dict[str, Any], settings: Settings, spec: ShadowSpec, cluster_ip: str, version: str
) -> str:
    """The mirror target: the candidate Service's ClusterIP and the model's predict path (no DNS needed)."""
    path = f"/api/v1/ml-models/{md['spec']['model']}/predict"  # the model type (validated by the spec)
    document = {
        "url": f"http://{cluster_ip}:{settings.server_port}{path}",
        "version": version,
        "sampleFraction": spec.sample_fraction,
        "queueSize": spec.queue_size,
        "timeoutSeconds": spec.timeout_seconds,
    }
    return json.dumps(document, sort_keys=True)


def config_map(md: dict[str, Any], spec: ModelDeploymentSpec, document: str) -> dict[str, Any]:
    """The ConfigMap every server pod mounts; `OFF` turns mirroring off."""
    meta = md["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": builders.shadow_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": builders.common_labels(md, spec),
            "ownerReferences": [builders.owner_reference(md)],
        },
        "data": {builders.SHADOW_FILE: document},
    }


def fingerprint(document: str) -> str:
    """A short digest of the target document (the stable pods' annotation)."""
    return hashlib.sha256(document.encode()).hexdigest()[:16]
