"""Train the intent classifier: multi-class therapeutic intents of a chat message.

Usage: `python examples/train_intent_classifier.py --models-dir models --version v1.0.0 [--epochs N]`.
Writes `models/intent_classifier/<version>/{model.pt, tokenizer.json, metrics.json}`; then
`modelctl deploy-model --type intent_classifier --model-path .../model.pt --version ...` exports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.training.example import ExampleTask, run_example

TASK = ExampleTask(
    model_type="intent_classifier",
    dataset=Path(__file__).resolve().parent / "data" / "intent.tsv",
    labels=["greeting", "goodbye", "gratitude", "venting", "coping", "booking"],
)

if __name__ == "__main__":
    sys.exit(run_example(TASK))
