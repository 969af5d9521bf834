"""`modelctl` end to end in a temporary directory, as a user runs it: train → deploy-model (export,
package, sign) → register → versions → latest, with the real console script; the model.pt comes from the
toy trainer (`tests/support/toy_train_safety.py`, seconds) so that the test stays fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODELCTL = Path(sys.executable).parent / "modelctl"


def _run(cwd: Path, *argv: str | Path) -> str:
    env = {**os.environ, "KUBECONFIG": str(cwd / "no-kubeconfig"), "MODELS_DIR": str(cwd / "ml" / "models")}
    env.pop("KUBERNETES_SERVICE_HOST", None)  # the file registry, even when run inside a pod
    done = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_train_deploy_model_register_versions_latest(tmp_path: Path) -> None:
    models = tmp_path / "ml" / "models"
    for version in ("v1.0.0", "v1.1.0"):
        script = REPO / "tests" / "support" / "toy_train_safety.py"
        _run(tmp_path, sys.executable, script, "--models-dir", models, "--version", version, "--epochs", "2")
    _run(tmp_path, MODELCTL, "keygen", "--out-dir", "keys")
    for version in ("v1.1.0", "v1.0.0"):
        _run(
            tmp_path,
            MODELCTL,
            "deploy-model",
            "--type",
            "safety_classifier",
            "--model-path",
            models / "safety_classifier" / version / "model.pt",
            "--version",
            version,
            "--export",
            "onnx",
            "--package",
            "--sign-key",
            "keys/signing-key.pem",
        )
        _run(tmp_path, MODELCTL, "register", "safety_classifier", version)
    package = tmp_path / "ml" / "model_packages" / "safety_classifier_v1.1.0.tar.gz"
    with tarfile.open(package) as tar:
        names = set(tar.getnames())
    assert {"model.onnx", "metadata.json", "manifest.json", "model.sig", "tokenizer.json"} <= names
    _run(tmp_path, MODELCTL, "verify", "--package", package, "--public-key", "keys/signing-key.pub")
    rows = json.loads(_run(tmp_path, MODELCTL, "versions", "safety_classifier", "-o", "json"))
    assert [row["version"] for row in rows] == ["v1.0.0", "v1.1.0"]
    assert all(0.0 <= row["accuracy"] <= 1.0 and len(row["sha256"]) == 64 for row in rows)
    assert _run(tmp_path, MODELCTL, "latest", "safety_classifier").strip() == "v1.1.0"
    assert (models / "safety_classifier" / "latest").readlink() == Path("v1.1.0")
    registry = json.loads((models / "registry.json").read_text())
    assert set(registry["models"]["safety_classifier"]) == {"v1.0.0", "v1.1.0"}
