"""`modelctl rollout status | promote | abort`: the summary of status.canary, and the refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from modelops.cli.main import cli
from modelops.cli.rollout_commands import _running_canary, rollout_summary


def md(phase: str | None, *, strategy: str = "Canary", version: str = "v1.2.0") -> dict[str, Any]:
    status: dict[str, Any] = {"stableVersion": "v1.1.0", "servingVersion": "v1.1.0", "phase": "Progressing"}
    if phase is not None:
        status["canary"] = {
            "version": "v1.2.0",
            "phase": phase,
            "step": 1,
            "steps": 2,
            "weight": {"message": "asked 50%, serving 2/4 = 50%"},
            "message": "paused",
        }
    return {
        "metadata": {"name": "safety-classifier-production"},
        "spec": {"version": version, "rollout": {"strategy": strategy}},
        "status": status,
    }


def test_summary_shows_the_step_and_the_weight_served() -> None:
    summary = rollout_summary(md("Paused"))
    assert summary["step"] == "2/2" and summary["weight"] == "asked 50%, serving 2/4 = 50%"
    assert summary["phase"] == "Paused" and summary["stable"] == "v1.1.0"


def test_summary_of_another_versions_canary_is_not_shown() -> None:
    summary = rollout_summary(md("Aborted", version="v1.3.0"))
    assert summary["step"] == "" and summary["weight"] == "" and summary["phase"] == ""
    assert summary["status"] == "Progressing"


@pytest.mark.parametrize(
    ("obj", "words"),
    [
        (md("Paused", strategy="RollingUpdate"), "rolls out with RollingUpdate, not Canary"),
        (md("Aborted"), "no canary of v1.2.0 is running"),
        (md(None), "no canary of v1.2.0 is running"),
    ],
)
def test_promote_and_abort_refuse_without_a_running_canary(obj: dict[str, Any], words: str) -> None:
    with pytest.raises(click.ClickException, match=words):
        _running_canary(obj)


def test_a_running_canary_is_named_by_its_version() -> None:
    assert _running_canary(md("Paused")) == "v1.2.0"


@pytest.mark.parametrize("command", ["status", "promote", "abort"])
def test_rollout_commands_need_the_kubernetes_registry(tmp_path: Path, command: str) -> None:
    args = ["--registry", "file", "--models-dir", str(tmp_path), "rollout", command, "safety_classifier"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert f"`modelctl rollout {command}` reads the cluster" in result.output


def test_summary_shows_a_running_shadow_and_promote_names_its_version() -> None:
    obj = md(None, strategy="Shadow")
    obj["status"]["shadow"] = {
        "version": "v1.2.0",
        "phase": "Mirroring",
        "endsAt": "2026-01-01T12:01:10Z",
        "figures": {"agree": 90, "disagree": 10, "error": 2, "dropped": 0, "agreement": 0.9},
        "message": "mirroring",
    }
    summary = rollout_summary(obj)
    assert summary["shadow"] == "Mirroring" and summary["shadowEnds"] == "2026-01-01T12:01:10Z"
    assert summary["mirrored"] == "100 answered, agreement 90.0%, 2 errors, 0 dropped"
    assert _running_canary(obj) == "v1.2.0"
    obj["status"]["shadow"]["phase"] = "Rejected"
    with pytest.raises(click.ClickException):
        _running_canary(obj)
