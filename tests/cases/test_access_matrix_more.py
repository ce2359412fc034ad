"""The rest of the referral and consent routes, for every persona (the first matrix is in
test_referral_pages.py). Each status is what that person must get, and why is noted."""

from __future__ import annotations

import re

import pytest

from cases import services
from consent import services as consent_services
from hub.core import db
from tests.support import cases
from tests.support.ledger import refusals_of
from tests.support.web import sign_in, text
from tests.support.world import actor_of

PERSONAS = [
    "anonymous",
    "police_officer",
    "police_rep",
    "coordinator",
    "chair",
    "nurse",
    "health_rep",
    "housing_officer",
    "idva",
    "auditor",
    "admin",
]


@pytest.fixture
def case_and_consent(world) -> tuple[int, int]:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    with db.unit_of_work():
        consent_id = consent_services.consents_for(referral_id)[0].id
    return referral_id, consent_id


def _routes(world, referral_id: int, consent_id: int) -> list[tuple[str, str, dict]]:
    return [
        ("POST", "/referrals/new", {}),
        ("GET", f"/referrals/{referral_id}/victim", {}),
        ("GET", f"/referrals/{referral_id}/check", {}),
        ("POST", f"/cases/{referral_id}/share", {"agency_id": world.agencies["housing"]}),
        ("POST", f"/cases/{referral_id}/team", {"member_id": world["nurse"].member_id}),
        ("POST", f"/cases/{referral_id}/wall", {"perpetrator_worker_id": 0}),
        ("POST", "/approvals/999999", {"decision": "approve"}),
        ("POST", f"/cases/{referral_id}/consent/{consent_id}/withdraw", {}),
        ("GET", "/admin/risk-settings", {}),
    ]


EXPECTED = {
    # Not signed in: every route sends them to sign in.
    "anonymous": [302, 302, 302, 302, 302, 302, 302, 302, 302],
    # The referrer: starts a draft (302 to it); a sent referral's form and check pages send
    # them to the case (302); shares it (303); the team and wall forms refuse them with a
    # message, as they are not the agency's representative (303, nothing changes); no
    # approvals (403); records that consent was withdrawn (302 back to the consent page).
    "police_officer": [302, 302, 302, 303, 303, 303, 403, 302, 403],
    # The referring agency's representative: the same, and may decide requests (there is
    # no such request: 303 with a message).
    "police_rep": [302, 302, 302, 303, 303, 303, 303, 302, 403],
    # The coordinator knows the area's sent cases and may share them; cannot withdraw
    # another agency's consent (403).
    "coordinator": [302, 302, 302, 303, 303, 303, 403, 403, 403],
    # The chair works for the police, the referring agency, so has its practitioners'
    # rights over the case.
    "chair": [302, 302, 302, 303, 303, 303, 403, 302, 403],
    # Agencies not given the case do not learn that it exists: every route for it is the
    # 404 of a missing case (and recorded); their representatives may decide their own
    # agency's requests (none here: 303 with a message).
    "nurse": [302, 404, 404, 404, 404, 404, 403, 404, 403],
    "health_rep": [302, 404, 404, 404, 404, 404, 303, 404, 403],
    "housing_officer": [302, 404, 404, 404, 404, 404, 403, 404, 403],
    "idva": [302, 404, 404, 404, 404, 404, 303, 404, 403],
    # The auditor and the administrator see no case data by their roles: a case route is
    # the same 404 for them, recorded as a refusal; the administrator keeps the area's
    # risk settings.
    "auditor": [403, 404, 404, 404, 404, 404, 403, 404, 403],
    "admin": [403, 404, 404, 404, 404, 404, 403, 404, 200],
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_access_matrix_for_the_other_referral_routes(app, world, case_and_consent, persona) -> None:
    referral_id, consent_id = case_and_consent
    client = app.test_client()
    if persona != "anonymous":
        person = world[persona]
        assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 302
    page = text(client.get("/sign-in" if persona == "anonymous" else "/account"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    got = []
    for method, url, data in _routes(world, referral_id, consent_id):
        if method == "GET":
            got.append(client.get(url).status_code)
        else:
            got.append(client.post(url, data={"csrf_token": token, **data}).status_code)
    assert got == EXPECTED[persona], (persona, got)
    if persona != "anonymous":
        # Every concealed refusal is in the ledger, whoever was refused.
        assert refusals_of(world[persona].member_id, referral_id) >= got.count(404)
    # The refusals shown as messages changed nothing: nobody joined the team or a wall.
    with db.unit_of_work():
        facts = services.case_facts(services.get_referral(referral_id))
        assert world["nurse"].member_id not in facts.team_member_ids
        assert not facts.walled_member_ids
