"""The toy safety_classifier: a 2-layer transformer trained from scratch in seconds (`training.example`).

Not the example users follow (that is `examples/train_safety_classifier.py`, a fine-tuned MiniLM): tests that
need a model.pt checkpoint fast (the modelctl end-to-end test, the training tests) run this script.
Usage: `python tests/support/toy_train_safety.py --models-dir models --version v1.0.0 [--epochs N]`, writing
`models/safety_classifier/<version>/{model.pt, tokenizer.json, metrics.json}`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.training.example import ExampleTask, run_example

TASK = ExampleTask(
    model_type="safety_classifier",
    dataset=Path(__file__).resolve().parents[2] / "examples" / "data" / "safety.tsv",
    labels=["safe", "risk"],
    positive_label="risk",
)

if __name__ == "__main__":
    sys.exit(run_example(TASK))
