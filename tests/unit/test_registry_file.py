"""File backend specifics: the seed's registry.json structure, concurrent writers, atomic writes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from modelops.registry import BackendError, FileBackend, InvalidMetadataError, ModelRegistry
from support.registry_behaviour import SEED_METADATA, TYPE

WRITERS, VERSIONS_EACH = 4, 10


def test_registry_json_has_the_seed_structure(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    registry = ModelRegistry(FileBackend(path))
    registry.register_model(TYPE, "v1.0.0", SEED_METADATA)
    registry.register_model(TYPE, "v1.1.0", SEED_METADATA)
    registry.deploy_model(TYPE, "v1.0.0", "production")
    data = json.loads(path.read_text())
    entry = data["models"][TYPE]["v1.0.0"]
    assert entry["version"] == "v1.0.0" and entry["status"] == "deployed_production"
    assert entry["accuracy"] == 0.98 and entry["training_date"] == "2024-01-01"
    assert data["models"][TYPE]["v1.1.0"]["status"] == "registered"
    deployment = data["deployments"][TYPE]["production"]
    assert (deployment["version"], deployment["status"]) == ("v1.0.0", "active")
    assert deployment["deployed_at"]


def test_redeploy_moves_the_deployed_status(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    registry = ModelRegistry(FileBackend(path))
    for version in ("v1.0.0", "v1.1.0"):
        registry.register_model(TYPE, version, SEED_METADATA)
        registry.deploy_model(TYPE, version, "production")
    models = json.loads(path.read_text())["models"][TYPE]
    assert (models["v1.0.0"]["status"], models["v1.1.0"]["status"]) == ("registered", "deployed_production")


def _register_many(path: str, writer: int) -> None:
    registry = ModelRegistry(FileBackend(path))
    for index in range(VERSIONS_EACH):
        registry.register_model(TYPE, f"v{writer}.{index}.0", {"accuracy": 0.5, "writer": writer})
        registry.deploy_model(TYPE, f"v{writer}.{index}.0", f"env{writer}")


def test_concurrent_writers_never_lose_an_entry(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_register_many, args=(str(path), w)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * WRITERS
    registry = ModelRegistry(FileBackend(path))
    assert len(registry.list_versions(TYPE)) == WRITERS * VERSIONS_EACH
    deployed = {d.environment: d.version for d in registry.list_deployments(TYPE)}
    assert deployed == {f"env{w}": f"v{w}.{VERSIONS_EACH - 1}.0" for w in range(WRITERS)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.json", "registry.json.lock"]


def test_failed_write_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    registry = ModelRegistry(FileBackend(path))
    registry.register_model(TYPE, "v1.0.0", SEED_METADATA)
    before = path.read_bytes()
    with pytest.raises(InvalidMetadataError, match="JSON"):
        registry.register_model(TYPE, "v1.1.0", {"bad": object()})
    with pytest.raises(InvalidMetadataError, match="reserved"):
        registry.register_model(TYPE, "v1.1.0", {"status": "deployed"})
    assert path.read_bytes() == before


def test_unreadable_registry_is_a_backend_error(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text("{not json")
    with pytest.raises(BackendError, match="cannot read registry"):
        ModelRegistry(FileBackend(path)).list_versions(TYPE)


def test_default_backend_is_the_file_registry_without_a_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    registry = ModelRegistry(models_dir=tmp_path / "models")
    assert isinstance(registry.backend, FileBackend)
    assert registry.backend.path == tmp_path / "models" / "registry.json"


def test_seed_style_registration_pins_the_exported_files(tmp_path: Path) -> None:
    from modelops.package.manifest import write_manifest

    models = tmp_path / "models"
    model_dir = models / TYPE / "v1.0.0"
    model_dir.mkdir(parents=True)
    (model_dir / "model.onnx").write_bytes(b"onnx")
    digest = write_manifest(model_dir)
    registry = ModelRegistry(FileBackend(models / "registry.json"), models_dir=models)
    record = registry.register_model(TYPE, "v1.0.0", SEED_METADATA)
    assert record.artifact is not None and record.artifact.sha256 == digest
    assert registry.register_model(TYPE, "v1.1.0", SEED_METADATA).artifact is None
