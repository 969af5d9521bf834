"""The example manifests users `kubectl apply -f` are accepted by a real apiserver with the CRDs installed.

A server-side dry run runs the CRDs' schema and CEL validation on every file in examples/manifests/, so
an example that drifts from the CRDs fails here. Their names follow modelops.names, as the operator and
`modelctl` expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.names import deployment_name, model_version_name
from support.tools import REPO_ROOT, run_tool

MANIFESTS = sorted((REPO_ROOT / "examples" / "manifests").glob("*.yaml"))


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.name for m in MANIFESTS])
def test_example_is_accepted_by_the_apiserver(apiserver: Any, crds: Any, manifest: Path) -> None:
    command = [apiserver.kubectl, "--kubeconfig", apiserver.kubeconfig, "apply", "--dry-run=server"]
    result = run_tool([*command, "-n", "default", "-f", manifest], env=apiserver.env)
    assert "(server dry run)" in result.stdout


def test_examples_cover_both_models_in_staging_and_production_and_a_shadow() -> None:
    docs = [yaml.safe_load(m.read_text()) for m in MANIFESTS]
    deployments = {
        (d["spec"]["model"], d["spec"]["environment"]) for d in docs if d["kind"] == "ModelDeployment"
    }
    models = {"safety_classifier", "intent_classifier"}
    shadow_example = ("safety_classifier", "shadowed")  # safety-classifier-shadow.yaml: a Shadow rollout
    assert deployments == {(m, env) for m in models for env in ("staging", "production")} | {shadow_example}
    for doc in docs:
        spec = doc["spec"]
        expected = (
            model_version_name(spec["model"], spec["version"])
            if doc["kind"] == "ModelVersion"
            else deployment_name(spec["model"], spec["environment"])
        )
        assert doc["metadata"]["name"] == expected
