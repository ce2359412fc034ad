"""Restriction of processing (UK GDPR Art. 18): while a case is restricted only its area's
coordinator may know it, and the data protection officer reads it by the subject access door.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from agencies.models import Member
from agencies.services import actor_for
from audit.actions import LedgerAction
from cases.facts import case_facts, knowable
from cases.models import Referral
from consent import gate
from hub.core import db
from hub.core.errors import ValidationFailed
from subject_access import services
from tests.subject_access.conftest import Referred, open_request
from tests.support.cases import VICTIM
from tests.support.ledger import entries_naming
from tests.support.web import signed_in, submit, text

NOTE = "She says the address recorded in March was never hers and asks that nobody uses it"


def _who_knows(case_id: int) -> tuple[set[str], set[str]]:
    """(emails the gate lets know the case, emails whose lists hold it), over every member."""
    with db.unit_of_work() as uow:
        referral = uow.session.get_one(Referral, case_id)
        facts = case_facts(referral)
        by_gate, by_lists = set(), set()
        for member in uow.session.execute(select(Member)).scalars().all():
            who = actor_for(member)
            if gate.would_know(who, facts):
                by_gate.add(member.email)
            listed = uow.session.execute(
                select(Referral.id).where(Referral.id == case_id, knowable(who))
            ).first()
            if listed is not None:
                by_lists.add(member.email)
        return by_gate, by_lists


def _restrict(dpo: Any, request_id: int, case_id: int) -> None:
    with db.unit_of_work():
        found = services.get_request(dpo, request_id)
        services.restrict_case(dpo, found, case_id, "accuracy_contested", NOTE)


def test_a_restricted_case_is_known_only_to_its_coordinator_and_every_list_agrees(
    app: Any, world: Any, referred: Referred, dpo: Any
) -> None:
    before, listed_before = _who_knows(referred.case_id)
    assert before == listed_before
    assert {world["police_officer"].email, world["idva"].email, world["chair"].email} <= before
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    _restrict(dpo, request_id, referred.case_id)
    during, listed_during = _who_knows(referred.case_id)
    assert during == listed_during == {world["coordinator"].email}
    # The referrer and the IDVA meet the page of a case that does not exist; the coordinator
    # is told why the case is quiet.
    for key in ("police_officer", "idva", "chair"):
        page = signed_in(app.test_client(), world[key]).get(f"/cases/{referred.case_id}")
        assert page.status_code == 404, key
    page = signed_in(app.test_client(), world["coordinator"]).get(f"/cases/{referred.case_id}")
    assert page.status_code == 200 and "Processing of this case is restricted" in text(page)
    refused = entries_naming("case", referred.case_id, LedgerAction.ACCESS_DENIED)
    assert any(e.get("code") == "restricted" or "restricted" in json.dumps(e) for e in refused)
    # The officer still answers the request: the bundle reads the case by its own door.
    with db.unit_of_work():
        bundle = services.build(dpo, services.get_request(dpo, request_id))
    assert [c.case_id for c in bundle.cases] == [referred.case_id]
    # Lifted, the case is known as before.
    with db.unit_of_work():
        services.lift_restriction(dpo, services.get_request(dpo, request_id), referred.case_id)
    assert _who_knows(referred.case_id) == (before, listed_before)


def test_the_ledger_holds_the_ground_and_the_request_never_the_note(
    app: Any, world: Any, referred: Referred, dpo: Any
) -> None:
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    _restrict(dpo, request_id, referred.case_id)
    (entry,) = entries_naming("case", referred.case_id, LedgerAction.SAR_CASE_RESTRICTED)
    assert entry["ground"] == "accuracy_contested" and entry["sar"] == request_id
    assert "March" not in json.dumps(entry)
    with db.unit_of_work():
        services.lift_restriction(dpo, services.get_request(dpo, request_id), referred.case_id)
    (lifted,) = entries_naming("case", referred.case_id, LedgerAction.SAR_CASE_RESTRICTION_LIFTED)
    assert lifted["ground"] == "accuracy_contested"


def test_only_the_subjects_cases_and_only_with_a_ground_and_a_note(
    app: Any, world: Any, referred: Referred, dpo: Any
) -> None:
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    with db.unit_of_work():
        found = services.get_request(dpo, request_id)
        with pytest.raises(ValidationFailed) as missing:
            services.restrict_case(dpo, found, referred.case_id, "", "too short")
        assert set(missing.value.errors) == {"ground", "note"}
        with pytest.raises(ValidationFailed) as elsewhere:
            services.restrict_case(dpo, found, referred.case_id + 1000, "legal_claims", NOTE)
        assert set(elsewhere.value.errors) == {"case"}
    assert _who_knows(referred.case_id)[0] != {world["coordinator"].email}


def test_the_officer_restricts_and_lifts_from_the_request_page(
    app: Any, world: Any, referred: Referred, dpo: Any
) -> None:
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    officer = signed_in(app.test_client(), world["auditor"])
    url = f"/subject-access/{request_id}"
    page = text(officer.get(url))
    assert "Restrict processing" in page and "Not restricted" in page
    wrong = submit(officer, f"{url}/restrict", {"case": str(referred.case_id)}, form_url=url)
    assert wrong.status_code == 422
    body = text(wrong)
    assert "There is a problem" in body and 'href="#ground"' in body and 'href="#note"' in body
    done = submit(
        officer,
        f"{url}/restrict",
        {"case": str(referred.case_id), "ground": "legal_claims", "note": NOTE},
        form_url=url,
        follow=True,
    )
    assert "Processing of the case is restricted" in text(done) and "Restricted" in text(done)
    referrer = signed_in(app.test_client(), world["police_officer"])
    assert referrer.get(f"/cases/{referred.case_id}").status_code == 404
    lifted = submit(officer, f"{url}/lift/{referred.case_id}", {}, form_url=url, follow=True)
    assert "The restriction has been lifted" in text(lifted)
    assert referrer.get(f"/cases/{referred.case_id}").status_code == 200


def test_a_restricted_case_cannot_be_shared_or_sent_to_another_marac(
    app: Any, world: Any, referred: Referred, dpo: Any
) -> None:
    from agencies import services as agencies
    from cases import services as cases
    from consent.categories import Purpose
    from hub.core.errors import Conflict
    from transfers import services as transfers

    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    _restrict(dpo, request_id, referred.case_id)
    with db.unit_of_work() as uow:
        housing = agencies.find_agency_by_name("Testshire Homes")
        referral = uow.session.get_one(Referral, referred.case_id)
        with pytest.raises(Conflict, match="restricted"):
            cases.share_case(referred.coordinator, referral, housing.id, Purpose.MARAC)
        with pytest.raises(Conflict, match="restricted"):
            transfers.open_for_transfer(referred.coordinator, referred.case_id)
    page = signed_in(app.test_client(), world["coordinator"]).get(f"/cases/{referred.case_id}")
    assert "Share case" not in text(page) and "Transfer to another MARAC" not in text(page)
