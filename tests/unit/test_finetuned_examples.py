"""The example classifiers fine-tuned for real from all-MiniLM-L6-v2 (`examples/train_*.py`): they meet
their targets on held-out files written separately from the training data, come from the cache when
nothing changed, and the safety model goes through `deploy-model --quantize int8` and is served telling
risk sentences (abuse, poisoning, indirect) from harmless idioms.

The first run on a machine trains both models (a few minutes each on 2 cores); later runs reuse
~/.cache/modelops/models/ (the key hashes data, code, settings and base weights)."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from click.testing import CliRunner

from modelops.cli.main import cli
from modelops.package.metadata import ModelMetadata
from modelops.training.finetune import FinetuneResult, finetune_cached
from support.serving import SEED_PREDICT, serving, settings_for

REPO = Path(__file__).resolve().parents[2]
# The second risk sentence and the first idiom are the ones `make demo` (hack/demo) shows.
RISKS = ["I have saved up my pills and I am going to take them all tonight",
         "I drank bleach an hour ago and I feel sick"]  # fmt: skip
# Measured here: 0.980 (per-channel; per-tensor lower). A cold retrain elsewhere may differ in the last
# float bits, so the test's bar sits below the default 0.98; the default is tested on the tiny BERT.
MIN_AGREEMENT = 0.95
IDIOMS = ["This exam is killing me", "I could die laughing at that video", "My phone has a dead battery"]


def _example(name: str) -> ModuleType:
    path = REPO / "examples" / f"train_{name}_classifier.py"
    spec = importlib.util.spec_from_file_location(f"train_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trained() -> dict[str, tuple[ModuleType, FinetuneResult]]:
    examples = {name: _example(name) for name in ("safety", "intent")}
    return {name: (mod, finetune_cached(mod.TASK, mod.SETTINGS)) for name, mod in examples.items()}


def _texts(*paths: Path) -> list[str]:
    rows: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8", newline="") as handle:
            rows.extend(row[1] for row in list(csv.reader(handle, delimiter="\t"))[1:])
    return rows


def test_held_out_files_are_never_trained_on_and_the_datasets_are_big_enough(
    trained: dict[str, tuple[ModuleType, FinetuneResult]],
) -> None:
    for name, (module, result) in trained.items():
        facts = json.loads((result.directory / "training.json").read_text())
        held_out = _texts(*module.TASK.heldout)
        training = _texts(*module.TASK.datasets)
        assert _texts(result.directory / "heldout.tsv") == held_out and facts["test_rows"] == len(held_out)
        assert facts["train_rows"] + facts["validation_rows"] == len(training), name
        assert not {t.casefold() for t in held_out} & {t.casefold() for t in training}, name
    assert len(set(_texts(*trained["safety"][0].TASK.datasets, *trained["safety"][0].TASK.heldout))) >= 1000
    assert len(set(_texts(*trained["intent"][0].TASK.datasets, *trained["intent"][0].TASK.heldout))) >= 600


@pytest.mark.parametrize("name", ["safety", "intent"])
def test_models_meet_their_held_out_targets(
    trained: dict[str, tuple[ModuleType, FinetuneResult]], name: str
) -> None:
    module, result = trained[name]
    assert module.TASK.targets and result.misses(module.TASK.targets) == [], result.metrics
    if name == "safety":
        assert result.metrics["recall"] >= 0.95 and result.metrics["precision"] >= 0.90, result.metrics
    else:
        assert result.metrics["accuracy"] >= 0.90, result.metrics


def test_safety_script_exit_code_says_whether_the_targets_are_met(
    trained: dict[str, tuple[ModuleType, FinetuneResult]],
) -> None:
    script = REPO / "examples" / "train_safety_classifier.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "misses" not in done.stderr, (done.stdout, done.stderr)
    assert "recall=" in done.stdout and "precision=" in done.stdout
    # Targets the model cannot meet: exit 1 naming the miss, unless --allow-below-target.
    strict = subprocess.run([sys.executable, "-c", _RAISED_TARGETS, str(script)], capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert strict.returncode == 1 and "misses its held-out targets: recall" in strict.stderr, strict.stderr
    allowed = subprocess.run([sys.executable, "-c", _RAISED_TARGETS, str(script), "--allow-below-target"],
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr


# Runs the safety example with a recall target of 1.01 (targets are not part of the cache key: no training).
_RAISED_TARGETS = """
import dataclasses, importlib.util, sys
path = sys.argv[1]
spec = importlib.util.spec_from_file_location("example", path)
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
from modelops.training.finetune import run_finetune_example
task = dataclasses.replace(module.TASK, targets={"recall": 1.01})
sys.exit(run_finetune_example(task, module.SETTINGS, sys.argv[2:]))
"""


def test_example_script_reuses_the_cache(trained: dict[str, tuple[ModuleType, FinetuneResult]]) -> None:
    script = REPO / "examples" / "train_intent_classifier.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(cache," in done.stdout and str(trained["intent"][1].directory) in done.stdout


async def test_quantized_safety_model_is_served_and_tells_risk_from_idioms(
    trained: dict[str, tuple[ModuleType, FinetuneResult]], tmp_path: Path
) -> None:
    source = trained["safety"][1].directory
    models = tmp_path / "models"
    argv = ["--registry", "file", "--models-dir", str(models), "deploy-model", "--type", "safety_classifier",
            "--model-path", str(source), "--version", "v2.0.0", "--export", "onnx", "--quantize", "int8",
            "--eval-data", str(source / "heldout.tsv"), "--min-agreement", str(MIN_AGREEMENT)]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    metadata = ModelMetadata.load(models / "safety_classifier" / "v2.0.0")
    assert metadata.export["agreement"] >= MIN_AGREEMENT and metadata.export["eval_texts"] > 200
    assert metadata.metrics == json.loads((source / "metrics.json").read_text())  # the held-out figures
    settings = settings_for(models, version="v2.0.0")
    async with serving(settings) as client:
        body = (await client.post(SEED_PREDICT, json={"texts": [*RISKS, *IDIOMS]})).json()
    labels = [prediction["label"] for prediction in body["predictions"]]
    assert labels == ["risk", "risk", "safe", "safe", "safe"], body
    assert np.isclose(sum(body["predictions"][0]["scores"].values()), 1.0, atol=1e-4)
