"""The OpenAPI document is true: schemathesis calls every operation, with and without a
token, and every answer is documented (status, media type), and none is a 5xx.

The token is a real one from the police provider (tools/dev-idp) for the police records
system, registered for both API scopes.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.agencies_sso import (
    Providers,
    records_system_bearer,
)
from tests.support.idp import DevIdP

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


@pytest.fixture
def bearer(providers: Providers, police_idp: DevIdP) -> dict[str, str]:
    scopes = frozenset({"referrals:read", "referrals:write"})
    header, _ = records_system_bearer(providers, police_idp, scopes)
    return header


EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def _explore(app: Any, *, headers: dict[str, str] | None, checks: list[Any]) -> list[str]:
    """Run schemathesis over every operation, positive and negative data; return them.

    (Its pytest integration, ``from_fixture``, does not run on pytest 9, so each operation's
    strategy is driven by Hypothesis here.)
    """
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    seen = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @EXAMPLES
            def call(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=checks)

            call()
    return seen


def test_the_document_declares_bearer_security_and_problem_json_on_every_operation(
    client: Any,
) -> None:
    document = client.get("/api/openapi.json").get_json()
    operations = [
        (path, op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 9
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, operation in operations:
        # The one exception: the token endpoint for other hubs, where a hub authenticates
        # with a client assertion it signs (client credentials), to get its bearer token.
        expected = [] if path == "/api/v1/transfers/token" else [{"bearerAuth": []}]
        assert operation["security"] == expected
        for status in ("401", "403", "default"):
            assert status in operation["responses"]
    problem = document["components"]["responses"]["UNAUTHORIZED"]["content"]
    assert list(problem) == ["application/problem+json"]
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {
        "type",
        "title",
        "status",
    }


def test_every_operation_without_a_token_answers_as_documented(app: Any) -> None:
    seen = _explore(app, headers=None, checks=[*CHECKS, response_schema_conformance])
    assert len(seen) >= 9


def test_every_operation_with_a_token_answers_as_documented(
    app: Any, bearer: dict[str, str]
) -> None:
    seen = _explore(app, headers=bearer, checks=CHECKS)
    assert "POST /referrals" in seen or "POST /api/v1/referrals" in seen
