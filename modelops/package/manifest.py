"""`manifest.json`: the sha256 of every file in a model directory, and the model's artifact digest.

The artifact digest (`ModelVersion.spec.artifact.sha256`) is the sha256 of manifest.json's bytes, so pinning
it pins every file. Written by the export/package tooling; verified by the inference server before it loads
a model and by `modelctl verify`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from modelops.package.errors import ManifestError

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "model.sig"
MANIFEST_SCHEMA = "modelops.io/manifest/v1"
_NOT_LISTED = frozenset({MANIFEST_NAME, SIGNATURE_NAME})
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large models do not sit in memory twice."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def payload_files(model_dir: Path) -> list[str]:
    """Relative POSIX paths of the files the manifest must list (all but manifest.json and model.sig)."""
    found = []
    for path in sorted(model_dir.rglob("*")):
        relative = path.relative_to(model_dir).as_posix()
        if path.is_symlink():
            raise ManifestError(f"symbolic link {relative} is not allowed in a model directory")
        if path.is_file() and relative not in _NOT_LISTED:
            found.append(relative)
    return found


def build_manifest(model_dir: Path | str) -> dict[str, Any]:
    """The manifest document for the directory as it is now."""
    root = Path(model_dir)
    files = {relative: sha256_file(root / relative) for relative in payload_files(root)}
    return {"schema": MANIFEST_SCHEMA, "files": files}


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """Canonical bytes (sorted keys, fixed indent) so the same files always give the same digest."""
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_manifest(model_dir: Path | str) -> str:
    """Write manifest.json for every file in `model_dir` and return the artifact digest (hex sha256)."""
    data = manifest_bytes(build_manifest(model_dir))
    (Path(model_dir) / MANIFEST_NAME).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def manifest_digest(model_dir: Path | str) -> str:
    """The artifact digest of an existing model directory: sha256 of its manifest.json bytes."""
    path = Path(model_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"missing file {MANIFEST_NAME}")
    return sha256_file(path)


def read_manifest(model_dir: Path | str) -> dict[str, str]:
    """The `files` mapping of manifest.json, validated."""
    path = Path(model_dir) / MANIFEST_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise ManifestError(f"missing file {MANIFEST_NAME}") from error
    except OSError as error:
        raise ManifestError(f"{MANIFEST_NAME} is not readable JSON: {error}") from error
    return parse_manifest(data)


def parse_manifest(data: bytes) -> dict[str, str]:
    """The `files` mapping of manifest.json's bytes, validated (also used on a package's member)."""
    try:
        document = json.loads(data)
    except ValueError as error:
        raise ManifestError(f"{MANIFEST_NAME} is not readable JSON: {error}") from error
    if not isinstance(document, dict) or document.get("schema") != MANIFEST_SCHEMA:
        raise ManifestError(f"{MANIFEST_NAME}: schema must be {MANIFEST_SCHEMA!r}")
    files = document.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ManifestError(f"{MANIFEST_NAME}: 'files' must map paths to sha256 hex strings")
    return {str(name): value for name, value in files.items()}


def normalize_digest(digest: str) -> str:
    """Accept `sha256:<hex>` or `<hex>`; return lower-case hex."""
    value = digest.strip().lower()
    return value.removeprefix("sha256:")


def verify_manifest(model_dir: Path | str, expected_digest: str | None = None) -> None:
    """Check the pinned digest (when given), then every listed file, then that no file is unlisted.

    Raises ManifestError naming the first file that fails, with expected and actual digests.
    """
    root = Path(model_dir)
    if expected_digest:
        actual = manifest_digest(root)
        expected = normalize_digest(expected_digest)
        if actual != expected:
            raise ManifestError(f"sha256 mismatch for {MANIFEST_NAME}: expected {expected}, got {actual}")
    listed = read_manifest(root)
    for relative, expected_file in sorted(listed.items()):
        _verify_file(root, relative, expected_file)
    unlisted = sorted(set(payload_files(root)) - set(listed))
    if unlisted:
        raise ManifestError(f"unexpected file {unlisted[0]} is not listed in {MANIFEST_NAME}")


def _verify_file(root: Path, relative: str, expected: str) -> None:
    path = root / relative
    if ".." in Path(relative).parts or Path(relative).is_absolute():
        raise ManifestError(f"{MANIFEST_NAME} lists an unsafe path {relative!r}")
    if not path.is_file():
        raise ManifestError(f"missing file {relative}")
    actual = sha256_file(path)
    if actual != expected.lower():
        raise ManifestError(f"sha256 mismatch for {relative}: expected {expected}, got {actual}")
