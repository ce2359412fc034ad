"""The referral journey through the real pages, bad input on each page, and the access matrix."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from agencies.models import AgencyType, MaracArea
from cases import checklists, services
from consent.categories import CASE_CATEGORIES
from hub.core import db
from tests.support import cases
from tests.support.ledger import refusals_of
from tests.support.web import ledger_results, signed_in, submit, text
from tests.support.world import actor_of

VICTIM = {
    "given_name": "Amira",
    "family_name": "Testcase",
    "born_on-day": "3",
    "born_on-month": "4",
    "born_on-year": "1992",
    "gender": "Female",
    "language": "English",
    "ethnicity": "Asian British",
    "disability": "no",
    "lgbt": "no",
}
PERPETRATOR = {
    "p_given_name": "Karl",
    "p_family_name": "Testcase",
    "p_born_on-day": "1",
    "p_born_on-month": "1",
    "p_born_on-year": "1985",
    "relationship": "Husband",
    "children_count": "1",
    "children": "One child, aged 4, at nursery",
}
DETAILS = {
    "incident": "Strangled during an argument on Saturday; neighbours called police.",
    "victim_fears": "Her husband",
    "health_notes": "Marks on the neck",
    "reported_to_police": "yes",
    "crime_reference": "CR/777/26",
    "victim_aware": "yes",
}
WHERE = {
    "address": "Room 4, Safe House, Hidden Road",
    "safe_phone": "07700 900555",
    "safe_times": "Mornings",
}
SHARING = {
    "state": "given",
    "evidence": "In person, alone, with a Urdu interpreter",
    # What the page arrives with ticked; the victim agreed to all of it.
    "purposes": ["marac", "idva_support"],
    "categories": [c.value for c in CASE_CATEGORIES],
    "recipient_agency_types": [t.value for t in AgencyType],
}


def _signed_in(client, person):
    return signed_in(client, person)


def _risk(yes: int) -> dict[str, str]:
    questions = checklists.load_checklists()[checklists.DEFAULT_CHECKLIST].questions
    return {f"q_{q.id}": "yes" if i < yes else "no" for i, q in enumerate(questions)}


def refer_through_pages(client) -> int:
    created = submit(client, "/referrals/new", form_url="/referrals")
    assert created.status_code == 302
    base = created.headers["Location"].rsplit("/", 1)[0]
    referral_id = int(base.rsplit("/", 1)[1])
    for slug, data in (
        ("victim", VICTIM),
        ("perpetrator", PERPETRATOR),
        ("risk", _risk(15)),
        ("details", DETAILS),
        ("whereabouts", WHERE),
        ("sharing", SHARING),
    ):
        response = submit(client, f"{base}/{slug}", data)
        assert response.status_code == 302, (slug, text(response)[:3000])
    check = client.get(f"{base}/check")
    page = text(check)
    assert "Amira TESTCASE" in page and "Visible high risk" in page
    assert "Hidden Road" not in page  # whereabouts stay masked even for the referrer
    sent = submit(client, f"{base}/check")
    assert sent.status_code == 302
    return referral_id


def test_police_refer_coordinator_accepts_idva_reveals_auditor_finds_it(app, world) -> None:
    officer = _signed_in(app.test_client(), world["police_officer"])
    referral_id = refer_through_pages(officer)

    coordinator = _signed_in(app.test_client(), world["coordinator"])
    inbox = text(coordinator.get("/referrals/inbox"))
    assert "15 Yes (high)" in inbox and "Visible high risk" in inbox
    accepted = submit(
        coordinator,
        f"/referrals/{referral_id}/triage",
        {"decision": "accept"},
        form_url=f"/cases/{referral_id}",
    )
    assert accepted.status_code == 302

    idva = _signed_in(app.test_client(), world["idva"])
    case = text(idva.get(f"/cases/{referral_id}"))
    assert "Amira TESTCASE" in case and "Masked: reveal" in case and "Hidden Road" not in case
    assert "equality monitoring details are used only" in case
    refused = submit(
        idva, f"/cases/{referral_id}/whereabouts", {"reason": ""}, form_url=f"/cases/{referral_id}"
    )
    assert refused.status_code == 422 and "Hidden Road" not in text(refused)
    shown = submit(
        idva,
        f"/cases/{referral_id}/whereabouts",
        {"reason": "Planning a safe first contact by phone this afternoon"},
        form_url=f"/cases/{referral_id}",
    )
    assert shown.status_code == 200 and "Hidden Road" in text(shown)

    auditor = _signed_in(app.test_client(), world["auditor"])
    found = ledger_results(auditor.get(f"/ledger?case={referral_id}&action=whereabouts:revealed"))
    assert "whereabouts:revealed" in found and "Idva" in found
    assert "Hidden Road" not in found

    # The auditor knows the case by its reference, as everyone else does.
    with db.unit_of_work():
        reference = services.get_referral(referral_id).reference
    by_reference = ledger_results(
        auditor.get(f"/ledger?case={reference}&action=whereabouts:revealed")
    )
    entries = re.findall(r'href="/ledger/entries/(\d+)"', by_reference)
    assert entries and entries == re.findall(r'href="/ledger/entries/(\d+)"', found)
    assert f"Who has seen case {reference}" in by_reference
    assert "No entries match" in ledger_results(auditor.get("/ledger?case=NO-1999-0001"))
    # The reason the IDVA gave is beside the entry; reading it is itself recorded.
    entry = text(auditor.get(f"/ledger/entries/{entries[0]}"))
    assert "Planning a safe first contact by phone this afternoon" in entry
    assert "Hidden Road" not in entry
    read = ledger_results(auditor.get(f"/ledger?case={reference}&action=ledger:reveal_reason_read"))
    assert "ledger:reveal_reason_read" in read
    # From the home page's box, in any case: who has seen this case.
    box = auditor.get(f"/ledger/cases?reference={reference.lower()}")
    assert box.status_code == 302 and box.headers["Location"].endswith(f"/ledger/cases/{reference}")
    seen = text(auditor.get(box.headers["Location"]))
    assert f"Who has seen case {reference}" in seen and "Idva" in seen
    assert auditor.get("/ledger/cases/NO-1999-0001").status_code == 404


def test_each_page_says_what_to_fix_and_keeps_the_draft(app, world) -> None:
    officer = _signed_in(app.test_client(), world["police_officer"])
    created = submit(officer, "/referrals/new", form_url="/referrals")
    base = created.headers["Location"].rsplit("/", 1)[0]
    bad_victim = submit(
        officer, f"{base}/victim", dict(VICTIM, given_name="", **{"born_on-month": "14"})
    )
    assert bad_victim.status_code == 422
    assert "Enter the victim&#39;s first name" in text(bad_victim)
    assert "must be a real date" in text(bad_victim)
    child = submit(officer, f"{base}/victim", dict(VICTIM, **{"born_on-year": "2015"}))
    assert child.status_code == 422 and "aged 16 or over" in text(child)
    draft = submit(officer, f"{base}/victim", dict(VICTIM, action="save_draft"))
    assert draft.status_code == 302 and "/referrals" in draft.headers["Location"]
    again = text(officer.get(f"{base}/victim"))
    assert 'value="Amira"' in again  # nothing typed is lost
    risk = submit(officer, f"{base}/risk", dict(_risk(3), professional_judgement="y"))
    assert risk.status_code == 422 and "Write down your reasons" in text(risk)
    details = submit(officer, f"{base}/details", {"incident": "", "victim_aware": "no"})
    page = text(details)
    assert details.status_code == 422 and "Describe the current incident" in page
    unsent = submit(officer, f"{base}/check")
    assert unsent.status_code == 422 and "Enter the perpetrator" in text(unsent)


def test_search_before_create_says_only_that_a_case_exists_and_is_recorded(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    query = (
        "/referrals/search?given_name=jane&family_name=EXAMPLE"
        "&born_on-day=17&born_on-month=5&born_on-year=1990"
    )
    police = _signed_in(app.test_client(), world["police_rep"])
    page = text(police.get(query))
    assert "A MARAC case exists" in page
    assert "Secret Street" not in page and "Bruised" not in page
    # An agency that was never given the case does not learn from a search that it exists.
    nurse = _signed_in(app.test_client(), world["nurse"])
    page = text(nurse.get(query))
    assert "A MARAC case exists" not in page and "TS-" not in page
    auditor = _signed_in(app.test_client(), world["auditor"])
    assert "case:searched" in ledger_results(auditor.get(f"/ledger?case={referral_id}"))


@pytest.fixture
def submitted_case(world) -> int:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    return referral_id


ROUTES = [
    ("GET", "/referrals"),
    ("GET", "/referrals/inbox"),
    ("GET", "/cases/{id}"),
    ("GET", "/cases/{id}/consent"),
    ("GET", "/approvals"),
    ("GET", "/referrals/search"),
    ("POST", "/referrals/{id}/triage"),
    ("POST", "/cases/{id}/whereabouts"),
    ("POST", "/cases/{id}/consent"),
    ("POST", "/cases/{id}/without-consent"),
    ("POST", "/cases/{id}/repeat"),
    ("POST", "/cases/{id}/primary-aggressor"),
]
#: Expected status per persona for each route above (302 = sent to sign in). The consent
#: posts carry no answers, so the referring agency gets its form back with errors (422);
#: anyone else is refused before the form is read.
EXPECTED = {
    "anonymous": [302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302, 302],
    "police_officer": [200, 403, 200, 200, 403, 200, 403, 200, 422, 422, 403, 403],
    "coordinator": [200, 200, 200, 200, 403, 200, 302, 200, 403, 403, 303, 303],
    # Not given the case: every route for it is the 404 of a missing case.
    "nurse": [200, 403, 404, 404, 403, 200, 404, 404, 404, 404, 404, 404],
    # No case data by their roles: the same 404 for a case route, and recorded.
    "auditor": [403, 403, 404, 404, 403, 403, 404, 404, 404, 404, 404, 404],
    "admin": [403, 403, 404, 404, 403, 403, 404, 404, 404, 404, 404, 404],
    "police_rep": [200, 403, 200, 200, 200, 200, 403, 200, 422, 422, 403, 403],
    "housing_officer": [200, 403, 404, 404, 403, 200, 404, 404, 404, 404, 404, 404],
}


@pytest.mark.parametrize("persona", sorted(EXPECTED))
def test_access_matrix_for_referral_routes(app, world, submitted_case, persona) -> None:
    client = app.test_client()
    if persona != "anonymous":
        _signed_in(client, world[persona])
    token_page = text(client.get("/sign-in" if persona == "anonymous" else "/account"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', token_page).group(1)
    for (method, pattern), expected in zip(ROUTES, EXPECTED[persona], strict=True):
        url = pattern.format(id=submitted_case)
        if method == "GET":
            status = client.get(url).status_code
        else:
            status = client.post(
                url,
                data={"csrf_token": token, "decision": "defer", "reason": "Referrer not available"},
            ).status_code
        assert status == expected, (persona, method, url, status)
    if persona != "anonymous":
        case_routes = [
            e
            for (_, pattern), e in zip(ROUTES, EXPECTED[persona], strict=True)
            if "{id}" in pattern
        ]
        # Every refusal of a case route, 403 or 404, is in the ledger.
        assert refusals_of(world[persona].member_id, submitted_case) >= sum(
            1 for e in case_routes if e in (403, 404)
        )


def test_referrer_shares_with_an_agency_whose_rep_puts_a_colleague_on_the_team(
    app, world, submitted_case
) -> None:
    officer = _signed_in(app.test_client(), world["police_officer"])
    shared = submit(
        officer,
        f"/cases/{submitted_case}/share",
        {"agency_id": str(world.agencies["health"]), "purpose": "marac"},
        form_url=f"/cases/{submitted_case}",
    )
    assert shared.status_code == 303
    nurse = _signed_in(app.test_client(), world["nurse"])
    assert nurse.get(f"/cases/{submitted_case}").status_code == 404  # not on the team yet
    rep = _signed_in(app.test_client(), world["health_rep"])
    page = text(rep.get(f"/cases/{submitted_case}"))
    assert "Jane EXAMPLE" in page and "Add to case team" in page
    added = submit(
        rep,
        f"/cases/{submitted_case}/team",
        {"member_id": str(world["nurse"].member_id)},
        form_url=f"/cases/{submitted_case}",
    )
    assert added.status_code == 303
    assert "Jane EXAMPLE" in text(nurse.get(f"/cases/{submitted_case}"))
    wrong = submit(
        rep,
        f"/cases/{submitted_case}/team",
        {"member_id": str(world["police_officer"].member_id)},
        form_url=f"/cases/{submitted_case}",
        follow=True,
    )
    assert "Select someone from your own agency" in text(wrong)


def test_revealing_whereabouts_needs_a_recent_sign_in(app, world, submitted_case) -> None:
    import time_machine

    from hub.core.clock import now

    officer = _signed_in(app.test_client(), world["police_officer"])
    with time_machine.travel(now() + timedelta(minutes=12), tick=False):
        officer.get(f"/cases/{submitted_case}")  # keeps the session alive, not the sign-in
        response = submit(
            officer,
            f"/cases/{submitted_case}/whereabouts",
            {"reason": "Urgent welfare check with the police tonight"},
            form_url=f"/cases/{submitted_case}",
        )
        assert response.status_code == 303
        assert (
            "/sign-in" in response.headers["Location"] or "again" in (response.headers["Location"])
        )
        assert "Secret Street" not in text(officer.get(f"/cases/{submitted_case}"))


def test_a_rep_walls_off_the_perpetrators_caseworker_from_the_case_page(
    app, world, submitted_case
) -> None:
    officer = _signed_in(app.test_client(), world["police_officer"])
    submit(
        officer,
        f"/cases/{submitted_case}/share",
        {"agency_id": str(world.agencies["health"]), "purpose": "marac"},
        form_url=f"/cases/{submitted_case}",
    )
    rep = _signed_in(app.test_client(), world["health_rep"])
    submit(
        rep,
        f"/cases/{submitted_case}/team",
        {"member_id": str(world["nurse"].member_id)},
        form_url=f"/cases/{submitted_case}",
    )
    walled = submit(
        rep,
        f"/cases/{submitted_case}/wall",
        {"perpetrator_worker_id": str(world["nurse"].member_id)},
        form_url=f"/cases/{submitted_case}",
        follow=True,
    )
    assert "can no longer see this case" in text(walled)
    nurse = _signed_in(app.test_client(), world["nurse"])
    assert nurse.get(f"/cases/{submitted_case}").status_code == 404  # not even that it exists


def test_a_double_click_on_refer_a_case_opens_one_draft(app, world) -> None:
    officer = _signed_in(app.test_client(), world["police_officer"])
    page = text(officer.get("/referrals"))
    once = re.search(r'name="once" value="([0-9a-f]+)"', page).group(1)
    first = submit(officer, "/referrals/new", {"once": once}, form_url="/referrals")
    second = submit(officer, "/referrals/new", {"once": once}, form_url="/referrals")
    assert first.headers["Location"] == second.headers["Location"]
    fresh = re.search(r'name="once" value="([0-9a-f]+)"', text(officer.get("/referrals"))).group(1)
    assert fresh != once  # the next visit to the page opens a new draft
    third = submit(officer, "/referrals/new", {"once": fresh}, form_url="/referrals")
    assert third.headers["Location"] != first.headers["Location"]


def _start_overlapping(world, first: tuple[str, str | None], second: tuple[str, str | None]):
    """Start two referrals in two real transactions, the second while the first is still
    open; return (the referrals made, in order of starting, and any errors raised)."""
    import contextvars
    import threading

    from cases import services
    from hub.core import db

    holding, release = threading.Event(), threading.Event()
    made: dict[int, tuple[int, str]] = {}
    failed: list[BaseException] = []

    def refer(slot: int, name: str, key: str | None) -> None:
        try:
            with db.unit_of_work():
                referral = services.start_referral(actor_of(world[name]), idempotency_key=key)
                made[slot] = (referral.id, referral.reference)
                if slot == 0:  # keep the first transaction open while the second starts
                    holding.set()
                    release.wait(10)
        except BaseException as error:  # report it in the test's own thread
            failed.append(error)

    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(refer, slot, *who))
        for slot, who in enumerate((first, second))
    ]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    threads[1].join(0.5)  # it waits for the first to finish
    release.set()
    for thread in threads:
        thread.join(10)
    return [made[slot] for slot in sorted(made)], failed


def test_referrals_started_at_the_same_moment_get_different_references(app, world) -> None:
    made, failed = _start_overlapping(world, ("police_officer", None), ("health_rep", None))
    assert failed == []
    assert len({reference for _, reference in made}) == 2, made


def test_a_retry_arriving_while_the_first_call_runs_gets_the_same_referral(app, world) -> None:
    made, failed = _start_overlapping(
        world, ("police_officer", "web:samekey"), ("police_officer", "web:samekey")
    )
    assert failed == []
    assert len(made) == 2 and made[0][0] == made[1][0]


def test_references_count_on_past_9999_in_a_year(app, world) -> None:
    # The next reference is read from the highest one so far, by number, not by text.
    from cases.operations.drafts import _new_reference
    from hub.core.clock import today_london

    officer = actor_of(world["police_officer"])
    with db.unit_of_work() as uow:
        first = services.start_referral(officer)
        prefix = first.reference.rsplit("-", 1)[0]
        first.reference = f"{prefix}-9999"
        uow.session.flush()
        area = uow.session.get(MaracArea, first.area_id)
        assert _new_reference(area) == f"{prefix}-10000"
        second = services.start_referral(officer)
        assert second.reference == f"{prefix}-10000"
        assert _new_reference(area) == f"{prefix}-10001"
        assert str(today_london().year) in prefix
