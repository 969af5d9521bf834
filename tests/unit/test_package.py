"""The shared model package format: metadata round trip, manifest digests and every verification message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelops.package import ManifestError, MetadataError, ModelMetadata, manifest_digest, write_manifest
from modelops.package.manifest import MANIFEST_SCHEMA, sha256_file, verify_manifest
from support.models import corrupt_model, make_model_dir


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return make_model_dir(tmp_path)


def test_metadata_round_trip_keeps_every_field(model_dir: Path) -> None:
    metadata = ModelMetadata.load(model_dir)
    assert metadata.model_type == "safety_classifier"
    assert metadata.labels == ["safe", "risk"]
    assert metadata.golden is not None and metadata.golden.label == "safe"
    assert ModelMetadata.from_dict(json.loads(json.dumps(metadata.to_dict()))) == metadata


def test_metadata_accepts_plain_dicts_for_nested_parts() -> None:
    metadata = ModelMetadata(
        model_type="t_x", version="v1.0.0", labels=["a", "b"],
        inputs=[{"name": "input_ids", "dtype": "int64", "shape": ["batch", 8]}],  # type: ignore[list-item]
        golden={"text": "x", "label": "a", "scores": {"a": 0.9, "b": 0.1}},  # type: ignore[arg-type]
    )  # fmt: skip
    assert metadata.inputs[0].name == "input_ids"
    assert metadata.golden is not None and metadata.golden.tolerance == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": "v1", "labels": ["a"]}, "missing field 'model_type'"),
        ({"model_type": "t", "version": "v1", "labels": []}, "'labels' must be a non-empty list"),
        ({"model_type": 3, "version": "v1", "labels": ["a"]}, "field 'model_type' must be str, got int"),
        (
            {"model_type": "t", "version": "v1", "labels": ["a"], "golden": {"text": "x", "scores": {}}},
            "missing field 'label'",
        ),
        ([], "expected an object, got list"),
    ],
)
def test_metadata_errors_name_the_field(document: object, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        ModelMetadata.from_dict(document)


def test_metadata_load_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"missing file metadata.json"):
        ModelMetadata.load(tmp_path)


def test_manifest_lists_every_file_but_itself_and_the_signature(model_dir: Path) -> None:
    (model_dir / "model.sig").write_text("not listed")
    write_manifest(model_dir)
    document = json.loads((model_dir / "manifest.json").read_text())
    assert document["schema"] == MANIFEST_SCHEMA
    assert sorted(document["files"]) == ["metadata.json", "model.onnx", "tokenizer.json"]
    assert document["files"]["model.onnx"] == sha256_file(model_dir / "model.onnx")


def test_digest_is_the_sha256_of_the_manifest_and_is_reproducible(model_dir: Path) -> None:
    first = manifest_digest(model_dir)
    assert write_manifest(model_dir) == first
    assert first == sha256_file(model_dir / "manifest.json")


def test_good_directory_verifies_with_and_without_a_pinned_digest(model_dir: Path) -> None:
    verify_manifest(model_dir)
    verify_manifest(model_dir, manifest_digest(model_dir))
    verify_manifest(model_dir, "sha256:" + manifest_digest(model_dir).upper())


def test_flipped_byte_names_the_file_and_both_digests(model_dir: Path) -> None:
    expected = sha256_file(model_dir / "model.onnx")
    corrupt_model(model_dir)
    actual = sha256_file(model_dir / "model.onnx")
    with pytest.raises(ManifestError) as caught:
        verify_manifest(model_dir)
    assert str(caught.value) == f"sha256 mismatch for model.onnx: expected {expected}, got {actual}"


def test_missing_and_unlisted_files_are_reported(model_dir: Path) -> None:
    (model_dir / "tokenizer.json").unlink()
    with pytest.raises(ManifestError, match=r"^missing file tokenizer.json$"):
        verify_manifest(model_dir)
    write_manifest(model_dir)
    (model_dir / "extra.bin").write_bytes(b"x")
    with pytest.raises(ManifestError, match=r"unexpected file extra.bin is not listed"):
        verify_manifest(model_dir)


def test_rewritten_manifest_is_caught_by_the_pinned_digest(model_dir: Path) -> None:
    pinned = manifest_digest(model_dir)
    corrupt_model(model_dir)
    rewritten = write_manifest(model_dir)
    verify_manifest(model_dir)  # self-consistent again ...
    with pytest.raises(ManifestError) as caught:  # ... but not the pinned artifact
        verify_manifest(model_dir, pinned)
    assert str(caught.value) == f"sha256 mismatch for manifest.json: expected {pinned}, got {rewritten}"


def test_missing_or_invalid_manifest(model_dir: Path) -> None:
    (model_dir / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match=r"manifest.json is not readable JSON"):
        verify_manifest(model_dir)
    (model_dir / "manifest.json").unlink()
    with pytest.raises(ManifestError, match=r"missing file manifest.json"):
        verify_manifest(model_dir)


def test_symlinks_are_refused_in_a_model_directory(model_dir: Path, tmp_path: Path) -> None:
    (model_dir / "link").symlink_to(tmp_path)
    with pytest.raises(ManifestError, match=r"symbolic link link is not allowed"):
        write_manifest(model_dir)
