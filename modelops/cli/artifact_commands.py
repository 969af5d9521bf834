"""`modelctl export | package | sign | verify | keygen | deploy-model`: turning a trained model (the
project's `model.pt`, a Hugging Face `save_pretrained` directory, a TorchScript or pickled module) into
a verified, signed, packaged model directory in the seed's layout.

Heavy imports (torch, ONNX Runtime, model-signing) happen inside the commands so registry commands
start fast.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from modelops.cli.context import CliContext, chosen_output, output_option, pass_context, progress
from modelops.cli.output import render
from modelops.versions import canonical

PathType = click.Path(path_type=Path)
ExistingFile = click.Path(path_type=Path, exists=True, dir_okay=False)
ModelSource = click.Path(path_type=Path, exists=True)
MODEL_PATH_HELP = (
    "A save_pretrained directory (a classifier, or a ...ForCausalLM for text generation), "
    "the modelops model.pt, a TorchScript module, or a pickled module "
    "(with --trust-pickle)."
)


def _model_dir(ctx: CliContext, model_type: str, version: str, model_dir: Path | None) -> Path:
    directory = model_dir or ctx.models_dir / model_type / canonical(version)
    if not directory.is_dir():
        raise click.ClickException(f"model directory {directory} does not exist")
    return directory


def export_options(command: Any) -> Any:
    """--trust-pickle, --optimize, --quantize, --eval-data, --min-agreement."""
    options = [
        click.option("--min-agreement", type=click.FloatRange(0.0), default=None,
                     help="Least fp32/int8 label agreement on the evaluation set (default 0.98)."),
        click.option("--eval-data", type=ExistingFile, default=None,
                     help="label<TAB>text file the quantized model is checked on."),
        click.option("--quantize", type=click.Choice(["int8", "int4"]), default=None,
                     help="int8: dynamic int8 quantization of a classifier, checked against fp32; "
                          "int4: int4 weights of a causal language model (onnxruntime-genai)."),
        click.option("--optimize", is_flag=True, help="ONNX Runtime transformer fusions (BERT family)."),
        click.option("--trust-pickle", is_flag=True,
                     help="Allow a pickled torch.nn.Module (loading it runs code from the file)."),
    ]  # fmt: skip
    for option in options:
        command = option(command)
    return command


def _export_settings(flags: dict[str, Any]) -> Any:
    from modelops.export import ExportOptions
    from modelops.quantize import DEFAULT_MIN_AGREEMENT

    minimum = flags.pop("min_agreement")
    return ExportOptions(
        trust_pickle=flags.pop("trust_pickle"),
        optimize=flags.pop("optimize"),
        quantize=flags.pop("quantize"),
        eval_data=flags.pop("eval_data"),
        min_agreement=DEFAULT_MIN_AGREEMENT if minimum is None else minimum,
    )


def type_and_version(command: Any) -> Any:
    """--type, --version and --model-dir options of the single-step commands."""
    command = click.option("--model-dir", type=PathType, help="Default: <models-dir>/<type>/<version>.")(
        command
    )
    command = click.option("--version", "version", required=True, help="Semantic version, e.g. v1.0.0.")(
        command
    )
    return click.option("--type", "model_type", required=True, help="Model type, e.g. safety_classifier.")(
        command
    )


@click.command("export")
@click.option("--type", "model_type", required=True)
@click.option("--model-path", type=ModelSource, required=True, help=MODEL_PATH_HELP)
@click.option("--version", "version", required=True)
@click.option("--out-dir", type=PathType, help="Default: <models-dir>/<type>/<version>.")
@export_options
@output_option
@pass_context
def export_command(
    ctx: CliContext,
    /,
    *,
    model_type: str,
    model_path: Path,
    version: str,
    out_dir: Path | None,
    output: str | None,
    **flags: Any,
) -> None:
    """Export a model to model.onnx (dynamic axes), check parity and write metadata.json."""
    from modelops.pipeline import export_into

    directory = out_dir or ctx.models_dir / model_type / canonical(version)
    settings = _export_settings(flags)
    with progress("export") as step:
        result = export_into(
            model_path, directory, model_type, canonical(version), report=step, options=settings
        )
    data = {
        "onnx": str(result.onnx_path),
        "max_abs_diff": result.max_abs_diff,
        "agreement": result.metadata.export.get("agreement"),
        "golden_label": result.metadata.golden.label if result.metadata.golden else None,
        **result.metadata.metrics,
    }
    render(data, chosen_output(ctx, output), title="exported")


@click.command()
@type_and_version
@click.option("--packages-dir", type=PathType, help="Default: model_packages/ beside the models directory.")
@click.option(
    "--encrypt-key", type=ExistingFile, default=None, help="Encrypt with this key file (.tar.gz.enc)."
)
@output_option
@pass_context
def package(
    ctx: CliContext,
    *,
    model_type: str,
    version: str,
    model_dir: Path | None,
    packages_dir: Path | None,
    encrypt_key: Path | None,
    output: str | None,
) -> None:
    """Write the manifest (unless signed) and build model_packages/<type>_<version>.tar.gz (.enc)."""
    from modelops.package.archive import build_package
    from modelops.package.encryption import ENCRYPTED_SUFFIX, key_id, load_key
    from modelops.package.manifest import manifest_digest, verify_manifest, write_manifest
    from modelops.package.signing import signature_path
    from modelops.pipeline import default_packages_dir, package_path

    directory = _model_dir(ctx, model_type, version, model_dir)
    with progress("package") as step:
        step("hash files")
        if signature_path(directory).is_file():
            verify_manifest(directory)  # signed: the manifest must already match; never rewrite it
        else:
            write_manifest(directory)
        step("build archive")
        target = package_path(packages_dir or default_packages_dir(ctx.models_dir), model_type, version)
        key = load_key(encrypt_key) if encrypt_key else None
        if key is not None:
            target = target.with_name(target.name + ENCRYPTED_SUFFIX)
        built = build_package(directory, target, encryption_key=key)
    row = {"package": str(built), "sha256": manifest_digest(directory)}
    if key is not None:
        row["key_id"] = key_id(key)
    render(row, chosen_output(ctx, output), title="package")


@click.command()
@type_and_version
@click.option("--key", "private_key", type=ExistingFile, required=True, help="Private key (PEM).")
@output_option
@pass_context
def sign(
    ctx: CliContext,
    *,
    model_type: str,
    version: str,
    model_dir: Path | None,
    private_key: Path,
    output: str | None,
) -> None:
    """Write the manifest and sign the model directory (OpenSSF model-signing, model.sig)."""
    from modelops.package.manifest import write_manifest
    from modelops.package.signing import sign_model_dir, signature_path

    directory = _model_dir(ctx, model_type, version, model_dir)
    with progress("sign") as step:
        signature_path(directory).unlink(missing_ok=True)
        step("hash files")
        digest = write_manifest(directory)
        step("sign")
        signature = sign_model_dir(directory, private_key)
    render({"signature": str(signature), "sha256": digest}, chosen_output(ctx, output), title="signed")


def verify_directory(directory: Path, public_key: Path | None) -> dict[str, Any]:
    """Check the manifest and, with a key, the signature of a model directory."""
    from modelops.package.manifest import manifest_digest, verify_manifest
    from modelops.package.signing import verify_model_dir

    verify_manifest(directory)
    if public_key is not None:
        verify_model_dir(directory, public_key)
    return {"verified": True, "sha256": manifest_digest(directory), "signature": public_key is not None}


@click.command()
@click.option("--type", "model_type", help="Model type (with --version).")
@click.option("--version", "version", help="Version (with --type).")
@click.option("--model-dir", type=PathType)
@click.option("--package", "package_file", type=ExistingFile, help="Verify a package instead of a directory.")
@click.option(
    "--public-key", type=ExistingFile, help="Public key (PEM); without it only digests are checked."
)
@output_option
@pass_context
def verify(
    ctx: CliContext,
    *,
    model_type: str | None,
    version: str | None,
    model_dir: Path | None,
    package_file: Path | None,
    public_key: Path | None,
    output: str | None,
) -> None:
    """Verify a model directory or package: every file's digest, and its signature with --public-key."""
    from modelops.package.archive import extract_package

    with progress("verify") as step:
        if package_file is not None:
            with tempfile.TemporaryDirectory(prefix="modelctl-verify-") as scratch:
                step("extract")
                result = verify_directory(
                    extract_package(str(package_file), Path(scratch) / "model"), public_key
                )
        else:
            if model_dir is None and not (model_type and version):
                raise click.UsageError("give --package, --model-dir, or --type with --version")
            step("check digests")
            result = verify_directory(_model_dir(ctx, model_type or "", version or "", model_dir), public_key)
    render(result, chosen_output(ctx, output), title="verified")


@click.command()
@click.option("--out-dir", type=PathType, default=Path("keys"), show_default=True)
@click.option("--encryption", is_flag=True, help="An AES-256 package key (encryption.key) instead.")
@output_option
@pass_context
def keygen(ctx: CliContext, *, out_dir: Path, encryption: bool, output: str | None) -> None:
    """Create an elliptic-curve (P-256) key pair for signing models, or a package encryption key."""
    from modelops.package.signing import generate_keypair, key_fingerprint

    if encryption:
        render(_encryption_key(out_dir), chosen_output(ctx, output), title="keys")
        return
    private, public = generate_keypair(out_dir)
    keys = {"private_key": str(private), "public_key": str(public), "fingerprint": key_fingerprint(public)}
    render(keys, chosen_output(ctx, output), title="keys")


def _encryption_key(out_dir: Path) -> dict[str, str]:
    import os

    from modelops.package.encryption import encode_key, generate_key, key_id

    key, path = generate_key(), out_dir / "encryption.key"
    out_dir.mkdir(parents=True, exist_ok=True)
    if path.exists():
        raise click.ClickException(f"{path} exists; move it away first (it may encrypt packages)")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encode_key(key))
    return {"encryption_key": str(path), "key_id": key_id(key)}


@click.command("deploy-model")
@click.option("--type", "model_type", required=True)
@click.option("--model-path", type=ModelSource, required=True, help=MODEL_PATH_HELP)
@click.option("--version", "version", required=True)
@click.option("--export", "export_format", type=click.Choice(["onnx"]), default=None)
@export_options
@click.option("--package/--no-package", "make_package", default=False)
@click.option("--sign-key", type=ExistingFile, default=None, help="Sign with this private key.")
@click.option("--packages-dir", type=PathType, default=None)
@output_option
@pass_context
def deploy_model_command(
    ctx: CliContext,
    /,
    *,
    model_type: str,
    model_path: Path,
    version: str,
    export_format: str | None,
    make_package: bool,
    sign_key: Path | None,
    packages_dir: Path | None,
    output: str | None,
    **flags: Any,
) -> None:
    """The seed's deploy_model.py: copy, --export onnx, manifest, sign, latest link, --package."""
    from modelops.pipeline import DeployModelRequest, deploy_model

    request = DeployModelRequest(
        model_type=model_type,
        model_path=model_path,
        version=canonical(version),
        models_dir=ctx.models_dir,
        export=export_format,
        package=make_package,
        sign_key=sign_key,
        packages_dir=packages_dir,
        options=_export_settings(flags),
    )
    with progress(f"deploy-model {model_type} {request.version}") as step:
        result = deploy_model(request, step)
    data = {
        "model_dir": str(result.model_dir),
        "sha256": result.digest,
        "signature": str(result.signature) if result.signature else None,
        "package": str(result.package) if result.package else None,
        "parity_max_abs_diff": result.export.max_abs_diff if result.export else None,
        "agreement": result.export.metadata.export.get("agreement") if result.export else None,
    }
    render(data, chosen_output(ctx, output), title="deploy-model")
    if chosen_output(ctx, output) == "table":
        click.echo(f"next: modelctl register {model_type} {request.version}", err=True)
