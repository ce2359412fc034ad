"""Sending a draft to the MARAC: what is missing, and repeats and counter-allegations by key.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import false, select, union
from sqlalchemy.orm import selectinload

from agencies.models import Agency
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import checklists, lifecycle, matching
from cases.facts import case_facts
from cases.lifecycle import Decision
from cases.models import (
    PartyRole,
    Person,
    PersonKey,
    PossibleRepeat,
    Referral,
    ReferralParty,
    ReferralStatus,
)
from cases.operations.drafts import (
    UNDER_16_PERPETRATOR,
    UNDER_16_VICTIM,
    own_draft,
    under_age,
    usual_referral_basis,
)
from consent import services as consent_services
from hub.core.access import Actor
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import ValidationFailed

# --- submission and triage ---------------------------------------------------------------


def missing_for_submission(referral: Referral) -> dict[str, str]:
    """What still stops a draft from being submitted, page by page."""
    missing: dict[str, str] = {}
    if referral.victim is None:
        missing["victim"] = "Enter the victim's details"
    if not referral.people_in(PartyRole.PERPETRATOR):
        missing["perpetrator"] = "Enter the perpetrator's details"
    assessment = referral.assessment
    if assessment is None:
        missing["risk"] = "Complete the risk checklist"
    else:
        checklist = checklists.load_checklists()[assessment.checklist]
        if checklists.validate_answers(checklist, assessment.answers, complete=True):
            missing["risk"] = "Answer every question on the risk checklist"
    if referral.victim is not None and under_age(referral.victim.born_on):
        missing["victim"] = UNDER_16_VICTIM
    if any(under_age(p.born_on) for p in referral.people_in(PartyRole.PERPETRATOR)):
        missing["perpetrator"] = UNDER_16_PERPETRATOR
    if not referral.incident:
        missing["details"] = "Describe the incident and who the victim fears"
    if not consent_services.consents_for(referral.id):
        missing["sharing"] = "Record consent, or the reasons for sharing without it"
    return missing


#: How far back a referral may repeat an earlier one: the 12-month window, and a few days.
WINDOW_DAYS = 370


def _people_like(area_id: int, *people: Person) -> Any:
    """People of the area who could match any of these at all (``matching.score_match`` never
    matches without a shared name-and-initial key, NHS number or police identifier): the
    indexed pre-filter, so no comparison ever reads the area's whole history."""
    found = []
    for person in people:
        keys = sorted(
            k
            for k in matching.name_keys(person.given_name, person.family_name, person.aliases)
            if len(k.split(" ", 1)[0]) == 1  # the initial-and-family keys cover the full ones
        )
        if keys:
            found.append(
                select(PersonKey.person_id).where(
                    PersonKey.area_id == area_id, PersonKey.key.in_(keys)
                )
            )
        for column, value in (
            (Person.nhs_number, person.nhs_number),
            (Person.police_person_id, person.police_person_id),
        ):
            if value:
                found.append(select(Person.id).where(Person.area_id == area_id, column == value))
    if not found:
        return select(Person.id).where(false())
    return union(*found) if len(found) > 1 else found[0]


def _earlier_naming(
    referral: Referral, victims: Any, perpetrators: Any, on: date
) -> list[Referral]:
    """Sent referrals of the area within the window whose victim is one of ``victims`` and
    one of whose perpetrators is one of ``perpetrators`` (both subqueries of people)."""
    named = select(ReferralParty.referral_id).where(
        ReferralParty.role == PartyRole.PERPETRATOR.value,
        ReferralParty.person_id.in_(perpetrators),
    )
    return list(
        session()
        .execute(
            select(Referral)
            .options(
                selectinload(Referral.victim),
                selectinload(Referral.parties).selectinload(ReferralParty.person),
            )
            .where(
                Referral.area_id == referral.area_id,
                Referral.id != referral.id,
                Referral.status.notin_([ReferralStatus.DRAFT, ReferralStatus.REJECTED]),
                Referral.referred_on >= on - timedelta(days=WINDOW_DAYS),
                Referral.referred_on <= on,
                Referral.victim_id.in_(victims),
                Referral.id.in_(named),
            )
            .order_by(Referral.referred_on.desc(), Referral.id.desc())
        )
        .scalars()
    )


def _find_previous(referral: Referral) -> tuple[Referral | None, list[dict[str, Any]]]:
    """A repeat: same victim and perpetrator within 12 months of the last referral.

    Returns the earlier referral that is certainly the same people (strong matches on both),
    and the possible ones, which only the coordinator may confirm.
    """
    victim = referral.victim
    perpetrators = referral.people_in(PartyRole.PERPETRATOR)
    if victim is None or not perpetrators:
        return None, []
    today = referral.referred_on or today_london()
    like_perpetrators = _people_like(referral.area_id, *perpetrators)
    earlier = _earlier_naming(
        referral, _people_like(referral.area_id, victim), like_perpetrators, today
    )
    automatic: Referral | None = None
    candidates: list[dict[str, Any]] = []
    for other in earlier:
        if other.victim is None or other.referred_on is None:
            continue
        if other.referred_on == today and (
            referral.submitted_at is not None
            and other.submitted_at is not None
            and other.submitted_at > referral.submitted_at
        ):
            continue  # only an earlier referral can make this one a repeat
        if not matching.within_repeat_window(other.referred_on, today):
            continue
        victim_match = matching.score_match(match_input(other.victim), match_input(victim))
        if victim_match.level == "none":
            continue
        best = "none"
        for theirs in other.people_in(PartyRole.PERPETRATOR):
            for ours in perpetrators:
                level = matching.score_match(match_input(theirs), match_input(ours)).level
                if level == "strong" or (level == "possible" and best == "none"):
                    best = level
        if best == "none":
            continue
        if victim_match.level == "strong" and best == "strong" and automatic is None:
            automatic = other
        else:
            candidates.append(
                {
                    "referral": other.id,
                    "reference": other.reference,
                    "reasons": victim_match.reasons,
                }
            )
    return automatic, candidates


def _find_counter_allegation(referral: Referral) -> Referral | None:
    """A sent referral, within the window, naming this one's victim as its perpetrator and
    this one's perpetrator as its victim (both strongly)."""
    victim = referral.victim
    perpetrators = referral.people_in(PartyRole.PERPETRATOR)
    if victim is None or not perpetrators:
        return None
    like_ours = _people_like(referral.area_id, *perpetrators)
    others = _earlier_naming(
        referral, like_ours, _people_like(referral.area_id, victim), today_london()
    )
    for other in others:
        if other.victim is None:
            continue
        # Each names the other's victim as perpetrator, and the other's perpetrator as victim.
        names_us = any(
            matching.score_match(match_input(p), match_input(victim)).level == "strong"
            for p in other.people_in(PartyRole.PERPETRATOR)
        )
        named_by_us = any(
            matching.score_match(match_input(other.victim), match_input(p)).level == "strong"
            for p in perpetrators
        )
        if names_us and named_by_us:
            return other
    return None


def match_input(person: Person) -> matching.MatchInput:
    return matching.MatchInput(
        given=person.given_name,
        family=person.family_name,
        aliases=person.aliases,
        born_on=person.born_on,
        nhs_number=person.nhs_number,
        police_person_id=person.police_person_id,
    )


def submit_referral(actor: Actor, referral: Referral) -> Referral:
    """Send a complete draft to the MARAC coordinator; detect repeats and counter-allegations."""
    own_draft(actor, referral)
    missing = missing_for_submission(referral)
    if missing:
        raise ValidationFailed(missing)
    referral.referred_on = today_london()
    if not referral.referral_basis:
        # Unless the referrer chose another, the agency refers on its sector's usual basis
        # (the form shows it chosen; the API documents it).
        agency = session().get(Agency, referral.referring_agency_id)
        assert agency is not None
        referral.referral_basis = usual_referral_basis(agency).value
    previous, candidates = _find_previous(referral)
    if previous is not None:
        referral.is_repeat = True
        referral.previous_referral_id = previous.id
    if not referral.meets_criteria:
        raise ValidationFailed(
            {
                "risk": (
                    "This case does not meet a MARAC referral criterion: fewer than the "
                    "high-risk number of Yes answers, no professional judgement, too few "
                    "incidents for potential escalation, and not a repeat. Use your agency's "
                    "own safeguarding route."
                )
            }
        )
    counter = _find_counter_allegation(referral)
    if counter is not None:
        referral.counter_allegation_id = counter.id
        counter.counter_allegation_id = referral.id
    lifecycle.move(referral, Decision.SUBMIT)
    referral.submitted_at = now()
    for candidate in candidates:
        session().add(
            PossibleRepeat(
                referral_id=referral.id,
                earlier_id=candidate["referral"],
                reasons=candidate["reasons"],
                found_at=now(),
            )
        )
    session().flush()
    record(
        actor,
        LedgerAction.REFERRAL_SUBMITTED,
        Subject("case", referral.id),
        case=referral.id,
        persons=list(case_facts(referral).person_ids),
        repeat=referral.is_repeat,
        counter_allegation=referral.counter_allegation_id is not None,
        criteria=[c.lower().replace(" ", "_") for c in referral.criteria_labels],
    )
    return referral
