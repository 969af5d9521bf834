"""The MLServer custom runtime of bench/bench_served_peers.py: the safety model as an `MLModel`.

MLServer imports `mlserver_runtime.OnnxTextRuntime` (named in the model-settings.json that the bench writes;
the bench puts this folder on PYTHONPATH). Requests use MLServer's own V2 format: one BYTES input `text` of
shape [n]. With adaptive batching on, MLServer concatenates queued requests into one `predict` call and
splits the outputs back. Outputs: `label` (BYTES, [n]) and `scores` (FP32, [n, labels]). Runs in the MLServer
venv only.
"""

from __future__ import annotations

from pathlib import Path

from mlserver import MLModel
from mlserver.codecs import NumpyCodec, StringCodec
from mlserver.types import InferenceRequest, InferenceResponse
from onnx_text import OnnxTextClassifier


class OnnxTextRuntime(MLModel):  # type: ignore[misc]
    """Tokenize with tokenizer.json, run the ONNX export on one ORT thread, softmax."""

    async def load(self) -> bool:
        parameters = self.settings.parameters
        assert parameters is not None and parameters.uri, "model-settings.json names the model dir as uri"
        extra = parameters.extra or {}
        self.classifier = OnnxTextClassifier(
            Path(parameters.uri), int(extra.get("max_length", 128)), int(extra.get("threads", 1))
        )
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        texts = StringCodec.decode_input(payload.inputs[0])
        probabilities = self.classifier.probabilities(texts)
        labels = [self.classifier.labels[int(i)] for i in probabilities.argmax(axis=1)]
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                StringCodec.encode_output("label", labels),
                NumpyCodec.encode_output("scores", probabilities),
            ],
        )
