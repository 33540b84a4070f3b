"""The OpenAPI schema is valid, and the API keeps its promises under generated input (schemathesis):
no 5xx, every status and body as documented."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import api_client_create
from regions.models import Region
from tests.integration.api_support import fresh_throttles_fixture  # noqa: F401  (fixture)
from tests.integration.conftest import EU_ALIAS

pytestmark = pytest.mark.django_db(databases=["default", EU_ALIAS])

EXAMPLES_PER_OPERATION = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_the_schema_validates_without_warnings(tmp_path: Any) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/meetings/{id}/transcript/export/" in text and "bearerAuth" in text


def test_the_schema_and_docs_are_served(client: Any, admin_client: Any) -> None:
    assert client.get("/api/schema/").status_code == 200  # open: it describes the API, holds no data
    assert admin_client.get("/api/docs/").status_code == 200  # for API principals (tests/security)
    assert admin_client.get("/api/redoc/").status_code == 200


@pytest.fixture
def keep_connection() -> Iterator[None]:
    # A bare WSGI app closes the database connection after each request; the test client does not, and
    # neither may we: the test's transaction lives on that connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def token(
    eu: Region, us: Region, make_meeting: Any, make_stream: Any, add_segments: Any, settings: Any
) -> str:
    # Enough to read: a client that sees a meeting with a transcript, and another region it must not see.
    settings.API_THROTTLE_RATE = "100000/minute"
    meeting = make_meeting(eu)
    add_segments(make_stream(meeting), [("Anna", "Hello"), ("Ben", "Hi")])
    make_meeting(us)
    _, token = api_client_create("schemathesis", region_codes=["eu-central"], role="read-write")
    return token


@pytest.mark.timeout(300)
def test_the_api_answers_as_its_schema_says(token: str, keep_connection: None) -> None:
    """Every operation, a few generated requests each (bounded so the run stays around a minute)."""
    schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
