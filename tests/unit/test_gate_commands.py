"""`modelctl checklist | promote` need the cluster: on the file registry they say so (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from modelops.cli.main import cli


@pytest.mark.parametrize(
    "args", [("checklist", "safety_classifier", "v1.0.0"), ("promote", "safety_classifier", "v1.0.0")]
)
def test_gate_commands_need_the_kubernetes_registry(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["--registry", "file", "--models-dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert f"`modelctl {args[0]}` reads the cluster: use the Kubernetes registry" in result.output


def test_promote_names_its_defaults_in_help() -> None:
    result = CliRunner().invoke(cli, ["promote", "--help"])
    assert result.exit_code == 0
    assert "--from TEXT" in result.output and "[default: staging]" in result.output
