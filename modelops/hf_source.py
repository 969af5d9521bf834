"""Loading a Hugging Face `save_pretrained` sequence-classification directory for export, offline.

Called by `modelops.sources.load_source` for a directory. Everything that can be checked before
`transformers` builds the model is checked here so each bad input gets one line: no config.json, no
weights, no tokenizer.json, a corrupt safetensors file, labels that disagree with the classifier head, a
tokenizer with ids past the embedding table, an architecture that is not sequence classification or
that `transformers` does not know. The hub is never contacted (`HF_HUB_OFFLINE=1` is set here).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from modelops.sources import (
    DEFAULT_MAX_LENGTH,
    TOKENIZER_NAME,
    SourceError,
    SourceModel,
    configure_tokenizer,
    forward_inputs,
    labels_from_config,
    read_json_dict,
    read_metrics,
    read_tokenizer,
)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HEAD_SUFFIXES = ("classifier.weight", "classifier.out_proj.weight", "score.weight")
MAX_HEADER_BYTES = 100 * 1024 * 1024


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def safetensors_shapes(path: Path) -> dict[str, list[int]]:
    """Tensor shapes from a safetensors header; SourceError when the file is corrupt or truncated."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        length = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
        if not 0 < length <= min(MAX_HEADER_BYTES, size - 8):
            raise SourceError(f"{path} is corrupt: not a safetensors file (bad header length)")
        try:
            header = json.loads(handle.read(length))
        except ValueError as error:
            raise SourceError(f"{path} is corrupt: its safetensors header is not JSON") from error
    shapes: dict[str, list[int]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        end = int(entry.get("data_offsets", [0, 0])[1]) if isinstance(entry, dict) else -1
        if end < 0 or 8 + length + end > size:
            raise SourceError(f"{path} is corrupt: tensor {name} lies past the end of the file (truncated?)")
        shapes[name] = list(entry["shape"])
    return shapes


def _head_rows(shapes: dict[str, list[int]]) -> tuple[str, int] | None:
    for name, shape in shapes.items():
        if name.endswith(HEAD_SUFFIXES) and len(shape) == 2:
            return name, shape[0]
    return None


def _check_config(directory: Path) -> dict[str, Any]:
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise SourceError(
            f"{directory} has no config.json: pass a directory written by model.save_pretrained()"
        )
    config = read_json_dict(config_path)
    architectures = [str(name) for name in config.get("architectures") or []]
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise SourceError(
            f"unsupported architecture {architectures or config.get('model_type')} in {config_path}: "
            "export takes sequence-classification models (…ForSequenceClassification) with a trained head"
        )
    return config


def _weights(directory: Path) -> Path:
    for name in WEIGHT_FILES:
        if (directory / name).is_file():
            return directory / name
    raise SourceError(f"{directory} has no weights ({' or '.join(WEIGHT_FILES)}): save the model there")


def _check_head(weights: Path, labels: list[str]) -> None:
    if weights.suffix != ".safetensors":
        return
    head = _head_rows(safetensors_shapes(weights))
    if head is not None and head[1] != len(labels):
        raise SourceError(
            f"config.json id2label has {len(labels)} labels but the classifier head ({head[0]}) has "
            f"{head[1]} outputs: make id2label match the head"
        )


def _check_vocabulary(tokenizer: Any, config: dict[str, Any]) -> None:
    rows = config.get("vocab_size")
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    if isinstance(rows, int) and size > rows:
        raise SourceError(
            f"{TOKENIZER_NAME} has ids up to {size - 1} but the model's embedding has {rows} rows "
            "(config.json vocab_size): pass the tokenizer this model was trained with"
        )


def _max_length(tokenizer: Any, directory: Path, config: dict[str, Any]) -> int:
    positions = int(config.get("max_position_embeddings") or DEFAULT_MAX_LENGTH)
    wanted = (tokenizer.truncation or {}).get("max_length")
    if wanted is None:
        wanted = read_json_dict(directory / "tokenizer_config.json").get("model_max_length")
    if not isinstance(wanted, int) or wanted <= 0:
        wanted = DEFAULT_MAX_LENGTH
    return min(wanted, positions, DEFAULT_MAX_LENGTH)


def _build(directory: Path) -> Any:
    _offline()
    import transformers

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        model, info = transformers.AutoModelForSequenceClassification.from_pretrained(
            str(directory), local_files_only=True, attn_implementation="eager", output_loading_info=True
        )
    except (ValueError, KeyError) as error:
        raise SourceError(f"unsupported architecture in {directory}: {_first_line(error)}") from error
    except Exception as error:
        raise SourceError(f"cannot load the model in {directory}: {_first_line(error)}") from error
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise SourceError(
            f"{directory}'s weights lack {len(missing)} tensors (e.g. {missing[0]}): the head is untrained"
        )
    model.eval()
    return model


def load_pretrained_dir(directory: Path) -> SourceModel:
    """A save_pretrained sequence classifier: model in eval mode, tokenizer.json, labels from id2label."""
    config = _check_config(directory)
    labels = labels_from_config(config, directory / "config.json")
    weights = _weights(directory)
    tokenizer = read_tokenizer(
        directory / TOKENIZER_NAME, "save a fast tokenizer with tokenizer.save_pretrained(directory)"
    )
    _check_head(weights, labels)
    _check_vocabulary(tokenizer, config)
    max_length = _max_length(tokenizer, directory, config)
    model = _build(directory)
    training = {"source_format": "huggingface", "architecture": type(model).__name__}
    return SourceModel(
        module=model,
        tokenizer=configure_tokenizer(tokenizer, max_length),
        labels=labels,
        input_names=forward_inputs(model),
        max_length=max_length,
        kind="huggingface",
        call_by_name=True,
        metrics=read_metrics(directory / "metrics.json"),
        training={**training, **read_json_dict(directory / "training.json")},
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
