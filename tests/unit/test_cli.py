"""`modelctl` commands on the file registry: outputs in every format, exit codes and one-line errors,
sign/verify (a tampered package fails), health against a real HTTP server."""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from modelops.cli.main import cli
from modelops.package.manifest import build_manifest, manifest_bytes

TYPE = "safety_classifier"


@pytest.fixture
def models(tmp_path: Path) -> Path:
    return tmp_path / "ml" / "models"


def run(models: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--registry", "file", "--models-dir", str(models), *args])


def ok(models: Path, *args: str) -> Result:
    result = run(models, *args)
    assert result.exit_code == 0, result.output
    return result


def registered(models: Path, *versions: str) -> None:
    for version in versions:
        ok(
            models,
            "register",
            TYPE,
            version,
            "--metric",
            "accuracy=0.9",
            "--metric",
            "training_date=2024-01-01",
        )


def test_register_versions_latest_in_json_and_yaml(models: Path) -> None:
    registered(models, "v1.0.0", "v1.10.0", "v1.2.0")
    rows = json.loads(ok(models, "versions", TYPE, "-o", "json").output)
    assert [r["version"] for r in rows] == ["v1.0.0", "v1.2.0", "v1.10.0"] and rows[0]["accuracy"] == 0.9
    assert yaml.safe_load(ok(models, "-o", "yaml", "latest", TYPE).output) == {
        "model_type": TYPE,
        "latest": "v1.10.0",
    }
    assert ok(models, "latest", TYPE).output.strip() == "v1.10.0"
    assert "v1.10.0" in ok(models, "versions", TYPE).output  # table


def test_deploy_deployed_status_and_rollback(models: Path) -> None:
    registered(models, "v1.0.0", "v1.1.0")
    ok(models, "deploy", TYPE, "v1.0.0", "--env", "production")
    ok(models, "deploy", TYPE, "v1.1.0", "--env", "production")
    ok(models, "deploy", TYPE, "v1.0.0", "--env", "staging")
    assert ok(models, "deployed", TYPE, "--env", "production").output.strip() == "v1.1.0"
    status = json.loads(ok(models, "status", "-o", "json").output)
    assert {(r["environment"], r["desired"], r["serving"]) for r in status} == {
        ("production", "v1.1.0", "v1.1.0"),
        ("staging", "v1.0.0", "v1.0.0"),
    }
    back = json.loads(ok(models, "rollback", TYPE, "--env", "production", "-o", "json").output)
    assert back["desired"] == "v1.0.0"
    ok(models, "rollback", TYPE, "--env", "production", "--to", "v1.1.0")
    assert ok(models, "deployed", TYPE, "--env", "production").output.strip() == "v1.1.0"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["deploy", TYPE, "v9.0.0"], "safety_classifier v9.0.0 is not registered"),
        (["register", TYPE, "1.2"], "invalid version '1.2'"),
        (["latest", "intent_classifier"], "no version of intent_classifier is registered"),
        (
            ["deployed", TYPE, "--env", "production"],
            "no version of safety_classifier is serving in production",
        ),
        (["rollback", TYPE], "safety_classifier was never deployed to production"),
        (["register", "Bad", "v1.0.0"], "Bad"),
    ],
)
def test_errors_exit_non_zero_with_one_line_reason(models: Path, args: list[str], reason: str) -> None:
    registered(models, "v1.0.0")
    result = run(models, *args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and reason in lines[0]


def test_registering_different_content_is_a_conflict(models: Path) -> None:
    registered(models, "v1.0.0")
    result = run(models, "register", TYPE, "v1.0.0", "--metric", "accuracy=0.1")
    assert result.exit_code == 1 and "already registered" in result.output


def _model_dir(models: Path, version: str = "v1.0.0") -> Path:
    directory = models / TYPE / version
    directory.mkdir(parents=True)
    (directory / "model.onnx").write_bytes(b"onnx-bytes" * 100)
    (directory / "metadata.json").write_text(
        json.dumps({"model_type": TYPE, "version": version, "labels": ["safe", "risk"]})
    )
    return directory


def _tamper_package(package: Path, out: Path, rewrite_manifest: bool) -> Path:
    with tarfile.open(package) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    files["model.onnx"] = b"evil" + files["model.onnx"][4:]
    if rewrite_manifest:
        scratch = out.parent / "scratch"
        scratch.mkdir()
        for name in ("model.onnx", "metadata.json"):
            (scratch / name).write_bytes(files[name])
        files["manifest.json"] = manifest_bytes(build_manifest(scratch))
    with tarfile.open(out, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def test_sign_package_verify_and_tampered_package_fails(models: Path, tmp_path: Path) -> None:
    _model_dir(models)
    ok(models, "keygen", "--out-dir", str(tmp_path / "keys"))
    private, public = tmp_path / "keys" / "signing-key.pem", tmp_path / "keys" / "signing-key.pub"
    ok(models, "sign", "--type", TYPE, "--version", "v1.0.0", "--key", str(private))
    built = json.loads(ok(models, "package", "--type", TYPE, "--version", "v1.0.0", "-o", "json").output)
    package = Path(built["package"])
    assert package == tmp_path / "ml" / "model_packages" / "safety_classifier_v1.0.0.tar.gz"
    ok(models, "verify", "--package", str(package), "--public-key", str(public))
    hidden = _tamper_package(package, tmp_path / "hidden.tar.gz", rewrite_manifest=True)
    result = run(models, "verify", "--package", str(hidden), "--public-key", str(public))
    assert result.exit_code == 1 and "signature verification failed" in result.output
    plain = _tamper_package(package, tmp_path / "plain.tar.gz", rewrite_manifest=False)
    result = run(models, "verify", "--package", str(plain))
    assert result.exit_code == 1 and "sha256 mismatch for model.onnx" in result.output


def test_register_pins_the_manifest_digest(models: Path) -> None:
    _model_dir(models)
    ok(models, "package", "--type", TYPE, "--version", "v1.0.0")
    row = json.loads(ok(models, "register", TYPE, "v1.0.0", "-o", "json").output)
    digest = json.loads(ok(models, "verify", "--type", TYPE, "--version", "v1.0.0", "-o", "json").output)[
        "sha256"
    ]
    assert row["sha256"] == digest


class _Health(BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, dict[str, object]]] = {}

    def do_GET(self) -> None:
        code, body = self.answers.get(self.path, (404, {"status": "unhealthy", "reason": "unknown path"}))
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    _Health.answers = {
        f"/api/v1/ml-models/{TYPE}/health": (
            200,
            {"model_type": TYPE, "version": "v1.0.0", "status": "healthy"},
        ),
        "/api/v1/ml-models/intent_classifier/health": (
            503,
            {"model_type": "intent_classifier", "status": "unhealthy", "reason": "golden check failed"},
        ),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_health_reports_healthy_and_unhealthy(models: Path, health_server: str) -> None:
    answer = json.loads(ok(models, "health", TYPE, "--url", health_server, "-o", "json").output)
    assert answer["status"] == "healthy" and answer["version"] == "v1.0.0"
    result = run(models, "health", "intent_classifier", "--url", health_server)
    assert result.exit_code == 1 and "golden check failed" in result.output


def test_unreachable_cluster_is_a_one_line_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "ns"}}],
                "current-context": "x",
            }
        )
    )
    result = CliRunner().invoke(cli, ["--kubeconfig", str(kubeconfig), "versions", TYPE])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Kubernetes API server at http://127.0.0.1:1" in lines[0]
    broken = tmp_path / "broken"
    broken.write_text("not: [a kubeconfig")
    result = CliRunner().invoke(cli, ["--kubeconfig", str(broken), "versions", TYPE])
    assert result.exit_code == 1 and "Kubernetes client" in result.output
