"""The OpenAPI document is generated from the code, and the live API keeps its promises.

A bounded schemathesis run drives every operation of the live app (a real HTTP server)
with generated input, as an agency key: no answer may be a 5xx, and every answer must
match the status codes and body schemas the document declares.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers import bearer, make_site, new_key


@pytest.fixture
def app_config(app_config):
    # The run makes a few hundred requests; the limiter is tested on its own.
    return {**app_config, "API_RATE_LIMIT_HOUR": 0, "API_RATE_LIMIT_DAY": 0}


def test_the_document_is_openapi_3_and_documents_auth_and_errors(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["components"]["schemas"]["ErrorOut"]["properties"]["error"]["type"] == "string"
    paths = doc["paths"]
    for path in (
        "/api/v1/clients",
        "/api/v1/pools/{pool_id}",
        "/api/v1/calls",
        "/api/v1/pools/{pool_id}/numbers/import",
        "/api/v1/keys",
    ):
        assert path in paths, path
    pool = doc["components"]["schemas"]["PoolIn"]["properties"]["lease_seconds"]
    assert pool["minimum"] == 30  # generated from the validator, not written by hand
    assert (
        "text/csv"
        in paths["/api/v1/pools/{pool_id}/numbers/import"]["post"]["requestBody"]["content"]
    )


def test_schemathesis_finds_no_server_error_and_no_schema_break(app, live_server):
    from ringtrail.storage.sql import get_db

    with app.app_context():
        setup = make_site(get_db(), numbers=3)
    headers = bearer(new_key(app, setup.agency.id))
    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    started = time.monotonic()
    operations = 0
    statuses: set[int] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            response = case.call(base_url=live_server, headers=headers, timeout=10)
            statuses.add(response.status_code)
            case.validate_response(response, checks=checks)

        run()
    assert operations >= 25
    # The run got past authentication and validation, and met the refusals too.
    assert {200, 201, 404, 422} <= statuses, statuses
    assert time.monotonic() - started < 60
