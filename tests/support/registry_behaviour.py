"""The registry behaviour suite: one set of tests that every `ModelRegistry` backend must pass.

`tests/unit/test_registry.py` runs it against the File backend, `tests/integration/
test_registry_kubernetes.py` against the Kubernetes backend on a real kube-apiserver. A subclass
provides the `env` fixture (a `RegistryEnv`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from modelops.registry import (
    Artifact,
    InvalidNameError,
    InvalidVersionError,
    ModelNotFoundError,
    ModelRegistry,
    NoRollbackTargetError,
    VersionConflictError,
    VersionNotFoundError,
)

SEED_METADATA = {
    "accuracy": 0.98,
    "recall": 0.99,
    "precision": 0.95,
    "training_data_size": 1000,
    "training_date": "2024-01-01",
}
TYPE = "safety_classifier"


@dataclass
class RegistryEnv:
    """A registry under test and a way to make a version serve (what the operator does on a cluster)."""

    registry: ModelRegistry
    mark_serving: Callable[[str, str, str], None]


def artifact(version: str, salt: str = "") -> Artifact:
    """A distinct, valid artifact per version."""
    digest = hashlib.sha256(f"{version}{salt}".encode()).hexdigest()
    return Artifact(uri=f"/models/{TYPE}/{version}", sha256=digest)


def register(env: RegistryEnv, *versions: str) -> None:
    """Register versions with the seed's metadata."""
    for version in versions:
        env.registry.register_model(TYPE, version, SEED_METADATA, artifact=artifact(version))


def deploy_and_serve(env: RegistryEnv, version: str, environment: str = "production") -> None:
    """Deploy, then let it serve."""
    env.registry.deploy_model(TYPE, version, environment)
    env.mark_serving(TYPE, environment, version)


class RegistryBehaviour:
    """Behaviour shared by every backend (the subclass defines the `env` fixture)."""

    def test_versions_are_listed_in_semver_order(self, env: RegistryEnv) -> None:
        register(env, "v1.10.0", "v1.2.0", "v1.9.0", "v1.2.0-rc.1")
        assert env.registry.list_versions(TYPE) == ["v1.2.0-rc.1", "v1.2.0", "v1.9.0", "v1.10.0"]

    def test_latest_is_highest_semver_not_newest(self, env: RegistryEnv) -> None:
        register(env, "v2.0.0", "v1.5.0", "v2.1.0-rc.1")
        assert env.registry.get_latest_version(TYPE) == "v2.1.0-rc.1"
        register(env, "v2.1.0")
        assert env.registry.get_latest_version(TYPE) == "v2.1.0"

    def test_metadata_round_trips(self, env: RegistryEnv) -> None:
        register(env, "1.0.0")
        record = env.registry.get_version(TYPE, "v1.0.0")
        assert (record.version, record.metadata, record.artifact) == (
            "v1.0.0",
            SEED_METADATA,
            artifact("1.0.0"),
        )

    def test_registering_identical_content_twice_is_idempotent(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0")
        register(env, "v1.0.0")
        assert env.registry.list_versions(TYPE) == ["v1.0.0"]

    def test_registering_different_content_twice_is_refused(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0")
        changed = {**SEED_METADATA, "accuracy": 0.5}
        with pytest.raises(VersionConflictError, match="already registered"):
            env.registry.register_model(TYPE, "v1.0.0", changed, artifact=artifact("v1.0.0"))
        with pytest.raises(VersionConflictError):
            env.registry.register_model(TYPE, "v1.0.0", SEED_METADATA, artifact=artifact("v1.0.0", "other"))
        assert env.registry.get_version(TYPE, "v1.0.0").metadata == SEED_METADATA

    def test_invalid_version_and_type_are_refused_and_nothing_written(self, env: RegistryEnv) -> None:
        with pytest.raises(InvalidVersionError, match=r"v1\.2\.3"):
            env.registry.register_model(TYPE, "1.2", SEED_METADATA, artifact=artifact("x"))
        with pytest.raises(InvalidNameError):
            env.registry.register_model("Bad-Type", "v1.0.0", SEED_METADATA, artifact=artifact("x"))
        assert env.registry.list_model_types() == []

    def test_unknown_model_raises_model_not_found(self, env: RegistryEnv) -> None:
        with pytest.raises(ModelNotFoundError, match="intent_classifier"):
            env.registry.get_latest_version("intent_classifier")
        with pytest.raises(ModelNotFoundError):
            env.registry.list_versions("intent_classifier")

    def test_deploying_an_unregistered_version_is_refused(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0")
        with pytest.raises(VersionNotFoundError, match=r"v1\.1\.0 is not registered"):
            env.registry.deploy_model(TYPE, "v1.1.0", "production")
        assert env.registry.get_deployment(TYPE, "production") is None

    def test_deployed_version_per_environment(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0", "v1.1.0")
        assert env.registry.get_deployed_version(TYPE, "production") is None
        deploy_and_serve(env, "v1.0.0", "production")
        deploy_and_serve(env, "v1.1.0", "staging")
        assert env.registry.get_deployed_version(TYPE, "production") == "v1.0.0"
        assert env.registry.get_deployed_version(TYPE, "staging") == "v1.1.0"
        listed = {(d.environment, d.version) for d in env.registry.list_deployments(TYPE)}
        assert listed == {("production", "v1.0.0"), ("staging", "v1.1.0")}

    def test_redeploy_changes_the_desired_version(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0", "v1.1.0")
        deploy_and_serve(env, "v1.0.0")
        record = env.registry.deploy_model(TYPE, "v1.1.0", "production")
        assert record.version == "v1.1.0"
        env.mark_serving(TYPE, "production", "v1.1.0")
        assert env.registry.get_deployed_version(TYPE, "production") == "v1.1.0"

    def test_rollback_goes_to_previous_good_version(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0", "v1.1.0")
        deploy_and_serve(env, "v1.0.0")
        deploy_and_serve(env, "v1.1.0")
        assert env.registry.rollback(TYPE, "production").version == "v1.0.0"

    def test_rollback_to_a_named_version(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0", "v1.1.0", "v1.2.0")
        deploy_and_serve(env, "v1.2.0")
        assert env.registry.rollback(TYPE, "production", to="v1.0.0").version == "v1.0.0"

    def test_rollback_without_an_earlier_version_is_refused(self, env: RegistryEnv) -> None:
        register(env, "v1.0.0")
        with pytest.raises(NoRollbackTargetError, match="never deployed"):
            env.registry.rollback(TYPE, "production")
        deploy_and_serve(env, "v1.0.0")
        with pytest.raises(NoRollbackTargetError, match="no earlier good version"):
            env.registry.rollback(TYPE, "production")
