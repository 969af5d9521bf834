"""The published OpenAPI document: valid OpenAPI 3.1 (openapi-spec-validator), every route documented,
405 answers carry `Allow`, and schemathesis exercises every operation on the real server with 0 5xx.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route

from modelops_server.app import create_app
from modelops_server.openapi import openapi_document
from support.server_process import ServerProcess
from support.serving import MODEL_TYPE, SEED_PREDICT, settings_for

EXAMPLES = 15  # per operation: 12 operations stay well under a minute
# The answers must match the document (status, media type, headers, body schema) and never be a 5xx.
# Schema-valid OIP bodies can still be semantically wrong (shape vs data), so the data acceptance
# checks (positive/negative_data_*) are not among them.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]  # fmt: skip


@pytest.fixture(scope="module")
def api_schema(server: ServerProcess) -> Any:
    return schemathesis.openapi.from_url(f"{server.base}/openapi.json")


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi_document(MODEL_TYPE)
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_and_method_is_documented(tmp_path: Any) -> None:
    app = create_app(settings_for(tmp_path))
    served = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {
        (path, method) for path, item in openapi_document(MODEL_TYPE)["paths"].items() for method in item
    }
    assert served == documented


def test_undeclared_methods_get_405_with_allow(server: ServerProcess) -> None:
    wrong_post = httpx.post(f"{server.base}/v2/health/live", timeout=5)
    wrong_get = httpx.get(f"{server.base}{SEED_PREDICT}", timeout=5)
    assert (wrong_post.status_code, wrong_get.status_code) == (405, 405)
    assert set(wrong_post.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD"}
    assert wrong_get.headers["allow"] == "POST"
    assert wrong_get.json()["error"]


def test_schemathesis_exercises_every_operation_with_no_server_error(api_schema: Any) -> None:
    """Every operation generates valid and invalid cases (none skipped for schema errors); no 5xx."""
    statuses: dict[str, Counter[int]] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()  # an operation the schema cannot describe fails here
        seen = statuses.setdefault(operation.label, Counter())
        for mode in GenerationMode:
            _exercise(operation, mode, seen)
    print({label: dict(counts) for label, counts in statuses.items()})  # the note's numbers (-s)
    documented = {
        f"{m.upper()} {p}" for p, item in openapi_document(MODEL_TYPE)["paths"].items() for m in item
    }
    assert set(statuses) == documented - {"GET /openapi.json"}  # schemathesis skips its own schema's URL
    assert all(sum(counts.values()) > 0 for counts in statuses.values()), statuses


def _exercise(operation: Any, mode: GenerationMode, seen: Counter[int]) -> None:
    checks = CHECKS if mode is GenerationMode.POSITIVE else [not_a_server_error]

    @given(operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              derandomize=True, database=None)  # fmt: skip
    def call(case: Any) -> None:
        response = case.call(timeout=10)
        seen[response.status_code] += 1
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
        case.validate_response(response, checks=checks)

    try:
        call()
    except Unsatisfiable:  # an operation without parameters or body has no invalid variant
        assert mode is GenerationMode.NEGATIVE
