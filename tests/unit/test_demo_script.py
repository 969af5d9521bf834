"""Cheap checks of `hack/demo` (the `make demo` story) that need no cluster.

The full story runs on localkube with `make demo`; here the script must parse, refuse unknown commands,
and only name scripts and directories that exist, so a rename elsewhere breaks a unit test first.
"""

from __future__ import annotations

import re
import subprocess

from support.tools import REPO_ROOT

DEMO = REPO_ROOT / "hack" / "demo"


def test_demo_script_parses() -> None:
    result = subprocess.run(["bash", "-n", DEMO], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_demo_refuses_unknown_commands_with_usage() -> None:
    result = subprocess.run([DEMO, "sideways"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stderr.strip()) == (2, "usage: hack/demo up|down")


def test_demo_names_only_existing_paths() -> None:
    text = DEMO.read_text()
    paths = {p for p in re.findall(r"\b((?:hack|charts|examples)/[\w./-]+)", text) if not p.endswith("_")}
    assert '"examples/train_${model}.py"' in text  # the trainers, one per model type:
    paths |= {f"examples/train_{model}.py" for model in ("safety_classifier", "intent_classifier")}
    missing = [p for p in sorted(paths) if not (REPO_ROOT / p.rstrip("/")).exists()]
    assert not missing, f"hack/demo names missing paths: {missing}"
