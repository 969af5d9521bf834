"""`modelctl push SRC s3://bucket/prefix/`: upload a model directory or package to an object store.

It prints the artifact digest (sha256 of manifest.json) to pin with
`modelctl register --artifact s3://... --digest <sha256>`. The store is reached with the same client
and the same environment variables (AWS_*, MODELOPS_S3_*) as the server's fetch step.
"""

from __future__ import annotations

import hashlib
import tarfile
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
    if src.is_dir():
        return manifest_digest(src)
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


@click.command()
@click.argument("src", type=click.Path(path_type=Path, exists=True))
@click.argument("uri")
@output_option
@pass_context
def push(ctx: CliContext, *, src: Path, uri: str, output: str | None) -> None:
    """Upload SRC (model directory or .tar.gz package) to URI (s3://bucket/prefix/ or .../name.tar.gz)."""
    from modelops.objectstore.config import S3Uri
    from modelops.objectstore.transfer import upload

    digest = artifact_digest(src)
    try:
        target = S3Uri.parse(uri)
        columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("push", total=None)
            uploaded = upload(src, uri, lambda done, total: bar.update(task, completed=done, total=total))
    except PackageError as error:
        raise click.ClickException(str(error)) from error
    artifact = str(target) if src.is_dir() or target.is_package else uploaded[0]
    if src.is_dir() and not artifact.endswith("/"):
        artifact += "/"
    row = {"artifact": artifact, "sha256": digest, "objects": len(uploaded)}
    render(row, chosen_output(ctx, output), title="pushed")
