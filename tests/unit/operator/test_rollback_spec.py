"""The typed view of spec.rollback: defaults in one place, the same as the CRD's."""

from __future__ import annotations

from pathlib import Path

import yaml

from modelops_operator.rollback_spec import DEFAULT_PROGRESS_DEADLINE_SECONDS, RollbackSpec

CRD = Path(__file__).resolve().parents[3] / "crds" / "modeldeployments.yaml"


def test_an_empty_spec_reads_as_the_defaults() -> None:
    assert RollbackSpec.of({"spec": {}}) == RollbackSpec(True, "RevertSpec", 120)
    assert not RollbackSpec.of({"spec": {"rollback": None}}).hold


def test_every_field_is_read() -> None:
    md = {"spec": {"rollback": {"automatic": False, "mode": "Hold", "progressDeadlineSeconds": 45}}}
    spec = RollbackSpec.of(md)
    assert (spec.automatic, spec.hold, spec.progress_deadline_seconds) == (False, True, 45)


def test_the_defaults_are_the_crds() -> None:
    crd = yaml.safe_load(CRD.read_text())
    rollback = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "rollback"
    ]
    fields = rollback["properties"]
    assert fields["automatic"]["default"] is True
    assert fields["mode"].get("default", "RevertSpec") == "RevertSpec"
    deadline = fields["progressDeadlineSeconds"].get("default", DEFAULT_PROGRESS_DEADLINE_SECONDS)
    assert deadline == DEFAULT_PROGRESS_DEADLINE_SECONDS
