"""Real model formats through `modelctl deploy-model`: a tiny random-weight Hugging Face BERT (saved with
`save_pretrained`, pickled whole, or traced to TorchScript) is exported, signed, packaged, served by the
real modelops-server app, and must predict what `transformers` predicts; int8 quantization records its
agreement with fp32 and fails below the threshold; every refused input gets its own one-line message."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from transformers import BertForSequenceClassification

from modelops.cli.main import cli
from modelops.package.metadata import ModelMetadata
from support.models import VOCAB, write_tokenizer
from support.serving import MODEL_TYPE, SEED_PREDICT, serving, settings_for
from support.tiny_bert import LABELS, tiny_bert, write_tiny_bert_dir

TEXTS = ["hello, how are you today?", "i want to hurt myself", "thanks for the help", "we talk about work"]


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_bert_dir(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("keys")
    assert CliRunner().invoke(cli, ["keygen", "--out-dir", str(out)]).exit_code == 0
    private, public = sorted(out.iterdir(), key=lambda p: "public" in p.name)
    return private, public


def _deploy(models: Path, model_path: Path, *extra: str) -> Result:
    argv = ["--registry", "file", "--models-dir", str(models), "-o", "json", "deploy-model",
            "--type", MODEL_TYPE, "--model-path", str(model_path), "--version", "v1.0.0",
            "--export", "onnx", *extra]  # fmt: skip
    return CliRunner().invoke(cli, argv)


def _transformers_scores(texts: list[str]) -> np.ndarray[Any, Any]:
    from tokenizers import Tokenizer

    model, tokenizer = tiny_bert(), Tokenizer.from_str(_tokenizer_json())
    rows = []
    for text in texts:
        encoding = tokenizer.encode(text)
        with torch.no_grad():
            ids, types = torch.tensor([encoding.ids]), torch.tensor([encoding.type_ids])
            logits = model(input_ids=ids, token_type_ids=types)
        rows.append(torch.softmax(logits.logits[0], dim=-1).numpy())
    return np.array(rows)


def _tokenizer_json() -> str:
    with tempfile.TemporaryDirectory() as folder:
        return write_tokenizer(Path(folder)).read_text(encoding="utf-8")


async def _served_scores(models: Path, public_key: Path | None) -> np.ndarray[Any, Any]:
    settings = settings_for(models, public_key=public_key, require_signature=public_key is not None)
    async with serving(settings) as client:
        response = await client.post(SEED_PREDICT, json={"texts": TEXTS})
    assert response.status_code == 200, response.text
    return np.array([[p["scores"][label] for label in LABELS] for p in response.json()["predictions"]])


async def test_save_pretrained_dir_is_signed_packaged_served_and_matches_transformers(
    hf_dir: Path, keys: tuple[Path, Path], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    result = _deploy(models, hf_dir, "--package", "--sign-key", str(keys[0]))
    assert result.exit_code == 0, result.output
    model_dir = models / MODEL_TYPE / "v1.0.0"
    metadata = ModelMetadata.load(model_dir)
    assert [spec.name for spec in metadata.inputs] == ["input_ids", "attention_mask", "token_type_ids"]
    assert metadata.labels == LABELS and metadata.export["source_format"] == "huggingface"
    assert (model_dir / "model.sig").is_file()
    assert (tmp_path / "model_packages" / f"{MODEL_TYPE}_v1.0.0.tar.gz").is_file()
    served = await _served_scores(models, keys[1])
    assert np.allclose(served, _transformers_scores(TEXTS), atol=1e-4)


def _pickled(folder: Path) -> Path:
    torch.save(tiny_bert(), folder / "model.pt")
    return folder / "model.pt"


class _LogitsTuple(torch.nn.Module):
    """The tiny BERT returning a plain tensor, as a user would trace it (no output dict)."""

    def __init__(self, model: BertForSequenceClassification) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        kwargs = {"attention_mask": attention_mask, "token_type_ids": token_type_ids, "return_dict": False}
        return self.model(input_ids, **kwargs)[0]


def _torchscript(folder: Path) -> Path:
    ids = torch.tensor([[2, 10, 11, 3]])
    traced = torch.jit.trace(
        _LogitsTuple(tiny_bert()).eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids))
    )
    traced.save(str(folder / "model.pt"))
    return folder / "model.pt"


@pytest.mark.parametrize(("build", "flags"), [(_pickled, ["--trust-pickle"]), (_torchscript, [])])
async def test_pickled_and_torchscript_modules_are_served_like_transformers(
    build: Any, flags: list[str], tmp_path: Path
) -> None:
    folder = tmp_path / "source"
    folder.mkdir()
    write_tokenizer(folder)
    (folder / "labels.json").write_text(json.dumps(LABELS), encoding="utf-8")
    models = tmp_path / "models"
    result = _deploy(models, build(folder), *flags)
    assert result.exit_code == 0, result.output
    assert np.allclose(await _served_scores(models, None), _transformers_scores(TEXTS), atol=1e-4)


def _refusal_cases(hf: Path, root: Path) -> dict[str, tuple[Path, str]]:
    cases: dict[str, tuple[Path, str]] = {}

    def copy(name: str) -> Path:
        return Path(shutil.copytree(hf, root / name))

    pickled = root / "pickled"
    pickled.mkdir()
    cases["pickle without flag"] = (_pickled(pickled), "--trust-pickle")
    torch.save(tiny_bert().state_dict(), root / "state.pt")
    cases["state dict"] = (root / "state.pt", "only a state dict")
    cases["bare safetensors"] = (hf / "model.safetensors", "no architecture")
    no_tokenizer = copy("no-tokenizer")
    (no_tokenizer / "tokenizer.json").unlink()
    cases["no tokenizer"] = (no_tokenizer, "no tokenizer.json")
    corrupt = copy("corrupt")
    weights = corrupt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    cases["corrupt safetensors"] = (corrupt, "is corrupt")
    labels = copy("labels")
    _edit_config(labels, id2label={"0": "a", "1": "b", "2": "c"}, label2id={"a": 0, "b": 1, "c": 2})
    cases["labels vs head"] = (labels, "id2label has 3 labels but the classifier head")
    vocab = copy("vocab")
    _edit_config(vocab, vocab_size=len(VOCAB) - 5)
    cases["tokenizer past embedding"] = (vocab, "embedding has")
    base = copy("base")
    _edit_config(base, architectures=["BertModel"])
    cases["no classifier head"] = (base, "unsupported architecture")
    unknown = copy("unknown")
    _edit_config(unknown, model_type="mysterynet", architectures=["MysteryForSequenceClassification"])
    cases["unknown model type"] = (unknown, "unsupported architecture")
    return cases


def _edit_config(directory: Path, **changes: Any) -> None:
    path = directory / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}), encoding="utf-8")


def test_each_bad_input_is_refused_with_one_line_and_nothing_written(hf_dir: Path, tmp_path: Path) -> None:
    for name, (path, message) in _refusal_cases(hf_dir, tmp_path).items():
        models = tmp_path / "models"
        result = _deploy(models, path)
        assert result.exit_code == 1, (name, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (name, result.output)
        leftovers = list((models / MODEL_TYPE).iterdir()) if (models / MODEL_TYPE).exists() else []
        assert leftovers == [], (name, leftovers)


async def test_int8_quantization_records_agreement_and_is_served(hf_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    eval_data = tmp_path / "eval.tsv"
    rows = [f"{'risk' if 'hurt' in t else 'safe'}\t{t}" for t in [*TEXTS, "you hurt me today", "good day"]]
    eval_data.write_text("label\ttext\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = _deploy(models, hf_dir, "--quantize", "int8", "--eval-data", str(eval_data))
    assert result.exit_code == 0, result.output
    facts = ModelMetadata.load(models / MODEL_TYPE / "v1.0.0").export
    assert facts["quantization"] == "int8-dynamic" and facts["eval_texts"] == len(rows)
    assert facts["agreement"] >= facts["min_agreement"] == 0.98
    assert {"fp32_accuracy", "int8_accuracy", "accuracy_drop"} <= set(facts)
    served = await _served_scores(models, None)
    assert (served.argmax(axis=1) == _transformers_scores(TEXTS).argmax(axis=1)).all()


def test_int8_below_the_agreement_threshold_fails_and_writes_nothing(hf_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    result = _deploy(models, hf_dir, "--quantize", "int8", "--min-agreement", "1.01")
    assert result.exit_code == 1
    assert "agrees with fp32 on too few" in result.output and "per-channel" in result.output
    assert list((models / MODEL_TYPE).iterdir()) == []


async def test_optimize_fuses_the_graph_and_still_matches_transformers(hf_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    result = _deploy(models, hf_dir, "--optimize")
    assert result.exit_code == 0, result.output
    facts = ModelMetadata.load(models / MODEL_TYPE / "v1.0.0").export
    assert facts["optimized"] is True and facts["fused_operators"], facts
    assert np.allclose(await _served_scores(models, None), _transformers_scores(TEXTS), atol=1e-4)


def test_export_command_adds_its_files_only_when_the_export_succeeds(hf_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    base = ["--models-dir", str(tmp_path / "models"), "export", "--type", MODEL_TYPE, "--version", "v1.0.0",
            "--out-dir", str(out), "--model-path"]  # fmt: skip
    refused = CliRunner().invoke(cli, [*base, str(_pickled(pickled))])
    assert refused.exit_code == 1 and "--trust-pickle" in refused.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    done = CliRunner().invoke(cli, [*base, str(hf_dir)])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == [
        "metadata.json",
        "model.onnx",
        "notes.txt",
        "tokenizer.json",
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".staging")] == []


def test_redeploying_a_version_keeps_the_trainers_other_files(hf_dir: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    version_dir = models / MODEL_TYPE / "v1.0.0"
    version_dir.mkdir(parents=True)
    (version_dir / "metrics.json").write_text('{"accuracy": 0.5}')
    result = _deploy(models, hf_dir)
    assert result.exit_code == 0, result.output
    manifest = json.loads((version_dir / "manifest.json").read_text())
    assert (version_dir / "metrics.json").read_text() == '{"accuracy": 0.5}' and "metrics.json" in manifest[
        "files"
    ]
