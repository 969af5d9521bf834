"""The published OpenAPI 3.1 document of the server's HTTP API, served at `/openapi.json` by `app.py`.

Written by hand (the routes are few and stable) so it documents the exact seed JSON fields, the Open
Inference Protocol v2 shapes and every error status.
"""

from __future__ import annotations

from typing import Any

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
STRINGS = {"type": "array", "items": {"type": "string"}}
SCORES = {"type": "object", "additionalProperties": {"type": "number"}}
PREDICTION = {"type": "object", "properties": {"label": {"type": "string"}, "scores": SCORES}}
HEALTH = {
    "type": "object",
    "required": ["model_type", "version", "status", "available", "loadable", "metadata"],
    "properties": {
        "model_type": {"type": "string"},
        "version": {"type": "string"},
        "status": {"enum": ["healthy", "unhealthy"]},
        "available": {"type": "boolean", "description": "the model directory was found"},
        "loadable": {"type": "boolean", "description": "verified, loaded and golden check passed"},
        "metadata": {"type": "object", "properties": {"version": {"type": "string"}, "deployed_at": {}}},
        "reason": {"type": "string", "description": "why the model is unhealthy (only when unhealthy)"},
    },
}
PREDICT_REQUEST = {
    "type": "object",
    "description": "Exactly one of text or texts. Texts over max-text-chars characters are refused (400); "
    "texts longer than the model's max_length tokens are truncated.",
    "properties": {"text": {"type": "string", "minLength": 1}, "texts": {**STRINGS, "minItems": 1}},
}
PREDICT_RESPONSE = {
    "type": "object",
    "properties": {
        "model_type": {"type": "string"},
        "version": {"type": "string"},
        "label": {"type": "string"},
        "scores": SCORES,
        "predictions": {"type": "array", "items": PREDICTION},
    },
}
TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {
            "type": "string",
            "description": "BYTES for text, INT64 for token tensors, FP32 outputs",
        },
        "data": {"type": "array"},
    },
}
INFER_REQUEST = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string"},
        "inputs": {"type": "array", "items": TENSOR, "minItems": 1},
        "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
    },
}
INFER_RESPONSE = {
    "type": "object",
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": ["string", "null"]},
        "outputs": {"type": "array", "items": TENSOR},
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {400: "malformed request", 401: "missing or invalid bearer token", 404: "unknown model",
             413: "body too large", 500: "internal or injected error", 503: "model not ready"}  # fmt: skip
    return {str(status): _json(ERROR, texts[status]) for status in statuses}


def _operation(summary: str, responses: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["security"] = [{}, {"bearer": []}]
    return operation


def _paths() -> dict[str, Any]:
    ok = {"200": {"description": "OK"}}
    model_ok = {"200": {"description": "OK"}, **_errors(404)}
    health = {"200": _json(HEALTH, "healthy"), "503": _json(HEALTH, "unhealthy, with reason"), **_errors(404)}
    predict = {"200": _json(PREDICT_RESPONSE, "predictions"), **_errors(400, 401, 404, 413, 500, 503)}
    infer = {"200": _json(INFER_RESPONSE, "outputs"), **_errors(400, 401, 404, 413, 500, 503)}
    return {
        "/api/v1/ml-models/{model_type}/health": {
            "get": _operation(
                "Seed health: healthy only when the verified model answers its golden input", health
            )
        },
        "/api/v1/ml-models/{model_type}/predict": {
            "post": _operation("Label and scores per text", predict, PREDICT_REQUEST)
        },
        "/v2/health/live": {"get": _operation("OIP liveness", ok)},
        "/v2/health/ready": {"get": _operation("OIP readiness", {**ok, "503": {"description": "not ready"}})},
        "/v2/models/{name}": {"get": _operation("OIP model metadata", model_ok)},
        "/v2/models/{name}/ready": {"get": _operation("OIP model readiness", {**model_ok, **_errors(503)})},
        "/v2/models/{name}/infer": {
            "post": _operation(
                "OIP inference: a BYTES text tensor or the model's INT64 tensors", infer, INFER_REQUEST
            )
        },
        "/metrics": {"get": _operation("Prometheus metrics", ok)},
    }


def openapi_document(model_type: str) -> dict[str, Any]:
    """The OpenAPI document; `model_type` is the example path value."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "modelops inference server", "version": "0.1.0",
                 "description": f"Serves one verified ONNX model ({model_type} here) per process."},
        "paths": _paths(),
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }  # fmt: skip
