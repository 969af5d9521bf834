"""What `modelctl export` / `deploy-model --model-path` accept, loaded into one shape: `SourceModel`.

A model path is one of: a Hugging Face `save_pretrained` directory (`modelops.hf_source`), the project's
own `model.pt` checkpoint, a TorchScript module, or a whole pickled `torch.nn.Module` (only with
`--trust-pickle`: unpickling runs code from the file). Anything else is refused with one line naming
what is missing and what to pass. Called by `modelops.export`; the exporter only sees `SourceModel`.
"""

from __future__ import annotations

import inspect
import json
import pickle
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tokenizers import Tokenizer

KNOWN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
ENCODING_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
TOKENIZER_NAME = "tokenizer.json"
DEFAULT_MAX_LENGTH = 512
PASS_HINT = (
    "pass a save_pretrained directory (config.json, weights, tokenizer.json), a TorchScript module, "
    "the modelops model.pt, or a whole pickled module with --trust-pickle"
)


class SourceError(ValueError):
    """A model path that cannot be exported; the message is one line saying what is missing."""


@dataclass
class SourceModel:
    """A loaded model ready to trace: module, tokenizer (padding + truncation set), labels, inputs."""

    module: Any
    tokenizer: Tokenizer
    labels: list[str]
    input_names: list[str]
    max_length: int
    kind: str
    call_by_name: bool = True
    metrics: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    def logits(self, tensors: Sequence[torch.Tensor], module: Any = None) -> torch.Tensor:
        """Run the model (or `module`, the same model registered elsewhere) on tensors given in
        `input_names` order and return the logits tensor."""
        run = self.module if module is None else module
        if self.call_by_name:
            output = run(**dict(zip(self.input_names, tensors, strict=True)))
        else:
            output = run(*tensors)
        return logits_of(output)

    def encode(self, texts: Sequence[str]) -> dict[str, Any]:
        """Numpy int64 feeds for exactly this model's inputs, padded to the longest text."""
        import numpy as np

        encodings = self.tokenizer.encode_batch(list(texts))
        return {
            name: np.array([getattr(e, ENCODING_FIELDS[name]) for e in encodings], dtype=np.int64)
            for name in self.input_names
        }


def logits_of(output: Any) -> torch.Tensor:
    """The logits in whatever a model returns: a tensor, `.logits`, a `logits` key, or the first item."""
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "logits"):
        return logits_of(output.logits)
    if isinstance(output, dict) and "logits" in output:
        return logits_of(output["logits"])
    if isinstance(output, list | tuple) and output:
        return logits_of(output[0])
    raise SourceError(f"the model returned {type(output).__name__}, not logits (a tensor or .logits)")


def configure_tokenizer(tokenizer: Tokenizer, max_length: int) -> Tokenizer:
    """Truncate to max_length and pad batches to their longest row, as the inference server does."""
    tokenizer.enable_truncation(max_length=max_length)
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=pad_id or 0, pad_token="[PAD]" if pad_id is not None else "<pad>")
    return tokenizer


def read_tokenizer(path: Path, hint: str) -> Tokenizer:
    """Load tokenizer.json or refuse with one line that says what to put there."""
    if not path.is_file():
        raise SourceError(f"no {TOKENIZER_NAME} beside the model in {path.parent}: {hint}")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for a malformed file
        raise SourceError(f"{path} is not a readable tokenizer.json: {_first_line(error)}") from error


def read_json_dict(path: Path) -> dict[str, Any]:
    """An optional JSON object file (metrics.json, training.json); {} when absent."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise SourceError(f"{path} is not valid JSON: {_first_line(error)}") from error
    if not isinstance(data, dict):
        raise SourceError(f"{path} must hold a JSON object")
    return data


def read_metrics(path: Path) -> dict[str, float]:
    """Numeric figures from an optional metrics.json (flat, or the examples' {"metrics": {...}})."""
    data = read_json_dict(path)
    nested = data.get("metrics")
    figures = nested if isinstance(nested, dict) else data
    return {str(k): float(v) for k, v in figures.items() if isinstance(v, int | float)}


def labels_from_config(config: dict[str, Any], where: Path) -> list[str]:
    """config.json's id2label in id order."""
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        raise SourceError(f"{where} has no id2label: add the class names (id2label) to config.json")
    try:
        return [str(id2label[key]) for key in sorted(id2label, key=int)]
    except ValueError as error:
        raise SourceError(f"{where}: id2label keys must be class ids 0..n-1") from error


def forward_inputs(module: Any) -> list[str]:
    """Which of input_ids / attention_mask / token_type_ids the module's forward takes, in order."""
    schema = getattr(getattr(module, "forward", None), "schema", None)
    if schema is not None:  # TorchScript: the compiled signature, `self` first
        names = [argument.name for argument in schema.arguments[1:]]
    else:
        names = list(inspect.signature(module.forward).parameters)
    chosen = [name for name in names if name in KNOWN_INPUTS]
    if "input_ids" not in chosen:
        if schema is not None and 1 <= len(names) <= len(KNOWN_INPUTS):  # traced: positional x.1, ...
            return list(KNOWN_INPUTS[: len(names)])
        raise SourceError(f"the model's forward takes {names}, not input_ids: not a text classifier")
    return chosen


def load_source(path: Path | str, *, trust_pickle: bool = False) -> SourceModel:
    """Load any accepted model path; raise SourceError (one line) for everything else."""
    path = Path(path)
    if path.is_dir():
        from modelops.hf_source import load_pretrained_dir

        return load_pretrained_dir(path)
    if not path.is_file():
        raise SourceError(f"model path not found: {path}")
    if path.suffix == ".safetensors":
        raise SourceError(
            f"{path} holds weights with no architecture or labels: pass the save_pretrained directory "
            "that has it with config.json and tokenizer.json"
        )
    if _is_torchscript(path):
        return _load_torchscript(path)
    return _load_pickle_file(path, trust_pickle)


def _is_torchscript(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist())


def _load_torchscript(path: Path) -> SourceModel:
    try:
        module = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    except Exception as error:
        raise SourceError(f"cannot load TorchScript module {path}: {_first_line(error)}") from error
    module.eval()
    return _beside(path, module, "torchscript", call_by_name=False)


def _load_pickle_file(path: Path, trust_pickle: bool) -> SourceModel:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not trust_pickle:
            raise SourceError(
                f"{path} is a pickled Python object; loading it runs code from the file: "
                "pass --trust-pickle if you trust where it came from"
            ) from error
        return _load_trusted_pickle(path)
    except Exception as error:
        raise SourceError(f"cannot read model file {path}: {_first_line(error)}") from error
    if isinstance(payload, dict) and payload.get("format"):
        return _from_checkpoint(path)
    if isinstance(payload, dict) and all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise SourceError(
            f"{path} holds only a state dict (weights with no architecture): save the model with "
            "save_pretrained and pass that directory, or pass a TorchScript or whole pickled module"
        )
    raise SourceError(f"{path} is not a model this tool can export: {PASS_HINT}")


def _load_trusted_pickle(path: Path) -> SourceModel:
    try:
        module = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:
        raise SourceError(f"cannot unpickle {path}: {_first_line(error)}") from error
    if not isinstance(module, torch.nn.Module):
        raise SourceError(f"{path} unpickles to {type(module).__name__}, not a torch.nn.Module")
    module.eval()
    return _beside(path, module, "pickle", call_by_name=True)


def _beside(path: Path, module: Any, kind: str, *, call_by_name: bool) -> SourceModel:
    """Tokenizer, labels and optional metrics/training facts from the files beside a .pt module."""
    folder = path.parent
    tokenizer = read_tokenizer(folder / TOKENIZER_NAME, "save the model's tokenizer there")
    labels = _labels_beside(folder)
    truncation = tokenizer.truncation or {}
    max_length = int(truncation.get("max_length", DEFAULT_MAX_LENGTH))
    return SourceModel(
        module=module,
        tokenizer=configure_tokenizer(tokenizer, max_length),
        labels=labels,
        input_names=forward_inputs(module),
        max_length=max_length,
        kind=kind,
        call_by_name=call_by_name,
        metrics=read_metrics(folder / "metrics.json"),
        training={"source_format": kind, **read_json_dict(folder / "training.json")},
    )


def _labels_beside(folder: Path) -> list[str]:
    labels_file, config_file = folder / "labels.json", folder / "config.json"
    if labels_file.is_file():
        try:
            labels = json.loads(labels_file.read_text(encoding="utf-8"))
        except ValueError as error:
            raise SourceError(f"{labels_file} is not valid JSON: {_first_line(error)}") from error
        if isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels):
            return labels
        raise SourceError(f"{labels_file} must be a JSON list of class names")
    if config_file.is_file():
        return labels_from_config(read_json_dict(config_file), config_file)
    raise SourceError(
        f"no labels beside the model in {folder}: write labels.json (a list of class names in output order)"
    )


def _from_checkpoint(path: Path) -> SourceModel:
    from modelops.training.checkpoint import CheckpointError, load_checkpoint

    try:
        checkpoint = load_checkpoint(path)
    except CheckpointError as error:
        raise SourceError(str(error)) from error
    return SourceModel(
        module=checkpoint.model,
        tokenizer=checkpoint.tokenizer,
        labels=list(checkpoint.labels),
        input_names=["input_ids", "attention_mask"],
        max_length=checkpoint.max_length,
        kind="modelops-checkpoint",
        call_by_name=False,
        metrics=dict(checkpoint.metrics),
        training=dict(checkpoint.training),
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
