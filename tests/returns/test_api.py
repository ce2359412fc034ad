"""GET /api/v1/returns/{quarter}: the area's counts for its reporting tools, never a case;
problem JSON for a missing scope and a quarter that is not one."""

from __future__ import annotations

import re
from datetime import date

from tests.auth.conftest import health_idp, idps, police_idp, providers  # noqa: F401
from tests.returns.conftest import Case, hold
from tests.support.agencies_sso import records_system_bearer


def test_a_reporting_tool_reads_the_quarter_as_counts(client, world, providers, police_idp) -> None:  # noqa: F811
    hold(world, date(2026, 4, 9), [Case(), Case(agency="idva", perpetrators=[None, None])])
    headers, _client_id = records_system_bearer(
        providers, police_idp, frozenset({"returns:read", "referrals:read"})
    )
    answer = client.get("/api/v1/returns/2026-Q2", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["quarter"] == "2026-Q2" and body["status"] == "draft"
    assert body["meetings"] == [
        {"meeting_date": "2026-04-09", "counts": body["meetings"][0]["counts"]}
    ]
    counts = body["meetings"][0]["counts"]
    assert counts["cases_total"] == 3 and counts["referrals_idva"] == 2
    assert counts["perpetrators_under_18_not_known"] == 2
    assert body["totals"]["cases_total"] == 3
    assert body["measures"]["quarter"]["partner_share"] == 200 / 3
    assert not re.search(r"RT-\d{5}|Tally", answer.get_data(as_text=True))
    missing = client.get("/api/v1/returns/2026-Q5", headers=headers)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert client.get("/api/v1/returns/2026-Q2").status_code == 401
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/v1/returns/{quarter}" in spec["paths"]


def test_a_token_without_the_returns_scope_is_refused(client, world, providers, police_idp) -> None:  # noqa: F811
    headers, _client_id = records_system_bearer(
        providers, police_idp, frozenset({"referrals:read"})
    )
    refused = client.get("/api/v1/returns/2026-Q2", headers=headers)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["required_scopes"] == ["returns:read"]
