"""Seed model type names ↔ Kubernetes DNS-1123 names."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelops.names import (
    MODEL_TYPE_MAX_LENGTH,
    MODEL_TYPE_PATTERN,
    InvalidNameError,
    deployment_name,
    dns_to_type,
    model_version_name,
    type_to_dns,
    validate_model_type,
    version_to_dns,
)

DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

model_types = st.from_regex(r"\A[a-z][a-z0-9]{1,8}(_[a-z0-9]{1,8}){0,3}\Z")


def test_seed_names() -> None:
    assert type_to_dns("safety_classifier") == "safety-classifier"
    assert model_version_name("safety_classifier", "v1.2.0") == "safety-classifier-v1-2-0"
    assert deployment_name("intent_classifier", "production") == "intent-classifier-production"


@given(model_types)
def test_type_mapping_is_reversible_and_dns_safe(model_type: str) -> None:
    name = type_to_dns(model_type)
    assert DNS_1123_LABEL.match(name)
    assert dns_to_type(name) == model_type


@given(model_types, model_types)
def test_distinct_types_give_distinct_names(a: str, b: str) -> None:
    assert (type_to_dns(a) == type_to_dns(b)) == (a == b)


def test_prerelease_versions_stay_distinct_from_releases() -> None:
    assert version_to_dns("v1.2.0-rc.1") == "v1-2-0--rc-1"
    assert version_to_dns("v1.2.0-rc.1") != version_to_dns("v1.2.0")
    assert DNS_1123_LABEL.match(model_version_name("safety_classifier", "v1.2.0-rc.1"))


@pytest.mark.parametrize("bad", ["Safety", "safety-classifier", "_x", "x_", "a__b", "9lives", "a"])
def test_invalid_types_rejected(bad: str) -> None:
    with pytest.raises(InvalidNameError, match="invalid model type"):
        type_to_dns(bad)


def test_invalid_environment_rejected() -> None:
    with pytest.raises(InvalidNameError, match="invalid environment"):
        deployment_name("safety_classifier", "Prod_1")


def test_too_long_names_rejected() -> None:
    with pytest.raises(InvalidNameError, match="longer than 63"):
        deployment_name("a" * 40, "b" * 30)


def _crd_model_schemas() -> list[dict[str, object]]:
    import pathlib

    import yaml

    root = pathlib.Path(__file__).resolve().parents[2] / "crds"
    found = []
    for name in ("modelversions.yaml", "modeldeployments.yaml"):
        crd = yaml.safe_load((root / name).read_text())
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        found.append(schema["properties"]["spec"]["properties"]["model"])
    return found


def test_the_crds_admit_exactly_the_model_types_the_operator_can_name() -> None:
    for schema in _crd_model_schemas():
        assert schema["pattern"] == MODEL_TYPE_PATTERN
        assert schema["maxLength"] == MODEL_TYPE_MAX_LENGTH


@given(st.from_regex(r"\A[a-z0-9_]{0,44}\Z"))
def test_crd_pattern_and_validate_model_type_agree(candidate: str) -> None:
    admitted = bool(re.match(MODEL_TYPE_PATTERN, candidate)) and len(candidate) <= MODEL_TYPE_MAX_LENGTH
    try:
        validate_model_type(candidate)
        valid = True
    except InvalidNameError:
        valid = False
    assert admitted == valid, candidate
