"""Every way a case's content or existence reaches a person passes the gate (issue: no side
doors). Each test reproduces one path that once leaked, through the real pages and services.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from agencies import services as agencies
from agencies.models import AgencyType, Role, Sector
from cases import services
from cases.facts import knowable
from cases.models import Referral
from consent import gate
from consent import services as consent_services
from consent.categories import Article6, Article9, Category, ConsentState, Purpose
from hub.core import db
from hub.core.access import Actor
from hub.core.errors import ValidationFailed
from meetings import services as meetings
from tests.support import cases
from tests.support.ledger import entries_naming, refusals_of
from tests.support.web import sign_in, submit, text
from tests.support.world import PASSWORD, Person, actor_of

ROOT = Path(__file__).resolve().parents[2]


def _client(app, person):
    client = app.test_client()
    assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 302
    return client


EXTRA: dict[str, Person] = {}


def _member(world, key: str, agency: str, roles: set[Role]) -> Actor:
    """Another member of a test agency, with a password and an enrolled authenticator."""
    import pyotp

    from hub.auth import services as auth
    from hub.core.clock import now

    with db.unit_of_work():
        member = agencies.add_member(
            Actor.system("test"),
            agencies.MemberData(
                name=key.replace("_", " ").title(),
                email=f"{key}@{agency}.extra.test",
                agency_id=world.agencies[agency],
                roles=frozenset(roles),
            ),
        )
        credential = auth.set_password(Actor.system("test"), member, PASSWORD)
        credential.totp_secret = pyotp.random_base32()
        credential.totp_confirmed_at = now()
        EXTRA[key] = Person(key, member.id, member.email, member.agency_id, credential.totp_secret)
        return agencies.actor_for(member)


def _submitted(world, *, consent: bool = True, **draft) -> int:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer, **draft)
    if consent:
        cases.with_consent(officer, referral_id)
    else:
        cases.without_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    return referral_id


# --- need to know is data, not an import side effect ---------------------------------------


def test_an_invited_agency_knows_the_case_in_a_process_that_never_imported_meetings(
    app, world
) -> None:
    referral_id = _submitted(world)
    coordinator = actor_of(world["coordinator"])
    cases.accept(coordinator, referral_id)
    with db.unit_of_work() as uow:
        made = meetings.schedule_meetings(
            coordinator,
            _meeting_data(),
        )
        meeting = made[0]
        uow.session.flush()
        meetings.add_case(coordinator, meeting, services.get_referral(referral_id).reference)
        meetings.circulate_agenda(coordinator, meeting, [world.agencies["housing"]])
    housing_rep = _member(world, "housing_rep", "housing", {Role.MARAC_REP})
    url = app.extensions["hub.db"].url
    script = f"""
import sys
from hub.core import db
from hub.core.access import Actor, Role
from cases import services
database = db.Database({str(url)!r})
db.bind_database(database)
actor = Actor(kind="member", member_id={housing_rep.member_id}, agency_id={housing_rep.agency_id},
              area_id={housing_rep.area_id}, roles=frozenset({{Role.MARAC_REP}}), name="rep")
with db.unit_of_work():
    _, disclosure = services.open_case(actor, {referral_id})
    assert disclosure.relation.value == "invited", disclosure.relation
assert not any(m == "meetings" or m.startswith("meetings.") for m in sys.modules), "imported"
print("invited-ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert "invited-ok" in done.stdout, done.stderr[-2000:]


# --- the list query agrees with the gate ---------------------------------------------------


def test_the_list_query_and_the_gate_agree_for_every_persona_and_case(app, world) -> None:
    """``knowable`` is rules 1-3 in SQL: for every persona and case, it must say what the
    gate says, or a list would show a case its page refuses (or hide one it shows)."""
    officer = actor_of(world["police_officer"])
    coordinator = actor_of(world["coordinator"])
    shared = _submitted(world)
    with db.unit_of_work():
        services.share_case(
            officer, services.get_referral(shared), world.agencies["health"], Purpose.MARAC
        )
    walled = _submitted(world)
    housing_rep = _member(world, "housing_rep", "housing", {Role.MARAC_REP})
    with db.unit_of_work():
        referral = services.get_referral(walled)
        services.share_case(officer, referral, world.agencies["housing"], Purpose.MARAC)
        services.add_conflict_wall(
            housing_rep,
            referral,
            perpetrator_worker_id=world["housing_officer"].member_id,
            victim_worker_id=None,
        )
    blocked_id = cases.draft(officer)
    with db.unit_of_work():
        services.save_details(
            officer,
            services.get_referral(blocked_id),
            services.DetailsData(
                incident="Assault at home",
                victim_aware=True,
                must_not_receive_member_ids=[world["chair"].member_id],
            ),
        )
    cases.with_consent(officer, blocked_id)
    cases.submit(officer, blocked_id)
    accepted = _submitted(world)
    cases.accept(coordinator, accepted)  # offered to the IDVA service
    cases.draft(officer)  # a draft: its author's only
    personas = [actor_of(world[k]) for k in world.people] + [housing_rep]
    for who in personas:
        with db.unit_of_work() as uow:
            listed = set(uow.session.execute(select(Referral.id).where(knowable(who))).scalars())
            for referral in uow.session.execute(select(Referral)).scalars():
                expected = gate.would_know(who, services.case_facts(referral))
                assert (referral.id in listed) == expected, (who.name, referral.id, expected)


# --- consent and decision free text ----------------------------------------------------------


def test_consent_and_decision_text_follow_the_risk_category(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    with db.unit_of_work():
        services.save_sharing(
            officer,
            services.get_referral(referral_id),
            services.SharingChoice(
                state=ConsentState.GIVEN,
                evidence="Told PC Walsh at Flat 2 Secret Street that she agrees",
                categories=[Category.IDENTITY],
                recipient_agency_types=[AgencyType.HOUSING.value],
                purposes=[Purpose.MARAC],
            ),
        )
    cases.submit(officer, referral_id)
    with db.unit_of_work():
        services.ask_to_share_without_consent(
            officer,
            services.get_referral(referral_id),
            consent_services.DecisionData(
                rationale="He strangled her on Friday and threatened to kill her if she left",
                categories=[Category.RISK],
                all_partners=True,
                recipient_agency_ids=[],
                basis_statutory=Article6.PUBLIC_TASK,
                basis_voluntary=Article6.LEGITIMATE_INTERESTS,
                condition_special=None,
            ),
        )
        services.share_case(
            officer, services.get_referral(referral_id), world.agencies["housing"], Purpose.MARAC
        )
    housing = _member(world, "housing_rep", "housing", {Role.MARAC_REP})
    client = _client(app, EXTRA["housing_rep"])
    page = text(client.get(f"/cases/{referral_id}/consent"))
    # Housing may know the case, not the risk story its free text tells.
    assert "Consent record" in page
    assert "Secret Street" not in page and "strangled" not in page
    assert "Withheld: risk" in page
    # The referrer sees its own words.
    mine = text(_client(app, world["police_officer"]).get(f"/cases/{referral_id}/consent"))
    assert "Secret Street" in mine and "strangled" in mine
    del housing


# --- must-not-receive and walls stop writes and lists ---------------------------------------


def test_a_must_not_receive_coordinator_can_neither_triage_nor_list_nor_learn_the_case(
    app, world
) -> None:
    officer = actor_of(world["police_officer"])
    second = _member(world, "second_coordinator", "csp", {Role.COORDINATOR})
    referral_id = cases.draft(officer)
    with db.unit_of_work():
        services.save_details(
            officer,
            services.get_referral(referral_id),
            services.DetailsData(
                incident="Assault at home",
                victim_aware=True,
                must_not_receive_member_ids=[second.member_id],
            ),
        )
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    other = _submitted(world)
    client = _client(app, EXTRA["second_coordinator"])
    inbox = client.get("/referrals/inbox")
    assert inbox.status_code == 200  # the rest of the inbox still works
    with db.unit_of_work():
        reference = services.get_referral(referral_id).reference
        other_reference = services.get_referral(other).reference
    assert reference not in text(inbox) and other_reference in text(inbox)
    for decision in ("accept", "reject", "defer", "close"):
        answer = submit(
            client,
            f"/referrals/{referral_id}/triage",
            {"decision": decision, "reason": "Not for this meeting, sorry"},
            form_url="/referrals/inbox",
        )
        assert answer.status_code == 404, decision
        assert reference not in text(answer)
    with db.unit_of_work():
        assert services.get_referral(referral_id).status == "submitted"  # nothing changed
    assert refusals_of(second.member_id, referral_id) >= 4
    # Nor can they put it on an agenda by typing its reference.
    with db.unit_of_work() as uow:
        made = meetings.schedule_meetings(
            second,
            _meeting_data(),
        )
        uow.session.flush()
        meeting_id = made[0].id
    cases.accept(actor_of(world["coordinator"]), referral_id)
    with pytest.raises(ValidationFailed, match="no case with that reference"), db.unit_of_work():
        meetings.add_case(second, meetings.get_meeting(second, meeting_id), reference)
    with pytest.raises(ValidationFailed, match="no case with that reference"), db.unit_of_work():
        meetings.add_case(second, meetings.get_meeting(second, meeting_id), "TS-2099-9999")


def test_a_must_not_receive_colleague_of_the_referrer_sees_neither_list_nor_approval(
    app, world
) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    with db.unit_of_work():
        services.save_details(
            officer,
            services.get_referral(referral_id),
            services.DetailsData(
                incident="Assault at home",
                victim_aware=True,
                must_not_receive_member_ids=[world["police_rep"].member_id],
            ),
        )
    cases.without_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    with db.unit_of_work():
        reference = services.get_referral(referral_id).reference
        decision_id = consent_services.decisions_for(referral_id)[0].id
    rep = _client(app, world["police_rep"])
    assert reference not in text(rep.get("/referrals"))
    approvals = text(rep.get("/approvals"))
    assert reference not in approvals and "strangulation" not in approvals
    answer = submit(
        rep,
        f"/approvals/{decision_id}",
        {"decision": "approve", "note": "Agreed"},
        form_url="/approvals",
    )
    assert answer.status_code == 404
    with db.unit_of_work():
        assert consent_services.get_decision(decision_id).status == "pending"


def test_a_walled_caseworker_does_not_see_the_case_in_the_agency_list(app, world) -> None:
    officer = actor_of(world["police_officer"])
    # The perpetrator's caseworker works for the referring agency itself.
    worker = _member(world, "perp_worker", "police", {Role.PRACTITIONER})
    referral_id = _submitted(world)
    with db.unit_of_work():
        services.add_to_team(
            actor_of(world["police_rep"]), services.get_referral(referral_id), worker.member_id
        )
        services.add_conflict_wall(
            actor_of(world["police_rep"]),
            services.get_referral(referral_id),
            perpetrator_worker_id=worker.member_id,
            victim_worker_id=officer.member_id,
        )
        reference = services.get_referral(referral_id).reference
    client = _client(app, EXTRA["perp_worker"])
    assert reference not in text(client.get("/referrals"))
    assert client.get(f"/cases/{referral_id}").status_code == 404


# --- existence ---------------------------------------------------------------------------


def test_a_case_refused_and_a_missing_case_look_the_same(app, world) -> None:
    referral_id = _submitted(world)
    nurse = _client(app, world["nurse"])
    refused = nurse.get(f"/cases/{referral_id}")
    missing = nurse.get("/cases/987654")
    assert refused.status_code == missing.status_code == 404

    def strip(response) -> str:
        # The request id differs on every page, and so does the id typed into the address;
        # the sign-out form's CSRF token carries the second it was signed in.
        page = re.sub(r"reference [0-9a-f]{8,}", "", text(response))
        page = re.sub(r'name="csrf_token"[^>]*value="[^"]*"', "", page)
        return page.replace(str(referral_id), "").replace("987654", "")

    assert strip(refused) == strip(missing)
    assert refusals_of(world["nurse"].member_id, 987654) == 1  # guessing leaves a trace too


def test_a_lapsed_protocol_search_says_nothing_about_a_case(app, world) -> None:
    _submitted(world)
    with db.unit_of_work():
        agencies.get_agency(world.agencies["police"]).isp_review_due_on = date(2020, 1, 1)
    page = text(
        _client(app, world["police_officer"]).get(
            "/referrals/search?given_name=Jane&family_name=Example"
            "&born_on-day=17&born_on-month=5&born_on-year=1990"
        )
    )
    assert "A MARAC case exists" not in page and "TS-" not in page


def test_the_counter_allegation_tag_follows_risk(app, world) -> None:
    officer = actor_of(world["police_officer"])
    first = cases.draft(officer)
    cases.with_consent(officer, first)
    cases.submit(officer, first)
    second = cases.draft(officer, victim=cases.PERPETRATOR, perpetrator=cases.VICTIM)
    with db.unit_of_work():
        services.save_sharing(
            officer,
            services.get_referral(second),
            services.SharingChoice(
                state=ConsentState.GIVEN,
                evidence="In person",
                categories=[Category.IDENTITY],
                recipient_agency_types=[AgencyType.ACUTE_HEALTH.value],
                purposes=[Purpose.MARAC],
            ),
        )
    cases.submit(officer, second)
    with db.unit_of_work():
        services.share_case(
            officer, services.get_referral(second), world.agencies["health"], Purpose.MARAC
        )
        assert services.get_referral(second).counter_allegation_id == first
    page = text(_client(app, world["health_rep"]).get(f"/cases/{second}"))
    assert "John SAMPLE" in page  # identity is covered
    assert "Counter-allegation" not in page  # the risk story is not


# --- lawful basis and purpose ------------------------------------------------------------


def test_vital_interests_are_refused_when_the_victim_was_asked_and_said_no(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    refused = services.SharingChoice(
        state=ConsentState.REFUSED,
        evidence="Asked in person, alone; she understood and said no",
        rationale="Fifteen Yes answers and strangulation: her life is at risk, we must share.",
        basis_statutory=Article6.VITAL_INTERESTS,
        basis_voluntary=Article6.VITAL_INTERESTS,
        condition_special=Article9.VITAL_INTERESTS,
    )
    with pytest.raises(ValidationFailed) as raised, db.unit_of_work():
        services.save_sharing(officer, services.get_referral(referral_id), refused)
    assert "lacks capacity" in raised.value.errors["basis_statutory"]
    assert "condition_special" in raised.value.errors
    # Where asking was unsafe, vital interests are open.
    with db.unit_of_work():
        services.save_sharing(
            officer,
            services.get_referral(referral_id),
            services.SharingChoice(
                state=ConsentState.NOT_SOUGHT_UNSAFE,
                evidence="Asking would alert the perpetrator",
                rationale=refused.rationale,
                basis_statutory=Article6.VITAL_INTERESTS,
                basis_voluntary=Article6.VITAL_INTERESTS,
                condition_special=Article9.VITAL_INTERESTS,
            ),
        )


def test_a_vital_interests_decision_stops_counting_once_the_victim_refuses(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    with db.unit_of_work():
        services.save_sharing(
            officer,
            services.get_referral(referral_id),
            services.SharingChoice(
                state=ConsentState.LACKS_CAPACITY,
                evidence="Unconscious in hospital after the assault",
                rationale="Fifteen Yes answers and strangulation: her life is at risk, we must.",
                basis_statutory=Article6.VITAL_INTERESTS,
                basis_voluntary=Article6.VITAL_INTERESTS,
                condition_special=Article9.VITAL_INTERESTS,
            ),
        )
    cases.submit(officer, referral_id)
    with db.unit_of_work():
        decision_id = consent_services.decisions_for(referral_id)[0].id
        services.decide_sharing(
            actor_of(world["police_rep"]), decision_id, approve=True, note="Agreed"
        )
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work():
        _, before = services.open_case(coordinator, referral_id, [Category.HEALTH])
    assert before.allows(Category.HEALTH)
    # She recovers, is asked, and refuses while able to decide.
    with db.unit_of_work():
        services.add_consent(
            officer,
            services.get_referral(referral_id),
            consent_services.ConsentData(
                state=ConsentState.REFUSED,
                purposes=[],
                categories=[],
                recipient_agency_ids=[],
                recipient_agency_types=[],
                evidence="Asked on the ward once she was well; she said no",
            ),
        )
    with db.unit_of_work():
        _, after = services.open_case(coordinator, referral_id, [Category.HEALTH])
    assert not after.allows(Category.HEALTH)


def test_consent_for_idva_support_is_used_when_the_idva_reads_for_support(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    with db.unit_of_work():
        services.save_sharing(
            officer,
            services.get_referral(referral_id),
            services.SharingChoice(
                state=ConsentState.GIVEN,
                evidence="In person",
                purposes=[Purpose.IDVA_SUPPORT],
                categories=[Category.IDENTITY, Category.RISK],
                recipient_agency_types=[t.value for t in AgencyType],
            ),
        )
    cases.submit(officer, referral_id)
    cases.accept(actor_of(world["coordinator"]), referral_id)  # offered to the IDVA for support
    with db.unit_of_work():
        _, idva = services.open_case(actor_of(world["idva"]), referral_id)
        _, marac = services.open_case(actor_of(world["coordinator"]), referral_id)
    assert idva.allows(Category.RISK) and idva.decisions[Category.RISK].basis["purpose"] == (
        "idva_support"
    )
    # The MARAC itself has no consent for its purpose: only what the referral gives it to
    # triage (who and the risk), nothing else.
    assert marac.decisions[Category.RISK].basis["basis"] == "referral"
    assert not marac.allows(Category.HEALTH) and not marac.allows(Category.CHILDREN)


# --- whereabouts -------------------------------------------------------------------------


def test_an_invited_only_agency_never_reveals_whereabouts(app, world) -> None:
    referral_id = _submitted(world)
    coordinator = actor_of(world["coordinator"])
    cases.accept(coordinator, referral_id)
    with db.unit_of_work() as uow:
        meeting = meetings.schedule_meetings(
            coordinator,
            _meeting_data(),
        )[0]
        uow.session.flush()
        meetings.add_case(coordinator, meeting, services.get_referral(referral_id).reference)
        meetings.circulate_agenda(coordinator, meeting, [world.agencies["housing"]])
    housing = _member(world, "housing_rep", "housing", {Role.MARAC_REP})
    with db.unit_of_work():
        _, seen = services.open_case(
            housing, referral_id, reveal_reason="Checking her address for a housing transfer"
        )
    assert seen.allows(Category.IDENTITY)
    assert seen.decisions[Category.WHEREABOUTS].code == "invited_only"


def test_the_other_side_of_a_counter_allegation_never_reveals_whereabouts(app, world) -> None:
    officer = actor_of(world["police_officer"])
    first = _submitted(world)
    health = _member(world, "health_referrer", "health", {Role.PRACTITIONER})
    second = cases.draft(health, victim=cases.PERPETRATOR, perpetrator=cases.VICTIM)
    cases.with_consent(health, second)
    cases.submit(health, second)
    with db.unit_of_work():
        services.share_case(
            officer, services.get_referral(first), world.agencies["health"], Purpose.MARAC
        )
        services.add_to_team(
            actor_of(world["health_rep"]), services.get_referral(first), health.member_id
        )
    with db.unit_of_work():
        _, seen = services.open_case(
            health, first, reveal_reason="Need to know where she is staying tonight"
        )
    assert seen.allows(Category.IDENTITY)
    assert seen.decisions[Category.WHEREABOUTS].code == "counter_allegation"


# --- a 4xx page that shows case data keeps its ledger entry ----------------------------------


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/cases/{id}/whereabouts", {"reason": "short"}),
        ("/cases/{id}/whereabouts", {"reason": ""}),
    ],
)
def test_a_case_page_shown_with_form_errors_keeps_its_disclosure(app, world, url, data) -> None:
    referral_id = _submitted(world)
    officer = _client(app, world["police_officer"])
    answer = submit(officer, url.format(id=referral_id), data, form_url=f"/cases/{referral_id}")
    assert answer.status_code == 422
    assert "Jane EXAMPLE" in text(answer)  # the page shows the case again
    kept = [e for e in entries_naming("case", referral_id) if e.get("status") == 422]
    assert len(kept) == 1 and kept[0]["action"] == "case:viewed"


def test_a_draft_that_fails_to_send_keeps_its_disclosure(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)  # no consent yet: it cannot be sent
    client = _client(app, world["police_officer"])
    answer = submit(client, f"/referrals/{referral_id}/check")
    assert answer.status_code == 422 and "Jane EXAMPLE" in text(answer)
    kept = entries_naming("case", referral_id, "referral:checked")
    assert kept and kept[-1].get("status") == 422


def test_every_form_error_on_a_case_page_is_in_the_ledger(app, world) -> None:
    """Every form on the case's own pages, sent with errors: whatever the page shows again,
    its disclosure is committed (a 4xx rolls the request back)."""
    referral_id = _submitted(world)
    client = _client(app, world["police_officer"])
    forms = [
        (f"/cases/{referral_id}/whereabouts", {"reason": "x"}, f"/cases/{referral_id}"),
        (f"/cases/{referral_id}/consent", {"consent-state": ""}, f"/cases/{referral_id}/consent"),
        (
            f"/cases/{referral_id}/without-consent",
            {"without-rationale": "too short"},
            f"/cases/{referral_id}/consent",
        ),
    ]
    for url, data, form_url in forms:
        before = len([e for e in entries_naming("case", referral_id) if e.get("status") == 422])
        answer = submit(client, url, data, form_url=form_url)
        assert answer.status_code == 422, url
        shown = text(answer)
        # each shows the case again: the victim, or the consent given (its risk story)
        assert "Jane EXAMPLE" in shown or "Verbally, in person, alone" in shown, url
        after = [e for e in entries_naming("case", referral_id) if e.get("status") == 422]
        assert len(after) == before + 1, url


# --- who is a MARAC case ------------------------------------------------------------------


def test_a_perpetrator_under_16_is_refused_with_the_reason(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    thirteen = date(date.today().year - 13, 1, 1)
    with pytest.raises(ValidationFailed) as raised, db.unit_of_work():
        services.save_perpetrator(
            officer,
            services.get_referral(referral_id),
            services.PersonData(given_name="Sam", family_name="Young", born_on=thirteen),
            relationship="Son",
            children="",
            children_count=0,
        )
    assert "16 or over" in raised.value.errors["born_on"]
    assert "child safeguarding" in raised.value.errors["born_on"]
    client = _client(app, world["police_officer"])
    page = submit(
        client,
        f"/referrals/{referral_id}/perpetrator",
        {
            "p_given_name": "Sam",
            "p_family_name": "Young",
            "p_born_on-day": "1",
            "p_born_on-month": "1",
            "p_born_on-year": str(thirteen.year),
            "relationship": "Son",
        },
    )
    assert page.status_code == 422 and "16 or over" in text(page)
    assert "There is a problem" in text(page)  # the GOV.UK error summary


# --- areas -------------------------------------------------------------------------------


def test_an_auditor_reads_only_the_ledger_of_their_own_area(app, world) -> None:
    import pyotp

    from hub.auth import services as auth
    from hub.core.clock import now

    referral_id = _submitted(world)
    system = Actor.system("test")
    with db.unit_of_work():
        area = agencies.create_area(system, name="Otherwhere MARAC")
        agency = agencies.create_agency(
            system,
            area,
            agencies.AgencyData(
                name="Otherwhere Community Safety",
                type=AgencyType.OTHER,
                sector=Sector.STATUTORY,
                isp_signed_on=date(2026, 1, 1),
                isp_signed_by="Chief Officer",
                isp_review_due_on=date(2030, 1, 1),
                email_domains="otherwhere.test",
            ),
        )
        member = agencies.add_member(
            system,
            agencies.MemberData(
                name="Other Auditor",
                email="auditor@otherwhere.test",
                agency_id=agency.id,
                roles=frozenset({Role.AUDITOR}),
            ),
        )
        credential = auth.set_password(system, member, PASSWORD)
        credential.totp_secret = pyotp.random_base32()
        credential.totp_confirmed_at = now()
        other = Person("other_auditor", member.id, member.email, agency.id, credential.totp_secret)

    def results(page: str) -> str:
        # What the search found: the form above it lists every action the ledger knows.
        return page.partition(">Results</h2>")[2]

    ours = _client(app, world["auditor"])
    assert "referral:submitted" in results(text(ours.get(f"/ledger?case={referral_id}")))
    theirs = _client(app, other)
    found = results(text(theirs.get(f"/ledger?case={referral_id}")))
    assert "referral:submitted" not in found and "case:viewed" not in found
    with db.unit_of_work() as uow:
        from audit.models import AuditEntry

        entry_id = uow.session.execute(
            select(AuditEntry.id).where(AuditEntry.action == "referral:submitted")
        ).scalar_one()
    assert theirs.get(f"/ledger/entries/{entry_id}").status_code == 404
    assert ours.get(f"/ledger/entries/{entry_id}").status_code == 200
    csv = text(theirs.get(f"/ledger/export.csv?case={referral_id}"))
    assert "referral:submitted" not in csv
    seen = text(theirs.get(f"/ledger/cases/{referral_id}"))
    assert "referral:submitted" not in seen


def _meeting_data() -> meetings.ScheduleData:
    from datetime import time, timedelta

    from hub.core.clock import today_london
    from meetings.models import MeetingKind

    return meetings.ScheduleData(
        first_on=today_london() + timedelta(days=14),
        start_time=time(10, 0),
        venue="Town Hall",
        kind=MeetingKind.AD_HOC,
        cadence=None,
        count=1,
    )
