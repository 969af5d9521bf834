"""KServe's own Python clients (`InferenceRESTClient` v2 and `InferenceGRPCClient`), unmodified, against the
real `modelops-server` process: binary tensors on and off, results equal to the seed predict endpoint's.

The `kserve` package cannot live in the project venv (it pins protobuf/grpcio-tools versions that differ
from ours), so `make kserve-clients` (a prerequisite of `make test-unit`) builds a venv of its own from
hack/kserve-clients.txt, and this test runs hack/check_kserve_clients.py with that venv's python. A missing
venv fails the test, saying how to build it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from support.server_process import ServerProcess
from support.serving import MODEL_TYPE, SEED_PREDICT

ROOT = Path(__file__).resolve().parents[3]
CHECK = ROOT / "hack" / "check_kserve_clients.py"
REQUIREMENTS = ROOT / "hack" / "kserve-clients.txt"
DEADLINE_S = 120


def kserve_python() -> Path:
    """$MODELOPS_KSERVE_PYTHON (the Makefile exports it), else where `make kserve-clients` puts it."""
    if configured := os.environ.get("MODELOPS_KSERVE_PYTHON"):
        return Path(configured)
    key = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    return Path.home() / ".cache" / "modelops" / f"kserve-clients-{key}" / "bin" / "python"


def test_kserve_clients_infer_like_the_seed_predict_endpoint(server: ServerProcess) -> None:
    python = kserve_python()
    assert python.exists(), f"no KServe clients venv at {python}: run `make kserve-clients`"
    run = subprocess.run([str(python), str(CHECK), server.http, server.grpc, MODEL_TYPE],
                         capture_output=True, text=True, timeout=DEADLINE_S, cwd=ROOT)  # fmt: skip
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout}\n{run.stderr[-4000:]}"
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert [(r["client"], r["binary_data"]) for r in results] == [
        ("InferenceRESTClient v2", False), ("InferenceGRPCClient", False),
        ("InferenceRESTClient v2", True), ("InferenceGRPCClient", True),
    ]  # fmt: skip
    for result in results:
        answer = httpx.post(f"{server.base}{SEED_PREDICT}", json={"texts": result["texts"]}, timeout=10)
        seed = answer.json()["predictions"]
        assert result["labels"] == [p["label"] for p in seed], result
        expected = [[p["scores"]["safe"], p["scores"]["risk"]] for p in seed]
        assert result["probabilities"] == [pytest.approx(row, abs=1e-6) for row in expected], result
