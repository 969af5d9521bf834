"""The `s3://` pieces that need no server: URI parsing, settings from the environment, limits, and
error messages that name the URI and the cause without a credential. The transfers themselves run
against a real S3-compatible server in tests/integration/test_object_store.py."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, NoCredentialsError

from modelops.objectstore.config import ObjectStoreError, S3Settings, S3Uri, describe, mask_secrets
from modelops.objectstore.transfer import FetchLimits, RemoteObject, _check_limits, _relative


def test_uri_parts_package_and_prefix() -> None:
    package = S3Uri.parse("s3://models/team/m-1.tar.gz")
    assert (package.bucket, package.key, package.is_package) == ("models", "team/m-1.tar.gz", True)
    directory = S3Uri.parse("s3://models/team/v1")
    assert not directory.is_package and directory.prefix == "team/v1/"
    assert str(directory.child("model.onnx")) == "s3://models/team/v1/model.onnx"
    assert S3Uri.parse("s3://models").prefix == ""


@pytest.mark.parametrize("uri", ["https://x/y", "s3:///key", "s3://b/../etc/"])
def test_bad_uris_are_refused(uri: str) -> None:
    with pytest.raises(ObjectStoreError, match="s3://"):
        S3Uri.parse(uri)


def test_settings_from_env() -> None:
    assert S3Settings.from_env({}) == S3Settings(None, "us-east-1", "auto")
    custom = S3Settings.from_env(
        {"AWS_ENDPOINT_URL": "http://10.0.0.1:7070", "AWS_REGION": "eu-west-1",
         "MODELOPS_S3_READ_TIMEOUT": "2.5", "MODELOPS_S3_MAX_ATTEMPTS": "3"}
    )  # fmt: skip
    assert (custom.endpoint, custom.region, custom.addressing_style) == (
        "http://10.0.0.1:7070",
        "eu-west-1",
        "path",
    )
    assert (custom.read_timeout_s, custom.max_attempts) == (2.5, 3)
    with pytest.raises(ObjectStoreError, match="MODELOPS_S3_ADDRESSING_STYLE"):
        S3Settings.from_env({"MODELOPS_S3_ADDRESSING_STYLE": "sideways"})
    with pytest.raises(ObjectStoreError, match="invalid"):
        S3Settings.from_env({"MODELOPS_S3_MAX_ATTEMPTS": "many"})


def _client_error(code: str, message: str, status: int = 400) -> ClientError:
    answer = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(answer, "GetObject")  # type: ignore[arg-type]


def test_errors_name_uri_and_cause_and_mask_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-value")
    settings = S3Settings(endpoint="http://store:9000")
    uri = S3Uri.parse("s3://models/v1/")
    assert str(describe(_client_error("NoSuchBucket", ""), uri, settings)) == (
        "s3://models/v1/: the bucket does not exist"
    )
    assert "access denied" in str(describe(_client_error("SignatureDoesNotMatch", ""), uri, settings))
    unknown_user = describe(_client_error("XUserNotFound", "no such user", 403), uri, settings)
    assert (
        str(unknown_user)
        == "s3://models/v1/: access denied (XUserNotFound: no such user; check the credentials)"
    )
    leaky = describe(_client_error("Weird", "key s3cr3t-value rejected"), uri, settings)
    assert "s3cr3t-value" not in str(leaky) and "***" in str(leaky)
    timeout = describe(ConnectTimeoutError(endpoint_url="http://store:9000"), uri, settings)
    assert str(timeout) == "s3://models/v1/: the endpoint http://store:9000 timed out"
    assert "no credentials" in str(describe(NoCredentialsError(), uri, settings))
    assert mask_secrets("a s3cr3t-value b", {"AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}) == "a *** b"


def test_limits_are_checked_on_the_listing() -> None:
    uri = S3Uri.parse("s3://models/v1/")
    objects = [RemoteObject("v1/a", 600), RemoteObject("v1/b", 600)]
    with pytest.raises(ObjectStoreError, match="1200 bytes, larger than the limit of 1000"):
        _check_limits(uri, objects, FetchLimits(max_bytes=1000))
    with pytest.raises(ObjectStoreError, match="more than the limit of 1"):
        _check_limits(uri, objects, FetchLimits(max_files=1))
    _check_limits(uri, objects, FetchLimits())


def test_object_keys_must_stay_inside_the_destination() -> None:
    uri = S3Uri.parse("s3://models/v1/")
    assert _relative(uri, "v1/sub/tokenizer.json").as_posix() == "sub/tokenizer.json"
    with pytest.raises(ObjectStoreError, match="not a safe relative path"):
        _relative(uri, "v1/../../etc/passwd")
