"""Verification failures leave the server up and unhealthy with the precise reason; good models are
healthy with exactly the seed health JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelops.package.manifest import manifest_digest, sha256_file, write_manifest
from modelops.package.signing import generate_keypair, sign_model_dir
from support.models import corrupt_model, make_model_dir
from support.serving import MODEL_TYPE, SEED_HEALTH, SEED_PREDICT, ServeFn, settings_for

SEED_FIELDS = {"model_type", "version", "status", "available", "loadable", "metadata"}


async def test_good_model_is_healthy_with_the_seed_fields(serve: ServeFn, models_dir: Path) -> None:
    async with serve() as client:
        response = await client.get(SEED_HEALTH)
    body = response.json()
    assert response.status_code == 200
    assert set(body) == SEED_FIELDS
    assert body["model_type"] == MODEL_TYPE
    assert body["version"] == "v1.0.0"
    assert (body["status"], body["available"], body["loadable"]) == ("healthy", True, True)
    assert body["metadata"]["version"] == "v1.0.0"
    assert body["metadata"]["deployed_at"]
    assert body["metadata"]["sha256"] == manifest_digest(models_dir / MODEL_TYPE / "v1.0.0")


async def test_latest_follows_the_symlink(serve: ServeFn, models_dir: Path) -> None:
    make_model_dir(models_dir, MODEL_TYPE, "v1.1.0")
    async with serve(version="latest") as client:
        body = (await client.get(SEED_HEALTH)).json()
    assert (body["status"], body["version"]) == ("healthy", "v1.1.0")


async def assert_unhealthy(
    serve: ServeFn, reason: str, *, definitive: bool = True, **overrides: object
) -> dict[str, Any]:
    """Health 503 with exactly `reason` and whether it is definitive; predictions 503; liveness 200."""
    async with serve(**overrides) as client:
        health = await client.get(SEED_HEALTH)
        predict = await client.post(SEED_PREDICT, json={"text": "hello"})
        live = await client.get("/v2/health/live")
        ready = await client.get("/v2/health/ready")
    body = health.json()
    assert health.status_code == 503, body
    assert body["status"] == "unhealthy"
    assert body["loadable"] is False
    assert body["reason"] == reason
    assert set(body) == {*SEED_FIELDS, "reason", "failure"}
    assert (body["failure"]["reason"], body["failure"]["definitive"]) == (reason, definitive), body
    assert body["failure"]["since"].endswith("Z")
    assert predict.status_code == 503 and reason in predict.json()["error"]
    assert live.status_code == 200 and ready.status_code == 503
    return body


def _v1(models_dir: Path) -> Path:
    return models_dir / MODEL_TYPE / "v1.0.0"


async def test_flipped_byte(serve: ServeFn, models_dir: Path) -> None:
    expected = sha256_file(_v1(models_dir) / "model.onnx")
    actual = sha256_file(corrupt_model(_v1(models_dir)))
    body = await assert_unhealthy(serve, f"sha256 mismatch for model.onnx: expected {expected}, got {actual}")
    assert body["available"] is True


async def test_missing_file(serve: ServeFn, models_dir: Path) -> None:
    (_v1(models_dir) / "tokenizer.json").unlink()
    await assert_unhealthy(serve, "missing file tokenizer.json")


async def test_wrong_pinned_digest(serve: ServeFn, models_dir: Path) -> None:
    actual = manifest_digest(_v1(models_dir))
    wrong = "0" * 64
    reason = f"sha256 mismatch for manifest.json: expected {wrong}, got {actual}"
    await assert_unhealthy(serve, reason, expected_digest=f"sha256:{wrong}")


async def test_right_pinned_digest_is_healthy(serve: ServeFn, models_dir: Path) -> None:
    async with serve(expected_digest=manifest_digest(_v1(models_dir))) as client:
        assert (await client.get(SEED_HEALTH)).status_code == 200


async def test_wrong_signature(serve: ServeFn, models_dir: Path, tmp_path: Path) -> None:
    private, _ = generate_keypair(tmp_path / "signer")
    _, other_public = generate_keypair(tmp_path / "other")
    sign_model_dir(_v1(models_dir), private)
    async with serve(public_key=other_public) as client:
        body = (await client.get(SEED_HEALTH)).json()
    assert body["status"] == "unhealthy"
    assert body["reason"].startswith("signature verification failed for model.sig: Key mismatch")
    assert body["failure"]["definitive"] is True


async def test_signed_model_with_its_key_is_healthy(serve: ServeFn, models_dir: Path, tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "signer")
    sign_model_dir(_v1(models_dir), private)
    async with serve(public_key=public, require_signature=True) as client:
        body = (await client.get(SEED_HEALTH)).json()
    assert (body["status"], body["metadata"]["signed"]) == ("healthy", True)


async def test_unsigned_with_require_signature(serve: ServeFn, tmp_path: Path) -> None:
    _, public = generate_keypair(tmp_path / "keys")
    reason = "missing signature model.sig: the model is unsigned and require-signature is set"
    await assert_unhealthy(serve, reason, public_key=public, require_signature=True)


async def test_non_onnx_bytes(serve: ServeFn, models_dir: Path) -> None:
    (_v1(models_dir) / "model.onnx").write_bytes(b"this is not a protobuf \xff\xfe")
    write_manifest(_v1(models_dir))  # consistent manifest: the ONNX check itself must catch it
    async with serve() as client:
        body = (await client.get(SEED_HEALTH)).json()
    assert body["reason"].startswith("model.onnx is not a valid ONNX model: ")
    assert body["failure"]["definitive"] is True


async def test_golden_mismatch(serve: ServeFn, tmp_path: Path) -> None:
    root = tmp_path / "golden"
    golden = {"text": "hello", "label": "risk", "scores": {"safe": 0.1, "risk": 0.9}, "tolerance": 1e-4}
    make_model_dir(root, MODEL_TYPE, "v1.0.0", golden=golden)
    await assert_unhealthy(serve, "golden check failed: expected label 'risk', got 'safe'", models_dir=root)


async def test_golden_score_outside_tolerance(serve: ServeFn, models_dir: Path) -> None:
    metadata_path = _v1(models_dir) / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["golden"]["scores"]["safe"] += 0.01
    metadata_path.write_text(json.dumps(metadata))
    write_manifest(_v1(models_dir))
    async with serve() as client:
        body = (await client.get(SEED_HEALTH)).json()
    assert body["reason"].startswith("golden check failed: score for 'safe' is ")
    assert body["failure"]["definitive"] is True


async def test_missing_version_directory(serve: ServeFn, models_dir: Path) -> None:
    body = await assert_unhealthy(
        serve,
        f"model version directory {models_dir / MODEL_TYPE / 'v9.9.9'} does not exist",
        version="v9.9.9",
        definitive=False,  # storage may still appear: the operator waits for the readiness deadline
    )
    assert body["available"] is False
    assert body["metadata"] == {"version": "v9.9.9", "deployed_at": None}


async def test_metadata_that_does_not_match_the_graph(serve: ServeFn, models_dir: Path) -> None:
    metadata_path = _v1(models_dir) / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["inputs"][0]["name"] = "tokens"
    metadata_path.write_text(json.dumps(metadata))
    write_manifest(_v1(models_dir))
    reason = (
        "model.onnx inputs [attention_mask:int64, input_ids:int64] do not match "
        "metadata.json inputs [attention_mask:int64, tokens:int64]"
    )
    await assert_unhealthy(serve, reason)


@pytest.mark.parametrize("field", ["model_type", "version"])
async def test_metadata_naming_another_model(serve: ServeFn, models_dir: Path, field: str) -> None:
    metadata_path = _v1(models_dir) / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata[field] = "other_model" if field == "model_type" else "v2.0.0"
    metadata_path.write_text(json.dumps(metadata))
    write_manifest(_v1(models_dir))
    async with serve() as client:
        body = (await client.get(SEED_HEALTH)).json()
    assert body["reason"].startswith(f"metadata.json {field} is ")
    assert body["failure"]["definitive"] is True


async def test_an_unexpected_load_error_is_not_definitive(
    serve: ServeFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ONNX Runtime running out of memory is no verdict on the artifact: the operator must wait."""
    from modelops_server.model import TextClassifier

    def out_of_memory(*_: object, **__: object) -> None:
        raise MemoryError("bad allocation")

    monkeypatch.setattr(TextClassifier, "load", out_of_memory)
    await assert_unhealthy(serve, "model load failed: MemoryError: bad allocation", definitive=False)


async def test_no_failure_is_reported_while_loading(models_dir: Path) -> None:
    """Before the load finished the health JSON has no `failure`: the operator keeps looking."""
    from modelops_server.dataplane import DataPlane

    plane = DataPlane(settings_for(models_dir))
    status, body = plane.health()
    assert (status, body["reason"]) == (503, "model is loading")
    assert "failure" not in body
