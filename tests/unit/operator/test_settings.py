"""The operator's settings: defaults, typed parsing from MODELOPS_OPERATOR_*, and loud errors."""

from __future__ import annotations

import pytest

from modelops_operator.main import main
from modelops_operator.settings import Settings, SettingsError, from_env


def test_defaults_without_variables() -> None:
    settings = from_env({"PATH": "/bin", "MODELOPS_SERVER_THREADS": "4"})
    assert settings == Settings()
    assert settings.clusterwide
    assert settings.server_port == 8080


def test_every_type_is_parsed() -> None:
    settings = from_env(
        {
            "MODELOPS_OPERATOR_NAMESPACES": "team-a, team-b,",
            "MODELOPS_OPERATOR_RESYNC_SECONDS": "1.5",
            "MODELOPS_OPERATOR_HISTORY_LIMIT": "5",
            "MODELOPS_OPERATOR_RESOURCES": '{"requests": {"cpu": "1"}}',
            "MODELOPS_OPERATOR_DEFAULT_IMAGE_PULL_POLICY": "Never",
        }
    )
    assert settings.namespaces == ("team-a", "team-b")
    assert not settings.clusterwide
    assert settings.resync_seconds == 1.5
    assert settings.history_limit == 5
    assert settings.resources == {"requests": {"cpu": "1"}}
    assert settings.default_image_pull_policy == "Never"


def test_unknown_variable_is_an_error_naming_it() -> None:
    with pytest.raises(SettingsError, match="MODELOPS_OPERATOR_RESYNC_SECOND"):
        from_env({"MODELOPS_OPERATOR_RESYNC_SECOND": "3"})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("MODELOPS_OPERATOR_SERVER_PORT", "http", "MODELOPS_OPERATOR_SERVER_PORT='http'"),
        ("MODELOPS_OPERATOR_SERVER_PORT", "70000", "MODELOPS_OPERATOR_SERVER_PORT: must be a TCP port"),
        ("MODELOPS_OPERATOR_RESOURCES", "[1]", "expected a JSON object"),
        ("MODELOPS_OPERATOR_RESOURCES", '{"cpu": 1}', "may only contain requests and limits"),
        ("MODELOPS_OPERATOR_DEFAULT_IMAGE_PULL_POLICY", "Sometimes", "must be one of"),
        ("MODELOPS_OPERATOR_RESYNC_SECONDS", "0", "must be > 0"),
        ("MODELOPS_OPERATOR_SERVER_GRPC_PORT", "8080", "must differ from server_port"),
        ("MODELOPS_OPERATOR_SERVER_GRPC_PORT", "-1", "must be a TCP port or 0"),
    ],
)
def test_bad_values_name_the_variable(key: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        from_env({key: value})


def test_main_refuses_to_start_on_unknown_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MODELOPS_OPERATOR_TYPO", "1")
    assert main(["--namespace", "x"]) == 2
    assert "MODELOPS_OPERATOR_TYPO" in capsys.readouterr().err
