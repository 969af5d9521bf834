"""The KServe custom predictor of bench/bench_served_peers.py: the safety model as a `kserve.Model`.

Started by the bench as `python kserve_runtime.py --model_dir DIR --max_length N --http_port P ...` (the
KServe ModelServer flags pass through to it). Requests use KServe's V1 format: `{"instances": [text, ...]}`
to `/v1/models/<name>:predict`, answered with `{"predictions": [{"label", "scores"}, ...]}`. KServe has no
in-server batching (batching is its Knative sidecar's job), so each request is one model run. Runs in the
KServe venv only.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import kserve
from kserve.errors import InvalidInput
from kserve.model_server import parser as kserve_parser
from onnx_text import OnnxTextClassifier


class OnnxTextModel(kserve.Model):  # type: ignore[misc]
    """Tokenize with tokenizer.json, run the ONNX export on one ORT thread, softmax."""

    def __init__(self, name: str, model_dir: Path, max_length: int, threads: int) -> None:
        super().__init__(name)
        self.model_dir, self.max_length, self.threads = model_dir, max_length, threads
        self.classifier: OnnxTextClassifier | None = None

    def load(self) -> bool:
        self.classifier = OnnxTextClassifier(self.model_dir, self.max_length, self.threads)
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> dict[str, Any]:
        assert self.classifier is not None, "load() runs before the server starts"
        texts = payload["instances"]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise InvalidInput('"instances" must be a list of strings')
        return {"predictions": self.classifier.classify(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve_parser])
    parser.add_argument("--model_dir", type=Path, required=True)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    args, _ = parser.parse_known_args()
    model = OnnxTextModel(args.model_name, args.model_dir, args.max_length, args.threads)
    model.load()
    kserve.ModelServer().start([model])


if __name__ == "__main__":
    main()
