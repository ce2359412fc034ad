"""After a referral: consent recorded on the consent page, a request to share without consent,
and the coordinator answering a possible repeat. Through the real pages, on both databases."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from cases import services
from hub.core import db
from tests.support import cases
from tests.support.web import signed_in, submit, text
from tests.support.world import actor_of


def _signed_in(app, person):
    return signed_in(app.test_client(), person)


def _entries(action: str) -> list[dict]:
    with db.unit_of_work() as uow:
        bodies = uow.session.execute(
            select(AuditEntry.body).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).scalars()
        return [json.loads(body) for body in bodies]


@pytest.fixture
def refused_case(world) -> int:
    """A submitted case whose victim refused consent and nothing was approved yet."""
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.without_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    return referral_id


def test_consent_to_health_only_given_on_the_page_lets_health_see_health(
    app, world, refused_case
) -> None:
    officer = _signed_in(app, world["police_officer"])
    url = f"/cases/{refused_case}/consent"
    shared = submit(  # beyond what consent covers: the officer confirms the warning
        officer,
        f"/cases/{refused_case}/share",
        {"agency_id": str(world.agencies["health"]), "purpose": "marac", "confirmed": "yes"},
        form_url=f"/cases/{refused_case}",
    )
    assert shared.status_code == 303
    rep = _signed_in(app, world["health_rep"])
    before = text(rep.get(f"/cases/{refused_case}"))
    assert "Marks on the neck" not in before and "Withheld: health" in before

    recorded = submit(
        officer,
        url,
        {
            "consent-state": "given",
            "consent-purposes": "marac",
            "consent-categories": ["identity", "health"],
            "consent-recipient_agency_types": "acute_health",
            "consent-evidence": "She agreed on the phone at a safe time, alone",
        },
        form_url=url,
    )
    assert recorded.status_code == 303, text(recorded)[:2000]
    page = text(officer.get(url))
    assert re.search(r"<title>\s*Consent and lawful basis – case [A-Z0-9-]+[^<]*</title>", page)
    assert page.count(f'action="/cases/{refused_case}/consent#record"') == 1  # once, in the body
    assert "She agreed on the phone at a safe time, alone" in page
    assert "identity, health" in page

    after = text(rep.get(f"/cases/{refused_case}"))
    assert "Withheld: health" not in after
    entry = _entries("consent:recorded")[-1]
    assert entry["categories"] == ["identity", "health"]
    assert entry["agency_types"] == ["acute_health"] and entry["case"] == refused_case


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"consent-evidence": "In person"}, "Say whether the victim consented"),
        (
            {"consent-state": "given", "consent-evidence": "In person"},
            "Select what the consent is for",
        ),
        ({"consent-state": "given", "consent-purposes": "marac"}, "Say how consent was given"),
        (
            {
                "consent-state": "given",
                "consent-purposes": "marac",
                "consent-categories": "health",
                "consent-recipient_agency_types": "police",
                "consent-evidence": "In person",
                "consent-valid_until-day": "1",
                "consent-valid_until-month": "1",
                "consent-valid_until-year": "2020",
            },
            "The end date must be in the future",
        ),
        (
            {"consent-state": "given", "consent-categories": "minutes", "consent-evidence": "x"},
            "Select only options from the list",
        ),
    ],
)
def test_bad_consent_on_the_page_says_what_to_fix_and_records_nothing(
    app, world, refused_case, data, message
) -> None:
    officer = _signed_in(app, world["police_officer"])
    url = f"/cases/{refused_case}/consent"
    before = len(_entries("consent:recorded"))
    response = submit(officer, url, data, form_url=url)
    assert response.status_code == 422
    page = text(response)
    assert "There is a problem" in page and message in page
    assert len(_entries("consent:recorded")) == before


def test_only_the_referring_agency_records_consent(app, world, refused_case) -> None:
    officer = _signed_in(app, world["police_officer"])
    shared = submit(  # beyond what consent covers: the officer confirms the warning
        officer,
        f"/cases/{refused_case}/share",
        {"agency_id": str(world.agencies["health"]), "purpose": "marac", "confirmed": "yes"},
        form_url=f"/cases/{refused_case}",
    )
    assert shared.status_code == 303
    rep = _signed_in(app, world["health_rep"])
    url = f"/cases/{refused_case}/consent"
    assert "Record what the victim said" not in text(rep.get(url))
    response = submit(
        rep,
        url,
        {"consent-state": "given", "consent-purposes": "marac", "consent-evidence": "x"},
        form_url=url,
    )
    assert response.status_code == 403
    assert len(_entries("consent:recorded")) == 1  # the referral's own only


def test_asking_to_share_without_consent_goes_to_someone_else_to_approve(
    app, world, refused_case
) -> None:
    officer = _signed_in(app, world["police_officer"])
    url = f"/cases/{refused_case}/consent"
    reasons = (
        "She has been strangled twice this month and he has threatened to kill her; "
        "children's social care must know tonight."
    )
    wrong = submit(
        officer,
        f"/cases/{refused_case}/without-consent",
        {
            "without-rationale": reasons,
            "without-categories": ["identity", "children"],
            "without-recipients": "some",
            "without-recipient_agency_ids": str(world.agencies["idva"]),
            "without-basis_voluntary": "6(1)(e)",
        },
        form_url=url,
    )
    assert wrong.status_code == 422  # public task is not even offered to the voluntary sector
    assert "Select one option" in text(wrong)
    assert 'value="6(1)(e)"' in text(wrong)  # offered for statutory agencies only
    assert text(wrong).count('value="6(1)(e)"') == 1

    asked = submit(
        officer,
        f"/cases/{refused_case}/without-consent",
        {
            "without-rationale": reasons,
            "without-categories": ["identity", "children"],
            "without-recipients": "some",
            "without-recipient_agency_ids": str(world.agencies["idva"]),
            "without-basis_voluntary": "6(1)(f)",
        },
        form_url=url,
    )
    assert asked.status_code == 303, text(asked)[:3000]
    request = _entries("decision:requested")[-1]
    assert request["case"] == refused_case and request["agencies"] == [world.agencies["idva"]]
    rep = _signed_in(app, world["police_rep"])
    assert "strangled twice this month" in text(rep.get("/approvals"))


# --- possible repeats ---------------------------------------------------------------------


@pytest.fixture
def possible_repeat(world) -> tuple[int, int]:
    """Two referrals of "Jane Example" and "John Sample": the second gives no date of birth
    for her, so the hub can only say she may be the same person."""
    officer = actor_of(world["police_officer"])
    first = cases.draft(officer)
    cases.with_consent(officer, first)
    cases.submit(officer, first)
    idva = actor_of(world["idva"])
    second = cases.draft(idva, victim=cases.Names("Jane", "Example", None))
    cases.with_consent(idva, second)
    submitted = cases.submit(idva, second)
    assert not submitted.is_repeat  # a possible match is never acted on by itself
    return first, second


def test_the_coordinator_confirms_a_possible_repeat(app, world, possible_repeat) -> None:
    first, second = possible_repeat
    coordinator = _signed_in(app, world["coordinator"])
    inbox = text(coordinator.get("/referrals/inbox"))
    assert inbox.count("Possible repeat: check") == 1
    page = text(coordinator.get(f"/cases/{second}"))
    assert "Possibly a repeat of" in page and "date of birth missing on one record" in page
    listed = _entries("referral:repeat_candidates_listed")[-1]
    assert listed["case"] == second and listed["cases"] == [first]

    answered = submit(
        coordinator,
        f"/cases/{second}/repeat",
        {"earlier_id": str(first), "answer": "same"},
        form_url=f"/cases/{second}",
    )
    assert answered.status_code == 303
    with db.unit_of_work():
        referral = services.get_referral(second)
        assert referral.is_repeat and referral.previous_referral_id == first
        assert "Repeat" in referral.criteria_labels
    assert "Possibly a repeat of" not in text(coordinator.get(f"/cases/{second}"))
    assert "Possible repeat: check" not in text(coordinator.get("/referrals/inbox"))
    confirmed = _entries("referral:repeat_confirmed")
    assert [(e["case"], e["cases"]) for e in confirmed] == [(second, [first])]


def test_a_dismissed_match_is_not_suggested_again(app, world, possible_repeat) -> None:
    first, second = possible_repeat
    coordinator = _signed_in(app, world["coordinator"])
    submit(
        coordinator,
        f"/cases/{second}/repeat",
        {"earlier_id": str(first), "answer": "different"},
        form_url=f"/cases/{second}",
    )
    with db.unit_of_work():
        assert not services.get_referral(second).is_repeat
    assert "Possibly a repeat of" not in text(coordinator.get(f"/cases/{second}"))
    again = submit(
        coordinator,
        f"/cases/{second}/repeat",
        {"earlier_id": str(first), "answer": "same"},
        form_url=f"/cases/{second}",
        follow=True,
    )
    assert "was answered" in text(again)
    with db.unit_of_work():
        assert not services.get_referral(second).is_repeat
    assert len(_entries("referral:repeat_dismissed")) == 1


def test_only_the_coordinator_sees_or_answers_possible_repeats(app, world, possible_repeat) -> None:
    first, second = possible_repeat
    idva = _signed_in(app, world["idva"])
    assert "Possibly a repeat of" not in text(idva.get(f"/cases/{second}"))
    response = submit(
        idva,
        f"/cases/{second}/repeat",
        {"earlier_id": str(first), "answer": "same"},
        form_url=f"/cases/{second}",
    )
    assert response.status_code == 403
    with db.unit_of_work():
        assert not services.get_referral(second).is_repeat


# --- closing a case, counter-allegations ---------------------------------------------------


def test_the_coordinator_closes_an_accepted_case_with_a_reason(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    coordinator = _signed_in(app, world["coordinator"])
    early = submit(
        coordinator,
        f"/referrals/{referral_id}/triage",
        {"decision": "close", "reason": "Safety plan actions complete"},
        form_url=f"/cases/{referral_id}",
        follow=True,
    )
    assert "Only an accepted or heard case can be closed" in text(early)
    cases.accept(actor_of(world["coordinator"]), referral_id)
    page = text(coordinator.get(f"/cases/{referral_id}"))
    assert "Close the case" in page
    short = submit(
        coordinator,
        f"/referrals/{referral_id}/triage",
        {"decision": "close", "reason": "done"},
        form_url=f"/cases/{referral_id}",
        follow=True,
    )
    assert "Say why the case is being closed" in text(short)
    with db.unit_of_work():
        assert services.get_referral(referral_id).status == "accepted"
    closed = submit(
        coordinator,
        f"/referrals/{referral_id}/triage",
        {"decision": "close", "reason": "Safety plan actions complete; IDVA support ended"},
        form_url=f"/cases/{referral_id}",
    )
    assert closed.status_code == 302
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        assert referral.status == "closed" and referral.closed_at is not None
    assert "IDVA support ended" in text(coordinator.get(f"/cases/{referral_id}"))
    assert [e["case"] for e in _entries("referral:closed")] == [referral_id]
    officer_page = text(_signed_in(app, world["police_officer"]).get(f"/cases/{referral_id}"))
    assert "Close the case" not in officer_page  # only the coordinator closes cases


def test_counter_allegation_pair_linked_and_noted_by_the_coordinator(app, world) -> None:
    officer = actor_of(world["police_officer"])
    first = cases.draft(officer)
    cases.with_consent(officer, first)
    cases.submit(officer, first)
    idva = actor_of(world["idva"])
    second = cases.draft(idva, victim=cases.PERPETRATOR, perpetrator=cases.VICTIM)
    cases.with_consent(idva, second)
    cases.submit(idva, second)

    coordinator = _signed_in(app, world["coordinator"])
    page = text(coordinator.get(f"/cases/{second}"))
    with db.unit_of_work():
        first_reference = services.get_referral(first).reference
    assert f'Counter-allegation with <a class="govuk-link" href="/cases/{first}">' in page
    assert first_reference in page
    saved = submit(
        coordinator,
        f"/cases/{second}/primary-aggressor",
        {"note": "Police records and the IDVA's contact point to John as primary aggressor."},
        form_url=f"/cases/{second}",
    )
    assert saved.status_code == 303
    assert "point to John as primary aggressor" in text(coordinator.get(f"/cases/{second}"))
    emptied = submit(
        coordinator,
        f"/cases/{second}/primary-aggressor",
        {"note": "  "},
        form_url=f"/cases/{second}",
    )
    assert emptied.status_code in (303, 422)  # an empty box keeps the saved note
    assert "point to John as primary aggressor" in text(coordinator.get(f"/cases/{second}"))

    # The police officer knows only their own referral: the flag, never a link to the other.
    own = text(_signed_in(app, world["police_officer"]).get(f"/cases/{first}"))
    assert "Counter-allegation" in own and f"/cases/{second}" not in own
    refused = submit(
        _signed_in(app, world["idva"]),
        f"/cases/{second}/primary-aggressor",
        {"note": "An IDVA may not write this note"},
        form_url=f"/cases/{second}",
    )
    assert refused.status_code == 403


def test_consent_on_the_referral_covers_only_what_was_ticked_and_a_resave_replaces_it(
    app, world
) -> None:
    from consent import services as consent_services

    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor)
    officer = _signed_in(app, world["police_officer"])
    url = f"/referrals/{referral_id}/sharing"
    first = submit(
        officer,
        url,
        {
            "state": "given",
            "evidence": "In person, alone",
            "purposes": "marac",
            "categories": ["identity", "risk", "children"],
            "recipient_agency_types": ["police", "idva_service", "childrens_social_care"],
        },
    )
    assert first.status_code == 302, text(first)[:2000]
    again = submit(
        officer,
        url,
        {
            "state": "given",
            "evidence": "In person, alone; she did not want health told",
            "purposes": "marac",
            "categories": ["identity", "risk"],
            "recipient_agency_types": ["police", "idva_service"],
        },
    )
    assert again.status_code == 302
    with db.unit_of_work():
        rows = consent_services.consents_for(referral_id)
        assert len(rows) == 1  # the draft's basis was replaced, not added to
        assert rows[0].categories == ["identity", "risk"]
        assert rows[0].recipient_agency_types == ["idva_service", "police"]
        assert rows[0].purposes == ["marac"]
    replaced = _entries("consent:draft_replaced")
    assert len(replaced) == 1 and replaced[0]["case"] == referral_id
    assert len(_entries("consent:recorded")) == 2  # the ledger keeps both

    # Coming back to the page shows what was saved, not the page's first defaults.
    page = text(officer.get(url))
    assert re.search(r'value="risk"\s+checked', page)
    assert not re.search(r'value="health"\s+checked', page)
    assert "she did not want health told" in page


def test_a_hub_member_ticked_on_the_details_page_never_sees_the_case(app, world) -> None:
    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor)
    officer = _signed_in(app, world["police_officer"])
    url = f"/referrals/{referral_id}/details"
    page = text(officer.get(url))
    blocked = world["health_rep"]
    assert f'value="{blocked.member_id}"' in page
    assert f'value="{world["police_officer"].member_id}"' not in page  # not themselves
    saved = submit(
        officer,
        url,
        {
            "incident": "Assault at home on Friday night; police attended.",
            "victim_aware": "yes",
            "reported_to_police": "yes",
            "must_not_receive_member_ids": str(blocked.member_id),
        },
    )
    assert saved.status_code == 302, text(saved)[:2000]
    assert re.search(rf'value="{blocked.member_id}"\s+checked', text(officer.get(url)))
    cases.with_consent(officer_actor, referral_id)
    cases.submit(officer_actor, referral_id)
    submit(
        officer,
        f"/cases/{referral_id}/share",
        {"agency_id": str(world.agencies["health"]), "purpose": "marac"},
        form_url=f"/cases/{referral_id}",
    )
    assert _signed_in(app, blocked).get(f"/cases/{referral_id}").status_code == 404
    refusal = _entries("access:denied")[-1]
    assert refusal["reason"] == "must_not_receive" and refusal["case"] == referral_id


def test_a_second_perpetrator_is_named_replaced_and_shown(app, world) -> None:
    from cases.models import PartyRole

    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor)
    officer = _signed_in(app, world["police_officer"])
    url = f"/referrals/{referral_id}/perpetrator"
    base = {"p_given_name": "John", "p_family_name": "Sample", "relationship": "Husband"}
    missing = submit(officer, url, {**base, "p2_given_name": "Otto"})
    assert missing.status_code == 422
    assert "Enter the last name" in text(missing)
    saved = submit(
        officer,
        url,
        {**base, "p2_given_name": "Otto", "p2_family_name": "Sample", "p2_relationship": "Brother"},
    )
    assert saved.status_code == 302, text(saved)[:2000]
    with db.unit_of_work():
        names = [
            p.given_name
            for p in services.get_referral(referral_id).people_in(PartyRole.PERPETRATOR)
        ]
        assert names == ["John", "Otto"]
    assert submit(officer, url, base).status_code == 302  # saved again without Otto
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        assert [p.given_name for p in referral.people_in(PartyRole.PERPETRATOR)] == ["John"]
    submit(
        officer,
        url,
        {**base, "p2_given_name": "Otto", "p2_family_name": "Sample", "p2_relationship": "Brother"},
    )
    cases.with_consent(officer_actor, referral_id)
    cases.submit(officer_actor, referral_id)
    page = text(officer.get(f"/cases/{referral_id}"))
    assert "Perpetrator 2" in page and "Otto SAMPLE" in page and "Brother" in page


def test_children_and_another_adult_are_people_on_the_referral(app, world) -> None:
    from cases.models import PartyRole

    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor)
    officer = _signed_in(app, world["police_officer"])
    url = f"/referrals/{referral_id}/perpetrator"
    base = {"p_given_name": "John", "p_family_name": "Sample", "relationship": "Husband"}
    child = {
        "c1_given_name": "Amy",
        "c1_family_name": "Sample",
        "c1_born_on-day": "2",
        "c1_born_on-month": "3",
        "c1_born_on-year": "2019",
    }
    half = submit(officer, url, {**base, **child, "c2_given_name": "Ben"})
    assert half.status_code == 422 and "Enter the last name" in text(half)
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        assert referral.people_in(PartyRole.CHILD) == []  # nothing half-saved
    saved = submit(
        officer,
        url,
        {
            **base,
            **child,
            "h1_given_name": "Rita",
            "h1_family_name": "Example",
            "h1_relationship": "Mother",
        },
    )
    assert saved.status_code == 302, text(saved)[:2000]
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        assert [p.given_name for p in referral.people_in(PartyRole.CHILD)] == ["Amy"]
        assert [p.given_name for p in referral.people_in(PartyRole.HOUSEHOLD)] == ["Rita"]
        person_ids = services.case_facts(referral).person_ids
        assert len(person_ids) == 4  # victim, perpetrator, child, adult: all searchable
    assert 'value="Amy"' in text(officer.get(url))  # the page shows what was saved
    cases.with_consent(officer_actor, referral_id)
    cases.submit(officer_actor, referral_id)
    page = text(officer.get(f"/cases/{referral_id}"))
    assert "Child 1" in page and "Amy SAMPLE" in page and "2 March 2019" in page
    assert "Household member" in page and "Mother" in page
