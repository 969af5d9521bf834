"""Finds the model directory to serve: `<models-dir>/<type>/<version>` (following `latest`), or a package.

A package (`--package` path or http(s) URL) is unpacked safely into the work directory first; this is the
same step the init container runs as `modelops-server fetch`. Called by the data plane at start-up.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from modelops.objectstore.config import is_s3_uri
from modelops.package.archive import ExtractLimits, extract_package
from modelops.package.errors import PackageError
from modelops.package.metadata import ModelMetadata
from modelops_server.errors import VerificationError
from modelops_server.settings import ServerSettings

LATEST = "latest"


@dataclass(frozen=True)
class ModelLocation:
    """Where the model lives on disk and which version that directory holds."""

    directory: Path
    version: str


def locate_model(settings: ServerSettings) -> ModelLocation:
    """The directory to verify and load; raise VerificationError saying what is missing."""
    if settings.package:
        return _from_package(settings)
    type_dir = settings.models_dir / settings.model_type
    if not type_dir.is_dir():
        raise VerificationError(f"model type directory {type_dir} does not exist")
    if settings.version == LATEST:
        return _follow_latest(type_dir)
    directory = type_dir / settings.version
    if not directory.is_dir():
        raise VerificationError(f"model version directory {directory} does not exist")
    return ModelLocation(directory, settings.version)


def _follow_latest(type_dir: Path) -> ModelLocation:
    link = type_dir / LATEST
    if not link.exists():
        raise VerificationError(f"{link} does not exist (no 'latest' link to follow)")
    directory = link.resolve()
    if directory.parent != type_dir.resolve():
        raise VerificationError(f"{link} points outside {type_dir}")
    return ModelLocation(directory, directory.name)


def _from_package(settings: ServerSettings) -> ModelLocation:
    assert settings.package is not None
    dest = settings.work_dir / settings.model_type / "package"
    shutil.rmtree(dest, ignore_errors=True)  # a previous run's copy; the package is the source of truth
    try:
        extract_package(settings.package, dest, expected_digest=settings.expected_digest)
        version = ModelMetadata.load(dest).version
    except PackageError as error:
        raise VerificationError(str(error)) from error
    if settings.version not in (LATEST, version):
        raise VerificationError(f"package {settings.package} holds version {version}, not {settings.version}")
    return ModelLocation(dest, version)


def fetch(
    src: str,
    dest: Path,
    max_bytes: int | None = None,
    expected_digest: str | None = None,
    decryption_key: bytes | None = None,
) -> Path:
    """The init-container step: unpack a package, or download an s3:// package or directory, into `dest`.

    An encrypted package needs `decryption_key` (and a key accepts only an encrypted package). With
    `expected_digest` nothing unverified reaches `dest`: a package's manifest is checked against it
    before extraction and each file as it is unpacked; an s3:// directory is verified before it is
    moved into `dest`.
    """
    if is_s3_uri(src):
        from modelops.objectstore.transfer import FetchLimits, fetch_s3
        from modelops_server.fetch_progress import log_progress

        limits = FetchLimits(max_bytes=max_bytes) if max_bytes else FetchLimits()
        return fetch_s3(
            src, dest, limits, progress=log_progress(src), expected_digest=expected_digest,
            decryption_key=decryption_key,
        )  # fmt: skip
    bounds = ExtractLimits(max_download_bytes=max_bytes) if max_bytes else None
    return extract_package(src, dest, bounds, expected_digest=expected_digest, decryption_key=decryption_key)
