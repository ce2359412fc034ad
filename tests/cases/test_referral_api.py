"""The referrals API: a partner system refers through the same gate and ledger as a person."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from agencies.models import Agency, MaracArea
from audit.models import AuditEntry
from cases import checklists
from cases.models import Referral
from hub.core import db
from tests.support.agencies_sso import (
    Providers,
    records_system_bearer,
)
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
    scopes = frozenset({"referrals:read", "referrals:write"})
    header, client_id = records_system_bearer(providers, police_idp, scopes)
    return {**header, "X-Test-Client": str(client_id)}


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


def _consents(client, headers, referral_id: int) -> list[dict]:
    response = client.get(f"/api/v1/referrals/{referral_id}/consents", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_a_partner_system_records_and_withdraws_consent(client, headers) -> None:
    referral_id = client.post("/api/v1/referrals", json=_body(), headers=headers).get_json()["id"]
    client.post(f"/api/v1/referrals/{referral_id}/submit", headers=headers)
    recorded = client.post(
        f"/api/v1/referrals/{referral_id}/consents",
        json={
            "state": "given",
            "purposes": ["safeguarding"],
            "categories": ["identity", "health"],
            "recipient_agency_types": ["acute_health"],
            "evidence": "By phone, alone, a safe time she chose",
            "valid_until": "2099-01-01T00:00:00+00:00",
        },
        headers=headers,
    )
    assert recorded.status_code == 201, recorded.get_json()
    consent = recorded.get_json()
    assert consent["state"] == "given" and consent["categories"] == ["identity", "health"]
    assert consent["recipient_agency_types"] == ["acute_health"]
    listed = _consents(client, headers, referral_id)
    assert len(listed) == 2 and listed[0]["id"] == consent["id"]  # newest first

    withdrawn = client.post(
        f"/api/v1/referrals/{referral_id}/consents/{consent['id']}/withdraw", headers=headers
    )
    assert withdrawn.status_code == 200 and withdrawn.get_json()["withdrawn_at"]
    again = client.post(
        f"/api/v1/referrals/{referral_id}/consents/{consent['id']}/withdraw", headers=headers
    )
    assert again.status_code == 422  # already withdrawn: said plainly, nothing changes
    with db.unit_of_work() as uow:
        actions = list(
            uow.session.execute(
                select(AuditEntry.action).where(
                    AuditEntry.action.in_(["consent:recorded", "consent:withdrawn"])
                )
            ).scalars()
        )
    assert actions.count("consent:withdrawn") == 1
    assert actions.count("consent:recorded") == 2  # the referral's own, then this one


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "given", "evidence": "x", "colour": "blue"}, "colour"),
        ({"state": "maybe", "evidence": "x"}, "state"),
        ({"state": "given", "evidence": "x", "categories": ["minutes"]}, "categories"),
        ({"state": "given", "evidence": "x" * 2001}, "evidence"),
        ({"state": "given", "evidence": "In person"}, "purposes"),  # given, but to no purpose
        (
            {"state": "given", "evidence": "x", "valid_until": "2020-01-01T00:00:00+00:00"},
            "valid_until",
        ),
        ({"state": "given", "evidence": "x", "valid_until": "2099-01-01T00:00:00"}, "valid_until"),
    ],
)
def test_bad_consent_is_a_422_naming_the_field_and_records_nothing(
    client, headers, body, field
) -> None:
    referral_id = client.post("/api/v1/referrals", json=_body(), headers=headers).get_json()["id"]
    response = client.post(f"/api/v1/referrals/{referral_id}/consents", json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]
    assert len(_consents(client, headers, referral_id)) == 1  # only the referral's own


def test_a_partner_system_names_other_perpetrators(client, headers) -> None:
    body = {
        **_body(),
        "other_perpetrators": [
            {"given_name": "Second", "family_name": "Perpetrator", "relationship": "Brother"}
        ],
        "household": [
            {"given_name": "Api", "family_name": "Child", "born_on": "2018-05-01", "role": "child"}
        ],
    }
    created = client.post("/api/v1/referrals", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    case = client.get(f"/api/v1/referrals/{created.get_json()['id']}", headers=headers).get_json()
    people = json.dumps(case["sections"]["identity"])
    assert "Second PERPETRATOR" in people and "Perpetrator 2" in people
    assert "Api CHILD" in json.dumps(case["sections"]["children"])
    missing = client.post(
        "/api/v1/referrals",
        json={**_body(), "other_perpetrators": [{"given_name": "No", "family_name": "Link"}]},
        headers=headers,
    )
    assert missing.status_code == 422 and "other_perpetrators" in missing.get_json()["errors"]


def test_the_api_takes_everything_the_referral_form_takes(client, headers, providers) -> None:
    """One service behind both: the add-on answers and the consultations are kept."""
    stalking = checklists.load_checklists()["stalking-addon-11"].questions
    with db.unit_of_work() as uow:
        agency = uow.session.get(Agency, providers.police_agency)
        area = uow.session.get(MaracArea, agency.area_id)
        area.extra_checklists = ["stalking-addon-11"]
    body = {
        **_body(),
        "addon_answers": {
            "stalking-addon-11": {q.id: {"answer": "yes"} for q in stalking[:3]},
        },
        "line_manager_consulted": True,
        "marac_rep_consulted": True,
    }
    created = client.post("/api/v1/referrals", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    with db.unit_of_work() as uow:
        referral = uow.session.get(Referral, created.get_json()["id"])
        assert len(referral.assessment.addon_answers["stalking-addon-11"]) == 3
        assert referral.line_manager_consulted and referral.marac_rep_consulted


def test_asking_the_api_to_downgrade_is_refused_as_the_form_refuses_it(client, headers) -> None:
    response = client.post(
        "/api/v1/referrals", json={**_body(), "downgrade": True}, headers=headers
    )
    assert response.status_code == 422
    assert "judgement_reasons" in response.get_json()["errors"]
    assert _count() == 0
