"""`modelctl push SRC s3://bucket/prefix/`: upload a model directory or package to an object store.

It prints the artifact digest (sha256 of manifest.json) to pin with
`modelctl register --artifact s3://... --digest <sha256>`. The store is reached with the same client
and the same environment variables (AWS_*, MODELOPS_S3_*) as the server's fetch step. With
`--encrypt-key FILE` it uploads an encrypted package (package/encryption.py) built or sealed in a
temporary directory, to a key ending in .tar.gz.enc; the digest printed is still the manifest's.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from modelops.cli.context import CliContext, chosen_output, output_option, pass_context
from modelops.cli.output import render
from modelops.package.errors import PackageError
from modelops.package.manifest import MANIFEST_NAME, manifest_digest


def artifact_digest(src: Path) -> str:
    """sha256 of manifest.json: the directory's own, or the one at a package's root."""
    from modelops.package.encryption import header_digest, is_encrypted

    if src.is_dir():
        return manifest_digest(src)
    if is_encrypted(src):
        return header_digest(src)
    try:
        with tarfile.open(src, mode="r:*") as tar:
            member = tar.extractfile(MANIFEST_NAME)
            if member is None:
                raise KeyError(MANIFEST_NAME)
            return hashlib.sha256(member.read()).hexdigest()
    except (KeyError, tarfile.TarError, OSError) as error:
        raise click.ClickException(
            f"{src} is not a package with {MANIFEST_NAME} at its root: {error}"
        ) from error


@contextmanager
def _sealed(src: Path, key_file: Path | None, uri: str) -> Iterator[Path]:
    """SRC itself, or (with a key) an encrypted package of it in a temporary directory."""
    from modelops.package.archive import build_package
    from modelops.package.encryption import ENCRYPTED_SUFFIX, encrypt_stream, is_encrypted, load_key

    if key_file is None:
        yield src
        return
    if not uri.endswith(".tar.gz" + ENCRYPTED_SUFFIX):
        raise click.UsageError(
            "with --encrypt-key, URI must name the package: s3://bucket/.../name.tar.gz.enc"
        )
    if src.is_file() and is_encrypted(src):
        raise click.UsageError(f"{src} is already encrypted; push it without --encrypt-key")
    key = load_key(key_file)
    with tempfile.TemporaryDirectory(prefix="modelctl-push-") as scratch:
        out = Path(scratch) / ("package.tar.gz" + ENCRYPTED_SUFFIX)
        if src.is_dir():
            build_package(src, out, encryption_key=key)
        else:
            with src.open("rb") as clear, out.open("wb") as sealed:
                encrypt_stream(clear, sealed, key, artifact_digest(src))
        yield out


@click.command()
@click.argument("src", type=click.Path(path_type=Path, exists=True))
@click.argument("uri")
@click.option("--encrypt-key", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="Upload an encrypted package (.tar.gz.enc) sealed with this key file.")  # fmt: skip
@output_option
@pass_context
def push(ctx: CliContext, *, src: Path, uri: str, encrypt_key: Path | None, output: str | None) -> None:
    """Upload SRC (model directory or .tar.gz package) to URI (s3://bucket/prefix/ or .../name.tar.gz)."""
    from modelops.objectstore.config import S3Uri
    from modelops.objectstore.transfer import upload

    digest = artifact_digest(src)
    try:
        target = S3Uri.parse(uri)
        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with (
            _sealed(src, encrypt_key, uri) as upload_src,
            Progress(*columns, console=Console(stderr=True), transient=True) as bar,
        ):
            task = bar.add_task("push", total=None)
            uploaded = upload(
                upload_src, uri, lambda done, total: bar.update(task, completed=done, total=total)
            )
    except PackageError as error:
        raise click.ClickException(str(error)) from error
    artifact = str(target) if src.is_dir() or target.is_package else uploaded[0]
    if src.is_dir() and not target.is_package and not artifact.endswith("/"):
        artifact += "/"
    row = {"artifact": artifact, "sha256": digest, "objects": len(uploaded)}
    render(row, chosen_output(ctx, output), title="pushed")
