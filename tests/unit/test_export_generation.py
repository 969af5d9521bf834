"""`modelctl deploy-model` / `export` with a causal LM: a `save_pretrained` LlamaForCausalLM directory is
detected from config.json, exported with onnxruntime-genai's builder (int4 here; fp32 in the server
tests), given `task: text-generation` metadata with the Hugging Face chat template and a golden
generation, packaged, signed and verified; options that do not apply are refused with a clear message.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from modelops.cli.main import cli
from modelops.export import ExportError, ExportOptions, export_model
from modelops.export_generation import is_causal_lm
from modelops.package.generation import GenerationSpec
from modelops.package.manifest import verify_manifest
from modelops.package.metadata import ModelMetadata
from modelops.package.signing import generate_keypair, verify_model_dir
from support.tiny_llama import build_tiny_llama


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "hf")


def test_a_causal_lm_directory_is_detected(tiny_llama: Path, tmp_path: Path) -> None:
    assert is_causal_lm(tiny_llama)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"]}))
    assert not is_causal_lm(tmp_path) and not is_causal_lm(tmp_path / "missing")


def test_deploy_model_exports_packages_and_signs_an_int4_generator(tiny_llama: Path, tmp_path: Path) -> None:
    private, public = generate_keypair(tmp_path / "keys")
    models = tmp_path / "models"
    args = ["--registry", "file", "--models-dir", str(models), "deploy-model", "--type", "persona_model",
            "--model-path", str(tiny_llama), "--version", "v1.0.0", "--export", "onnx", "--quantize", "int4",
            "--package", "--sign-key", str(private)]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    model_dir = models / "persona_model" / "v1.0.0"
    verify_manifest(model_dir)
    verify_model_dir(model_dir, public)
    metadata = ModelMetadata.load(model_dir)
    assert metadata.task == "text-generation" and metadata.labels == []
    assert metadata.export["precision"] == "int4" and metadata.framework == "onnxruntime-genai"
    spec = GenerationSpec.from_dict(metadata.generation)
    assert "<|im_start|>" in spec.chat_template and spec.golden.token_ids and spec.eos_token_ids
    with tarfile.open(tmp_path / "model_packages" / "persona_model_v1.0.0.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"model.onnx", "genai_config.json", "tokenizer.json", "metadata.json", "model.sig"} <= names


def test_options_that_do_not_apply_are_refused(tiny_llama: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="fp32 or --quantize int4"):
        export_model(
            tiny_llama, tmp_path / "a", "persona_model", "v1.0.0", options=ExportOptions(quantize="int8")
        )


def test_metadata_of_a_generator_needs_its_generation_object() -> None:
    from modelops.package.errors import MetadataError

    base = {"model_type": "persona_model", "version": "v1.0.0", "task": "text-generation"}
    with pytest.raises(MetadataError, match="'generation'"):
        ModelMetadata.from_dict(base)
    with pytest.raises(MetadataError, match="'task'"):
        ModelMetadata.from_dict({**base, "task": "summarization"})
    with pytest.raises(MetadataError, match="chat_template"):
        GenerationSpec.from_dict({"golden": {"messages": [{"role": "user", "content": "hi"}]}})
