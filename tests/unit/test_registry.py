"""The registry behaviour suite (`support.registry_behaviour`) on the File backend (registry.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelops.registry import FileBackend, ModelRegistry
from support.registry_behaviour import RegistryBehaviour, RegistryEnv


def _already_serving(_model_type: str, _environment: str, _version: str) -> None:
    """The file registry has no operator: what is deployed is what serves."""


@pytest.fixture
def env(tmp_path: Path) -> RegistryEnv:
    return RegistryEnv(ModelRegistry(FileBackend(tmp_path / "registry.json")), _already_serving)


class TestFileRegistry(RegistryBehaviour):
    """Every behaviour test against registry.json."""
