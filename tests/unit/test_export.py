"""Export to ONNX: dynamic axes, torch/ONNX Runtime parity, golden check, and the deploy-model pipeline
(manifest, latest link, reproducible package)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from tokenizers import Tokenizer

from modelops.export import ExportError, check_parity, export_model
from modelops.package.manifest import verify_manifest
from modelops.package.metadata import ModelMetadata
from modelops.pipeline import DeployModelRequest, deploy_model
from modelops.sources import load_source
from modelops.training.checkpoint import CheckpointError, load_checkpoint
from modelops.training.data import load_tsv
from modelops.training.example import ExampleTask, write_outputs
from modelops.training.loop import TrainConfig, train_classifier

REPO = Path(__file__).resolve().parents[2]
TASK = ExampleTask(
    "intent_classifier",
    REPO / "examples" / "data" / "intent.tsv",
    ["greeting", "goodbye", "gratitude", "venting", "coping", "booking"],
)


@pytest.fixture(scope="module")
def checkpoint_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = train_classifier(
        load_tsv(TASK.dataset), TASK.labels, TrainConfig(epochs=2, d_model=32, num_layers=1)
    )
    return write_outputs(tmp_path_factory.mktemp("trained") / "v1.0.0", TASK, result)


@pytest.fixture(scope="module")
def exported(checkpoint_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exported")
    export_model(checkpoint_path, out, TASK.model_type, "v1.0.0")
    return out


def test_onnx_has_dynamic_batch_and_sequence_axes(exported: Path) -> None:
    graph = onnx.load(str(exported / "model.onnx")).graph
    for tensor in graph.input:
        dims = tensor.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["batch", "sequence"], tensor.name
    session = ort.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    for batch, length in ((1, 3), (5, 20), (2, 32)):
        feeds = {
            "input_ids": np.ones((batch, length), np.int64),
            "attention_mask": np.ones((batch, length), np.int64),
        }
        assert session.run(None, feeds)[0].shape == (batch, len(TASK.labels))


def test_parity_and_golden_check_written_to_metadata(exported: Path, checkpoint_path: Path) -> None:
    metadata = ModelMetadata.load(exported)
    assert metadata.labels == TASK.labels and metadata.version == "v1.0.0"
    assert [i.name for i in metadata.inputs] == ["input_ids", "attention_mask"]
    assert set(metadata.metrics) >= {"accuracy", "precision", "recall"}
    assert metadata.golden is not None
    tokenizer = Tokenizer.from_file(str(exported / "tokenizer.json"))
    encoding = tokenizer.encode(metadata.golden.text)
    session = ort.InferenceSession(str(exported / "model.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(
        None,
        {
            "input_ids": np.array([encoding.ids], np.int64),
            "attention_mask": np.array([encoding.attention_mask], np.int64),
        },
    )[0][0]
    scores = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert TASK.labels[int(scores.argmax())] == metadata.golden.label
    expected = [metadata.golden.scores[label] for label in TASK.labels]
    assert np.allclose(scores, expected, atol=metadata.golden.tolerance)
    assert check_parity(load_source(checkpoint_path), exported / "model.onnx") < 1e-4


def test_parity_check_catches_a_different_model(exported: Path, checkpoint_path: Path) -> None:
    source = load_source(checkpoint_path)
    with torch.no_grad():
        source.module.head.bias.add_(0.5)
    with pytest.raises(ExportError, match="differs from torch"):
        check_parity(source, exported / "model.onnx")


def test_non_checkpoint_file_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "model.pt"
    torch.save({"weights": torch.zeros(2)}, bogus)
    with pytest.raises(CheckpointError, match="not a modelops checkpoint"):
        load_checkpoint(bogus)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_deploy_model_writes_seed_layout_and_reproducible_package(
    checkpoint_path: Path, tmp_path: Path
) -> None:
    models = tmp_path / "ml" / "models"
    for version in ("v1.0.0", "v1.10.0", "v1.2.0"):
        result = deploy_model(
            DeployModelRequest(TASK.model_type, checkpoint_path, version, models, package=True)
        )
    assert result.package == tmp_path / "ml" / "model_packages" / "intent_classifier_v1.2.0.tar.gz"
    model_dir = models / TASK.model_type / "v1.2.0"
    assert {"model.pt", "model.onnx", "metadata.json", "manifest.json", "tokenizer.json"} <= {
        p.name for p in model_dir.iterdir()
    }
    verify_manifest(model_dir, result.digest)
    assert (models / TASK.model_type / "latest").readlink() == Path("v1.10.0")
    first = result.package.read_bytes()
    again = deploy_model(
        DeployModelRequest(
            TASK.model_type, model_dir / "model.pt", "v1.2.0", models, export=None, package=True
        )
    )
    assert again.package is not None and again.package.read_bytes() == first
    assert json.loads((model_dir / "manifest.json").read_text())["files"]["model.onnx"]
