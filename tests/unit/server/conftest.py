"""Fixtures for the server tests: a real tiny model on disk and a factory for in-process servers."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.models import make_model_dir
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
