"""Where an `s3://` artifact lives and how to reach its store: URI parsing, client settings and errors.

The settings come from the environment, which the operator fills from the ModelDeployment's
`spec.storage.s3.secretName` Secret (`envFrom`), so credentials never appear in a pod spec. Every
message names the URI and the cause and never contains a credential. Used by `transfer` (the init
container's `modelops-server fetch` and `modelctl push`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelops.package.errors import PackageError

SCHEME = "s3://"
# .tar.gz.enc: an encrypted package (modelops/package/encryption.py)
PACKAGE_SUFFIXES = (".tar.gz", ".tgz", ".tar.gz.enc")
# Environment variables a storage Secret may hold (the AWS names, so the usual tools read them too).
ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
SECRET_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
ADDRESSING_VAR = "MODELOPS_S3_ADDRESSING_STYLE"
CONNECT_TIMEOUT_VAR = "MODELOPS_S3_CONNECT_TIMEOUT"
READ_TIMEOUT_VAR = "MODELOPS_S3_READ_TIMEOUT"
ATTEMPTS_VAR = "MODELOPS_S3_MAX_ATTEMPTS"


class ObjectStoreError(PackageError):
    """An object store request failed; the message names the URI and the cause, never a credential."""


@dataclass(frozen=True)
class S3Uri:
    """`s3://bucket/key`: a package when the key ends in PACKAGE_SUFFIXES, else a directory prefix."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not uri.startswith(SCHEME):
            raise ObjectStoreError(f"{uri!r} is not an s3:// URI")
        bucket, _, key = uri.removeprefix(SCHEME).partition("/")
        if not bucket or ".." in key.split("/"):
            raise ObjectStoreError(f"{uri!r} must be s3://<bucket>/<key or prefix/> without '..'")
        return cls(bucket, key)

    @property
    def is_package(self) -> bool:
        return self.key.endswith(PACKAGE_SUFFIXES)

    @property
    def prefix(self) -> str:
        """The key as a directory prefix ('' for the whole bucket, else ending in '/')."""
        return self.key if not self.key or self.key.endswith("/") else self.key + "/"

    def child(self, relative: str) -> S3Uri:
        return S3Uri(self.bucket, self.prefix + relative)

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"


def is_s3_uri(uri: str) -> bool:
    return uri.startswith(SCHEME)


@dataclass(frozen=True)
class S3Settings:
    """Endpoint, region, addressing style, timeouts and retries; credentials stay in boto3's chain."""

    endpoint: str | None = None
    region: str = "us-east-1"
    addressing_style: str = "path"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_attempts: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Settings:
        source = os.environ if env is None else env
        endpoint = next((source[v] for v in ENDPOINT_VARS if source.get(v)), None)
        region = next((source[v] for v in REGION_VARS if source.get(v)), "us-east-1")
        style = source.get(ADDRESSING_VAR) or ("path" if endpoint else "auto")
        if style not in ("path", "virtual", "auto"):
            raise ObjectStoreError(f"{ADDRESSING_VAR} must be path, virtual or auto, not {style!r}")
        try:
            return cls(
                endpoint, region, style,
                float(source.get(CONNECT_TIMEOUT_VAR) or 10.0),
                float(source.get(READ_TIMEOUT_VAR) or 60.0),
                int(source.get(ATTEMPTS_VAR) or 5),
            )  # fmt: skip
        except ValueError as error:
            raise ObjectStoreError(f"invalid S3 timeout or attempts setting: {error}") from error


def make_client(settings: S3Settings) -> Any:
    """A boto3 S3 client with standard retries (backoff on throttling, 5xx and connection errors)."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=settings.region,
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        s3={"addressing_style": settings.addressing_style},
        signature_version="s3v4",
    )
    return boto3.session.Session().client("s3", endpoint_url=settings.endpoint, config=config)


_CAUSES = {
    "NoSuchBucket": "the bucket does not exist",
    "NoSuchKey": "the object does not exist",
    "404": "the object does not exist",
    "NotFound": "the object does not exist",
    "InvalidAccessKeyId": "access denied: the access key is not known to the store (check the credentials)",
    "SignatureDoesNotMatch": "access denied: the secret key does not match (check the credentials)",
    "AccessDenied": "access denied (check the credentials and the bucket policy)",
    "403": "access denied (check the credentials and the bucket policy)",
}


def describe(error: BaseException, uri: S3Uri | str, settings: S3Settings) -> ObjectStoreError:
    """An ObjectStoreError naming the URI and the cause; any credential in the text is masked."""
    from botocore import exceptions as boto

    if isinstance(error, ObjectStoreError):
        return error
    if isinstance(error, boto.ClientError):
        cause = _client_cause(error.response)
    elif isinstance(error, boto.NoCredentialsError):
        cause = "no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, e.g. from the Secret)"
    elif isinstance(error, boto.ConnectTimeoutError | boto.ReadTimeoutError):
        cause = f"the endpoint {settings.endpoint or 'AWS'} timed out"
    elif isinstance(error, boto.EndpointConnectionError):
        cause = f"cannot connect to the endpoint {settings.endpoint or 'AWS'}"
    elif isinstance(error, PackageError):  # the package's own words (e.g. a sha256 mismatch)
        cause = str(error)
    else:
        cause = f"{type(error).__name__}: {error}"
    return ObjectStoreError(mask_secrets(f"{uri}: {cause}"))


def _client_cause(response: dict[str, Any]) -> str:
    """The store's answer in words: known codes, else by HTTP status (stores spell codes differently)."""
    code = str(response.get("Error", {}).get("Code", "")) or "unknown"
    detail = f"{code}: {response.get('Error', {}).get('Message', '')}".rstrip(": ")
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    if code in _CAUSES:
        return _CAUSES[code]
    if status in (401, 403) or "access key" in detail.lower():  # versitygw answers 404 to unknown keys
        return f"access denied ({detail}; check the credentials)"
    if status == 404:
        return f"not found ({detail})"
    return f"HTTP {status} {detail}" if status else detail


def mask_secrets(text: str, env: Mapping[str, str] | None = None) -> str:
    """`text` with the value of every credential variable replaced by ***."""
    source = os.environ if env is None else env
    for name in SECRET_VARS:
        value = source.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text
