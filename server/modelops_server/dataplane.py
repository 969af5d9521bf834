"""The data plane: model state (loading / ready / failed), readiness, predictions, OIP inference, faults.

`app.py` routes call it; it owns the batcher and the metrics. The model is located, verified and loaded in
the inference thread at start-up, so the HTTP server answers (unhealthy, "model is loading") at once and
the health endpoint always tells the truth about the exact model being served.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from modelops_server.batching import Batcher
from modelops_server.errors import (
    BadRequest,
    InjectedFault,
    NotFound,
    NotReady,
    ServerError,
    VerificationError,
)
from modelops_server.generation import TextGenerator
from modelops_server.generation_plane import GenerationPlane
from modelops_server.loader import locate_model
from modelops_server.logs import get_logger, log_event
from modelops_server.metrics import ServerMetrics
from modelops_server.model import LoadedModel, TextClassifier, load_verified_model
from modelops_server.payloads import (
    InferInput,
    InferRequest,
    bytes_tensor,
    check_texts,
    output_tensor,
    to_array,
)
from modelops_server.settings import ServerSettings

LOG = get_logger("dataplane")
Prediction = tuple[str, dict[str, float]]
TEXT_OUTPUTS = ("label", "probabilities")


@dataclass
class ModelState:
    """What the health endpoint reports."""

    version: str
    phase: str = "loading"
    available: bool = False
    reason: str | None = "model is loading"
    loaded: LoadedModel | None = None
    definitive: bool = False  # the failure rejects the artifact itself: no retry can succeed
    failed_at: str | None = None  # when the load failed (UTC, milliseconds)


class DataPlane:
    """One served model and everything that answers requests about it."""

    def __init__(self, settings: ServerSettings, metrics: ServerMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or ServerMetrics()
        self.state = ModelState(version=settings.version)
        self.batcher: Batcher[Prediction] = Batcher(
            self._run_texts, self.metrics, settings.max_batch_size, settings.max_batch_delay_ms
        )
        self.generation = GenerationPlane(settings, self.metrics, self.generator)
        self._faults_apply = False
        self._random = random.Random()
        self._load_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start batching and load the model in the background."""
        self.batcher.start()
        self._load_task = asyncio.get_running_loop().create_task(self._load(), name="model-load")

    async def stop(self) -> None:
        """Stop the batcher (pending requests are cancelled)."""
        if self._load_task is not None:
            await asyncio.gather(self._load_task, return_exceptions=True)
        await self.batcher.stop()

    async def wait_loaded(self) -> ModelState:
        """Wait until loading finished (ready or failed); for tests and the CLI."""
        if self._load_task is not None:
            await asyncio.shield(self._load_task)
        return self.state

    async def _load(self) -> None:
        try:
            await self.batcher.run_in_thread(self._load_in_thread)
        except VerificationError as error:
            self._fail(str(error), definitive=error.definitive)
        except ServerError as error:
            self._fail(str(error))
        except Exception as error:  # a bug or an ORT failure must still leave the server up and unhealthy
            LOG.exception("model load crashed")
            self._fail(f"model load failed: {type(error).__name__}: {error}")

    def _load_in_thread(self) -> None:
        location = locate_model(self.settings)
        self.state.version, self.state.available = location.version, True
        loaded = load_verified_model(self.settings, location)
        self.state.loaded, self.state.phase, self.state.reason = loaded, "ready", None
        self._faults_apply = self.settings.faults.active and self.settings.faults.applies_to(location.version)
        self.metrics.model_load_seconds.set(loaded.load_seconds)
        self.metrics.model_info.labels(self.settings.model_type, location.version).set(1)
        self.metrics.model_ready.set(1)

    def _fail(self, reason: str, *, definitive: bool = False) -> None:
        self.state.phase, self.state.reason, self.state.definitive = "failed", reason, definitive
        self.state.failed_at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        log_event(LOG, "model_unhealthy", logging.ERROR, model_type=self.settings.model_type,
                  version=self.state.version, reason=reason, definitive=definitive)  # fmt: skip

    @property
    def ready(self) -> bool:
        """True only when the verified model passed its golden check."""
        return self.state.phase == "ready"

    def health(self) -> tuple[int, dict[str, Any]]:
        """The seed health document and its HTTP status (200 healthy, 503 not)."""
        state, loaded = self.state, self.state.loaded
        body: dict[str, Any] = {
            "model_type": self.settings.model_type,
            "version": state.version,
            "status": "healthy" if self.ready else "unhealthy",
            "available": state.available,
            "loadable": self.ready,
            "metadata": _health_metadata(state.version, loaded),
        }
        if not self.ready:
            body["reason"] = state.reason
        if state.phase == "failed":
            body["failure"] = {
                "reason": state.reason,
                "definitive": state.definitive,
                "since": state.failed_at,
            }
        return (200 if self.ready else 503), body

    def _model(self) -> TextClassifier:
        if self.state.loaded is None:
            raise NotReady(
                f"model {self.settings.model_type} {self.state.version} is not ready: {self.state.reason}"
            )
        if self.state.loaded.classifier is None:
            raise BadRequest(
                f"{self.settings.model_type} is a text-generation model; "
                f"use /api/v1/ml-models/{self.settings.model_type}/generate or /v1/chat/completions"
            )
        return self.state.loaded.classifier

    def generator(self) -> TextGenerator:
        """The text-generation model; 503 while not ready, 400 when this server serves a classifier."""
        loaded = self.state.loaded
        if loaded is None:
            raise NotReady(
                f"model {self.settings.model_type} {self.state.version} is not ready: {self.state.reason}"
            )
        if loaded.generator is None:
            raise BadRequest(f"{self.settings.model_type} is a classifier; use predict or infer")
        return loaded.generator

    async def inject_faults(self) -> None:
        """Test-only faults (latency, then 5xx) for the rollback-analysis tests: predict, infer, generate."""
        if not self._faults_apply:
            return
        faults = self.settings.faults
        if faults.latency_ms > 0:
            await asyncio.sleep(faults.latency_ms / 1000.0)
        if self._random.random() < faults.error_rate:
            raise InjectedFault("injected fault (test-only MODELOPS_SERVER_FAULT_ERROR_RATE)")

    def _run_texts(self, texts: Sequence[str]) -> list[Prediction]:
        rows = self._model().predict(texts).rows()
        counts: Counter[str] = Counter()
        top_scores: dict[str, float] = {}
        for label, scores in rows:  # the predicted label is the top score's
            counts[label] += 1
            top_scores[label] = top_scores.get(label, 0.0) + scores[label]
        for label, count in counts.items():
            self.metrics.predictions.labels(label).inc(count)
            self.metrics.top_score.labels(label).inc(top_scores[label])
        return rows

    async def predict(self, texts: list[str]) -> list[Prediction]:
        """Label and scores for each text, batched with concurrent requests."""
        self._model()
        await self.inject_faults()
        return await self.batcher.submit(texts)

    def check_model(self, name: str, version: str | None = None) -> None:
        """404 unless `name` (and `version`, when given) is the served model."""
        if name != self.settings.model_type:
            raise NotFound(f"unknown model {name!r}; this server serves {self.settings.model_type!r}")
        if version is not None and version != self.state.version:
            raise NotFound(
                f"unknown version {version!r} of {name}; this server serves {self.state.version!r}"
            )

    async def infer(self, request: InferRequest) -> dict[str, Any]:
        """Open Inference Protocol v2 inference: one BYTES text tensor, or the model's own tensors."""
        model = self._model()
        await self.inject_faults()
        if len(request.inputs) == 1 and request.inputs[0].datatype == "BYTES":
            outputs = await self._infer_texts(model, request.inputs[0])
        else:
            outputs = await self._infer_tensors(model, request.inputs)
        return {
            "model_name": self.settings.model_type,
            "model_version": self.state.version,
            "id": request.request_id,
            "outputs": _select(outputs, request.outputs),
        }

    async def _infer_texts(self, model: TextClassifier, tensor: InferInput) -> list[dict[str, Any]]:
        if len(tensor.shape) not in (1, 2) or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise BadRequest(f"input {tensor.name!r} must have shape [N] or [N, 1], got {tensor.shape}")
        texts = check_texts(tensor.data, self.settings.max_text_chars, self.settings.max_texts, tensor.name)
        rows = await self.batcher.submit(texts)
        probabilities = [[scores[label] for label in model.labels] for _, scores in rows]
        return [
            bytes_tensor("label", [label for label, _ in rows]),
            output_tensor("probabilities", np.asarray(probabilities, dtype=np.float32)),
        ]

    async def _infer_tensors(self, model: TextClassifier, tensors: list[InferInput]) -> list[dict[str, Any]]:
        names = sorted(t.name for t in tensors)
        if names != sorted(model.input_types):
            raise BadRequest(f"inputs {names} do not match the model's inputs {sorted(model.input_types)}")
        feeds = {t.name: to_array(t, model.input_types[t.name]) for t in tensors}
        for name, array in feeds.items():
            _check_rank(name, array.shape, model.input_shapes[name])
        try:
            results = await self.batcher.run_in_thread(lambda: model.run_tensors(feeds))
        except Exception as error:  # ONNX Runtime rejects out-of-range ids, mismatched dims, ...
            raise BadRequest(
                f"the model rejected the input tensors: {str(error).splitlines()[0][:300]}"
            ) from error
        return [output_tensor(name, array) for name, array in results.items()]

    def model_metadata(self) -> dict[str, Any]:
        """OIP model metadata: text input and tensor inputs/outputs (text in, text out for a generator)."""
        loaded = self.state.loaded
        if loaded is not None and loaded.generator is not None:
            text = [{"name": "text_input", "datatype": "BYTES", "shape": [1]}]
            return {"name": self.settings.model_type, "versions": [self.state.version],
                    "platform": "onnxruntime_genai", "inputs": text,
                    "outputs": [{**text[0], "name": "text_output"}]}  # fmt: skip
        inputs: list[dict[str, Any]] = [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        outputs: list[dict[str, Any]] = [{"name": "label", "datatype": "BYTES", "shape": [-1]}]
        if loaded is not None and loaded.classifier is not None:
            labels = len(loaded.classifier.labels)
            outputs.append({"name": "probabilities", "datatype": "FP32", "shape": [-1, labels]})
            inputs += [
                _tensor_meta(name, shape, "INT64") for name, shape in loaded.classifier.input_shapes.items()
            ]
        name, versions = self.settings.model_type, [self.state.version]
        return {
            "name": name,
            "versions": versions,
            "platform": "onnxruntime_onnx",
            "inputs": inputs,
            "outputs": outputs,
        }


def _tensor_meta(name: str, shape: list[Any], datatype: str) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [d if isinstance(d, int) else -1 for d in shape]}


def _check_rank(name: str, actual: tuple[int, ...], declared: list[Any]) -> None:
    if len(actual) != len(declared):
        raise BadRequest(f"input {name!r} has rank {len(actual)}; the model expects rank {len(declared)}")
    for size, want in zip(actual, declared, strict=True):
        if isinstance(want, int) and want > 0 and size != want:
            raise BadRequest(f"input {name!r} has shape {list(actual)}; the model expects {declared}")


def _select(outputs: list[dict[str, Any]], requested: list[str] | None) -> list[dict[str, Any]]:
    if requested is None:
        return outputs
    available = {o["name"]: o for o in outputs}
    missing = [name for name in requested if name not in available]
    if missing:
        raise BadRequest(f"unknown output {missing[0]!r}; available: {sorted(available)}")
    return [available[name] for name in requested]


def _health_metadata(version: str, loaded: LoadedModel | None) -> dict[str, Any]:
    if loaded is None:
        return {"version": version, "deployed_at": None}
    metadata = loaded.metadata
    return {
        **({"task": metadata.task} if loaded.generator is not None else {}),
        "version": version,
        "deployed_at": loaded.deployed_at,
        "created_at": metadata.created_at,
        "framework": metadata.framework,
        "labels": list(metadata.labels),
        "sha256": loaded.digest,
        "signed": loaded.signed,
        "load_seconds": round(loaded.load_seconds, 4),
    }
