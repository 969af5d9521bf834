"""Fine-tune the intent classifier (six intents) from all-MiniLM-L6-v2, the way a user's model arrives.

Usage: `python examples/train_intent_classifier.py [--out DIR] [--allow-below-target]`. Trains on
`data/intent.tsv` + `data/intent_extra.tsv` (15 % carved off for validation), tests on
`data/intent_heldout.tsv` (written separately, never trained on), or reuses the cached result under
~/.cache/modelops/models/. Prints the held-out figures and the save_pretrained directory; exits 1 when
accuracy < 0.90. Then `modelctl deploy-model --type intent_classifier --model-path DIR ...`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from modelops.training.finetune import FinetuneSettings, FinetuneTask, run_finetune_example

DATA = Path(__file__).resolve().parent / "data"
TASK = FinetuneTask(
    model_type="intent_classifier",
    datasets=[DATA / "intent.tsv", DATA / "intent_extra.tsv"],
    heldout=[DATA / "intent_heldout.tsv"],
    labels=["greeting", "goodbye", "gratitude", "venting", "coping", "booking"],
    targets={"accuracy": 0.90},
)
SETTINGS = FinetuneSettings()

if __name__ == "__main__":
    sys.exit(run_finetune_example(TASK, SETTINGS))
