"""`s3://` artifacts against a real S3-compatible server (versitygw on loopback), no mocks.

Round trips `modelctl push` → `modelctl register --artifact s3://…` (a ModelVersion on the real
apiserver) → `modelops-server fetch` for a model directory and a package, and every bad input of the
issue: wrong credentials, missing bucket, missing key, a truncated object, an object over the limit,
an endpoint that times out, and an object overwritten after registration. Each failure must exit non-zero
with a message naming the URI and the cause, never a credential, and leave nothing at the destination.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelops.package.archive import build_package
from modelops.package.manifest import write_manifest
from support.models import make_model_dir
from support.s3server import S3Server, running_s3_server

BIN = Path(sys.executable).parent
MODEL = "safety_classifier"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3_server(tmp_path_factory.mktemp("s3")) as server:
        server.create_bucket("models")
        yield server


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("models"), MODEL, "v1.0.0")


def _env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MODELOPS_S3_"))}
    return {**base, **extra}


def _run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=_env(env), capture_output=True, text=True, timeout=timeout)


def push(s3: S3Server, src: Path, uri: str) -> dict[str, Any]:
    done = _run([str(BIN / "modelctl"), "push", str(src), uri, "-o", "json"], s3.env())
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def fetch(env: dict[str, str], uri: str, dest: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _run([str(BIN / "modelops-server"), "fetch", uri, str(dest), *extra], env)


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_failed(done: subprocess.CompletedProcess[str], dest: Path, *words: str, secret: str = "") -> None:
    assert done.returncode != 0, done.stdout
    last = done.stderr.strip().splitlines()[-1]
    for word in words:
        assert word in last, f"{word!r} not in {last!r}"
    if secret:
        assert secret not in done.stderr + done.stdout
    assert not dest.exists() or not any(dest.iterdir()), sorted(dest.rglob("*"))
    assert not list(dest.parent.glob(".fetch-*")), "a staging directory was left behind"


@pytest.mark.usefixtures("crds")
def test_directory_round_trip_through_a_registered_model_version(
    s3: S3Server, model_dir: Path, apiserver: Any, namespace: str, tmp_path: Path
) -> None:
    pushed = push(s3, model_dir, "s3://models/safety/v1.0.0")
    assert pushed["artifact"] == "s3://models/safety/v1.0.0/" and pushed["objects"] == len(_files(model_dir))
    registry = [str(BIN / "modelctl"), "--registry", "kubernetes", "--kubeconfig", str(apiserver.kubeconfig)]
    registry += ["-n", namespace]
    done = _run(
        [*registry, "register", MODEL, "v1.0.0", "--model-dir", str(model_dir), "--artifact",
         pushed["artifact"], "--digest", pushed["sha256"], "-o", "json"], {},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    mv = apiserver.client.get("modelversion", "safety-classifier-v1-0-0", namespace)
    artifact = mv["spec"]["artifact"]
    assert artifact["uri"] == "s3://models/safety/v1.0.0/" and artifact["sha256"] == pushed["sha256"]
    dest = tmp_path / "fetched" / MODEL / "v1.0.0"
    got = fetch(s3.env(), artifact["uri"], dest, "--expected-digest", artifact["sha256"])
    assert got.returncode == 0, got.stderr
    assert _files(dest) == _files(model_dir)
    assert "fetch_progress" in got.stderr
    s3.wait_logged("s3_GetObject", "safety/v1.0.0/model.onnx")


def test_package_round_trip(s3: S3Server, model_dir: Path, tmp_path: Path) -> None:
    package = build_package(model_dir, tmp_path / "safety_v1.tar.gz")
    pushed = push(s3, package, "s3://models/packages/")
    assert pushed["artifact"] == "s3://models/packages/safety_v1.tar.gz"
    dest = tmp_path / "fetched"
    got = fetch(s3.env(), pushed["artifact"], dest, "--expected-digest", pushed["sha256"])
    assert got.returncode == 0, got.stderr
    assert _files(dest) == _files(model_dir)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("wrong-secret", ("s3://models/safety/v1.0.0/", "access denied")),
        ("wrong-access-key", ("s3://models/safety/v1.0.0/", "access denied")),
        ("missing-bucket", ("s3://absent/safety/v1.0.0/", "does not exist")),
        ("missing-prefix", ("s3://models/absent/", "no objects")),
        ("missing-package", ("s3://models/absent.tar.gz", "does not exist")),
    ],
)
def test_unreachable_artifacts_name_the_uri_and_cause(
    s3: S3Server, model_dir: Path, tmp_path: Path, case: str, words: tuple[str, ...]
) -> None:
    push(s3, model_dir, "s3://models/safety/v1.0.0/")
    env = s3.env()
    if case == "wrong-secret":
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret-key-" + s3.secret_key[:6]
    if case == "wrong-access-key":
        env["AWS_ACCESS_KEY_ID"] = "nobody-knows-this-key"
    dest = tmp_path / "fetched"
    assert_failed(fetch(env, words[0], dest), dest, *words, secret=env["AWS_SECRET_ACCESS_KEY"])


@pytest.mark.parametrize("damage", ["none", "wrong key", "truncated", "flipped"])
def test_encrypted_package_push_and_fetch(s3: S3Server, model_dir: Path, tmp_path: Path, damage: str) -> None:
    from modelops.package.encryption import encode_key, generate_key

    key = tmp_path / "model.key"
    key.write_text(encode_key(generate_key()))
    uri = f"s3://models/encrypted/{damage.replace(' ', '-')}.tar.gz.enc"
    done = _run([str(BIN / "modelctl"), "push", str(model_dir), uri, "--encrypt-key", str(key), "-o", "json"],
                s3.env())  # fmt: skip
    assert done.returncode == 0, done.stderr
    pushed = json.loads(done.stdout)
    assert (pushed["artifact"], pushed["sha256"]) == (uri, write_manifest(model_dir))
    stored = s3.client().get_object(Bucket="models", Key=uri.removeprefix("s3://models/"))["Body"].read()
    assert stored.startswith(b"MOPSENC") and (model_dir / "model.onnx").read_bytes()[:64] not in stored
    if damage == "wrong key":
        key.write_text(encode_key(generate_key()))
    elif damage in {"truncated", "flipped"}:
        body = bytearray(stored[:-20] if damage == "truncated" else stored)
        body[len(body) // 2] ^= 0x10 if damage == "flipped" else 0
        s3.client().put_object(Bucket="models", Key=uri.removeprefix("s3://models/"), Body=bytes(body))
    dest = tmp_path / "fetched"
    got = fetch(s3.env(), uri, dest, "--expected-digest", pushed["sha256"], "--decryption-key-file", str(key))
    if damage == "none":
        assert got.returncode == 0, got.stderr
        assert _files(dest) == _files(model_dir)
        return
    reason = "wrong decryption key" if damage == "wrong key" else "failed authentication"
    assert_failed(got, dest, uri, reason)


def test_truncated_package_is_refused(s3: S3Server, model_dir: Path, tmp_path: Path) -> None:
    whole = build_package(model_dir, tmp_path / "whole.tar.gz").read_bytes()
    s3.client().put_object(Bucket="models", Key="truncated.tar.gz", Body=whole[: len(whole) // 2])
    dest = tmp_path / "fetched"
    done = fetch(s3.env(), "s3://models/truncated.tar.gz", dest)
    assert_failed(done, dest, "s3://models/truncated.tar.gz", "not a readable tar.gz")


def test_truncated_model_file_fails_the_pinned_digest(s3: S3Server, model_dir: Path, tmp_path: Path) -> None:
    pushed = push(s3, model_dir, "s3://models/cut/v1.0.0/")
    onnx = (model_dir / "model.onnx").read_bytes()
    s3.client().put_object(Bucket="models", Key="cut/v1.0.0/model.onnx", Body=onnx[: len(onnx) // 2])
    dest = tmp_path / "fetched"
    done = fetch(s3.env(), pushed["artifact"], dest, "--expected-digest", pushed["sha256"])
    assert_failed(done, dest, "sha256 mismatch for model.onnx")


def test_overwritten_manifest_fails_the_pinned_digest(s3: S3Server, model_dir: Path, tmp_path: Path) -> None:
    pushed = push(s3, model_dir, "s3://models/overwritten/v1.0.0/")
    manifest = (model_dir / "manifest.json").read_bytes().replace(b"\n}", b',\n"x": 1\n}', 1)
    s3.client().put_object(Bucket="models", Key="overwritten/v1.0.0/manifest.json", Body=manifest)
    dest = tmp_path / "fetched"
    done = fetch(s3.env(), pushed["artifact"], dest, "--expected-digest", pushed["sha256"])
    assert_failed(done, dest, "sha256 mismatch for manifest.json", pushed["sha256"])


def test_object_over_the_limit_is_refused_before_download(
    s3: S3Server, model_dir: Path, tmp_path: Path
) -> None:
    package = build_package(model_dir, tmp_path / "big.tar.gz")
    pushed = push(s3, package, "s3://models/limit/big.tar.gz")
    dest = tmp_path / "fetched"
    done = fetch(s3.env(), pushed["artifact"], dest, "--fetch-max-bytes", "1000")
    assert_failed(done, dest, "s3://models/limit/big.tar.gz", "larger than the limit of 1000 bytes")
    s3.wait_logged("s3_HeadObject", "limit/big.tar.gz")
    assert s3.requests("s3_GetObject", "limit/big.tar.gz") == 0, "the object was downloaded despite the limit"


def test_endpoint_that_never_answers_times_out(s3: S3Server, tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        env = s3.env(
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", MODELOPS_S3_READ_TIMEOUT="1",
            MODELOPS_S3_CONNECT_TIMEOUT="1", MODELOPS_S3_MAX_ATTEMPTS="2",
        )  # fmt: skip
        dest = tmp_path / "fetched"
        done = fetch(env, "s3://models/safety/v1.0.0/", dest)
    assert_failed(
        done, dest, "s3://models/safety/v1.0.0/", f"127.0.0.1:{port}", "timed out", secret=s3.secret_key
    )


def test_large_file_round_trips_in_parallel_parts(s3: S3Server, model_dir: Path, tmp_path: Path) -> None:
    big = tmp_path / "big"
    shutil.copytree(model_dir, big)
    (big / "weights.bin").write_bytes(os.urandom(20 << 20))  # 3 parts of 8 MiB each way
    digest = write_manifest(big)
    pushed = push(s3, big, "s3://models/big/v1.0.0/")
    assert pushed["sha256"] == digest
    dest = tmp_path / "fetched"
    got = fetch(s3.env(), pushed["artifact"], dest, "--expected-digest", digest)
    assert got.returncode == 0, got.stderr
    assert _files(dest) == _files(big)
    s3.wait_logged("s3_CompleteMultipartUpload", "big/v1.0.0/weights.bin")
    s3.wait_logged("s3_GetObject", "big/v1.0.0/weights.bin", count=3)  # ranged GETs of 8 MiB parts


def test_node_cache_serves_a_verified_copy_without_the_store(
    s3: S3Server, model_dir: Path, tmp_path: Path
) -> None:
    pushed = push(s3, model_dir, "s3://models/cached/v1.0.0/")
    cache, pin = tmp_path / "cache", ("--expected-digest", pushed["sha256"])
    first = fetch(s3.env(), pushed["artifact"], tmp_path / "a", *pin, "--cache-dir", str(cache))
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in cache.iterdir()) == [pushed["sha256"]]
    # Wrong credentials: only a cache hit can succeed (a rollback or a second replica on the node).
    denied = s3.env(AWS_SECRET_ACCESS_KEY="wrong-secret-key")
    second = fetch(denied, pushed["artifact"], tmp_path / "b", *pin, "--cache-dir", str(cache))
    assert second.returncode == 0 and "fetch_cache_hit" in second.stderr, second.stderr
    assert _files(tmp_path / "b") == _files(model_dir)
    # A damaged entry is re-verified, dropped and fetched again (which now needs the store).
    (cache / pushed["sha256"] / "model.onnx").write_bytes(b"damaged on the node")
    third = fetch(denied, pushed["artifact"], tmp_path / "c", *pin, "--cache-dir", str(cache))
    assert_failed(third, tmp_path / "c", "access denied")
    assert list(cache.iterdir()) == [], "nothing damaged or partial may stay in the cache"
