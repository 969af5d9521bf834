"""Executes the chart's Argo CD Lua health checks in Lua 5.1 on sample ModelDeployments/ModelVersions.

Argo CD runs these scripts (gopher-lua, Lua 5.1) with the live object in the global `obj`; a wrong
status here means Argo CD shows a failed rollout as Healthy. Also keeps examples/argocd/argocd-cm.yaml
carrying exactly the scripts in charts/modelops/argocd/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.tools import CHART_DIR, REPO_ROOT, lua_path, run_tool

MD_SCRIPT = CHART_DIR / "argocd" / "modeldeployment-health.lua"
MV_SCRIPT = CHART_DIR / "argocd" / "modelversion-health.lua"


def to_lua(value: Any) -> str:
    """A Lua table constructor for a JSON-like value (JSON strings are valid Lua string literals)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {to_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ", ".join(to_lua(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def health(script: Path, obj: dict[str, Any]) -> tuple[str, str]:
    driver = f'obj = {to_lua(obj)}\nlocal hs = dofile("{script}")\nio.write(hs.status, "\\n", hs.message)\n'
    out = run_tool([lua_path(), "-e", driver]).stdout
    status, _, message = out.partition("\n")
    return status, message


def cond(kind: str, status: str, message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": kind + status, "message": message}


def md(generation: int = 2, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": "safety-classifier-production", "generation": generation}}
    if status is not None:
        obj["status"] = {"observedGeneration": 2, "servingVersion": "v1.1.0", **status}
    return obj


MD_CASES = [
    ("no status yet", md(), "Progressing", "Waiting for the modelops operator"),
    (
        "spec not yet observed",
        md(3, {"conditions": [cond("Available", "True")]}),
        "Progressing",
        "generation 3",
    ),
    (
        "serving",
        md(
            status={"conditions": [cond("Available", "True", "serving v1.1.0"), cond("Progressing", "False")]}
        ),
        "Healthy",
        "serving v1.1.0",
    ),
    (
        "rolling out",
        md(
            status={
                "conditions": [cond("Available", "True"), cond("Progressing", "True", "rolling out v1.2.0")]
            }
        ),
        "Progressing",
        "rolling out v1.2.0",
    ),
    (
        "failed rollout",
        md(
            status={
                "conditions": [
                    cond("Available", "True"),
                    cond("Progressing", "True"),
                    cond("Degraded", "True", "v1.2.0 failed: sha256 mismatch for model.onnx"),
                ]
            }
        ),
        "Degraded",
        "sha256 mismatch",
    ),
    (
        "stalled",
        md(status={"conditions": [cond("Stalled", "True", "no ModelVersion v9.0.0")]}),
        "Degraded",
        "v9.0.0",
    ),
    (
        "not available",
        md(status={"conditions": [cond("Available", "False", "0/1 ready")]}),
        "Progressing",
        "0/1",
    ),
    ("no conditions", md(status={}), "Progressing", "available"),
]


@pytest.mark.parametrize(
    ("obj", "expected", "fragment"), [c[1:] for c in MD_CASES], ids=[c[0] for c in MD_CASES]
)
def test_model_deployment_health(obj: dict[str, Any], expected: str, fragment: str) -> None:
    status, message = health(MD_SCRIPT, obj)
    assert (status, fragment in message) == (expected, True), message


def mv(*conditions: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "safety-classifier-v1-2-0"}, "status": {"conditions": list(conditions)}}


MV_CASES = [
    ("no status yet", {"metadata": {"name": "x"}}, "Progressing", "validate"),
    ("valid", mv(cond("Ready", "True", "artifact verified")), "Healthy", "artifact verified"),
    ("invalid", mv(cond("Ready", "False", "sha256 mismatch for model.onnx")), "Degraded", "sha256 mismatch"),
    (
        "degraded",
        mv(cond("Ready", "True"), cond("Degraded", "True", "signature invalid")),
        "Degraded",
        "signature",
    ),
    ("pending", mv(), "Progressing", "validate"),
    ("phase invalid", {"status": {"phase": "Invalid", "message": "bad sha256"}}, "Degraded", "bad sha256"),
    ("phase deployed", {"status": {"phase": "Deployed", "conditions": []}}, "Healthy", "Deployed"),
]


@pytest.mark.parametrize(
    ("obj", "expected", "fragment"), [c[1:] for c in MV_CASES], ids=[c[0] for c in MV_CASES]
)
def test_model_version_health(obj: dict[str, Any], expected: str, fragment: str) -> None:
    status, message = health(MV_SCRIPT, obj)
    assert (status, fragment in message) == (expected, True), message


def test_argocd_cm_example_carries_the_chart_scripts() -> None:
    config = yaml.safe_load((REPO_ROOT / "examples" / "argocd" / "argocd-cm.yaml").read_text())
    data = config["data"]
    assert data["resource.customizations.health.modelops.io_ModelDeployment"] == MD_SCRIPT.read_text()
    assert data["resource.customizations.health.modelops.io_ModelVersion"] == MV_SCRIPT.read_text()


def test_application_ignores_only_the_operators_fields() -> None:
    apps = list(yaml.safe_load_all((REPO_ROOT / "examples" / "argocd" / "application.yaml").read_text()))
    models = next(a for a in apps if a["metadata"]["name"] == "models")
    (rule,) = models["spec"]["ignoreDifferences"]
    assert rule == {
        "group": "modelops.io",
        "kind": "ModelDeployment",
        "managedFieldsManagers": ["modelops-operator"],
    }
    assert "RespectIgnoreDifferences=true" in models["spec"]["syncPolicy"]["syncOptions"]
