"""The tiny random-weight Hugging Face BERT (2 layers, `BertConfig`) used wherever a real HF model is needed.

`tiny_bert` builds the model, `write_tiny_bert_dir` saves it with `save_pretrained` plus the WordPiece
`tokenizer.json` of `support.models`; tests/unit/test_hf_export.py exports it through `modelctl
deploy-model`. `cached_tiny_bert_deployment` runs that same `deploy-model --export onnx --sign-key
--package` once and keeps the signed model directory under
`~/.cache/modelops/models/tiny_bert-<key>/` (the key hashes the building and exporting code and the
library versions), for the Node client's fixtures (`support.node_fixtures`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelops.package.signing import PUBLIC_KEY_NAME
from modelops.training.cache import CACHE_ROOT, cached_build
from support.fixture_cache import code_cache_key
from support.models import VOCAB, write_tokenizer

if TYPE_CHECKING:
    from transformers import BertConfig, BertForSequenceClassification

LABELS = ["safe", "risk"]
KEY_SOURCES = (
    "tests/support/tiny_bert.py", "tests/support/models.py", "modelops/export.py", "modelops/hf_source.py",
    "modelops/sources.py", "modelops/quantize.py", "modelops/cli/artifact_commands.py",
    "modelops/package/metadata.py", "modelops/package/manifest.py", "modelops/package/signing.py",
)  # fmt: skip
KEY_PACKAGES = ("torch", "transformers", "tokenizers", "onnx", "onnxruntime", "model-signing")


def bert_config(**overrides: Any) -> BertConfig:
    """The tiny configuration over support.models.VOCAB; `overrides` replace single fields."""
    from transformers import BertConfig

    values: dict[str, Any] = {
        "vocab_size": len(VOCAB),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "max_position_embeddings": 64,
        "id2label": dict(enumerate(LABELS)),
        "label2id": {label: i for i, label in enumerate(LABELS)},
    }
    values.update(overrides)
    return BertConfig(**values)


def tiny_bert() -> BertForSequenceClassification:
    """Seeded random weights; the classifier head scaled so labels are confident."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(7)
    model = BertForSequenceClassification(bert_config())
    with torch.no_grad():
        model.classifier.weight.mul_(40.0)  # confident labels, so int8 rounding rarely flips one
    return model.eval()


def write_tiny_bert_dir(directory: Path) -> Path:
    """`save_pretrained` of the tiny BERT plus its tokenizer.json in `directory`."""
    tiny_bert().save_pretrained(directory)
    write_tokenizer(directory)
    return directory


@dataclass(frozen=True)
class TinyBertDeployment:
    """A models directory holding `model_type/version` as deploy-model wrote it, and the verifying key."""

    root: Path
    model_type: str
    version: str
    public_key: Path


def deploy_tiny_bert(base: Path, model_type: str, version: str) -> TinyBertDeployment:
    """Save the tiny BERT and run `modelctl deploy-model --export onnx --sign-key --package` on it."""
    from click.testing import CliRunner

    from modelops.cli.main import cli
    from modelops.package.signing import generate_keypair

    source = write_tiny_bert_dir(base / "hf")
    private_key, public_key = generate_keypair(base / "keys")
    root = base / "models"
    argv = ["--registry", "file", "--models-dir", str(root), "-o", "json", "deploy-model",
            "--type", model_type, "--model-path", str(source), "--version", version, "--export", "onnx",
            "--package", "--sign-key", str(private_key)]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    if result.exit_code != 0:
        raise RuntimeError(f"deploy-model of the tiny BERT failed: {result.output}")
    return TinyBertDeployment(root, model_type, version, public_key)


def tiny_bert_cache_key(model_type: str, version: str) -> str:
    """sha256 over the building/exporting code, the library versions and the target name, 16 hex digits."""
    return code_cache_key(KEY_SOURCES, KEY_PACKAGES, salt=f"{model_type}/{version}")


def cached_tiny_bert_deployment(
    model_type: str, version: str, cache_root: Path = CACHE_ROOT
) -> TinyBertDeployment:
    """The deployed tiny BERT from the content-keyed cache, built (under a file lock) when absent."""

    def build(out: Path) -> None:
        out.mkdir()
        deploy_tiny_bert(out, model_type, version)
        shutil.rmtree(out / "hf")

    target, _ = cached_build(cache_root, f"tiny_bert-{tiny_bert_cache_key(model_type, version)}", build)
    public_key = target / "keys" / PUBLIC_KEY_NAME
    return TinyBertDeployment(target / "models", model_type, version, public_key)
