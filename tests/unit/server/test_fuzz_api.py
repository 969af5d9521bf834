"""Fuzz the real server with schemathesis against its own `/openapi.json`: every operation, a bounded
number of generated requests each, and no answer may be a 5xx (bad input is the caller's: 4xx).

The server runs as the console script on a free port with a real model, so the requests go through
uvicorn exactly as in a pod. The number of requests sent is printed at the end (`pytest -s`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from support.models import make_model_dir
from support.serving import MODEL_TYPE, SEED_HEALTH

SERVER = Path(sys.executable).parent / "modelops-server"
EXAMPLES = 150  # generated requests per mode (bounded for CI)
SENT: list[int] = []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz") / "models"
    make_model_dir(root, MODEL_TYPE, "v1.0.0")
    port = _free_port()
    command = [str(SERVER), "serve", "--host", "127.0.0.1", "--port", str(port), "--models-dir", str(root),
               "--model-type", MODEL_TYPE, "--version", "v1.0.0",
               "--work-dir", str(root.parent / "work")]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:  # polled until the model is healthy or the deadline passes
        try:
            if httpx.get(f"{base}{SEED_HEALTH}", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail("the server did not become healthy within 60s")
        time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=20)
    print(f"\nschemathesis sent {sum(SENT)} requests, 0 answered 5xx")


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda m: m.value)
def test_no_generated_request_gets_a_server_error(server_url: str, mode: Any) -> None:
    """Valid (positive) and schema-violating (negative) requests to every operation: never a 5xx."""
    schema = schemathesis.openapi.from_url(f"{server_url}/openapi.json")
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert len(operations) >= 8, operations
    failures: list[str] = []
    seen: set[str] = set()

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=schema.as_strategy(generation_mode=mode))
    def call(case: Any) -> None:
        response = case.call(base_url=server_url, timeout=10)
        SENT.append(1)
        seen.add(case.operation.label)
        if response.status_code >= 500:
            failures.append(
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:200]}"
            )

    call()
    assert not failures, failures[:5]
    print(f"\n{mode.value}: {len(seen)} of {len(operations)} operations exercised")
