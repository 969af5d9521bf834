"""In-process serving for tests: the real app (lifespan, background load) behind an httpx ASGI client.

Used by the server tests (`tests/unit/server/`) and by any test that needs a model server without a port.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from modelops_server.app import create_app
from modelops_server.settings import ServerSettings

MODEL_TYPE = "safety_classifier"
SEED_HEALTH = f"/api/v1/ml-models/{MODEL_TYPE}/health"
SEED_PREDICT = f"/api/v1/ml-models/{MODEL_TYPE}/predict"
INFER = f"/v2/models/{MODEL_TYPE}/infer"

ServeFn = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


def settings_for(models_dir: Path, **overrides: Any) -> ServerSettings:
    """Settings for the test model; `overrides` replace any field."""
    values: dict[str, Any] = {"models_dir": models_dir, "model_type": MODEL_TYPE, "version": "v1.0.0"}
    values.update(overrides)
    return ServerSettings(**values)


@asynccontextmanager
async def serving(settings: ServerSettings) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan, wait for the model load to finish, and yield a client bound to it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await app.state.dataplane.wait_loaded()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            yield client
