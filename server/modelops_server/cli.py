"""`modelops-server serve` (the pod's main process) and `modelops-server fetch` (its init container).

Every `serve` flag also reads `MODELOPS_SERVER_<FLAG>` (and `--models-dir` the seed's `MODELS_DIR`); the
values become one validated ServerSettings before anything starts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from modelops.package.errors import PackageError
from modelops_server.logs import configure_logging, get_logger, log_event
from modelops_server.settings import FaultSettings, ServerSettings, SettingsError

LOG = get_logger("cli")
PREFIX = "MODELOPS_SERVER_"
Command = TypeVar("Command", bound=Callable[..., Any])


def _option(flag: str, *decls: str, **kwargs: Any) -> Callable[[Command], Command]:
    name = flag.split("/", maxsplit=1)[0].lstrip("-").replace("-", "_").upper()
    envvar = kwargs.pop("envvar", f"{PREFIX}{name}")
    return click.option(flag, *decls, envvar=envvar, show_envvar=True, **kwargs)


@click.group()
def main() -> None:
    """modelops inference server."""


@main.command()
@_option("--models-dir", envvar=["MODELS_DIR", f"{PREFIX}MODELS_DIR"], type=click.Path(path_type=Path),
         default=Path("/app/models"), help="Seed models directory (MODELS_DIR).")  # fmt: skip
@_option("--model-type", required=True, help="Model type, e.g. safety_classifier.")
@_option("--version", "model_version", default="latest", help="Version to serve, or 'latest'.")
@_option("--host", default="0.0.0.0", help="Listen address.")
@_option("--port", type=int, default=8080, help="Listen port.")
@_option("--grpc-port", type=int, default=0, help="OIP v2 gRPC listen port; 0 turns gRPC off.")
@_option("--package", default=None, help="Serve a .tar.gz package (path or http(s) URL) instead.")
@_option("--work-dir", type=click.Path(path_type=Path), default=Path("/tmp/modelops-server"),
         help="Where packages are unpacked.")  # fmt: skip
@_option("--expected-digest", default=None, help="Pinned artifact digest (sha256 of manifest.json).")
@_option("--public-key", type=click.Path(path_type=Path), default=None, help="PEM public key for signatures.")
@_option("--require-signature/--no-require-signature", default=False, help="Refuse unsigned models.")
@_option("--trusted-keys", default=None, help="Comma-separated sha256 fingerprints the public key must have.")
@_option("--threads", type=int, default=1, help="ONNX Runtime intra-op threads.")
@_option("--max-batch-size", type=int, default=8, help="Rows per model run; 1 disables batching.")
@_option("--max-batch-delay-ms", type=float, default=2.0, help="Longest wait to fill a batch under load.")
@_option("--max-text-chars", type=int, default=10_000, help="Longer texts are refused with 400.")
@_option("--max-texts", type=int, default=256, help="Texts per request.")
@_option("--max-body-bytes", type=int, default=1 << 20, help="Larger bodies are refused with 413.")
@_option("--auth-token-file", type=click.Path(path_type=Path), default=None, help="Bearer token file.")
@_option("--max-prompt-tokens", type=int, default=2048, help="Text generation: longer prompts get 400.")
@_option("--max-new-tokens", type=int, default=512, help="Text generation: most new tokens per request.")
@_option("--max-generations", type=int, default=4, help="Text generation: generations running at once.")
@_option("--max-queued-generations", type=int, default=32, help="Waiting generations; past this, 429.")
@_option("--generation-deadline-s", type=float, default=120.0, help="A generation ends at this age.")
@_option("--stream-chunk-ms", type=float, default=50.0,
         help="Streams: tokens decoded within this interval share one event (0 = each token).")  # fmt: skip
@_option("--guardrail-url", default=None, help="Safety classifier predict URL asked before generating.")
@_option("--guardrail-label", default="risk", help="The guardrail classifier's risk label.")
@_option(
    "--guardrail-threshold", type=float, default=0.5, help="Risk score that triggers the crisis response."
)
@_option("--crisis-response", default=None, help="The answer to a risk message (default: crisis lines).")
@_option("--metrics-token-file", type=click.Path(path_type=Path), default=None,
         help="Token file guarding /metrics and the health details (metricsAuth).")  # fmt: skip
@_option("--shadow-config-file", type=click.Path(path_type=Path), default=None,
         help="Shadow mirror target file written by the operator; re-read while serving.")  # fmt: skip
@_option("--log-level", default="INFO", help="Log level.")
@_option("--fault-error-rate", type=float, default=0.0, hidden=True)
@_option("--fault-latency-ms", type=float, default=0.0, hidden=True)
@_option("--fault-versions", default="", hidden=True)
def serve(**options: Any) -> None:
    """Verify, load and serve one model."""
    configure_logging(options["log_level"])
    try:
        settings = build_settings(options)
        settings.read_auth_token()
        settings.read_metrics_token()
    except (SettingsError, OSError) as error:
        raise click.UsageError(str(error)) from error
    log_event(LOG, "startup_configuration", settings=settings.describe())
    run_server(settings)


def build_settings(options: dict[str, Any]) -> ServerSettings:
    """Turn the CLI's options into the validated settings object."""
    versions = tuple(v.strip() for v in options.pop("fault_versions").split(",") if v.strip())
    faults = FaultSettings(options.pop("fault_error_rate"), options.pop("fault_latency_ms"), versions)
    options["version"] = options.pop("model_version")
    if options.get("crisis_response") is None:
        options.pop("crisis_response", None)  # the settings' own default message
    options["trusted_keys"] = tuple(
        k.strip().lower() for k in (options["trusted_keys"] or "").split(",") if k.strip()
    )
    return ServerSettings(faults=faults, **options)


def run_server(settings: ServerSettings) -> None:
    """Run uvicorn (uvloop + httptools when available) on the settings' address."""
    import importlib.util

    import uvicorn

    from modelops_server.app import create_app

    fast = (
        importlib.util.find_spec("uvloop") is not None and importlib.util.find_spec("httptools") is not None
    )
    if settings.threads == 1:
        # One core for the model: tokenizers' rayon pool only adds hand-offs (~20% more CPU per row).
        # Set once before anything tokenizes; an operator's explicit value wins.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False,
        loop="uvloop" if fast else "asyncio", http="httptools" if fast else "h11", lifespan="on",
        server_header=False,
    )  # fmt: skip
    uvicorn.Server(config).run()


@main.command()
@click.argument("src")
@click.argument("dest", type=click.Path(path_type=Path))
@_option("--expected-digest", default=None, help="Verify manifest.json against this pinned digest.")
@_option("--fetch-max-bytes", type=int, default=None, help="Refuse artifacts larger than this.")
@_option("--cache-dir", type=click.Path(path_type=Path), default=None, help="Node-local cache (by digest).")
@_option(
    "--cache-max-bytes", type=int, default=10 << 30, help="Evict least recently used entries above this."
)
@_option("--decryption-key-file", type=click.Path(path_type=Path), default=None,
         help="Key file (base64) of an encrypted package; the node cache is then not used.")  # fmt: skip
def fetch(src: str, dest: Path, **options: Any) -> None:
    """Fetch SRC (package path, http(s) URL, or s3:// package or directory) safely into DEST."""
    import shutil

    configure_logging("INFO")
    digest = options["expected_digest"]
    try:
        _fetch_verified(src, dest, options)
    except PackageError as error:
        if digest and dest.exists():
            shutil.rmtree(dest, ignore_errors=True)  # nothing unverified is left for the server
        log_event(LOG, "fetch_failed", 40, src=src, dest=str(dest), error=str(error))
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    click.echo(orjson.dumps({"fetched": src, "into": str(dest), "files": files}).decode())


def _fetch_verified(src: str, dest: Path, options: dict[str, Any]) -> None:
    """From the node cache when it holds the digest, else from SRC, verified against the pinned digest
    before anything reaches DEST (loader.fetch); then kept in the cache."""
    from modelops.package.encryption import EncryptionError, load_key
    from modelops.package.errors import ManifestError
    from modelops_server.fetch_cache import DigestCache
    from modelops_server.loader import fetch as fetch_package

    digest, cache_dir = options["expected_digest"], options["cache_dir"]
    key_file = options.get("decryption_key_file")
    key = load_key(key_file) if key_file else None
    # The cache holds clear model directories on the node's disk: never for an encrypted package.
    cache = DigestCache(cache_dir, options["cache_max_bytes"]) if cache_dir and digest and not key else None
    if cache and cache.restore(digest, dest):
        log_event(LOG, "fetch_cache_hit", src=src, digest=digest)
        return
    try:
        fetch_package(src, dest, options["fetch_max_bytes"], expected_digest=digest, decryption_key=key)
    except (ManifestError, EncryptionError) as error:
        raise type(error)(f"{src}: {error}") from error
    if cache:
        try:
            cache.store(dest, digest)
        except OSError as error:  # a full or read-only cache must not fail a verified fetch
            log_event(LOG, "fetch_cache_store_failed", 30, digest=digest, error=str(error))
