"""Fine-tune the persona model (a supportive, non-clinical companion) from SmolLM2-135M-Instruct with LoRA.

Usage: `python examples/train_persona_model.py [--out DIR] [--ask "message"]... [--allow-below-target]`.
Trains on `data/persona_dialogues.jsonl` and evaluates greedy answers on `data/persona_heldout.jsonl`
(never trained on), or reuses the cached result under ~/.cache/modelops/models/persona_model-<key>/.
Prints the held-out figures and the save_pretrained directory; exits 1 when crisis_recall < 0.95,
crisis_false_alarm > 0.10, any diagnosis, median answer > 60 tokens or < 90 % of answers ending on their own.
"""

from __future__ import annotations

import sys

from modelops.training.persona import run_persona_example

if __name__ == "__main__":
    sys.exit(run_persona_example())
