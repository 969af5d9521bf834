"""`modelctl rollout status | promote | abort`: watch and steer a Canary or Shadow rollout.

`status` prints where the canary stands from the ModelDeployment's `status.canary` (step, weight asked
and served, phase, what it waits for) and its step analysis. `promote` and `abort` set the
`modelops.io/promote` / `modelops.io/abort` annotation to the canary's version, which the operator
consumes on its next reconcile (a manual `pause: true` step goes on; an abort takes the rollback path).
Both refuse when no canary of `spec.version` is running. All three read the cluster (Kubernetes registry).
A Shadow rollout (`status.shadow`) shows its phase, the mirrored figures (agreement, errors, dropped) and
when it ends; `promote` passes it at once, `abort` rejects it (rollback path).
"""

from __future__ import annotations

from typing import Any

import click

from modelops.cli.context import CliContext, chosen_output, output_option, pass_context
from modelops.cli.gate_commands import _cluster
from modelops.cli.output import render
from modelops.vocabulary import (
    ABORT_ANNOTATION,
    CANARY_PAUSED,
    CANARY_PROGRESSING,
    CANARY_PROMOTING,
    PROMOTE_ANNOTATION,
    SHADOW_HELD,
    SHADOW_MIRRORING,
    SHADOW_STARTING,
    STRATEGY_CANARY,
    STRATEGY_ROLLING_UPDATE,
)

RUNNING = (CANARY_PROGRESSING, CANARY_PAUSED, CANARY_PROMOTING)
SHADOW_RUNNING = (SHADOW_STARTING, SHADOW_MIRRORING, SHADOW_HELD)


def rollout_summary(md: dict[str, Any]) -> dict[str, Any]:
    """The rollout of one ModelDeployment as flat fields (pure, for the table and -o json)."""
    spec, status = md.get("spec") or {}, md.get("status") or {}
    canary = status.get("canary") or {}
    analysis = status.get("analysis") or {}
    same = canary.get("version") == spec.get("version")
    steps = canary.get("steps")
    step = int(canary.get("step") or 0)
    return {
        "name": md["metadata"]["name"],
        "strategy": (spec.get("rollout") or {}).get("strategy", STRATEGY_ROLLING_UPDATE),
        "desired": spec.get("version"),
        "stable": status.get("stableVersion"),
        "serving": status.get("servingVersion"),
        "status": status.get("phase", ""),
        "phase": canary.get("phase", "") if same else "",
        "step": f"{min(step + 1, int(steps))}/{steps}" if same and steps else "",
        "weight": (canary.get("weight") or {}).get("message", "") if same else "",
        "analysis": analysis.get("phase", "") if analysis.get("version") == spec.get("version") else "",
        "message": canary.get("message", "") if same else "",
        "stableDeployment": status.get("stableDeployment") or md["metadata"]["name"],
        **_shadow_summary(spec, status.get("shadow") or {}),
    }


def _shadow_summary(spec: dict[str, Any], shadow: dict[str, Any]) -> dict[str, Any]:
    """A Shadow of `spec.version`: its phase and figures; nothing for another version's or none."""
    if not shadow or shadow.get("version") != spec.get("version"):
        return {}
    figures = shadow.get("figures") or {}
    agreement = figures.get("agreement")
    answered = int(figures.get("agree", 0)) + int(figures.get("disagree", 0))
    return {
        "shadow": shadow.get("phase", ""),
        "mirrored": (
            f"{answered} answered, agreement {'n/a' if agreement is None else f'{agreement:.1%}'}, "
            f"{figures.get('error', 0)} errors, {figures.get('dropped', 0)} dropped"
        ),
        "shadowEnds": shadow.get("endsAt", ""),
        "shadowMessage": shadow.get("message", ""),
    }


def _deployment(ctx: CliContext, command: str, model_type: str, environment: str) -> dict[str, Any]:
    backend = _cluster(ctx, f"rollout {command}")
    md = backend.raw_deployment(model_type, environment)
    if md is None:
        raise click.ClickException(f"no ModelDeployment for {model_type} in {environment}")
    return dict(md)


def _running_canary(md: dict[str, Any]) -> str:
    """The version of the canary running now; a ClickException saying why none is."""
    summary = rollout_summary(md)
    if summary.get("shadow") in SHADOW_RUNNING:
        return str(summary["desired"])
    if summary["strategy"] != STRATEGY_CANARY:
        raise click.ClickException(f"{summary['name']} rolls out with {summary['strategy']}, not Canary")
    if summary["phase"] not in RUNNING:
        raise click.ClickException(
            f"no canary of {summary['desired']} is running on {summary['name']} "
            f"(phase {summary['phase'] or 'none'}, stable {summary['stable']})"
        )
    return str(summary["desired"])


@click.group()
def rollout() -> None:
    """Watch and steer a Canary or Shadow rollout: status, promote, abort."""


@rollout.command(name="status")
@click.argument("model_type")
@click.option("--env", "environment", default="production", show_default=True)
@output_option
@pass_context
def status_command(ctx: CliContext, *, model_type: str, environment: str, output: str | None) -> None:
    """Where the rollout of MODEL_TYPE in --env stands: step, weight asked and served, phase."""
    summary = rollout_summary(_deployment(ctx, "status", model_type, environment))
    render(summary, chosen_output(ctx, output), title=f"{model_type} rollout in {environment}")


def _annotate(ctx: CliContext, command: str, key: str, model_type: str, environment: str) -> None:
    md = _deployment(ctx, command, model_type, environment)
    version = _running_canary(md)
    _cluster(ctx, f"rollout {command}").annotate_deployment(model_type, environment, key, version)
    click.echo(f"{key}={version} set on {md['metadata']['name']}; the operator acts on its next reconcile")


@rollout.command()
@click.argument("model_type")
@click.option("--env", "environment", default="production", show_default=True)
@pass_context
def promote(ctx: CliContext, *, model_type: str, environment: str) -> None:
    """End the canary's current step now (a manual pause: go on to the next step)."""
    _annotate(ctx, "promote", PROMOTE_ANNOTATION, model_type, environment)


@rollout.command()
@click.argument("model_type")
@click.option("--env", "environment", default="production", show_default=True)
@pass_context
def abort(ctx: CliContext, *, model_type: str, environment: str) -> None:
    """Abort the canary: scaled to 0 at once, the stable version back on every pod (rollback path)."""
    _annotate(ctx, "abort", ABORT_ANNOTATION, model_type, environment)
