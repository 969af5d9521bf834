"""`modelctl keygen --encryption` and `modelctl package --encrypt-key`: a key file, and a .tar.gz.enc
that only that key opens, whose printed digest is the manifest's (the pin) and whose header names it."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from click.testing import CliRunner, Result

from modelops.cli.main import cli
from modelops.cli.push_command import artifact_digest
from modelops.package.archive import extract_package
from modelops.package.encryption import is_encrypted, load_key
from modelops.package.manifest import manifest_digest
from support.models import make_model_dir

TYPE = "safety_classifier"


def _ok(models: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--registry", "file", "--models-dir", str(models), *args])
    assert result.exit_code == 0, result.output
    return result


def test_keygen_and_encrypted_package(tmp_path: Path) -> None:
    models = tmp_path / "ml" / "models"
    model = make_model_dir(models, TYPE, "v1.0.0")
    keys = json.loads(
        _ok(models, "keygen", "--encryption", "--out-dir", str(tmp_path / "k"), "-o", "json").output
    )
    key_file = Path(keys["encryption_key"])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and len(load_key(key_file)) == 32
    again = CliRunner().invoke(cli, ["keygen", "--encryption", "--out-dir", str(tmp_path / "k")])
    assert again.exit_code != 0 and "exists" in again.output, "an existing key is never overwritten"
    built = json.loads(
        _ok(models, "package", "--type", TYPE, "--version", "v1.0.0", "--encrypt-key", str(key_file), "-o",
            "json").output
    )  # fmt: skip
    package = Path(built["package"])
    assert package.name == f"{TYPE}_v1.0.0.tar.gz.enc" and is_encrypted(package)
    assert built["sha256"] == manifest_digest(model) == artifact_digest(package)
    assert built["key_id"] == keys["key_id"]
    out = extract_package(package, tmp_path / "out", expected_digest=built["sha256"],
                          decryption_key=load_key(key_file))  # fmt: skip
    assert (out / "model.onnx").read_bytes() == (model / "model.onnx").read_bytes()
