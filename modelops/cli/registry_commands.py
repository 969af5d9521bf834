"""`modelctl register | deploy | rollback | versions | latest | deployed`: the seed's registry steps.

Thin wrappers over `ModelRegistry`; `register` reads a model directory's metadata.json and manifest
digest so the registered version pins exactly the files that were exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from modelops.cli.context import CliContext, chosen_output, output_option, pass_context
from modelops.cli.output import render
from modelops.package.manifest import MANIFEST_NAME, manifest_digest
from modelops.package.metadata import METADATA_NAME, ModelMetadata
from modelops.registry.records import Artifact, DeploymentRecord, VersionRecord
from modelops.versions import canonical


def registry_metadata(model_dir: Path) -> dict[str, Any]:
    """The seed's registry metadata (metrics, training_data_size, training_date, labels) of a model."""
    if not (model_dir / METADATA_NAME).is_file():
        return {}
    metadata = ModelMetadata.load(model_dir)
    result: dict[str, Any] = dict(metadata.metrics)
    if "data_size" in metadata.training:
        result["training_data_size"] = int(metadata.training["data_size"])
    if "date" in metadata.training:
        result["training_date"] = str(metadata.training["date"])
    result["labels"] = list(metadata.labels)
    return result


def artifact_of(model_dir: Path, signature_secret: str | None = None) -> Artifact | None:
    """The artifact (absolute directory, manifest digest) when the directory has a manifest."""
    if not (model_dir / MANIFEST_NAME).is_file():
        if signature_secret:
            raise click.ClickException(
                f"--signature-secret needs a signed model: no {MANIFEST_NAME} in {model_dir}"
            )
        return None
    digest = manifest_digest(model_dir)
    return Artifact(uri=str(model_dir.resolve()), sha256=digest, signature_secret=signature_secret)


def remote_artifact(uri: str, digest: str | None, signature_secret: str | None) -> Artifact:
    """An artifact stored elsewhere (s3://, http(s)://): its digest comes from --digest or the local copy."""
    if not digest:
        raise click.ClickException(
            f"--artifact {uri} needs --digest (printed by `modelctl push`) or a local --model-dir with "
            f"{MANIFEST_NAME}"
        )
    return Artifact(uri=uri, sha256=digest, signature_secret=signature_secret)


def _parse_metrics(pairs: tuple[str, ...]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--metric")
        try:
            parsed[key] = float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            parsed[key] = value
    return parsed


def version_row(record: VersionRecord) -> dict[str, Any]:
    """One registered version as a row."""
    metrics = record.metadata
    return {
        "model_type": record.model_type,
        "version": record.version,
        "registered_at": record.registered_at,
        "accuracy": metrics.get("accuracy"),
        "precision": metrics.get("precision"),
        "recall": metrics.get("recall"),
        "sha256": record.artifact.sha256 if record.artifact else None,
    }


def deployment_row(record: DeploymentRecord) -> dict[str, Any]:
    """One environment's deployment as a row."""
    return {
        "model_type": record.model_type,
        "environment": record.environment,
        "desired": record.version,
        "serving": record.serving_version,
        "stable": record.stable_version,
        "status": record.status,
        "deployed_at": record.deployed_at,
    }


@click.command()
@click.argument("model_type")
@click.argument("version")
@click.option("--metric", "metrics", multiple=True, help="Extra metadata KEY=VALUE (repeatable).")
@click.option("--model-dir", type=click.Path(path_type=Path), help="Default: <models-dir>/<type>/<version>.")
@click.option(
    "--signature-secret",
    default=None,
    help="Secret with the public key that must verify model.sig (Kubernetes).",
)
@click.option(
    "--artifact", "artifact_uri", default=None, help="Artifact URI instead of the directory, e.g. s3://…"
)
@click.option("--digest", "digest", default=None, help="Digest for --artifact (default: the directory's).")
@output_option
@pass_context
def register(
    ctx: CliContext,
    *,
    model_type: str,
    version: str,
    metrics: tuple[str, ...],
    model_dir: Path | None,
    signature_secret: str | None,
    artifact_uri: str | None,
    digest: str | None,
    output: str | None,
) -> None:
    """Register VERSION of MODEL_TYPE (metrics from its metadata.json, digest from its manifest)."""
    directory = model_dir or ctx.models_dir / model_type / canonical(version)
    metadata = {**registry_metadata(directory), **_parse_metrics(metrics)}
    artifact = artifact_of(directory, signature_secret)
    if artifact_uri:
        artifact = remote_artifact(
            artifact_uri, digest or (artifact.sha256 if artifact else None), signature_secret
        )
    record = ctx.registry.register_model(model_type, version, metadata, artifact=artifact)
    render(version_row(record), chosen_output(ctx, output), title="registered")


@click.command()
@click.argument("model_type")
@click.argument("version")
@click.option("--env", "environment", default="production", show_default=True)
@output_option
@pass_context
def deploy(ctx: CliContext, *, model_type: str, version: str, environment: str, output: str | None) -> None:
    """Deploy a registered VERSION of MODEL_TYPE to an environment."""
    record = ctx.registry.deploy_model(model_type, version, environment)
    render(deployment_row(record), chosen_output(ctx, output), title="deployment")


@click.command()
@click.argument("model_type")
@click.option("--env", "environment", default="production", show_default=True)
@click.option("--to", "to_version", default=None, help="Version to go back to (default: previous good one).")
@output_option
@pass_context
def rollback(
    ctx: CliContext, *, model_type: str, environment: str, to_version: str | None, output: str | None
) -> None:
    """Deploy the previous good version (or --to VERSION) of MODEL_TYPE in an environment."""
    record = ctx.registry.rollback(model_type, environment, to_version)
    render(deployment_row(record), chosen_output(ctx, output), title="rolled back")


@click.command()
@click.argument("model_type")
@output_option
@pass_context
def versions(ctx: CliContext, *, model_type: str, output: str | None) -> None:
    """List the registered versions of MODEL_TYPE, lowest to highest."""
    registry = ctx.registry
    rows = [version_row(registry.get_version(model_type, v)) for v in registry.list_versions(model_type)]
    render(rows, chosen_output(ctx, output), title=f"{model_type} versions")


@click.command()
@click.argument("model_type")
@output_option
@pass_context
def latest(ctx: CliContext, *, model_type: str, output: str | None) -> None:
    """Print the highest registered version of MODEL_TYPE."""
    version = ctx.registry.get_latest_version(model_type)
    fmt = chosen_output(ctx, output)
    render(version if fmt == "table" else {"model_type": model_type, "latest": version}, fmt)


@click.command()
@click.argument("model_type")
@click.option("--env", "environment", default="production", show_default=True)
@output_option
@pass_context
def deployed(ctx: CliContext, *, model_type: str, environment: str, output: str | None) -> None:
    """Print the version actually serving MODEL_TYPE in an environment (exit 1 when none)."""
    version = ctx.registry.get_deployed_version(model_type, environment)
    if version is None:
        raise click.ClickException(f"no version of {model_type} is serving in {environment}")
    fmt = chosen_output(ctx, output)
    data = {"model_type": model_type, "environment": environment, "serving": version}
    render(version if fmt == "table" else data, fmt)
