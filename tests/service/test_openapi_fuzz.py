"""Schemathesis against the published OpenAPI document of a live server: no 5xx, and every response
(status code, content type, headers and body) matches the document. The API runs without workers, so
whatever the generated requests queue is never executed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service.conftest import Service

pytestmark = [pytest.mark.engine, pytest.mark.postgres]  # the API locates (never runs) the CLI
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 15


@pytest.fixture(scope="module")
def fuzzed(service_factory: Callable[[str], Service], engine_available: None) -> Service:
    svc = service_factory("fuzz")
    svc.start_api()
    return svc


def test_api_conforms_to_its_openapi_document(fuzzed: Service) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    headers = {"Authorization": f"Bearer {fuzzed.platform_key}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    statuses: Counter[int] = Counter()

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case: schemathesis.Case) -> None:
            if case.path.endswith("/events"):
                case.query = {**(case.query or {}), "follow": "false"}
            response = case.call_and_validate(base_url=fuzzed.url, headers=headers, checks=CHECKS, timeout=30)
            statuses[response.status_code] += 1

        conforms()
    assert sum(statuses.values()) >= 5 * len(operations), statuses
