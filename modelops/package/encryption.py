"""Encryption at rest for model packages: AES-256-GCM (`cryptography`) in a chunked streaming format.

`modelctl package|push --encrypt-key FILE` writes `<name>.tar.gz.enc` with `encrypt_stream`; the
server's fetch step (`archive.extract_package`, run by the `fetch-model` init container) recognises
MAGIC and unpacks through `DecryptingReader`, so the clear archive exists only as a stream in memory.

Layout: a header, then chunks. The header is MAGIC, the format version, the plaintext chunk size, the
key id (first 8 bytes of sha256 over a label and the key: names the key without revealing it), a random
8-byte nonce prefix and the package's artifact digest (sha256 of manifest.json, the pin). Each chunk is
at most `chunk_size` clear bytes sealed with its own nonce (prefix || 4-byte big-endian counter) and
the associated data header || counter || final flag, so a changed byte, a dropped, reordered or appended
chunk, a truncation (at a chunk boundary or inside a chunk) and an edited header all fail
authentication. Nothing is released from a chunk before its tag is checked.

Keys are 32 random bytes, stored base64 in a file (`modelctl keygen --encryption`, or
`head -c 32 /dev/urandom | base64`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import struct
from pathlib import Path
from typing import IO, TYPE_CHECKING

from modelops.package.errors import PackageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# `cryptography` is imported where a package is sealed or opened: the operator imports the package
# format (for its limits) without it.

MAGIC = b"MOPSENC\x00"
FORMAT_VERSION = 1
KEY_BYTES = 32
TAG_BYTES = 16
DEFAULT_CHUNK = 64 << 10
MAX_CHUNK = 16 << 20
ENCRYPTED_SUFFIX = ".enc"
_HEADER = struct.Struct(">8sBI8s8s32s")  # magic, version, chunk size, key id, nonce prefix, digest
HEADER_BYTES = _HEADER.size
_MAX_COUNTER = 0xFFFFFFFF


class EncryptionError(PackageError):
    """An encrypted package cannot be read: wrong key, altered, truncated or not our format."""


def generate_key() -> bytes:
    """32 random bytes for AES-256-GCM."""
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The key file's text: base64 and a newline."""
    return base64.b64encode(key).decode("ascii") + "\n"


def load_key(path: Path) -> bytes:
    """The 32-byte key from a base64 key file; EncryptionError naming the file otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise EncryptionError(f"cannot read key file {path}: {error.strerror or error}") from error
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError) as error:
        raise EncryptionError(f"key file {path} is not base64 (32 bytes, base64-encoded)") from error
    if len(key) != KEY_BYTES:
        raise EncryptionError(f"key file {path} holds {len(key)} bytes; an AES-256 key is {KEY_BYTES}")
    return key


def key_id(key: bytes) -> str:
    """A short public name for a key (hex): which key a package needs, without revealing it."""
    return hashlib.sha256(b"modelops-package-key\x00" + key).digest()[:8].hex()


def is_encrypted(path: Path) -> bool:
    """Whether the file starts with MAGIC."""
    with path.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def _aead(key: bytes) -> AESGCM:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">IB", index, 1 if final else 0)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def encrypt_stream(
    source: IO[bytes], sink: IO[bytes], key: bytes, digest: str, chunk_size: int = DEFAULT_CHUNK
) -> None:
    """Encrypt `source` to `sink`; `digest` is the package's artifact digest (hex), kept in the header."""
    if len(key) != KEY_BYTES:
        raise EncryptionError(f"an AES-256 key is {KEY_BYTES} bytes, not {len(key)}")
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise EncryptionError(f"chunk size must be in 1..{MAX_CHUNK}")
    prefix = os.urandom(8)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, chunk_size, bytes.fromhex(key_id(key)), prefix,
                          bytes.fromhex(digest))  # fmt: skip
    sink.write(header)
    aead, index = _aead(key), 0
    current = source.read(chunk_size)
    while True:
        following = source.read(chunk_size)  # one chunk ahead: the last one carries the final flag
        final = not following
        if index > _MAX_COUNTER:
            raise EncryptionError("package is too large for one nonce prefix")
        sink.write(aead.encrypt(_nonce(prefix, index), current, _aad(header, index, final)))
        if final:
            return
        current, index = following, index + 1


class DecryptingReader:
    """A read-only stream of the clear bytes of an encrypted package (for tarfile's stream mode).

    Chunks are authenticated before any of their bytes are returned; the end of the file is accepted
    only after a chunk sealed as final, so `read` returning b"" means the whole package was authentic.
    """

    def __init__(self, source: IO[bytes], key: bytes, expected_digest: str | None = None) -> None:
        self._source, self._aead = source, _aead(key)
        self._header = source.read(HEADER_BYTES)
        _, _, self._chunk, kid, self._prefix, digest = _parse_header(self._header)
        if kid.hex() != key_id(key):
            raise EncryptionError(
                f"wrong decryption key: the package was encrypted with key id {kid.hex()}, "
                f"the key given has id {key_id(key)}"
            )
        if expected_digest and digest.hex() != expected_digest.lower().removeprefix("sha256:"):
            raise EncryptionError(
                f"encrypted package holds artifact {digest.hex()}, not the pinned {expected_digest}"
            )
        self._index, self._buffer, self._done = 0, b"", False
        self._pending = source.read(self._chunk + TAG_BYTES)

    def read(self, size: int = -1) -> bytes:
        """Up to `size` clear bytes (all that is left for a negative size); b"" at the authentic end."""
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._buffer += self._next_chunk()
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def finish(self) -> None:
        """Read to the end, so truncation or appended data is detected even if the caller stopped early."""
        while self.read(1 << 20):
            pass

    def _next_chunk(self) -> bytes:
        sealed = self._pending
        self._pending = self._source.read(self._chunk + TAG_BYTES)
        final = not self._pending
        if len(sealed) < TAG_BYTES:
            raise EncryptionError(f"encrypted package is truncated inside chunk {self._index}")
        clear = self._open(sealed, final)
        self._index += 1
        self._done = final
        return clear

    def _open(self, sealed: bytes, final: bool) -> bytes:
        from cryptography.exceptions import InvalidTag

        nonce = _nonce(self._prefix, self._index)
        try:
            return self._aead.decrypt(nonce, sealed, _aad(self._header, self._index, final))
        except InvalidTag:
            pass
        raise EncryptionError(self._diagnose(nonce, sealed, final))

    def _diagnose(self, nonce: bytes, sealed: bytes, final: bool) -> str:
        from cryptography.exceptions import InvalidTag

        # The same chunk sealed with the other final flag tells truncation and appending apart.
        try:
            self._aead.decrypt(nonce, sealed, _aad(self._header, self._index, not final))
        except InvalidTag:
            return (
                f"encrypted package chunk {self._index} failed authentication: "
                "the ciphertext was altered, reordered, truncated inside a chunk or appended to"
            )
        if final:
            return (
                f"encrypted package is truncated: it ends after chunk {self._index}, before its final chunk"
            )
        return f"encrypted package has data appended after its final chunk {self._index}"


def _parse_header(header: bytes) -> tuple[bytes, int, int, bytes, bytes, bytes]:
    if len(header) < HEADER_BYTES or not header.startswith(MAGIC):
        raise EncryptionError("not an encrypted modelops package (bad magic or short header)")
    magic, version, chunk, kid, prefix, digest = _HEADER.unpack(header)
    if version != FORMAT_VERSION:
        raise EncryptionError(f"encrypted package format version {version} is not supported")
    if not 1 <= chunk <= MAX_CHUNK:
        raise EncryptionError(f"encrypted package chunk size {chunk} is out of range")
    return magic, version, chunk, kid, prefix, digest


def header_digest(path: Path) -> str:
    """The artifact digest (sha256 of manifest.json) an encrypted package declares in its header."""
    with path.open("rb") as handle:
        return _parse_header(handle.read(HEADER_BYTES))[5].hex()
