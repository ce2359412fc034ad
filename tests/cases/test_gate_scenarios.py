"""The practice scenario suite: one test per situation a MARAC meets, through the real gate."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import time_machine
from sqlalchemy import select

from agencies import services as agencies
from audit.models import AuditEntry
from cases import services
from cases.models import WhereaboutsReveal
from consent import services as consent_services
from consent.categories import Article6, Category, ConsentState, Purpose
from consent.models import SharingDecision
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import now
from hub.core.errors import Refused, ValidationFailed
from tests.support import cases
from tests.support.world import actor_of


def _entries(action: str) -> list[dict]:
    with db.unit_of_work() as uow:
        rows = (
            uow.session.execute(
                select(AuditEntry.body).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
            .scalars()
            .all()
        )
    return [json.loads(r) for r in rows]


def _open(actor: Actor, referral_id: int, categories=None, **kwargs):
    with db.unit_of_work():
        _, disclosure = services.open_case(actor, referral_id, categories, **kwargs)
        return disclosure


def _share(actor: Actor, referral_id: int, agency_id: int, purpose=Purpose.MARAC) -> None:
    with db.unit_of_work():
        services.share_case(actor, services.get_referral(referral_id), agency_id, purpose)


def _consent(actor: Actor, referral, *, types: list[str], categories: list[Category]):
    with db.unit_of_work():
        referral_row = services.get_referral(referral)
        return consent_services.record_consent(
            actor,
            referral_id=referral,
            subject_id=referral_row.victim_id,
            data=consent_services.ConsentData(
                state=ConsentState.GIVEN,
                purposes=[Purpose.MARAC],
                categories=categories,
                recipient_agency_ids=[],
                recipient_agency_types=types,
                evidence="Verbally, in person",
            ),
        )


@pytest.fixture
def idva_case(world):
    """An IDVA's referral with consent to share health information with health only."""
    idva = actor_of(world["idva"])
    referral_id = cases.draft(idva)
    _consent(
        idva,
        referral_id,
        types=["acute_health", "police"],
        categories=[Category.IDENTITY, Category.RISK],
    )
    _consent(idva, referral_id, types=["acute_health"], categories=[Category.HEALTH])
    cases.submit(idva, referral_id)
    _share(idva, referral_id, world.agencies["police"])
    _share(idva, referral_id, world.agencies["health"])
    return referral_id


def test_consent_to_health_only_withholds_health_from_police(world, idva_case) -> None:
    police = _open(actor_of(world["police_rep"]), idva_case)
    health = _open(actor_of(world["health_rep"]), idva_case)
    assert police.allows(Category.IDENTITY) and police.allows(Category.RISK)
    assert not police.allows(Category.HEALTH)
    assert police.decisions[Category.HEALTH].code == "no_basis"
    assert "health" in police.decisions[Category.HEALTH].message
    assert health.allows(Category.HEALTH)
    assert health.decisions[Category.HEALTH].basis["basis"] == "consent"


def test_consent_withdrawn_between_two_reads_stops_the_second(world, idva_case) -> None:
    nurse_rep = actor_of(world["health_rep"])
    assert _open(nurse_rep, idva_case).allows(Category.HEALTH)
    with db.unit_of_work():
        for row in consent_services.consents_for(idva_case):
            consent_services.withdraw_consent(actor_of(world["idva"]), row)
    after = _open(nurse_rep, idva_case)
    assert not after.allows(Category.HEALTH) and not after.allows(Category.IDENTITY)
    last = _entries("case:viewed")[-1]
    assert last["withheld"]["health"] == "no_basis"


def test_no_consent_but_high_risk_with_approved_decision_is_shared_with_basis(world) -> None:
    officer, rep = actor_of(world["police_officer"]), actor_of(world["police_rep"])
    referral_id = cases.draft(officer)
    cases.without_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    coordinator = actor_of(world["coordinator"])
    before = _open(coordinator, referral_id, [Category.RISK, Category.HEALTH])
    # Pending: nothing flows but what the referral itself gives the MARAC to triage.
    assert before.decisions[Category.RISK].basis["basis"] == "referral"
    assert not before.allows(Category.HEALTH)
    with db.unit_of_work():
        decision_id = consent_services.decisions_for(referral_id)[0].id
        services.decide_sharing(rep, decision_id, approve=True, note="Agreed: risk to life")
    after = _open(coordinator, referral_id, [Category.RISK, Category.HEALTH])
    assert after.allows(Category.RISK) and after.allows(Category.HEALTH)
    assert after.decisions[Category.HEALTH].basis == {
        "basis": "decision",
        "decision": decision_id,
        "purpose": "marac",
        "art6": "6(1)(e)",
        "art9": "sch1-para18",
    }
    entry = _entries("case:viewed")[-1]
    assert entry["decisions"] == [decision_id]
    assert "decision:6(1)(e):sch1-para18" in entry["bases"]


def test_the_requester_cannot_approve_their_own_decision(world) -> None:
    rep = actor_of(world["police_rep"])
    referral_id = cases.draft(rep)
    cases.without_consent(rep, referral_id)
    with db.unit_of_work():
        decision_id = consent_services.decisions_for(referral_id)[0].id
    with pytest.raises(ValidationFailed, match="someone else must decide"), db.unit_of_work():
        services.decide_sharing(rep, decision_id, approve=True, note="")
    with db.unit_of_work() as uow:
        assert uow.session.get(SharingDecision, decision_id).status == "pending"


def test_public_task_offered_to_a_voluntary_recipient_is_refused(world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    with pytest.raises(ValidationFailed) as raised:
        cases.without_consent(officer, referral_id, voluntary=Article6.PUBLIC_TASK)
    assert "cannot rely on public task" in raised.value.errors["basis_voluntary"]
    with db.unit_of_work():
        assert consent_services.decisions_for(referral_id) == []
        assert consent_services.consents_for(referral_id) == []  # nothing half-saved


def test_perpetrators_caseworker_in_a_dual_client_agency_is_refused_and_recorded(world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    with db.unit_of_work():
        # The housing agency serves both: its officer works with the perpetrator.
        services.share_case(
            officer, services.get_referral(referral_id), world.agencies["housing"], Purpose.MARAC
        )
    housing_rep = _make_rep(world, "housing")
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        services.add_to_team(housing_rep, referral, world["housing_officer"].member_id)
        services.add_conflict_wall(
            housing_rep,
            referral,
            perpetrator_worker_id=world["housing_officer"].member_id,
            victim_worker_id=None,
        )
    with pytest.raises(Refused) as refused, db.unit_of_work():
        services.open_case(actor_of(world["housing_officer"]), referral_id)
    assert refused.value.conceal and refused.value.status == 404
    denied = _entries("access:denied")[-1]
    assert denied["reason"] == "conflict_wall" and denied["case"] == referral_id
    # Nor does a search reveal that the case exists.
    with db.unit_of_work():
        hits = services.search_before_create(
            actor_of(world["housing_officer"]),
            given_name="Jane",
            family_name="Example",
            born_on=date(1990, 5, 17),
        )
    assert hits == []


def _make_rep(world, agency_key: str) -> Actor:
    from agencies.models import Role

    with db.unit_of_work():
        member = agencies.add_member(
            Actor.system("test"),
            agencies.MemberData(
                name=f"{agency_key} rep",
                email=f"rep@{agency_key}.rep.test",
                agency_id=world.agencies[agency_key],
                roles=frozenset({Role.MARAC_REP}),
            ),
        )
        return agencies.actor_for(member)


def test_an_agency_whose_protocol_lapsed_is_refused(world, idva_case) -> None:
    with db.unit_of_work():
        agency = agencies.get_agency(world.agencies["police"])
        agency.isp_review_due_on = date(2020, 1, 1)
    # A lapsed protocol is the same concealed 404 as any other refusal: the agency does not
    # even learn that a case it once knew is still there.
    with pytest.raises(Refused) as refused, db.unit_of_work():
        services.open_case(actor_of(world["police_rep"]), idva_case)
    assert refused.value.conceal
    assert _entries("access:denied")[-1]["reason"] == "isp_not_current"


def test_whereabouts_stay_masked_without_a_reason(world, idva_case) -> None:
    idva_rep = actor_of(world["idva"])
    masked = _open(idva_rep, idva_case)
    assert not masked.allows(Category.WHEREABOUTS)
    assert masked.decisions[Category.WHEREABOUTS].code == "masked"
    short = _open(idva_rep, idva_case, reveal_reason="need it")
    assert short.decisions[Category.WHEREABOUTS].code == "reason_refused"
    revealed = _open(
        idva_rep, idva_case, reveal_reason="Arranging an urgent safety visit with the police today"
    )
    assert revealed.allows(Category.WHEREABOUTS)
    entry = _entries("whereabouts:revealed")[-1]
    assert entry["case"] == idva_case and "whereabouts" in entry["categories"]
    assert "Secret Street" not in json.dumps(entry)  # the ledger holds no content
    with db.unit_of_work() as uow:
        reasons = uow.session.execute(select(WhereaboutsReveal.reason)).scalars().all()
    assert reasons == ["Arranging an urgent safety visit with the police today"]


def test_whereabouts_are_never_shown_to_an_agency_without_basis_even_with_a_reason(
    world, idva_case
) -> None:
    police = _open(
        actor_of(world["police_rep"]),
        idva_case,
        reveal_reason="I would like to see where she lives now please",
    )
    assert not police.allows(Category.WHEREABOUTS)
    assert police.decisions[Category.WHEREABOUTS].code == "no_basis"


def test_a_must_not_receive_member_is_refused_as_if_no_case_existed(world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        services.save_details(
            officer,
            referral,
            services.DetailsData(
                incident="Assault",
                victim_aware=True,
                must_not_receive_member_ids=[world["chair"].member_id],
            ),
        )
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    with pytest.raises(Refused) as refused, db.unit_of_work():
        services.open_case(actor_of(world["chair"]), referral_id)
    assert str(refused.value) == "There is no such case."
    assert _entries("access:denied")[-1]["reason"] == "must_not_receive"
    assert _open(actor_of(world["coordinator"]), referral_id).allows(Category.RISK)


@pytest.mark.parametrize(("months", "repeat"), [(11, True), (13, False)])
def test_repeat_within_twelve_months_is_flagged_after_is_new(world, months, repeat) -> None:
    officer = actor_of(world["police_officer"])
    first = cases.draft(officer)
    cases.with_consent(officer, first)
    cases.submit(officer, first)
    with time_machine.travel(now() + timedelta(days=int(months * 30.5)), tick=False):
        nurse = actor_of(world["health_rep"])
        second = cases.draft(nurse)
        cases.with_consent(nurse, second)
        submitted = cases.submit(nurse, second)
        assert submitted.is_repeat is repeat
        assert submitted.previous_referral_id == (first if repeat else None)


def test_counter_allegations_are_linked_both_ways(world) -> None:
    officer = actor_of(world["police_officer"])
    first = cases.draft(officer)
    cases.with_consent(officer, first)
    cases.submit(officer, first)
    idva = actor_of(world["idva"])
    second = cases.draft(idva, victim=cases.PERPETRATOR, perpetrator=cases.VICTIM)
    cases.with_consent(idva, second)
    cases.submit(idva, second)
    with db.unit_of_work():
        a, b = services.get_referral(first), services.get_referral(second)
        assert a.counter_allegation_id == second and b.counter_allegation_id == first
    with db.unit_of_work():
        services.note_primary_aggressor(
            actor_of(world["coordinator"]),
            services.get_referral(second),
            "Multi-agency information points to John as primary aggressor.",
        )


def test_professional_judgement_cannot_downgrade_a_high_risk_case(world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    with pytest.raises(ValidationFailed) as raised, db.unit_of_work():
        services.save_risk(
            officer,
            services.get_referral(referral_id),
            services.RiskData(
                checklist="safelives-dash-24", answers=cases.answers(16), downgrade=True
            ),
        )
    assert "never lower" in raised.value.errors["judgement_reasons"]


def test_professional_judgement_raises_a_low_score_with_written_reasons(world) -> None:
    officer = actor_of(world["police_officer"])
    with pytest.raises(ValidationFailed, match="reasons"):
        cases.draft(officer, yes=8, judgement=" ")
    referral_id = cases.draft(officer, yes=8, judgement="Non-fatal strangulation last week")
    cases.with_consent(officer, referral_id)
    submitted = cases.submit(officer, referral_id)
    assert submitted.criteria_labels == ["Professional judgement"]


def test_a_case_meeting_no_criterion_cannot_be_submitted(world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer, yes=5)
    cases.with_consent(officer, referral_id)
    with pytest.raises(ValidationFailed, match="does not meet a MARAC referral criterion"):
        cases.submit(officer, referral_id)


def test_a_colleague_outside_the_case_team_does_not_need_to_know(world) -> None:
    rep = actor_of(world["police_rep"])
    referral_id = cases.draft(rep)
    cases.with_consent(rep, referral_id)
    cases.submit(rep, referral_id)
    with pytest.raises(Refused), db.unit_of_work():
        services.open_case(actor_of(world["police_officer"]), referral_id)
    assert _entries("access:denied")[-1]["reason"] == "no_need_to_know"
    with db.unit_of_work():
        services.add_to_team(
            rep, services.get_referral(referral_id), world["police_officer"].member_id
        )
    assert _open(actor_of(world["police_officer"]), referral_id).allows(Category.RISK)


def test_an_agency_not_given_the_case_is_refused(world, idva_case) -> None:
    with pytest.raises(Refused) as refused, db.unit_of_work():
        services.open_case(actor_of(world["housing_officer"]), idva_case)
    assert refused.value.conceal


def test_accepting_offers_the_case_to_the_idva_service(world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    cases.accept(actor_of(world["coordinator"]), referral_id)
    idva = _open(actor_of(world["idva"]), referral_id)
    assert idva.allows(Category.IDENTITY)
    assert not idva.allows(Category.DIVERSITY)  # monitoring data is for the data return only


def test_a_referral_from_the_idva_service_itself_can_be_accepted(world) -> None:
    idva = actor_of(world["idva"])
    referral_id = cases.draft(idva)
    cases.with_consent(idva, referral_id)
    cases.submit(idva, referral_id)
    cases.accept(actor_of(world["coordinator"]), referral_id)
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        assert referral.status == "accepted"
        assert referral.shares == []  # not shared with the agency that made it


def test_disclosures_made_outside_the_gate_are_refused_by_the_case_file(world, idva_case) -> None:
    from cases import casefile
    from consent.gate import CategoryDecision, Disclosure, NotDisclosed

    forged = Disclosure(
        actor_of(world["police_rep"]),
        idva_case,
        "X",
        Purpose.MARAC,
        False,
        "",
        "",
        {c: CategoryDecision(c, True, "forged", "") for c in Category},
        False,
    )
    with db.unit_of_work(), pytest.raises(NotDisclosed):
        casefile.case_view(services.get_referral(idva_case), forged)


def test_rejection_needs_a_reason(world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    with pytest.raises(ValidationFailed, match="reason"), db.unit_of_work():
        services.reject_referral(
            actor_of(world["coordinator"]), services.get_referral(referral_id), ""
        )


def test_a_decision_recorded_with_public_task_for_the_voluntary_sector_never_covers_it(
    world,
) -> None:
    """Defence in depth: even a row that slipped past validation gives the IDVA nothing."""
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    cases.accept(actor_of(world["coordinator"]), referral_id)
    with db.unit_of_work() as uow:
        for row in consent_services.consents_for(referral_id):
            uow.session.delete(row)
        uow.session.add(
            SharingDecision(
                referral_id=referral_id,
                all_partners=True,
                categories=["identity", "risk"],
                purpose="marac",
                rationale="x" * 50,
                basis_statutory="6(1)(e)",
                basis_voluntary="6(1)(e)",
                condition_special="sch1-para18",
                status="approved",
                requested_by_id=world["police_officer"].member_id,
            )
        )
    idva = _open(actor_of(world["idva"]), referral_id)
    assert not idva.allows(Category.IDENTITY)
    assert idva.decisions[Category.IDENTITY].code == "no_basis"
    assert _open(actor_of(world["coordinator"]), referral_id).allows(Category.IDENTITY)


def test_the_areas_chair_working_for_the_referring_agency_knows_its_cases(world) -> None:
    """The chair is a police officer here, without a MARAC representative role."""
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    chair = _open(actor_of(world["chair"]), referral_id)
    assert chair.allows(Category.RISK)
    assert chair.decisions[Category.RISK].basis["basis"] == "consent"
