"""`metadata.json`: what a model is, what it expects and what it must answer (the golden check).

Written by the export tooling next to `model.onnx`; read by the inference server (input/output checks,
labels, golden check) and by the registry and `modelctl` (metrics, training facts).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelops.package.errors import MetadataError

METADATA_NAME = "metadata.json"
TEXT_CLASSIFICATION = "text-classification"
TEXT_GENERATION = "text-generation"
TASKS = (TEXT_CLASSIFICATION, TEXT_GENERATION)


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as ONNX declares it; -1 or a string in `shape` is a dynamic axis."""

    name: str
    dtype: str
    shape: list[int | str]

    @classmethod
    def from_dict(cls, data: Any) -> TensorSpec:
        """Build from `{name, dtype, shape}`; raise MetadataError naming the bad field."""
        mapping = _require_mapping(data, "tensor spec")
        return cls(
            name=_require(mapping, "name", str, "tensor spec"),
            dtype=_require(mapping, "dtype", str, "tensor spec"),
            shape=list(_require(mapping, "shape", list, "tensor spec")),
        )


@dataclass(frozen=True)
class Golden:
    """A known input and the answer the model must reproduce before it is declared ready."""

    text: str
    label: str
    scores: dict[str, float]
    tolerance: float = 1e-4

    @classmethod
    def from_dict(cls, data: Any) -> Golden:
        """Build from `{text, label, scores, tolerance}`; raise MetadataError naming the bad field."""
        mapping = _require_mapping(data, "golden")
        scores = _require(mapping, "scores", dict, "golden")
        return cls(
            text=_require(mapping, "text", str, "golden"),
            label=_require(mapping, "label", str, "golden"),
            scores={str(k): float(v) for k, v in scores.items()},
            tolerance=float(mapping.get("tolerance", 1e-4)),
        )


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass
class ModelMetadata:
    """The contents of metadata.json. `labels` are the class names in the model's output order."""

    model_type: str
    version: str
    labels: list[str]
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    max_length: int = 64
    golden: Golden | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)  # source format, optimize/quantize facts
    created_at: str = field(default_factory=_now)
    framework: str = "onnx"
    task: str = TEXT_CLASSIFICATION
    # text-generation only: chat template, stop tokens, defaults and the golden generation
    # (`modelops.package.generation.GenerationSpec` reads it).
    generation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Accept plain dicts for the nested parts so callers can build metadata from JSON-like data.
        self.inputs = [_as_spec(item) for item in self.inputs]
        self.outputs = [_as_spec(item) for item in self.outputs]
        if isinstance(self.golden, dict):
            self.golden = Golden.from_dict(self.golden)
        self.labels = list(self.labels)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict with the seed's field names (a classifier's has no task/generation keys,
        so its bytes are the same as before generative models existed)."""
        data = asdict(self)
        if self.task == TEXT_CLASSIFICATION:
            del data["task"], data["generation"]
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ModelMetadata:
        """Parse and validate; raise MetadataError naming the missing or mistyped field."""
        mapping = _require_mapping(data, "metadata")
        task = mapping.get("task", TEXT_CLASSIFICATION)
        if task not in TASKS:
            raise MetadataError(f"metadata: field 'task' must be one of {list(TASKS)}, got {task!r}")
        labels = (
            mapping.get("labels", [])
            if task == TEXT_GENERATION
            else _require(mapping, "labels", list, "metadata")
        )
        if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
            raise MetadataError("metadata: 'labels' must be a list of strings")
        if task == TEXT_CLASSIFICATION and not labels:
            raise MetadataError("metadata: 'labels' must be a non-empty list of strings")
        generation = mapping.get("generation", {})
        if not isinstance(generation, dict) or (task == TEXT_GENERATION and not generation):
            raise MetadataError("metadata: a text-generation model needs a 'generation' object")
        golden = mapping.get("golden")
        return cls(
            model_type=_require(mapping, "model_type", str, "metadata"),
            version=_require(mapping, "version", str, "metadata"),
            labels=labels,
            inputs=[TensorSpec.from_dict(item) for item in mapping.get("inputs", [])],
            outputs=[TensorSpec.from_dict(item) for item in mapping.get("outputs", [])],
            max_length=int(mapping.get("max_length", 64)),
            golden=Golden.from_dict(golden) if golden is not None else None,
            metrics={str(k): float(v) for k, v in dict(mapping.get("metrics", {})).items()},
            training=dict(mapping.get("training", {})),
            export=dict(mapping.get("export", {})),
            created_at=str(mapping.get("created_at", "")),
            framework=str(mapping.get("framework", "onnx")),
            task=task,
            generation=dict(generation),
        )

    @classmethod
    def load(cls, model_dir: Path | str) -> ModelMetadata:
        """Read `<model_dir>/metadata.json`."""
        path = Path(model_dir) / METADATA_NAME
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError as error:
            raise MetadataError(f"missing file {METADATA_NAME}") from error
        except (OSError, ValueError) as error:
            raise MetadataError(f"{METADATA_NAME} is not readable JSON: {error}") from error
        return cls.from_dict(data)

    def save(self, model_dir: Path | str) -> Path:
        """Write `<model_dir>/metadata.json` (sorted keys, so the bytes are reproducible)."""
        path = Path(model_dir) / METADATA_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path


def _as_spec(item: Any) -> TensorSpec:
    return item if isinstance(item, TensorSpec) else TensorSpec.from_dict(item)


def _require_mapping(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MetadataError(f"{where}: expected an object, got {type(data).__name__}")
    return data


def _require(mapping: dict[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in mapping:
        raise MetadataError(f"{where}: missing field {key!r}")
    value = mapping[key]
    if not isinstance(value, kind):
        raise MetadataError(f"{where}: field {key!r} must be {kind.__name__}, got {type(value).__name__}")
    return value
