"""Encrypted packages: the AES-256-GCM chunked format round-trips, and every kind of tampering
(wrong key, truncation at a chunk boundary or inside a chunk, a flipped byte, an appended or reordered
chunk, an edited header) is refused with a message that says which."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelops.package.archive import build_package, extract_package
from modelops.package.encryption import (
    HEADER_BYTES,
    TAG_BYTES,
    DecryptingReader,
    EncryptionError,
    encode_key,
    encrypt_stream,
    generate_key,
    is_encrypted,
    key_id,
    load_key,
)
from modelops.package.errors import ArchiveError, PackageError
from modelops.package.manifest import write_manifest

CHUNK = 64
DIGEST = "ab" * 32
KEY = bytes(range(32))


def _seal(data: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, key, DIGEST, chunk_size=CHUNK)
    return out.getvalue()


def _open(sealed: bytes, key: bytes) -> bytes:
    reader = DecryptingReader(io.BytesIO(sealed), key)
    data = reader.read()
    reader.finish()
    return data


def _chunks(sealed: bytes) -> tuple[bytes, list[bytes]]:
    body, size = sealed[HEADER_BYTES:], CHUNK + TAG_BYTES
    return sealed[:HEADER_BYTES], [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("length", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 7])
def test_round_trip_any_length(length: int) -> None:
    key, data = generate_key(), os.urandom(length)
    sealed = _seal(data, key)
    assert sealed.startswith(b"MOPSENC\x00")
    # A few random bytes turn up inside random-looking ciphertext by chance (1 byte: ~6%), so only
    # plaintexts long enough for that to be negligible are checked for leaking into the body.
    assert len(data) < 16 or data not in sealed[HEADER_BYTES:]
    assert _open(sealed, key) == data


def test_small_reads_return_the_same_bytes() -> None:
    key, data = generate_key(), os.urandom(7 * CHUNK + 3)
    reader = DecryptingReader(io.BytesIO(_seal(data, key)), key)
    parts = list(iter(lambda: reader.read(5), b""))
    assert b"".join(parts) == data


def test_wrong_key_is_named() -> None:
    key, other = generate_key(), generate_key()
    with pytest.raises(EncryptionError, match=rf"wrong decryption key.*{key_id(key)}.*{key_id(other)}"):
        _open(_seal(b"x" * 200, key), other)


def test_truncated_at_a_chunk_boundary() -> None:
    key = generate_key()
    header, chunks = _chunks(_seal(os.urandom(4 * CHUNK + 10), key))
    with pytest.raises(EncryptionError, match="truncated: it ends after chunk 2, before its final chunk"):
        _open(header + b"".join(chunks[:3]), key)


def test_truncated_inside_a_chunk() -> None:
    key = generate_key()
    sealed = _seal(os.urandom(4 * CHUNK + 10), key)
    with pytest.raises(EncryptionError, match="chunk 2 failed authentication"):
        _open(sealed[: HEADER_BYTES + 2 * (CHUNK + TAG_BYTES) + 20], key)
    with pytest.raises(EncryptionError, match="truncated inside chunk 0"):
        _open(sealed[: HEADER_BYTES + 3], key)


def test_flipped_byte() -> None:
    key = generate_key()
    sealed = bytearray(_seal(os.urandom(3 * CHUNK), key))
    sealed[HEADER_BYTES + CHUNK + TAG_BYTES + 5] ^= 0x01
    with pytest.raises(EncryptionError, match="chunk 1 failed authentication"):
        _open(bytes(sealed), key)


def test_edited_header_fails_every_chunk() -> None:
    key = generate_key()
    sealed = bytearray(_seal(os.urandom(3 * CHUNK), key))
    sealed[HEADER_BYTES - 1] ^= 0x01  # the declared artifact digest
    with pytest.raises(EncryptionError, match="chunk 0 failed authentication"):
        _open(bytes(sealed), key)


def test_appended_chunk() -> None:
    key = generate_key()
    header, chunks = _chunks(_seal(os.urandom(3 * CHUNK), key))
    with pytest.raises(EncryptionError, match="appended after its final chunk 2"):
        _open(header + b"".join(chunks) + chunks[0], key)


def test_appended_after_a_short_final_chunk() -> None:
    key = generate_key()
    header, chunks = _chunks(_seal(os.urandom(2 * CHUNK + 5), key))
    with pytest.raises(EncryptionError, match=r"chunk 2 failed authentication.*appended to"):
        _open(header + b"".join(chunks) + chunks[0], key)


def test_appended_chunk_from_another_package_with_the_same_key() -> None:
    key = generate_key()
    header, chunks = _chunks(_seal(os.urandom(3 * CHUNK), key))
    _, foreign = _chunks(_seal(os.urandom(2 * CHUNK), key))
    with pytest.raises(EncryptionError, match="appended after its final chunk 2"):
        _open(header + b"".join(chunks) + foreign[-1], key)


def test_reordered_chunks() -> None:
    key = generate_key()
    header, chunks = _chunks(_seal(os.urandom(4 * CHUNK), key))
    chunks[1], chunks[2] = chunks[2], chunks[1]
    with pytest.raises(EncryptionError, match=r"chunk 1 failed authentication.*reordered"):
        _open(header + b"".join(chunks), key)


def test_not_our_format_and_bad_key_files(tmp_path: Path) -> None:
    with pytest.raises(EncryptionError, match="bad magic"):
        DecryptingReader(io.BytesIO(b"\x1f\x8b" + b"\0" * 100), generate_key())
    short = tmp_path / "short.key"
    short.write_text(encode_key(os.urandom(16)))
    with pytest.raises(EncryptionError, match="holds 16 bytes"):
        load_key(short)
    junk = tmp_path / "junk.key"
    junk.write_text("not base64 !!")
    with pytest.raises(EncryptionError, match="is not base64"):
        load_key(junk)
    with pytest.raises(EncryptionError, match="cannot read key file"):
        load_key(tmp_path / "absent.key")
    good = tmp_path / "good.key"
    key = generate_key()
    good.write_text(encode_key(key))
    assert load_key(good) == key


def _model(tmp_path: Path) -> tuple[Path, str]:
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(os.urandom(300_000))
    (model / "metadata.json").write_text('{"x": 1}')
    return model, write_manifest(model)


def test_encrypted_package_extracts_pinned(tmp_path: Path) -> None:
    model, digest = _model(tmp_path)
    key = generate_key()
    package = build_package(model, tmp_path / "m.tar.gz.enc", encryption_key=key)
    assert is_encrypted(package)
    assert (model / "model.onnx").read_bytes()[:4096] not in package.read_bytes()
    out = extract_package(package, tmp_path / "out", expected_digest=digest, decryption_key=key)
    for name in ("model.onnx", "metadata.json", "manifest.json"):
        assert (out / name).read_bytes() == (model / name).read_bytes()


@pytest.mark.parametrize("damage", ["wrong key", "no key", "truncated", "flipped", "appended", "pin"])
def test_encrypted_package_failures_leave_nothing(tmp_path: Path, damage: str) -> None:
    model, digest = _model(tmp_path)
    key = generate_key()
    package = build_package(model, tmp_path / "m.tar.gz.enc", encryption_key=key)
    sealed = bytearray(package.read_bytes())
    use_key: bytes | None = key
    pin = digest
    expected = {
        "wrong key": "wrong decryption key",
        "no key": "is encrypted; the fetch needs its decryption key",
        "truncated": "truncated",
        "flipped": "failed authentication",
        "appended": "appended",
        "pin": "not the pinned",
    }[damage]
    if damage == "wrong key":
        use_key = generate_key()
    elif damage == "no key":
        use_key = None
    elif damage == "truncated":
        del sealed[len(sealed) - 100 :]
    elif damage == "flipped":
        sealed[len(sealed) // 2] ^= 0x40
    elif damage == "appended":
        sealed += sealed[HEADER_BYTES : HEADER_BYTES + 1000]
    else:
        pin = hashlib.sha256(b"another manifest").hexdigest()
    package.write_bytes(bytes(sealed))
    with pytest.raises(PackageError, match=expected):
        extract_package(package, tmp_path / "out", expected_digest=pin, decryption_key=use_key)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_key_refuses_a_clear_package(tmp_path: Path) -> None:
    model, digest = _model(tmp_path)
    package = build_package(model, tmp_path / "m.tar.gz")
    with pytest.raises(ArchiveError, match="is not encrypted, but a decryption key was given"):
        extract_package(package, tmp_path / "out", expected_digest=digest, decryption_key=generate_key())


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=2000),
    chunk=st.integers(1, 300),
    where=st.integers(0, 10**6),
    bit=st.integers(0, 7),
)
def test_any_flipped_bit_anywhere_is_refused(data: bytes, chunk: int, where: int, bit: int) -> None:
    key = KEY
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, key, DIGEST, chunk_size=chunk)
    sealed = bytearray(out.getvalue())
    assert _open(bytes(sealed), key) == data
    sealed[where % len(sealed)] ^= 1 << bit
    with pytest.raises(EncryptionError):
        _open(bytes(sealed), key)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=2000), chunk=st.integers(1, 300), cut=st.integers(1, 10**6))
def test_any_truncation_is_refused(data: bytes, chunk: int, cut: int) -> None:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, KEY, DIGEST, chunk_size=chunk)
    sealed = out.getvalue()
    with pytest.raises(EncryptionError):
        _open(sealed[: len(sealed) - 1 - cut % (len(sealed) - 1)], KEY)
