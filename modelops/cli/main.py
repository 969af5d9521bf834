"""`modelctl` entry point: the click group, its global options and the command list.

Console script `modelctl = modelops.cli.main:main` (pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

import click

from modelops.cli import (
    artifact_commands,
    cluster_commands,
    gate_commands,
    push_command,
    registry_commands,
    rollout_commands,
)
from modelops.cli.context import CliContext, ModelctlGroup
from modelops.cli.output import FORMATS


@click.group(cls=ModelctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--models-dir",
    type=click.Path(path_type=Path),
    default=Path("models"),
    show_default=True,
    envvar="MODELS_DIR",
    help="The seed's models directory (registry.json lives there).",
)
@click.option(
    "--registry",
    "registry_kind",
    type=click.Choice(["auto", "file", "kubernetes"]),
    default="auto",
    show_default=True,
    help="auto: Kubernetes when a kubeconfig or in-cluster config exists.",
)
@click.option(
    "--namespace", "-n", default=None, help="Namespace of the ModelVersion/ModelDeployment objects."
)
@click.option("--kubeconfig", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("-o", "--output", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def cli(
    click_ctx: click.Context,
    *,
    models_dir: Path,
    registry_kind: str,
    namespace: str | None,
    kubeconfig: Path | None,
    output: str,
) -> None:
    """modelctl: train → export → package → sign → register → deploy → roll back ML models."""
    click_ctx.obj = CliContext(models_dir, registry_kind, namespace, kubeconfig, output)


for command in (
    registry_commands.register,
    registry_commands.deploy,
    registry_commands.rollback,
    registry_commands.versions,
    registry_commands.latest,
    registry_commands.deployed,
    cluster_commands.status,
    cluster_commands.health,
    gate_commands.checklist_command,
    gate_commands.promote,
    rollout_commands.rollout,
    artifact_commands.export_command,
    artifact_commands.package,
    artifact_commands.sign,
    artifact_commands.verify,
    artifact_commands.keygen,
    artifact_commands.deploy_model_command,
    push_command.push,
):
    cli.add_command(command)


def main() -> None:
    """Console script entry point."""
    cli(prog_name="modelctl")
