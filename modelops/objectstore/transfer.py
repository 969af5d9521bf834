"""Streaming transfers between a local model (directory or package) and an `s3://` URI.

`fetch_s3` is what the server's init container (`modelops-server fetch s3://...`) runs: it checks sizes
against the limits before downloading, streams each object to disk in parts (bounded memory, parallel
parts for large objects, retries with backoff by botocore), refuses short objects, and stages
everything beside the destination so a failure leaves nothing behind. `upload` is `modelctl push`.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from modelops.objectstore.config import ObjectStoreError, S3Settings, S3Uri, describe, make_client
from modelops.package.archive import ExtractLimits, extract_package
from modelops.package.manifest import verify_manifest

Progress = Callable[[int, int], None]
_PART = 8 << 20


@dataclass(frozen=True)
class FetchLimits:
    """Upper bounds checked against the store's listing before a byte is downloaded."""

    max_bytes: int = 4 << 30
    max_files: int = 10_000


@dataclass(frozen=True)
class RemoteObject:
    key: str
    size: int


def transfer_config() -> Any:
    """Parts of 8 MiB, 8 at a time; downloads stream through a bounded queue of 256 KiB chunks, so memory
    stays a few MiB per thread however large the object is."""
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=_PART, multipart_chunksize=_PART, max_concurrency=8, max_io_queue=100
    )


class _Counter:
    """Thread-safe byte counter for boto3's callbacks that reports at most once a second."""

    def __init__(self, total: int, report: Progress | None) -> None:
        self.total, self.done, self.report = total, 0, report
        self._lock, self._last = threading.Lock(), 0.0

    def __call__(self, count: int) -> None:
        with self._lock:
            self.done += count
            now = time.monotonic()
            if self.report and now - self._last >= 1.0:
                self._last = now
                self.report(self.done, self.total)

    def finish(self) -> None:
        if self.report:
            self.report(self.done, self.total)


def fetch_s3(
    uri: str,
    dest: Path,
    limits: FetchLimits | None = None,
    *,
    progress: Progress | None = None,
    settings: S3Settings | None = None,
    expected_digest: str | None = None,
    decryption_key: bytes | None = None,
) -> Path:
    """Download a package (and unpack it) or a model directory prefix into `dest` (absent or empty).

    With `expected_digest` (the pinned artifact digest) the files are verified before they reach `dest`:
    a package while it is unpacked (`extract_package`), a directory in its scratch copy."""
    where, bounds = S3Uri.parse(uri), limits or FetchLimits()
    config = settings or S3Settings.from_env()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ObjectStoreError(f"destination {dest} exists and is not an empty directory")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        client = make_client(config)
        objects = _objects(client, where)
        _check_limits(where, objects, bounds)
        with _staging(dest.parent) as scratch:
            if where.is_package:
                archive = scratch / "package.tar.gz"
                _download_all(client, where, objects, {objects[0].key: archive}, progress)
                extract_limits = ExtractLimits(max_download_bytes=bounds.max_bytes)
                extract_package(
                    archive,
                    dest,
                    extract_limits,
                    expected_digest=expected_digest,
                    decryption_key=decryption_key,
                )
            elif decryption_key is not None:
                raise ObjectStoreError(f"{uri} is a directory prefix; an encrypted model must be a package")
            else:
                targets = {o.key: scratch / "model" / _relative(where, o.key) for o in objects}
                _download_all(client, where, objects, targets, progress)
                if expected_digest:
                    verify_manifest(scratch / "model", expected_digest)
                _move_into(scratch / "model", dest)
    except Exception as error:
        raise describe(error, where, config) from error
    return dest


def _objects(client: Any, where: S3Uri) -> list[RemoteObject]:
    if where.is_package:
        try:
            head = client.head_object(Bucket=where.bucket, Key=where.key)
        except Exception as error:
            _raise_missing_bucket(client, where, error)
            raise
        return [RemoteObject(where.key, int(head["ContentLength"]))]
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=where.prefix):
        found += [RemoteObject(o["Key"], int(o["Size"])) for o in page.get("Contents", [])]
    found = [o for o in found if not o.key.endswith("/")]
    if not found:
        raise ObjectStoreError(f"{where}: no objects under this prefix (the model directory is missing)")
    return found


def _raise_missing_bucket(client: Any, where: S3Uri, error: Exception) -> None:
    """A HEAD 404 does not say whether the bucket or the key is missing; ask about the bucket."""
    from botocore.exceptions import ClientError

    code = isinstance(error, ClientError) and error.response.get("Error", {}).get("Code")
    if code not in ("404", "NotFound", "NoSuchKey"):
        return
    try:
        client.head_bucket(Bucket=where.bucket)
    except ClientError as bucket_error:
        if bucket_error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
            raise ObjectStoreError(f"{where}: the bucket {where.bucket} does not exist") from error


def _check_limits(where: S3Uri, objects: list[RemoteObject], bounds: FetchLimits) -> None:
    total = sum(o.size for o in objects)
    if len(objects) > bounds.max_files:
        raise ObjectStoreError(f"{where}: {len(objects)} objects, more than the limit of {bounds.max_files}")
    if total > bounds.max_bytes:
        raise ObjectStoreError(f"{where}: {total} bytes, larger than the limit of {bounds.max_bytes} bytes")


def _relative(where: S3Uri, key: str) -> Path:
    relative = PurePosixPath(key.removeprefix(where.prefix))
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ObjectStoreError(f"{where}: object key {key!r} is not a safe relative path")
    return Path(*relative.parts)


def _download_all(
    client: Any, where: S3Uri, objects: list[RemoteObject], targets: dict[str, Path], report: Progress | None
) -> None:
    counter = _Counter(sum(o.size for o in objects), report)
    config = transfer_config()
    for item in objects:
        target = targets[item.key]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(where.bucket, item.key, str(target), Config=config, Callback=counter)
        got = target.stat().st_size
        if got != item.size:
            raise ObjectStoreError(f"s3://{where.bucket}/{item.key}: got {got} of {item.size} bytes")
    counter.finish()


@contextmanager
def _staging(parent: Path) -> Iterator[Path]:
    """A scratch directory on the destination's volume (large models do not fit the container's /tmp)."""
    scratch = Path(tempfile.mkdtemp(prefix=".fetch-", dir=parent))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _move_into(staging: Path, dest: Path) -> None:
    if not dest.exists():
        staging.rename(dest)
        return
    for child in staging.iterdir():
        child.rename(dest / child.name)


def upload(
    src: Path, uri: str, progress: Progress | None = None, settings: S3Settings | None = None
) -> list[str]:
    """Upload a package file (to the key, or into the prefix) or a directory's files; return their URIs."""
    where, config = S3Uri.parse(uri), settings or S3Settings.from_env()
    if src.is_file():
        key = where.key if where.is_package or (where.key and not where.key.endswith("/")) else None
        pairs = [(src, key or where.prefix + src.name)]
    elif src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.is_file() and not p.is_symlink())
        pairs = [(p, where.prefix + p.relative_to(src).as_posix()) for p in files]
    else:
        raise ObjectStoreError(f"{src} is neither a model directory nor a package file")
    counter = _Counter(sum(p.stat().st_size for p, _ in pairs), progress)
    try:
        client, transfer = make_client(config), transfer_config()
        for path, key in pairs:
            client.upload_file(str(path), where.bucket, key, Config=transfer, Callback=counter)
    except Exception as error:
        raise describe(error, where, config) from error
    counter.finish()
    return [f"s3://{where.bucket}/{key}" for _, key in pairs]
