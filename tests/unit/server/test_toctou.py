"""Verify-then-load without a TOCTOU window: the bytes the server hashes are the bytes it loads.

A wrapper around the digest check swaps the served model.onnx for different bytes right after the check
passes, as a node user with write access to the hostPath could. The server must still load the verified
model (its private copy), so its answers are the original model's; without the copy ONNX Runtime would
read the swapped file and the load would fail. The copy is gone after the load; links are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelops_server import model as model_mod
from modelops_server.errors import VerificationError
from modelops_server.loader import ModelLocation
from support.models import make_model_dir, reference_scores
from support.serving import MODEL_TYPE, settings_for


def test_a_file_swapped_after_verification_is_not_what_gets_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = make_model_dir(tmp_path / "models", MODEL_TYPE, "v1.0.0")
    original = make_model_dir(tmp_path / "pristine", MODEL_TYPE, "v1.0.0")
    real_verify = model_mod.verify_files
    swapped: list[Path] = []

    def verify_then_swap(directory: Path, settings: Any) -> str:
        digest = real_verify(directory, settings)
        (served / "model.onnx").write_bytes(b"not the verified model")  # the swap, after the check
        swapped.append(directory)
        return digest

    monkeypatch.setattr(model_mod, "verify_files", verify_then_swap)
    settings = settings_for(tmp_path / "models", work_dir=tmp_path / "work")
    loaded = model_mod.load_verified_model(settings, ModelLocation(served, "v1.0.0"))
    assert swapped and swapped[0] != served, "the check must run on the private copy"
    ((label, scores),) = loaded.classifier.predict(["I feel safe today"]).rows()
    expected = reference_scores(original, "I feel safe today", loaded.classifier.labels)
    assert scores == pytest.approx(expected, abs=1e-5), label
    assert list((tmp_path / "work").iterdir()) == [], "the private copy must be deleted after the load"


def test_a_symlink_in_the_model_dir_is_refused(tmp_path: Path) -> None:
    served = make_model_dir(tmp_path / "models", MODEL_TYPE, "v1.0.0")
    (served / "vocab.txt").symlink_to("/etc/passwd")
    settings = settings_for(tmp_path / "models", work_dir=tmp_path / "work")
    with pytest.raises(VerificationError, match=r"vocab\.txt is a symbolic link"):
        model_mod.load_verified_model(settings, ModelLocation(served, "v1.0.0"))
    assert list((tmp_path / "work").iterdir()) == []
