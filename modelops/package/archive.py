"""Model packages: a model directory as one reproducible `.tar.gz`, and its safe extraction.

`modelctl package` builds packages; the inference server's `fetch` step (an init container) and
`--version` pointing at a package unpack them. Building twice from the same files gives the same bytes
(manifest.json first, then sorted entries, zero mtimes and owners, no gzip timestamp). Extraction
refuses path traversal, links, devices, oversized content and oversized tar headers (`tarsafe`), because
a package may come from a URL; given the pinned digest it verifies the manifest before it writes
anything and every file as it streams out.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import tarfile
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from modelops.package.encryption import DecryptingReader, encrypt_stream, is_encrypted
from modelops.package.errors import ArchiveError, ManifestError
from modelops.package.manifest import MANIFEST_NAME, SIGNATURE_NAME, normalize_digest, parse_manifest
from modelops.package.tarsafe import READ_ERRORS, members, open_package, safe_name

_CHUNK = 1 << 20
MAX_MANIFEST_BYTES = 4 << 20  # read into memory: < 400 bytes a file (path + sha256), 10,000 files at most


@dataclass(frozen=True)
class ExtractLimits:
    """Upper bounds for what one package may contain; the defaults fit small and medium models."""

    max_total_bytes: int = 4 << 30
    max_file_bytes: int = 2 << 30
    max_files: int = 10_000
    max_download_bytes: int = 4 << 30
    download_timeout_s: float = 60.0


def build_package(model_dir: Path | str, out_path: Path | str, encryption_key: bytes | None = None) -> Path:
    """Write `out_path` (.tar.gz) with every file of `model_dir` at the archive root; return its path.

    With `encryption_key` the .tar.gz is built in memory and only its ciphertext is written
    (`encryption.encrypt_stream`; name it .tar.gz.enc)."""
    root = Path(model_dir)
    if not (root / MANIFEST_NAME).is_file():
        raise ArchiveError(f"{root} has no {MANIFEST_NAME}; write the manifest before packaging")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        # manifest.json first: a pinned extraction checks it before anything else and finds it at once.
        names = sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and not p.is_symlink()
        )
        for name in sorted(names, key=lambda n: n != MANIFEST_NAME):
            _add_file(tar, root / name, name)
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=0) as gz:
        gz.write(buffer.getvalue())
    with out.open("wb") as raw:
        if encryption_key is None:
            raw.write(compressed.getvalue())
        else:
            digest = hashlib.sha256((root / MANIFEST_NAME).read_bytes()).hexdigest()
            compressed.seek(0)
            encrypt_stream(compressed, raw, encryption_key, digest)
    return out


def _add_file(tar: tarfile.TarFile, path: Path, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as handle:
        tar.addfile(info, handle)


def extract_package(
    src: str | Path,
    dest: Path | str,
    limits: ExtractLimits | None = None,
    expected_digest: str | None = None,
    decryption_key: bytes | None = None,
) -> Path:
    """Unpack a package (local path or http(s) URL) into `dest` and return `dest`.

    `dest` must not exist or be an empty directory (an emptyDir volume). Nothing is left in `dest` when
    extraction fails. With `expected_digest` (the pinned artifact digest, sha256 of manifest.json) the
    manifest is found and checked against it BEFORE any member is written, and then every member is
    hashed as it streams out: an unlisted file is refused before a byte of it is written, a changed one
    when its last byte is read, a missing one at the end (ManifestError, naming the file).

    An encrypted package (encryption.MAGIC) needs `decryption_key`, and with a key only an encrypted
    package is accepted; it is decrypted as a stream in both passes, so no clear archive byte is
    written, only the unpacked files (staged beside `dest`, on the caller's volume via TMPDIR).
    """
    bounds = limits or ExtractLimits()
    target = Path(dest)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(f"destination {target} exists and is not an empty directory")
    with tempfile.TemporaryDirectory(prefix="modelops-fetch-") as scratch:
        archive = _local_copy(str(src), Path(scratch), bounds)
        source = _Source(archive, _checked_key(archive, decryption_key), expected_digest)
        pinned = _pinned_manifest(source, expected_digest, bounds) if expected_digest else None
        staging = Path(scratch) / "staging"
        staging.mkdir()
        _extract_into(source, staging, bounds, pinned)
        _move_contents(staging, target)
    return target


def _local_copy(src: str, scratch: Path, bounds: ExtractLimits) -> Path:
    if src.startswith(("http://", "https://")):
        return _download(src, scratch / "package.tar.gz", bounds)
    path = Path(src.removeprefix("file://"))
    if not path.is_file():
        raise ArchiveError(f"package {src} does not exist")
    return path


def _download(url: str, out: Path, bounds: ExtractLimits) -> Path:
    try:
        with urllib.request.urlopen(url, timeout=bounds.download_timeout_s) as response, out.open("wb") as fh:
            _copy_limited(response, fh, bounds.max_download_bytes, url)
    except OSError as error:
        raise ArchiveError(f"cannot download package {url}: {error}") from error
    return out


def _copy_limited(source: IO[bytes], sink: IO[bytes], limit: int, what: str, digest: Any = None) -> int:
    copied = 0
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        copied += len(chunk)
        if copied > limit:
            raise ArchiveError(f"{what} is larger than the limit of {limit} bytes")
        if digest is not None:
            digest.update(chunk)
        sink.write(chunk)
    return copied


@dataclass(frozen=True)
class _Source:
    """The local package file and, for an encrypted one, the key and pin to open it with."""

    archive: Path
    key: bytes | None = None
    expected_digest: str | None = None

    @contextmanager
    def open(self) -> Iterator[tuple[tarfile.TarFile, DecryptingReader | None]]:
        """The tar (stream mode through the decryption for an encrypted package) and the decrypter."""
        if self.key is None:
            with open_package(self.archive) as tar:
                yield tar, None
            return
        with self.archive.open("rb") as raw:
            reader = DecryptingReader(raw, self.key, self.expected_digest)
            with open_package(fileobj=reader) as tar:
                yield tar, reader


def _checked_key(archive: Path, key: bytes | None) -> bytes | None:
    encrypted = is_encrypted(archive)
    if encrypted and key is None:
        raise ArchiveError(
            f"package {archive.name} is encrypted; the fetch needs its decryption key "
            "(--decryption-key-file, spec.storage.decryptionKeySecret)"
        )
    if key is not None and not encrypted:
        raise ArchiveError(f"package {archive.name} is not encrypted, but a decryption key was given")
    return key


@dataclass(frozen=True)
class _Pinned:
    """The manifest a pinned package must match: the pinned digest and the per-file sha256."""

    digest: str
    files: dict[str, str]

    def expected(self, relative: str) -> str | None:
        """The sha256 `relative` must have (None for the signature); ManifestError for an unlisted file."""
        if relative == MANIFEST_NAME:
            return self.digest
        if relative == SIGNATURE_NAME:
            return None  # not listed in the manifest; the server checks it against the trusted key
        if relative not in self.files:
            raise ManifestError(f"unexpected file {relative} is not listed in {MANIFEST_NAME}")
        return self.files[relative].lower()


def _pinned_manifest(source: _Source, expected_digest: str, bounds: ExtractLimits) -> _Pinned:
    """First pass: read only manifest.json (into memory, bounded) and check it against the pin."""
    pinned = normalize_digest(expected_digest)
    archive = source.archive
    try:
        with source.open() as (tar, _):
            for member, relative in members(tar, bounds):
                if relative.as_posix() == MANIFEST_NAME and member.isfile():
                    return _Pinned(pinned, _check_manifest(tar, member, pinned))
    except READ_ERRORS as error:
        raise ArchiveError(f"package {archive.name} is not a readable tar.gz: {error}") from error
    raise ManifestError(f"package has no {MANIFEST_NAME}, so the pinned digest cannot be checked")


def _check_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo, pinned: str) -> dict[str, str]:
    if member.size > MAX_MANIFEST_BYTES:
        raise ManifestError(f"{MANIFEST_NAME} of {member.size} bytes exceeds {MAX_MANIFEST_BYTES} bytes")
    source = tar.extractfile(member)
    if source is None:
        raise ArchiveError(f"package entry {member.name!r} cannot be read")
    with source:
        data = source.read()
    actual = hashlib.sha256(data).hexdigest()
    if actual != pinned:
        raise ManifestError(f"sha256 mismatch for {MANIFEST_NAME}: expected {pinned}, got {actual}")
    return parse_manifest(data)


def _extract_into(source: _Source, staging: Path, bounds: ExtractLimits, pinned: _Pinned | None) -> None:
    written: set[str] = set()
    archive = source.archive
    try:
        with source.open() as (tar, reader):
            for member, relative in members(tar, bounds):
                if member.isdir():
                    (staging / relative).mkdir(parents=True, exist_ok=True)
                    continue
                _extract_file(tar, member, staging / relative, bounds=bounds, pinned=pinned)
                written.add(relative.as_posix())
            _drain(tar)
            if reader is not None:
                reader.finish()  # the authentic end: truncation or appended chunks fail here
    except READ_ERRORS as error:
        raise ArchiveError(f"package {archive.name} is not a readable tar.gz: {error}") from error
    missing = sorted(set(pinned.files) - written) if pinned else []
    if missing:
        raise ManifestError(f"missing file {missing[0]}")


def _drain(tar: tarfile.TarFile) -> None:
    # tarfile stops at the first header it cannot read after the first member, as if the archive had
    # ended; reading the compressed stream to its end makes gzip check its CRC and length, so a
    # corrupted package fails instead of yielding only some of its files.
    stream = tar.fileobj
    if stream is not None:
        while stream.read(_CHUNK):
            pass


def _extract_file(
    tar: tarfile.TarFile, member: tarfile.TarInfo, out: Path, *, bounds: ExtractLimits, pinned: _Pinned | None
) -> None:
    relative = safe_name(member.name).as_posix()
    expected = pinned.expected(relative) if pinned else None  # refused before a byte is written
    out.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise ArchiveError(f"package entry {member.name!r} cannot be read")
    digest = hashlib.sha256() if expected else None
    with source, out.open("wb") as sink:
        _copy_limited(source, sink, bounds.max_file_bytes, f"package entry {member.name!r}", digest)
    if digest is not None and digest.hexdigest() != expected:
        raise ManifestError(f"sha256 mismatch for {relative}: expected {expected}, got {digest.hexdigest()}")


def _move_contents(staging: Path, target: Path) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), str(target))
        return
    for child in staging.iterdir():
        shutil.move(str(child), str(target / child.name))
