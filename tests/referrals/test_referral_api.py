"""The referrals API: a partner system refers through the same gate and ledger as a person."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from agencies import identity
from audit.models import AuditEntry
from hub.core import db
from hub.core.access import Actor
from hub.referrals import checklists
from hub.referrals.models import Referral
from tests.support.agencies_sso import RECORDS_CLIENT, RECORDS_SECRET, Providers
from tests.support.idp import DevIdP


def _body() -> dict:
    questions = checklists.load_checklists()[checklists.DEFAULT_CHECKLIST].questions
    return {
        "victim": {"given_name": "Api", "family_name": "Victim", "born_on": "1991-06-01"},
        "perpetrator": {"given_name": "Api", "family_name": "Perpetrator"},
        "relationship": "Ex-partner",
        "answers": {q.id: {"answer": "yes" if i < 14 else "no"} for i, q in enumerate(questions)},
        "incident": "Threats to kill by text message; police attended at 02:00.",
        "victim_aware": True,
        "whereabouts": {"address": "1 Hidden Close", "safe_phone": "07700 900111"},
        "sharing": {"state": "given", "evidence": "Verbally, to the officer, alone"},
    }


def _count() -> int:
    with db.unit_of_work() as uow:
        return int(uow.session.execute(select(func.count()).select_from(Referral)).scalar_one())


@pytest.fixture
def headers(providers: Providers, police_idp: DevIdP) -> dict[str, str]:
    with db.unit_of_work():
        registered = identity.add_api_client(
            Actor.system(),
            identity.ApiClientData(
                agency_id=providers.police_agency,
                client_id=RECORDS_CLIENT,
                name="Police records system",
                scopes=frozenset({"referrals:read", "referrals:write"}),
            ),
        )
    token = police_idp.client_credentials_token(
        RECORDS_CLIENT, RECORDS_SECRET, "referrals:read referrals:write"
    )
    return {"Authorization": f"Bearer {token}", "X-Test-Client": str(registered.id)}


def test_a_partner_system_refers_submits_and_reads_through_the_gate(client, headers) -> None:
    created = client.post(
        "/api/v1/referrals", json=_body(), headers={**headers, "Idempotency-Key": "police-2026-42"}
    )
    assert created.status_code == 201, created.get_json()
    referral = created.get_json()
    assert referral["status"] == "draft" and referral["reference"]

    again = client.post(
        "/api/v1/referrals", json=_body(), headers={**headers, "Idempotency-Key": "police-2026-42"}
    )
    assert again.status_code == 200 and again.get_json()["id"] == referral["id"]
    assert _count() == 1

    sent = client.post(f"/api/v1/referrals/{referral['id']}/submit", headers=headers)
    assert sent.status_code == 200 and sent.get_json()["status"] == "submitted"

    case = client.get(f"/api/v1/referrals/{referral['id']}", headers=headers)
    body = case.get_json()
    assert case.status_code == 200
    assert body["criteria"] == ["Visible high risk"]
    assert body["sections"]["whereabouts"]["withheld"].startswith("Masked")
    assert "Hidden Close" not in json.dumps(body)
    with db.unit_of_work() as uow:
        entry = json.loads(
            uow.session.execute(
                select(AuditEntry.body).where(AuditEntry.action == "case:api_read")
            ).scalar_one()
        )
    assert entry["actor"]["kind"] == "service"
    assert entry["actor"]["client"] == headers["X-Test-Client"]  # the registered system
    assert "identity" in entry["categories"]
    listing = client.get("/api/v1/referrals", headers=headers).get_json()
    assert [r["reference"] for r in listing] == [referral["reference"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "blue"}, "colour"),
        ({"victim_aware": "yes"}, "victim_aware"),
        ({"incident": "x" * 9000}, "incident"),
        ({"victim": {"family_name": "NoFirstName"}}, "victim"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(
    client, headers, change, field
) -> None:
    response = client.post("/api/v1/referrals", json={**_body(), **change}, headers=headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert _count() == 0


def test_a_rule_broken_deep_in_the_services_is_also_a_422_and_nothing_is_kept(
    client, headers
) -> None:
    body = _body()
    body["victim"]["born_on"] = "2015-01-01"  # under 16: child safeguarding, not MARAC
    response = client.post("/api/v1/referrals", json=body, headers=headers)
    assert response.status_code == 422
    assert "born_on" in response.get_json()["errors"]
    assert _count() == 0


def test_the_checklist_definition_is_served(client, headers) -> None:
    body = client.get("/api/v1/checklists/safelives-dash-24", headers=headers).get_json()
    assert len(body["questions"]) == 24 and body["answers"] == ["yes", "no", "dont_know"]


def test_without_a_token_the_api_answers_401_problem_json(client) -> None:
    response = client.get("/api/v1/referrals")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
