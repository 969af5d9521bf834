"""Fixtures for the server tests: a real tiny model on disk and a factory for in-process servers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.models import make_model_dir
from support.persona import PersonaModels, persona_models
from support.server_process import ServerProcess, server_process
from support.serving import MODEL_TYPE, ServeFn, serving, settings_for


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    make_model_dir(root, MODEL_TYPE, "v1.0.0")
    return root


@pytest.fixture
def serve(models_dir: Path) -> ServeFn:
    """`async with serve(**overrides) as client:` runs the server on the test models."""

    def start(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return serving(settings_for(overrides.pop("models_dir", models_dir), **overrides))

    return start


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real `modelops-server` process (REST + gRPC on loopback ports) shared by a test module."""
    models = tmp_path_factory.mktemp("models")
    make_model_dir(models, MODEL_TYPE, "v1.0.0")
    with server_process(models) as running:
        yield running


@pytest.fixture(scope="session")
def persona(tmp_path_factory: pytest.TempPathFactory) -> PersonaModels:
    """The tiny text-generation model (built, exported and signed once per test session)."""
    return persona_models(tmp_path_factory.mktemp("persona"))
