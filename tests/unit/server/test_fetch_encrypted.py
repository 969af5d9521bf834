"""The fetch step (`modelops-server fetch`, the fetch-model init container) with an encrypted package:
decrypted into DEST with the key file, never cached on the node, and refused with a one-line reason
(exit 1, nothing left in DEST) for a wrong key, a missing key, or a truncated or altered ciphertext."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from modelops.package.archive import build_package
from modelops.package.encryption import HEADER_BYTES, TAG_BYTES, encode_key, encrypt_stream, generate_key
from modelops.package.manifest import manifest_digest
from modelops_server.cli import main
from support.models import make_model_dir

CHUNK = 512


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, Path, str, Path]:
    """(package, key file, pinned digest, model dir)."""
    model = make_model_dir(tmp_path / "models")
    key = generate_key()
    key_file = tmp_path / "model.key"
    key_file.write_text(encode_key(key))
    clear = build_package(model, tmp_path / "m.tar.gz")
    package = tmp_path / "m.tar.gz.enc"
    with clear.open("rb") as source, package.open("wb") as sink:  # small chunks: several of them
        encrypt_stream(source, sink, key, manifest_digest(model), chunk_size=CHUNK)
    clear.unlink()
    return package, key_file, manifest_digest(model), model


def _fetch(package: Path, dest: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["fetch", str(package), str(dest), *args])
    return result.exit_code, result.output


def test_encrypted_fetch_decrypts_and_never_uses_the_node_cache(
    tmp_path: Path, sealed: tuple[Path, Path, str, Path]
) -> None:
    package, key_file, digest, model = sealed
    cache, dest = tmp_path / "cache", tmp_path / "dest"
    code, output = _fetch(package, dest, "--expected-digest", digest, "--decryption-key-file", str(key_file),
                          "--cache-dir", str(cache))  # fmt: skip
    assert code == 0, output
    assert (dest / "model.onnx").read_bytes() == (model / "model.onnx").read_bytes()
    assert not cache.exists(), "a cache entry would be a clear copy on the node's disk"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("wrong key", "wrong decryption key"),
        ("no key", "is encrypted; the fetch needs its decryption key"),
        ("truncated at a chunk boundary", "truncated: it ends after chunk"),
        ("truncated mid-chunk", "failed authentication"),
        ("flipped byte", "failed authentication"),
    ],
)
def test_refused_with_one_line_and_nothing_in_dest(
    tmp_path: Path, sealed: tuple[Path, Path, str, Path], damage: str, reason: str
) -> None:
    package, key_file, digest, _ = sealed
    data = bytearray(package.read_bytes())
    args = ["--expected-digest", digest, "--decryption-key-file", str(key_file)]
    if damage == "wrong key":
        key_file.write_text(encode_key(generate_key()))
    elif damage == "no key":
        args = args[:2]
    elif damage == "truncated at a chunk boundary":
        assert len(data) > HEADER_BYTES + 2 * (CHUNK + TAG_BYTES)
        del data[HEADER_BYTES + CHUNK + TAG_BYTES :]
    elif damage == "truncated mid-chunk":
        del data[len(data) - 7 :]
    else:
        data[HEADER_BYTES + 40] ^= 0x80
    package.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    code, output = _fetch(package, dest, *args)
    assert code == 1
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and reason in errors[0], output
    assert package.name in errors[0]
    assert not dest.exists() or not any(dest.iterdir())
