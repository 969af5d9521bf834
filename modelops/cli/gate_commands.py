"""`modelctl checklist | promote`: the seed's deployment checklist and gated promotion between environments.

`checklist` prints the ten seed items for one version with their evidence (`modelops.checklist`) and
exits 1 while one is open. `promote` deploys a version that serves in `--from` to `--to` through
`ModelRegistry.deploy_model`, which refuses with the gates' explanation (`PromotionBlockedError`)
when the target environment's `spec.promotion` is not met. Both read the cluster (Kubernetes registry).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from modelops import checklist
from modelops.cli.context import CliContext, chosen_output, output_option, pass_context
from modelops.cli.output import render
from modelops.cli.registry_commands import deployment_row
from modelops.registry.errors import VersionNotFoundError
from modelops.versions import canonical


def _cluster(ctx: CliContext, command: str) -> Any:
    from modelops.registry.kubernetes import KubernetesBackend

    backend = ctx.registry.backend
    if not isinstance(backend, KubernetesBackend):
        raise click.UsageError(f"`modelctl {command}` reads the cluster: use the Kubernetes registry")
    return backend


@click.command(name="checklist")
@click.argument("model_type")
@click.argument("version")
@output_option
@pass_context
def checklist_command(ctx: CliContext, *, model_type: str, version: str, output: str | None) -> None:
    """The seed's deployment checklist for VERSION of MODEL_TYPE; exit 1 while an item is open."""
    backend = _cluster(ctx, "checklist")
    version = canonical(version)
    mv = backend.raw_version(model_type, version)
    if mv is None:
        raise VersionNotFoundError(f"{model_type} {version} is not registered")
    items = checklist.build(mv, backend.raw_deployments(model_type), datetime.now(UTC))
    fmt = chosen_output(ctx, output)
    if fmt == "table":
        rows = [{"": "✅" if i.done else "❌", "item": i.name, "evidence": i.evidence} for i in items]
        render(rows, fmt, columns=["", "item", "evidence"], title=f"{model_type} {version} checklist")
    else:
        render({"model_type": model_type, "version": version, "items": [i.to_dict() for i in items]}, fmt)
    if not all(i.done for i in items):
        raise click.exceptions.Exit(1)


@click.command()
@click.argument("model_type")
@click.argument("version")
@click.option("--from", "source", default="staging", show_default=True, help="Where it proved itself.")
@click.option("--to", "target", default="production", show_default=True, help="Where it goes now.")
@output_option
@pass_context
def promote(
    ctx: CliContext, *, model_type: str, version: str, source: str, target: str, output: str | None
) -> None:
    """Deploy VERSION from --from to --to when the promotion gates are open; explain what is missing."""
    _cluster(ctx, "promote")  # the gates live on the cluster's ModelDeployments
    version = canonical(version)
    serving = ctx.registry.get_deployed_version(model_type, source)
    if serving != version:
        raise click.ClickException(
            f"{model_type} {version} is not serving in {source} (serving: {serving or 'nothing'})"
        )
    record = ctx.registry.deploy_model(model_type, version, target)
    render(deployment_row(record), chosen_output(ctx, output), title=f"promoted {source} → {target}")
