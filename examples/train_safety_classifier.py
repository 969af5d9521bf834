"""Train the safety classifier: binary risk detection (`safe` / `risk`) for a mental-health chat product.

Usage: `python examples/train_safety_classifier.py --models-dir models --version v1.0.0 [--epochs N]`.
Writes `models/safety_classifier/<version>/{model.pt, tokenizer.json, metrics.json}`; then
`modelctl deploy-model --type safety_classifier --model-path .../model.pt --version ...` exports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.training.example import ExampleTask, run_example

TASK = ExampleTask(
    model_type="safety_classifier",
    dataset=Path(__file__).resolve().parent / "data" / "safety.tsv",
    labels=["safe", "risk"],
    positive_label="risk",
)

if __name__ == "__main__":
    sys.exit(run_example(TASK))
