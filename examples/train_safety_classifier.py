"""Fine-tune the safety classifier (`safe` / `risk`) from all-MiniLM-L6-v2, the way a user's model arrives.

Usage: `python examples/train_safety_classifier.py [--out DIR] [--allow-below-target]`. Trains on
`data/safety.tsv`, `data/safety_extra.tsv` and `data/safety_more.tsv` (15 % carved off to choose the `risk`
threshold), tests on `data/safety_heldout.tsv` (written separately, never trained on), or reuses the
cached result under ~/.cache/modelops/models/. Prints the held-out figures and the save_pretrained
directory; exits 1 when risk recall < 0.95 or precision < 0.90. Then:
`modelctl deploy-model --type safety_classifier --model-path DIR --version v2.0.0 --export onnx
--quantize int8 --eval-data DIR/heldout.tsv`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.training.finetune import FinetuneSettings, FinetuneTask, run_finetune_example

DATA = Path(__file__).resolve().parent / "data"
TASK = FinetuneTask(
    model_type="safety_classifier",
    datasets=[DATA / "safety.tsv", DATA / "safety_extra.tsv", DATA / "safety_more.tsv"],
    heldout=[DATA / "safety_heldout.tsv"],
    labels=["safe", "risk"],
    positive_label="risk",
    targets={"recall": 0.95, "precision": 0.90},
)
SETTINGS = FinetuneSettings(epochs=3, positive_weight=1.5, threshold_recall=0.98)

if __name__ == "__main__":
    sys.exit(run_finetune_example(TASK, SETTINGS))
