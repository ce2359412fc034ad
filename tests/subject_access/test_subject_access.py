"""Subject access: the request, the bundle through the gate, redaction, the PDF, access."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from audit.actions import LedgerAction
from cases.models import Referral
from consent import gate
from consent.categories import Category
from hub.core import db
from hub.core.errors import Conflict, ValidationFailed
from subject_access import pdf, services
from subject_access.models import Exemption, RequestStatus
from tests.subject_access.conftest import Referred, open_request
from tests.support.cases import PERPETRATOR, VICTIM
from tests.support.ledger import entries_naming
from tests.support.web import signed_in, submit, text
from tests.support.world import actor_of

SECRETS = ("Secret Street", "07700 900123", "Weekdays 10-12")


def _bundle(dpo: Any, request_id: int) -> Any:
    with db.unit_of_work():
        return services.build(dpo, services.get_request(dpo, request_id))


def _html(dpo: Any, request_id: int) -> str:
    with db.unit_of_work():
        found = services.get_request(dpo, request_id)
        return pdf.response_html(services.build(dpo, found), found, "Officer")


def test_due_is_one_calendar_month_or_three_when_extended() -> None:
    assert services.due_on(date(2026, 1, 31)) == date(2026, 2, 28)
    assert services.due_on(date(2026, 3, 15)) == date(2026, 4, 15)
    assert services.due_on(date(2026, 1, 31), extended=True) == date(2026, 4, 30)


def test_only_the_data_protection_officer_reaches_the_pages(app, world, referred) -> None:
    for key in ("coordinator", "chair", "police_officer", "admin"):
        client = signed_in(app.test_client(), world[key])
        assert client.get("/subject-access").status_code in {403, 404}, key
        assert client.post("/subject-access/new", data={}).status_code in {400, 403, 404}, key
    auditor = signed_in(app.test_client(), world["auditor"])
    home = text(auditor.get("/"))
    assert 'href="/subject-access"' in home
    assert auditor.get("/subject-access").status_code == 200


def test_bad_input_shows_the_error_summary_and_keeps_what_was_typed(app, world) -> None:
    auditor = signed_in(app.test_client(), world["auditor"])
    response = submit(
        auditor,
        "/subject-access/new",
        {"requester_name": "Ms Requester", "given_name": "", "received_on-day": "31"},
    )
    page = text(response)
    assert response.status_code == 422 and "There is a problem" in page
    assert "Enter the subject" in page or "must include a month and year" in page
    assert 'value="Ms Requester"' in page
    with db.unit_of_work():
        assert services.list_requests(actor_of(world["auditor"])) == []


def test_victim_request_end_to_end(app, world, referred: Referred, dpo) -> None:
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    found = _bundle(dpo, request_id)
    (case,) = found.cases
    assert case.case_id == referred.case_id and case.role == "victim" and not case.blocked
    items = {i.label: i for i in found.items}
    assert not items["Victim"].withheld  # her own name
    assert items["Perpetrator"].premark is Exemption.THIRD_PARTY and items["Perpetrator"].withheld
    assert any(i.value and SECRETS[0] in i.value and not i.withheld for i in found.items)
    # The ledger's record of disclosures: the referrer's agency, the categories, the basis.
    (seen,) = case.log  # the coordinator's reading, not the consent recorded on the referral
    assert seen.agency == "Testshire Community Safety" and "risk" in seen.categories
    assert seen.bases and all("Art. 6(1)" in b for b in seen.bases)
    assert all(r.who.withheld for r in case.log)  # staff names pre-marked
    # Each reading went through the gate as the officer, for this request.
    reads = entries_naming("case", referred.case_id, LedgerAction.SAR_CASE_READ)
    assert reads and reads[-1]["sar"] == request_id and reads[-1]["purpose"] == "subject_access"
    assert "research" in reads[-1]["withheld"]
    with db.unit_of_work():
        data = services.produce_pdf(dpo, services.get_request(dpo, request_id), "http://hub.test/")
        services.mark_sent(dpo, services.get_request(dpo, request_id))
    assert data.startswith(b"%PDF")
    (produced,) = entries_naming("person", case_subject(referred), LedgerAction.SAR_PRODUCED)
    body = json.dumps(produced)
    for personal in (VICTIM.given, VICTIM.family, PERPETRATOR.family, *SECRETS):
        assert personal not in body
    assert produced["withheld"]["third_party"] >= 1
    with db.unit_of_work():
        assert services.get_request(dpo, request_id).status is RequestStatus.SENT


def case_subject(referred: Referred) -> int:
    with db.unit_of_work() as uow:
        victim = uow.session.get_one(Referral, referred.case_id).victim_id
        assert victim is not None
        return victim


def test_a_perpetrators_request_stops_for_review_and_never_gets_whereabouts(
    app, world, referred: Referred, dpo
) -> None:
    request_id = open_request(dpo, PERPETRATOR.given, PERPETRATOR.family, PERPETRATOR.born_on)
    with db.unit_of_work():
        found = services.get_request(dpo, request_id)
        assert found.is_perpetrator
        with pytest.raises(Conflict, match="chair must review"):
            services.produce_pdf(dpo, found, "http://hub.test/")
    blocked = [i for i in _bundle(dpo, request_id).items if i.blocked]
    assert blocked and any(SECRETS[0] in i.value for i in blocked)
    with db.unit_of_work(), pytest.raises(ValidationFailed, match="never be released"):
        services.decide_redaction(
            dpo,
            services.get_request(dpo, request_id),
            blocked[0].key,
            withhold=False,
            exemption="",
            reason="The requester says it is his own address",
        )
    chair = world["chair"].member_id
    with db.unit_of_work():
        services.review_perpetrator_request(
            dpo,
            services.get_request(dpo, request_id),
            chair,
            "Reviewed together; third parties out",
        )
    page = _html(dpo, request_id)
    for secret in SECRETS:
        assert secret not in page
    # A referral made without the victim's knowledge: not even its existence is released.
    with db.unit_of_work() as uow:
        uow.session.get_one(Referral, referred.case_id).victim_aware = False
    page = _html(dpo, request_id)
    with db.unit_of_work() as uow:
        reference = uow.session.get_one(Referral, referred.case_id).reference
    assert reference not in page and "Testshire Police" not in page
    with db.unit_of_work():
        data = services.produce_pdf(dpo, services.get_request(dpo, request_id), "http://hub.test/")
    assert data.startswith(b"%PDF")


def test_two_possible_matches_are_offered_never_merged(app, world, referred, dpo) -> None:
    from tests.support import cases

    other = cases.draft(referred.officer, victim=cases.Names(VICTIM.given, VICTIM.family, None))
    cases.with_consent(referred.officer, other)
    cases.submit(referred.officer, other)
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, None, choose=False)
    with db.unit_of_work():
        found = services.get_request(dpo, request_id)
        offered = services.candidates(dpo, found)
        assert len(offered) == 2 and {c.level for c in offered} == {"possible"}
        with pytest.raises(ValidationFailed):
            services.choose_subject(dpo, found, None)
    auditor = signed_in(app.test_client(), world["auditor"])
    page = text(auditor.get(f"/subject-access/{request_id}"))
    assert "never merged" in page
    refused = submit(
        auditor,
        f"/subject-access/{request_id}/subject",
        {},
        form_url=f"/subject-access/{request_id}",
    )
    assert refused.status_code == 422 and "Select the person this request is about" in text(refused)


def test_nobody_else_reads_a_case_through_the_subject_access_door(app, world, referred) -> None:
    from cases.facts import case_facts

    coordinator = referred.coordinator
    with db.unit_of_work() as uow:
        facts = case_facts(uow.session.get_one(Referral, referred.case_id))
        answer = gate.disclose_for_subject_access(
            coordinator, facts, [Category.IDENTITY], request_id=1
        )
    assert answer.refused and answer.refusal_code == "not_data_protection_officer"
    refusals = entries_naming("case", referred.case_id, LedgerAction.ACCESS_DENIED)
    assert refusals[-1]["attempted"] == LedgerAction.SAR_CASE_READ


def test_the_pages_walk_a_request_to_its_pdf(app, world, referred, output_dir) -> None:
    auditor = signed_in(app.test_client(), world["auditor"])
    made = submit(
        auditor,
        "/subject-access/new",
        {
            "requester_name": "Jane Example",
            "given_name": VICTIM.given,
            "family_name": VICTIM.family,
            "born_on-day": "17",
            "born_on-month": "5",
            "born_on-year": "1990",
            "received_on-day": "2",
            "received_on-month": "12",
            "received_on-year": "2026",
        },
    )
    assert made.status_code == 303
    url = made.headers["Location"]
    page = text(auditor.get(url))
    assert "Strong match" in page and "It is due on 2 January 2027" in page
    with db.unit_of_work():
        (candidate,) = services.candidates(
            actor_of(world["auditor"]), services.list_requests(actor_of(world["auditor"]))[0]
        )
    assert (
        submit(
            auditor, url + "/subject", {"person": str(candidate.person_id)}, form_url=url
        ).status_code
        == 303
    )
    short = submit(auditor, url + "/identity", {"method": "seen"}, form_url=url)
    assert short.status_code == 422 and "There is a problem" in text(short)
    assert (
        submit(
            auditor, url + "/identity", {"method": "Passport seen in person"}, form_url=url
        ).status_code
        == 303
    )
    assert submit(auditor, url + "/review", {}, form_url=url).status_code == 303
    bundle = auditor.get(url + "/bundle")
    assert bundle.status_code == 200 and "Third-party information" in text(bundle)
    key = next(
        i.key
        for i in _bundle(actor_of(world["auditor"]), int(url.rsplit("/", 1)[1])).items
        if i.label == "Perpetrator"
    )
    bad = submit(
        auditor,
        url + "/redactions",
        {"item": key, "decision": "withhold", "exemption": "", "reason": "x"},
        form_url=url + "/bundle",
    )
    assert bad.status_code == 422 and "Select the exemption that applies" in text(bad)
    good = submit(
        auditor,
        url + "/redactions",
        {
            "item": key,
            "decision": "release",
            "exemption": "",
            "reason": "He consented in writing to release",
        },
        form_url=url + "/bundle",
    )
    assert good.status_code == 303
    response = auditor.get(url + "/response.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.mimetype == "application/pdf"
    (output_dir / "subject-access-response.pdf").write_bytes(response.data)  # to look at
