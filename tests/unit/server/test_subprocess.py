"""The real `modelops-server` console script: a subprocess on a free port, and `fetch` for init containers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelops.package.archive import build_package
from modelops.package.manifest import manifest_digest
from support.models import corrupt_model
from support.serving import MODEL_TYPE, SEED_HEALTH, SEED_PREDICT

SERVER = Path(sys.executable).parent / "modelops-server"
DEADLINE_S = 60.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_health(base: str, process: subprocess.Popen[bytes], want_status: str) -> dict[str, object]:
    """Poll the seed health path until it reports `want_status`; fail with the last answer at the deadline."""
    deadline, last = time.monotonic() + DEADLINE_S, "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode} before reporting {want_status}")
        try:
            body = httpx.get(f"{base}{SEED_HEALTH}", timeout=2).json()
        except httpx.TransportError as error:
            last = repr(error)
        else:
            if body["status"] == want_status and body.get("reason") != "model is loading":
                return dict(body)
            last = json.dumps(body)
        time.sleep(0.1)  # poll interval, not synchronisation: the loop is bounded by the deadline
    pytest.fail(f"server did not report {want_status} within {DEADLINE_S}s; last answer: {last}")


def start_server(args: list[str], env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    command = [str(SERVER), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    process = subprocess.Popen(command, env={**os.environ, **(env or {})}, stderr=subprocess.PIPE)
    return f"http://127.0.0.1:{port}", process


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)


def test_real_server_on_a_port_with_settings_from_the_environment(
    models_dir: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    digest = manifest_digest(models_dir / MODEL_TYPE / "v1.0.0")
    env = {"MODELS_DIR": str(models_dir), "MODELOPS_SERVER_MODEL_TYPE": MODEL_TYPE,
           "MODELOPS_SERVER_EXPECTED_DIGEST": digest}  # fmt: skip
    base, process = start_server([], env)
    processes.append(process)
    health = wait_for_health(base, process, "healthy")
    assert health["version"] == "v1.0.0"
    prediction = httpx.post(f"{base}{SEED_PREDICT}", json={"text": "i want to hurt myself"}, timeout=5).json()
    assert prediction["label"] == "risk"
    bad = httpx.post(f"{base}{SEED_PREDICT}", content=b"\x00garbage", timeout=5)
    assert bad.status_code == 400
    assert httpx.get(f"{base}/v2/health/ready", timeout=5).status_code == 200
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (exit status -15)
    assert process.wait(timeout=20) in (0, -signal.SIGTERM)
    logs = [json.loads(line) for line in process.stderr.read().splitlines() if line.startswith(b"{")]  # type: ignore[union-attr]
    events = {entry.get("event") for entry in logs}
    assert {"startup_configuration", "model_loaded"} <= events
    assert "Application shutdown complete." in {entry["message"] for entry in logs}


def test_tampered_model_keeps_the_process_up_and_unhealthy(
    models_dir: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    corrupt_model(models_dir / MODEL_TYPE / "v1.0.0")
    base, process = start_server(
        ["--models-dir", str(models_dir), "--model-type", MODEL_TYPE, "--version", "v1.0.0"]
    )
    processes.append(process)
    health = wait_for_health(base, process, "unhealthy")
    assert str(health["reason"]).startswith("sha256 mismatch for model.onnx: expected ")
    assert httpx.get(f"{base}/v2/health/live", timeout=5).status_code == 200


def test_invalid_settings_refuse_to_start(models_dir: Path) -> None:
    result = subprocess.run(
        [str(SERVER), "serve", "--models-dir", str(models_dir), "--model-type", "Bad-Type"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert b"Bad-Type" in result.stderr


def test_fetch_then_serve_a_package(
    models_dir: Path, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    package = build_package(
        models_dir / MODEL_TYPE / "v1.0.0", tmp_path / "pkg" / "safety_classifier_v1.0.0.tar.gz"
    )
    dest = tmp_path / "fetched" / MODEL_TYPE / "v1.0.0"
    fetched = subprocess.run(
        [str(SERVER), "fetch", str(package), str(dest)], capture_output=True, timeout=60, check=True
    )
    assert json.loads(fetched.stdout)["files"] == [
        "manifest.json",
        "metadata.json",
        "model.onnx",
        "tokenizer.json",
    ]
    again = subprocess.run(
        [str(SERVER), "fetch", str(package), str(dest)], capture_output=True, timeout=60, check=False
    )
    assert again.returncode == 1 and b"not an empty directory" in again.stderr
    args = ["--package", str(package), "--work-dir", str(tmp_path / "work"), "--model-type", MODEL_TYPE]
    base, process = start_server(args)
    processes.append(process)
    assert wait_for_health(base, process, "healthy")["version"] == "v1.0.0"
