"""The toy intent_classifier: a 2-layer transformer trained from scratch in seconds (`training.example`).

Not the example users follow (that is `examples/train_intent_classifier.py`, a fine-tuned MiniLM): tests that
need a model.pt checkpoint fast (the modelctl end-to-end test, the training tests) run this script.
Usage: `python tests/support/toy_train_intent.py --models-dir models --version v1.0.0 [--epochs N]`, writing
`models/intent_classifier/<version>/{model.pt, tokenizer.json, metrics.json}`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.training.example import ExampleTask, run_example

TASK = ExampleTask(
    model_type="intent_classifier",
    dataset=Path(__file__).resolve().parents[2] / "examples" / "data" / "intent.tsv",
    labels=["greeting", "goodbye", "gratitude", "venting", "coping", "booking"],
)

if __name__ == "__main__":
    sys.exit(run_example(TASK))
