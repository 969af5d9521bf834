"""The published OpenAPI 3.1 document of the server's HTTP API, served at `/openapi.json` by `app.py`.

Written by hand (the routes are few and stable) so it documents the exact seed JSON fields, the Open
Inference Protocol v2 shapes and every error status.
"""

from __future__ import annotations

from typing import Any

from modelops.vocabulary import METRICS_TOKEN_HEADER

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
        "failure": {
            "type": "object",
            "description": "only once loading failed (absent while the model is still loading)",
            "properties": {
                "reason": {"type": "string"},
                "definitive": {
                    "type": "boolean",
                    "description": "the artifact was rejected (digest, signature, metadata, graph, golden): "
                    "no restart can make this version healthy",
                },
                "since": {"type": "string", "format": "date-time"},
            },
        },
    },
}
TEXT_ITEM = {"type": "string", "minLength": 1, "pattern": "\\S", "description": "not blank"}
PREDICT_REQUEST = {
    "type": "object",
    "description": "Exactly one of text or texts. Texts over max-text-chars characters are refused (400); "
    "texts longer than the model's max_length tokens are truncated.",
    "oneOf": [
        {"required": ["text"], "properties": {"text": TEXT_ITEM}, "additionalProperties": False},
        {"required": ["texts"], "additionalProperties": False,
         "properties": {"texts": {"type": "array", "items": TEXT_ITEM, "minItems": 1}}},
    ],
}  # fmt: skip
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


MESSAGES = {
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["role", "content"],
              "properties": {"role": {"enum": ["system", "user", "assistant"]},
                             "content": {"type": "string"}}},
}  # fmt: skip
SAMPLING = {
    "temperature": {"type": "number", "minimum": 0, "maximum": 2, "description": "0 = greedy"},
    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "top_k": {"type": "integer", "minimum": 1, "maximum": 1000},
    "seed": {"type": "integer", "minimum": 0, "maximum": 2147483647},
    "stream": {"type": "boolean", "description": "true: Server-Sent Events, one per token chunk"},
}
NEW_TOKENS = {
    "type": "integer",
    "minimum": 1,
    "description": "at most the server's max-new-tokens (else 400)",
}
MIN_TOKENS = {"type": "integer", "minimum": 0, "description": "no end of turn before this many tokens"}
GENERATE_REQUEST = {
    "type": "object", "required": ["messages"], "additionalProperties": False,
    "properties": {"messages": MESSAGES, "max_new_tokens": NEW_TOKENS, "min_new_tokens": MIN_TOKENS,
                   **SAMPLING},
}  # fmt: skip
USAGE = {
    "type": "object",
    "properties": {k: {"type": "integer"} for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
}
GENERATE_RESPONSE = {
    "type": "object",
    "properties": {"model_type": {"type": "string"}, "version": {"type": "string"},
                   "text": {"type": "string"}, "usage": USAGE,
                   "finish_reason": {"enum": ["stop", "length", "deadline", "cancelled", "guardrail"]},
                   "guardrail": {"type": "object", "description": "the safety classifier's verdict"},
                   "token_ids": {"type": "array", "items": {"type": "integer"}}},
}  # fmt: skip
CHAT_REQUEST = {
    "type": "object", "required": ["messages"],
    "properties": {"model": {"type": "string"}, "messages": MESSAGES, "max_tokens": NEW_TOKENS,
                   "max_completion_tokens": NEW_TOKENS, "min_tokens": MIN_TOKENS, "n": {"const": 1},
                   **SAMPLING},
}  # fmt: skip
CHAT_RESPONSE = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "object": {"const": "chat.completion"},
                   "model": {"type": "string"}, "choices": {"type": "array"}, "usage": USAGE},
}  # fmt: skip
OIP_GENERATE_REQUEST = {
    "type": "object",
    "description": "text_input (one user message) or messages; parameters: max_tokens, temperature, ...",
    "properties": {"text_input": {"type": "string", "minLength": 1, "pattern": "\\S"}, "messages": MESSAGES,
                   "parameters": {"type": "object",
                                  "properties": {"max_tokens": NEW_TOKENS, "min_tokens": MIN_TOKENS,
                                                 **SAMPLING}}},
}  # fmt: skip
OIP_GENERATE_RESPONSE = {
    "type": "object",
    "properties": {"model_name": {"type": "string"}, "model_version": {"type": "string"},
                   "text_output": {"type": "string"}, "usage": USAGE},
}  # fmt: skip
LIVE = {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}}
READY = {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}
MODEL_READY = {
    "type": "object",
    "required": ["name", "ready"],
    "properties": {
        "name": {"type": "string"},
        "ready": {"type": "boolean"},
        "reason": {"type": ["string", "null"]},
    },
}
SERVER_METADATA = {
    "type": "object",
    "required": ["name", "version", "extensions"],
    "properties": {"name": {"type": "string"}, "version": {"type": "string"}, "extensions": STRINGS},
}
TENSOR_METADATA = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
    },
}
MODEL_METADATA = {
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"},
        "versions": STRINGS,
        "platform": {"type": "string"},
        "inputs": {"type": "array", "items": TENSOR_METADATA},
        "outputs": {"type": "array", "items": TENSOR_METADATA},
    },
}
TEXT = {"type": "string"}
BINARY = {
    "type": "string",
    "format": "binary",
    "description": "Binary data extension: a JSON header of Inference-Header-Content-Length bytes, then "
    "the raw tensors (little-endian values; BYTES elements each after a 4-byte little-endian length).",
}


PARAMETERS = {
    "model_type": {"name": "model_type", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "the served model type, e.g. safety_classifier"},
    "name": {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "the served model's name (its model type)"},
    "version": {"name": "version", "in": "path", "required": True, "schema": {"type": "string"},
                "description": "the served model version"},
    "header_length": {"name": "Inference-Header-Content-Length", "in": "header", "required": False,
                      "schema": {"type": "integer", "minimum": 1},
                      "description": "JSON header length when the body uses the binary data extension"},
}  # fmt: skip


def _parameters(model_type: str, version: str | None) -> dict[str, Any]:
    parameters = dict(PARAMETERS)
    for key, values in (("model_type", [model_type]), ("name", [model_type]), ("version", [version])):
        if values[0] is not None:
            parameters[key] = {**parameters[key], "schema": {"type": "string", "enum": values}}
    return parameters


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    texts = {400: "malformed request", 401: "missing or invalid bearer token", 404: "unknown model",
             413: "body too large", 429: "every generation slot busy and the queue full",
             500: "internal or injected error", 503: "model not ready"}  # fmt: skip
    answers = {str(status): _json(ERROR, texts[status]) for status in statuses}
    if "429" in answers:
        answers["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return answers


def _generation(operation_id: str, summary: str, request: Any, response: Any, params: tuple[str, ...]) -> Any:
    answers = {
        "200": {"description": "the answer, or Server-Sent Events when stream is true",
                "content": {"application/json": {"schema": response}, "text/event-stream": {"schema": TEXT}}},
        **_errors(400, 401, 404, 413, 429, 500, 503),
    }  # fmt: skip
    operation = _operation(operation_id, summary, answers, params)
    return {"post": _with_body(operation, {"application/json": {"schema": request}})}


def _generation_paths(seed: str) -> dict[str, Any]:
    oip = ("name",)
    return {
        f"{seed}/generate": _generation(
            "seed_generate", "Text generation from chat messages (text-generation models)",
            GENERATE_REQUEST, GENERATE_RESPONSE, ("model_type",)),
        "/v1/chat/completions": _generation(
            "chat_completions", "OpenAI-compatible chat completions", CHAT_REQUEST, CHAT_RESPONSE, ()),
        "/v2/models/{name}/generate": _generation(
            "generate", "OIP generate extension", OIP_GENERATE_REQUEST, OIP_GENERATE_RESPONSE, oip),
        "/v2/models/{name}/generate_stream": _generation(
            "generate_stream", "OIP generate extension, streaming", OIP_GENERATE_REQUEST,
            OIP_GENERATE_RESPONSE, oip),
    }  # fmt: skip


def _operation(
    operation_id: str, summary: str, responses: dict[str, Any], params: tuple[str, ...] = ()
) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "responses": responses}
    if params:
        operation["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    return operation


def _with_body(operation: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
    return {**operation, "requestBody": {"required": True, "content": content},
            "security": [{}, {"bearer": []}]}  # fmt: skip


def _details(operation: dict[str, Any]) -> dict[str, Any]:
    """An operation behind the metrics token when the platform turns metricsAuth on (open otherwise)."""
    unauthorized = _json(ERROR, "missing or invalid metrics token (metricsAuth)")
    return {**operation, "responses": {**operation["responses"], "401": unauthorized},
            "security": [{}, {"metricsToken": []}, {"bearer": []}]}  # fmt: skip


def _model_paths(prefix: str, params: tuple[str, ...], suffix: str) -> dict[str, Any]:
    infer = {
        "200": {
            "description": "outputs (binary ones after the JSON header when asked for)",
            "content": {"application/json": {"schema": INFER_RESPONSE},
                        "application/octet-stream": {"schema": BINARY}},
        },
        **_errors(400, 401, 404, 413, 500, 503),
    }  # fmt: skip
    ready = {"200": _json(MODEL_READY, "ready"), **_errors(404), "503": _json(MODEL_READY, "not ready")}
    body = {"application/json": {"schema": INFER_REQUEST}, "application/octet-stream": {"schema": BINARY}}
    return {
        prefix: {"get": _operation(f"model_metadata{suffix}", "OIP model metadata",
                                   {"200": _json(MODEL_METADATA, "metadata"), **_errors(404)}, params)},
        f"{prefix}/ready": {"get": _details(
            _operation(f"model_ready{suffix}", "OIP model readiness", ready, params))},
        f"{prefix}/infer": {"post": _with_body(_operation(
            f"infer{suffix}", "OIP inference: a BYTES text tensor or the model's INT64 tensors", infer,
            (*params, "header_length")), body)},
    }  # fmt: skip


def _paths() -> dict[str, Any]:
    seed = "/api/v1/ml-models/{model_type}"
    health = {"200": _json(HEALTH, "healthy"), "503": _json(HEALTH, "unhealthy, with reason"), **_errors(404)}
    predict = {"200": _json(PREDICT_RESPONSE, "predictions"), **_errors(400, 401, 404, 413, 500, 503)}
    metrics = {
        "200": {"description": "Prometheus text exposition", "content": {"text/plain": {"schema": TEXT}}}
    }
    openapi = {"200": _json({"type": "object"}, "this document")}
    return {
        f"{seed}/health": {"get": _details(_operation(
            "seed_health", "Seed health: healthy only when the verified model answers its golden input",
            health, ("model_type",)))},
        f"{seed}/predict": {"post": _with_body(
            _operation("seed_predict", "Label and scores per text", predict, ("model_type",)),
            {"application/json": {"schema": PREDICT_REQUEST}})},
        **_generation_paths(seed),
        "/v2/health/live": {"get": _operation("server_live", "OIP liveness", {"200": _json(LIVE, "live")})},
        "/v2/health/ready": {"get": _operation(
            "server_ready", "OIP readiness",
            {"200": _json(READY, "ready"), "503": _json(READY, "not ready")})},
        "/v2": {"get": _operation(
            "server_metadata", "OIP server metadata", {"200": _json(SERVER_METADATA, "metadata")})},
        **_model_paths("/v2/models/{name}", ("name",), ""),
        **_model_paths("/v2/models/{name}/versions/{version}", ("name", "version"), "_versioned"),
        "/metrics": {"get": _details(_operation("metrics", "Prometheus metrics", metrics))},
        "/openapi.json": {"get": _operation("openapi", "This OpenAPI document", openapi)},
    }  # fmt: skip


def openapi_document(model_type: str, version: str | None = None) -> dict[str, Any]:
    """The OpenAPI document of a server serving `model_type` (and `version`, once known).

    The path parameters list the one model this process serves; any other value is answered 404.
    """
    return {
        "openapi": "3.1.0",
        "info": {"title": "modelops inference server", "version": "0.1.0",
                 "description": f"Serves one verified ONNX model ({model_type} here) per process."},
        "paths": _paths(),
        "components": {"parameters": _parameters(model_type, version),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                           "metricsToken": {"type": "apiKey", "in": "header",
                                                            "name": METRICS_TOKEN_HEADER}}},
    }  # fmt: skip
