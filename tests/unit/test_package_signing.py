"""OpenSSF model-signing wrappers: a signed directory verifies; other keys and changed files do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.package import SignatureError
from modelops.package.signing import generate_keypair, sign_model_dir, verify_model_dir
from support.models import corrupt_model, make_model_dir


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    model_dir = make_model_dir(tmp_path / "models")
    private, public = generate_keypair(tmp_path / "keys")
    sign_model_dir(model_dir, private)
    return model_dir, public


def test_signed_directory_verifies_and_resigning_is_stable(signed: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, public = signed
    verify_model_dir(model_dir, public)
    sign_model_dir(model_dir, tmp_path / "keys" / "signing-key.pem")  # the old model.sig is not hashed
    verify_model_dir(model_dir, public)
    assert (tmp_path / "keys" / "signing-key.pem").stat().st_mode & 0o077 == 0


def test_another_key_is_refused(signed: tuple[Path, Path], tmp_path: Path) -> None:
    model_dir, _ = signed
    _, other_public = generate_keypair(tmp_path / "other")
    with pytest.raises(SignatureError, match=r"signature verification failed for model.sig"):
        verify_model_dir(model_dir, other_public)


def test_a_changed_file_breaks_the_signature(signed: tuple[Path, Path]) -> None:
    model_dir, public = signed
    corrupt_model(model_dir)
    with pytest.raises(SignatureError, match=r"signature verification failed"):
        verify_model_dir(model_dir, public)


def test_unsigned_directory_and_missing_keys(tmp_path: Path) -> None:
    model_dir = make_model_dir(tmp_path / "models")
    _, public = generate_keypair(tmp_path / "keys")
    with pytest.raises(SignatureError, match=r"missing signature model.sig"):
        verify_model_dir(model_dir, public)
    with pytest.raises(SignatureError, match=r"private key .* does not exist"):
        sign_model_dir(model_dir, tmp_path / "absent.pem")
