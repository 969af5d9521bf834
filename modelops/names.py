"""Mapping between the seed's model type names and Kubernetes object names.

The seed names model types in snake_case (`safety_classifier`); Kubernetes names must be DNS-1123
labels. The registry, CLI and operator use these functions so that every component derives the same
ModelVersion / ModelDeployment / Deployment names, and a name maps back to exactly one type.
"""

from __future__ import annotations

import re

from modelops.versions import parse_version

# The CRDs carry the same pattern and maxLength (a test keeps them equal): what the apiserver admits,
# the operator can name.
MODEL_TYPE_PATTERN = r"^[a-z](_?[a-z0-9])+$"
MODEL_TYPE_MAX_LENGTH = 40
ENVIRONMENT_PATTERN = r"^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$"
_MODEL_TYPE = re.compile(MODEL_TYPE_PATTERN)
_DNS_TYPE = re.compile(r"^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$")
_ENVIRONMENT = re.compile(ENVIRONMENT_PATTERN)
DNS_LABEL_MAX = 63


class InvalidNameError(ValueError):
    """A model type, environment or object name that breaks the naming rules."""


def validate_model_type(model_type: str) -> str:
    """Return `model_type` unchanged, or raise saying which rule it breaks."""
    if len(model_type) > MODEL_TYPE_MAX_LENGTH or not _MODEL_TYPE.match(model_type):
        raise InvalidNameError(
            f"invalid model type {model_type!r}: use 2-40 characters of lowercase letters, digits "
            "and single underscores, starting with a letter (e.g. safety_classifier)"
        )
    return model_type


def validate_environment(environment: str) -> str:
    """Return `environment` unchanged, or raise saying which rule it breaks."""
    if not _ENVIRONMENT.match(environment):
        raise InvalidNameError(
            f"invalid environment {environment!r}: use a DNS label such as staging or production"
        )
    return environment


def type_to_dns(model_type: str) -> str:
    """`safety_classifier` → `safety-classifier` (reversible: types never contain dashes)."""
    return validate_model_type(model_type).replace("_", "-")


def dns_to_type(name: str) -> str:
    """`safety-classifier` → `safety_classifier`, the inverse of type_to_dns."""
    if not _DNS_TYPE.match(name) or "--" in name:
        raise InvalidNameError(f"{name!r} is not a DNS name produced from a model type")
    return name.replace("-", "_")


def version_to_dns(version: str) -> str:
    """`v1.2.0` → `v1-2-0`; `v1.2.0-rc.1` → `v1-2-0--rc-1` (the double dash keeps it unambiguous)."""
    parsed = parse_version(version)
    core = f"v{parsed.major}-{parsed.minor}-{parsed.patch}"
    if not parsed.prerelease:
        return core
    pre = "-".join(part.lower().replace("-", "x") for part in parsed.prerelease)
    return f"{core}--{pre}"


def _checked(name: str) -> str:
    if len(name) > DNS_LABEL_MAX:
        raise InvalidNameError(f"derived name {name!r} is longer than {DNS_LABEL_MAX} characters")
    return name


def model_version_name(model_type: str, version: str) -> str:
    """Name of the ModelVersion object: `safety-classifier-v1-2-0`."""
    return _checked(f"{type_to_dns(model_type)}-{version_to_dns(version)}")


def deployment_name(model_type: str, environment: str) -> str:
    """Name of the ModelDeployment (and its Deployment and Service): `safety-classifier-production`."""
    return _checked(f"{type_to_dns(model_type)}-{validate_environment(environment)}")
