"""Referral use cases: drafts, submission, triage, sharing, teams, walls, search.

Every service takes the actor explicitly and never commits. Nothing here returns case
content for display: ``cases.casefile`` does that, and only from a gate decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import false, or_, select
from sqlalchemy.orm import selectinload

from agencies.models import Agency, AgencyType, MaracArea, Member, Sector
from audit.ledger import Subject, record
from cases import checklists, matching
from cases.events import CaseGiven, GivenBy
from cases.facts import case_facts, facts_many, knowable
from cases.models import (
    CaseTeamMember,
    ConflictWall,
    GrantKind,
    MustNotReceive,
    NeedToKnowGrant,
    PartyRole,
    Person,
    PossibleRepeat,
    Referral,
    ReferralParty,
    ReferralShare,
    ReferralStatus,
    RepeatReview,
    RiskAssessment,
    Whereabouts,
    WhereaboutsReveal,
)
from consent import gate
from consent import services as consent_services
from consent.categories import (
    CASE_CATEGORIES,
    REFERRAL_BASES_STATUTORY,
    REFERRAL_BASES_VOLUNTARY,
    Article6,
    Category,
    ConsentState,
    Purpose,
)
from consent.models import ConsentRecord, SharingDecision
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import NO_SUCH_CASE, Conflict, Forbidden, NotFound, Refused, ValidationFailed
from hub.core.events import publish

# --- loading ------------------------------------------------------------------------------


def find_referral(referral_id: int) -> Referral | None:
    """A referral by id, or None: for code that decides access, never for display."""
    return session().get(Referral, referral_id)


def get_referral(referral_id: int) -> Referral:
    """Load a referral by id for code that has already been through the gate (or is the
    hub itself); never for showing or changing a case on someone's behalf."""
    referral = session().get(Referral, referral_id)
    if referral is None:
        raise NotFound(NO_SUCH_CASE)
    return referral


def open_case(
    actor: Actor,
    referral_id: int,
    categories: list[Category] | None = None,
    *,
    purpose: Purpose | None = None,
    reveal_reason: str | None = None,
    action: str = "case:viewed",
) -> tuple[Referral, gate.Disclosure]:
    """Load a case through the gate. Every refusal is the concealed 404 of a missing case."""
    referral = session().get(Referral, referral_id)
    if referral is None:
        gate.refuse(actor, referral_id, "no_such_case", attempted=action)
        raise Refused(NO_SUCH_CASE, conceal=True, code="no_such_case")
    disclosure = gate.disclose(
        actor,
        case_facts(referral),
        categories or list(CASE_CATEGORIES),
        purpose,
        reveal_reason=reveal_reason,
        action=action,
    )
    if disclosure.refused:
        raise Refused(NO_SUCH_CASE, conceal=True, code=disclosure.refusal_code)
    if reveal_reason and disclosure.allows(Category.WHEREABOUTS):
        session().add(
            WhereaboutsReveal(
                referral_id=referral.id,
                member_id=actor.member_id,
                reason=reveal_reason.strip()[:2000],
            )
        )
    return referral, disclosure


def case_for_action(actor: Actor, referral_id: int, operation: str) -> Referral:
    """Load a case the actor is about to act on, through the gate (a refusal is a 404)."""
    referral = session().get(Referral, referral_id)
    if referral is None:
        gate.refuse(actor, referral_id, "no_such_case", attempted=operation)
        raise Refused(NO_SUCH_CASE, conceal=True, code="no_such_case")
    act_on(actor, referral, operation)
    return referral


def forbid(actor: Actor, referral: Referral, operation: str, message: str) -> Forbidden:
    """Record that someone who may know the case was refused an operation on it, and give
    the error to raise (every refusal is in the ledger, not only the gate's)."""
    gate.refuse(actor, referral.id, "not_permitted", area_id=referral.area_id, attempted=operation)
    return Forbidden(message)


def act_on(actor: Actor, referral: Referral, operation: str) -> gate.Permit:
    """Ask the gate whether the actor may act on this case at all, before anything else.

    Every service that writes on a case calls this first: walls, must-not-receive, the area
    and need to know refuse a write exactly as they refuse a read.
    """
    return gate.authorise(actor, case_facts(referral), operation)


def grant_need_to_know(
    actor: Actor,
    referral_id: int,
    agency_id: int,
    kind: GrantKind,
    *,
    purpose: Purpose,
    source: str,
) -> NeedToKnowGrant:
    """Record that an agency needs to know a case, and why (read by the gate)."""
    existing = (
        session()
        .execute(
            select(NeedToKnowGrant).where(
                NeedToKnowGrant.referral_id == referral_id,
                NeedToKnowGrant.agency_id == agency_id,
                NeedToKnowGrant.kind == kind.value,
                NeedToKnowGrant.source == source,
            )
        )
        .scalar_one_or_none()
    )
    if existing is not None:
        return existing
    grant = NeedToKnowGrant(
        referral_id=referral_id,
        agency_id=agency_id,
        kind=kind.value,
        purpose=purpose.value,
        source=source,
        granted_by_id=actor.member_id,
        granted_at=now(),
    )
    session().add(grant)
    session().flush()
    return grant


# --- drafts -------------------------------------------------------------------------------


def _area_code(area: MaracArea) -> str:
    word = next((w for w in area.name.split() if w.upper() != "MARAC"), "MARAC")
    return "".join(ch for ch in word.upper() if ch.isalpha())[:2] or "MA"


def _new_reference(area: MaracArea) -> str:
    """The area's next reference this year (the caller holds the area's lock)."""
    year = today_london().year
    prefix = f"{_area_code(area)}-{year}-"
    taken = (
        session()
        .execute(select(Referral.reference).where(Referral.reference.like(prefix + "%")))
        .scalars()
    )
    numbers = [int(ref[len(prefix) :]) for ref in taken if ref[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def _referring_agency(actor: Actor) -> Agency:
    if actor.agency_id is None:
        raise Forbidden("Only a member of a partner agency can refer a case.")
    agency = session().get(Agency, actor.agency_id)
    if agency is None or agency.is_disabled:
        raise Forbidden("Your agency cannot refer cases.")
    if not agency.has_current_isp(today_london()):
        raise Forbidden(
            "Your agency must sign the current information sharing protocol "
            "before it can refer cases."
        )
    return agency


def start_referral(actor: Actor, *, idempotency_key: str | None = None) -> Referral:
    """Open a draft referral for the actor's agency (a retried API call gets the same one)."""
    if not actor.can(Permission.REFERRALS_CREATE) and not (
        actor.kind == "service" and "referrals:write" in actor.scopes
    ):
        raise Forbidden("You cannot refer cases.")
    agency = _referring_agency(actor)
    # Lock the area's row until this transaction ends: on PostgreSQL, two referrals started
    # at the same moment then never take the same reference, and a retry arriving while the
    # first call still runs waits for it and finds its referral (SQLite already runs one
    # writer at a time).
    session().execute(select(MaracArea.id).where(MaracArea.id == agency.area_id).with_for_update())
    if idempotency_key:
        existing = (
            session()
            .execute(
                select(Referral).where(
                    Referral.referring_agency_id == agency.id,
                    Referral.idempotency_key == idempotency_key,
                )
            )
            .scalar_one_or_none()
        )
        if existing is not None:
            return existing
    area = session().get(MaracArea, agency.area_id)
    assert area is not None
    referral = Referral(
        area_id=area.id,
        reference=_new_reference(area),
        referring_agency_id=agency.id,
        referrer_id=actor.member_id,
        referrer_client=actor.client_id or "",
        idempotency_key=idempotency_key,
        referred_on=today_london(),
    )
    session().add(referral)
    session().flush()
    record(actor, "referral:drafted", Subject("case", referral.id), case=referral.id)
    return referral


def _own_draft(actor: Actor, referral: Referral) -> None:
    act_on(actor, referral, "referral:draft_changed")
    if referral.referring_agency_id != actor.agency_id:
        raise NotFound(NO_SUCH_CASE)
    if (
        actor.kind == "member"
        and referral.referrer_id != actor.member_id
        and not actor.has_role(Role.MARAC_REP)
    ):
        raise forbid(
            actor,
            referral,
            "referral:draft_changed",
            "Only the referrer or their agency's MARAC representative can change this referral.",
        )
    if referral.status != ReferralStatus.DRAFT.value:
        raise ValidationFailed("This referral has been submitted and can no longer be changed.")


@dataclass
class PersonData:
    given_name: str
    family_name: str
    aliases: str = ""
    born_on: date | None = None
    gender: str = ""
    language: str = ""
    nhs_number: str = ""
    police_person_id: str = ""
    ethnicity: str = ""
    disability: str = "not_known"
    lgbt: str = "not_known"


def _validate_person(data: PersonData, prefix: str = "") -> dict[str, str]:
    errors = {}
    if not data.given_name.strip():
        errors[prefix + "given_name"] = "Enter the first name"
    if not data.family_name.strip():
        errors[prefix + "family_name"] = "Enter the last name"
    for name, value, limit in (
        ("given_name", data.given_name, 120),
        ("family_name", data.family_name, 120),
        ("aliases", data.aliases, 1000),
    ):
        if len(value) > limit:
            errors[prefix + name] = f"Keep this to {limit} characters or fewer"
    if data.born_on and data.born_on > today_london():
        errors[prefix + "born_on"] = "Date of birth must be in the past"
    nhs = data.nhs_number.replace(" ", "")
    if nhs and not (nhs.isdigit() and len(nhs) == 10):
        errors[prefix + "nhs_number"] = "An NHS number is 10 digits, like 485 777 3456"
    return errors


def _person(area_id: int, data: PersonData, existing: Person | None) -> Person:
    person = existing or Person(area_id=area_id)
    person.given_name = data.given_name.strip()
    person.family_name = data.family_name.strip()
    person.aliases = data.aliases.strip()
    person.born_on = data.born_on
    person.gender = data.gender.strip()
    person.language = data.language.strip()
    person.nhs_number = data.nhs_number.replace(" ", "")
    person.police_person_id = data.police_person_id.strip()
    person.ethnicity = data.ethnicity.strip()
    person.disability = data.disability or "not_known"
    person.lgbt = data.lgbt or "not_known"
    person.match_key = matching.match_key(person.given_name, person.family_name, person.aliases)[
        :500
    ]
    if existing is None:
        session().add(person)
    return person


#: Domestic abuse under the Domestic Abuse Act 2021 s.1-2 is between people aged 16 or over who
#: are personally connected; anyone younger goes through child safeguarding (practice rule 1).
MIN_AGE = 16
UNDER_16_VICTIM = (
    "MARAC is for people aged 16 or over: domestic abuse is between people aged 16 or over "
    "(Domestic Abuse Act 2021). Refer a younger person to children's social care through "
    "your child safeguarding procedures"
)
UNDER_16_PERPETRATOR = (
    "A person under 16 cannot be the perpetrator in a MARAC case: domestic abuse is between "
    "people aged 16 or over (Domestic Abuse Act 2021). A younger person harming a parent or "
    "relative is a child safeguarding matter: refer them to children's social care"
)


def age_on(born_on: date, day: date) -> int:
    """Age in whole years on a day (a birthday on 29 February counts from 1 March)."""
    return day.year - born_on.year - ((day.month, day.day) < (born_on.month, born_on.day))


def _under_age(born_on: date | None, day: date | None = None) -> bool:
    return born_on is not None and age_on(born_on, day or today_london()) < MIN_AGE


def save_victim(actor: Actor, referral: Referral, data: PersonData) -> Referral:
    _own_draft(actor, referral)
    errors = _validate_person(data)
    if "born_on" not in errors and _under_age(data.born_on):
        errors["born_on"] = UNDER_16_VICTIM
    if errors:
        raise ValidationFailed(errors)
    referral.victim = _person(referral.area_id, data, referral.victim)
    session().flush()
    return referral


def save_perpetrator(
    actor: Actor,
    referral: Referral,
    data: PersonData,
    *,
    relationship: str,
    children: str,
    children_count: int | None,
    others: list[tuple[PersonData, str]] | None = None,
) -> Referral:
    """The perpetrator, and any others the victim fears (each with their relationship):
    saving again replaces the others given before."""
    _own_draft(actor, referral)
    errors = _validate_person(data)
    if "born_on" not in errors and _under_age(data.born_on):
        errors["born_on"] = UNDER_16_PERPETRATOR
    if not relationship.strip():
        errors["relationship"] = "Say how they are connected to the victim, like ex-partner"
    others = others or []
    if len(others) > 5:
        errors["others"] = "Name up to 5 other perpetrators here; say more in the incident"
    for number, (other, other_relationship) in enumerate(others, start=2):
        prefix = f"p{number}_"
        errors.update(_validate_person(other, prefix))
        if prefix + "born_on" not in errors and _under_age(other.born_on):
            errors[prefix + "born_on"] = UNDER_16_PERPETRATOR
        if not other_relationship.strip():
            errors[prefix + "relationship"] = (
                "Say how they are connected to the victim, like brother-in-law"
            )
        elif len(other_relationship) > 120:
            errors[prefix + "relationship"] = "Keep this to 120 characters or fewer"
    if children_count is not None and not 0 <= children_count <= 30:
        errors["children_count"] = "Enter the number of children, from 0 to 30"
    if len(children) > 4000:
        errors["children"] = "Keep this to 4,000 characters or fewer"
    if errors:
        raise ValidationFailed(errors)
    party = next((p for p in referral.parties if p.role == PartyRole.PERPETRATOR.value), None)
    person = _person(referral.area_id, data, party.person if party else None)
    if party is None:
        referral.parties.append(
            ReferralParty(
                person=person,
                role=PartyRole.PERPETRATOR.value,
                relationship_to_victim=relationship.strip(),
            )
        )
    else:
        party.relationship_to_victim = relationship.strip()
    first = next(p for p in referral.parties if p.role == PartyRole.PERPETRATOR.value)
    earlier = [
        p for p in referral.parties if p.role == PartyRole.PERPETRATOR.value and p is not first
    ]
    for extra in earlier:
        referral.parties.remove(extra)
    for (other, other_relationship), before in zip(
        others, [*earlier, *[None] * len(others)], strict=False
    ):
        referral.parties.append(
            ReferralParty(
                person=_person(referral.area_id, other, before.person if before else None),
                role=PartyRole.PERPETRATOR.value,
                relationship_to_victim=other_relationship.strip(),
            )
        )
    referral.perpetrator_relationship = relationship.strip()
    referral.children = children.strip()
    referral.children_count = children_count
    session().flush()
    return referral


@dataclass
class HouseholdMember:
    """A child or another member of the household, as a person the hub can match."""

    person: PersonData
    role: PartyRole  # CHILD or HOUSEHOLD
    relationship: str = ""


def save_household(actor: Actor, referral: Referral, members: list[HouseholdMember]) -> Referral:
    """The children and other household members: saving again replaces those given before."""
    _own_draft(actor, referral)
    errors: dict[str, str] = {}
    if len(members) > 12:
        errors["household"] = "Name up to 12 people here; say more about the children below"
    counters = {PartyRole.CHILD: 0, PartyRole.HOUSEHOLD: 0}
    for member in members:
        if member.role not in counters:
            errors["household"] = "A household member is a child or another adult"
            continue
        counters[member.role] += 1
        prefix = ("c" if member.role is PartyRole.CHILD else "h") + f"{counters[member.role]}_"
        errors.update(_validate_person(member.person, prefix))
        if len(member.relationship) > 120:
            errors[prefix + "relationship"] = "Keep this to 120 characters or fewer"
    if errors:
        raise ValidationFailed(errors)
    roles = {PartyRole.CHILD.value, PartyRole.HOUSEHOLD.value}
    earlier = [p for p in referral.parties if p.role in roles]
    for party in earlier:
        referral.parties.remove(party)
    for member, before in zip(members, [*earlier, *[None] * len(members)], strict=False):
        referral.parties.append(
            ReferralParty(
                person=_person(referral.area_id, member.person, before.person if before else None),
                role=member.role.value,
                relationship_to_victim=member.relationship.strip(),
            )
        )
    session().flush()
    return referral


@dataclass
class RiskData:
    checklist: str
    answers: dict[str, dict[str, str]]
    professional_judgement: bool = False
    judgement_reasons: str = ""
    incidents_12m: int | None = None
    #: "Do not treat as high risk despite the Yes answers": always refused (never downgrade).
    downgrade: bool = False
    #: Answers to add-on checklists the area offers (the stalking add-on), by checklist key.
    addon_answers: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)


def save_risk(
    actor: Actor, referral: Referral, data: RiskData, *, complete: bool = False
) -> Referral:
    """Save the checklist (partial answers are fine in a draft) and the judgement."""
    _own_draft(actor, referral)
    area = session().get(MaracArea, referral.area_id)
    assert area is not None
    mains, addons = checklists.offered(area.extra_checklists)
    offered_main = {c.key: c for c in mains}
    if data.checklist not in offered_main:
        raise ValidationFailed({"checklist": "Choose one of the risk checklists your area uses"})
    checklist = offered_main[data.checklist]
    errors = checklists.validate_answers(checklist, data.answers, complete=complete)
    offered_addons = {c.key: c for c in addons}
    for key, answers in data.addon_answers.items():
        if key not in offered_addons:
            errors["addon_answers"] = "Your area does not use that add-on checklist"
        else:
            errors.update(checklists.validate_answers(offered_addons[key], answers))
    score = 0 if errors else checklists.score(checklist, data.answers)
    problem = checklists.judgement_check(
        score,
        data.professional_judgement,
        data.judgement_reasons,
        high_risk_threshold=area.high_risk_threshold,
        downgrade=data.downgrade,
    )
    if problem:
        errors["judgement_reasons"] = problem
    if data.incidents_12m is not None and not 0 <= data.incidents_12m <= 500:
        errors["incidents_12m"] = "Enter the number of incidents, from 0 to 500"
    if errors:
        raise ValidationFailed(errors)
    assessment = referral.assessment or RiskAssessment(referral_id=referral.id)
    assessment.checklist = checklist.key
    assessment.answers = {k: dict(v) for k, v in data.answers.items()}
    assessment.addon_answers = {
        key: {k: dict(v) for k, v in answers.items()}
        for key, answers in data.addon_answers.items()
        if answers
    }
    assessment.score = score
    assessment.band = checklists.band(
        score, standard_max=area.band_standard_max, medium_max=area.band_medium_max
    )
    assessment.assessed_on = today_london()
    assessment.assessor_id = actor.member_id
    referral.assessment = assessment
    referral.visible_high_risk = score >= area.high_risk_threshold
    referral.professional_judgement = data.professional_judgement
    referral.judgement_reasons = data.judgement_reasons.strip()
    referral.incidents_12m = data.incidents_12m
    referral.potential_escalation = (data.incidents_12m or 0) >= area.escalation_threshold
    session().flush()
    return referral


@dataclass
class DetailsData:
    incident: str
    victim_fears: str = ""
    safe_to_contact: str = ""
    unsafe_to_contact: str = ""
    health_notes: str = ""
    reported_to_police: bool | None = None
    crime_reference: str = ""
    justice_notes: str = ""
    previous_marac: str = ""
    victim_aware: bool | None = None
    victim_unaware_reason: str = ""
    line_manager_consulted: bool = False
    marac_rep_consulted: bool = False
    must_not_receive_names: str = ""
    must_not_receive_member_ids: list[int] = field(default_factory=list)


def save_details(actor: Actor, referral: Referral, data: DetailsData) -> Referral:
    _own_draft(actor, referral)
    errors: dict[str, str] = {}
    if not data.incident.strip():
        errors["incident"] = "Describe the current incident: what happened, when and where"
    for name in (
        "incident",
        "victim_fears",
        "safe_to_contact",
        "unsafe_to_contact",
        "health_notes",
        "justice_notes",
        "previous_marac",
        "victim_unaware_reason",
        "must_not_receive_names",
    ):
        if len(getattr(data, name)) > 8000:
            errors[name] = "Keep this to 8,000 characters or fewer"
    if data.victim_aware is None:
        errors["victim_aware"] = "Say whether the victim knows about this referral"
    elif data.victim_aware is False and not data.victim_unaware_reason.strip():
        errors["victim_unaware_reason"] = "Say why the victim has not been told"
    if data.reported_to_police and len(data.crime_reference) > 60:
        errors["crime_reference"] = "A crime reference is 60 characters or fewer"
    members = {
        m.id: m
        for m in session()
        .execute(select(Member).where(Member.id.in_(data.must_not_receive_member_ids or [0])))
        .scalars()
    }
    if set(data.must_not_receive_member_ids) - set(members):
        errors["must_not_receive_member_ids"] = "Select people who use the hub"
    if errors:
        raise ValidationFailed(errors)
    for name in (
        "incident",
        "victim_fears",
        "safe_to_contact",
        "unsafe_to_contact",
        "health_notes",
        "crime_reference",
        "justice_notes",
        "previous_marac",
        "victim_unaware_reason",
    ):
        setattr(referral, name, getattr(data, name).strip())
    referral.reported_to_police = data.reported_to_police
    referral.victim_aware = data.victim_aware
    referral.line_manager_consulted = data.line_manager_consulted
    referral.marac_rep_consulted = data.marac_rep_consulted
    referral.must_not_receive = [
        MustNotReceive(name=line.strip()[:160], reason="named by the victim or referrer")
        for line in data.must_not_receive_names.splitlines()
        if line.strip()
    ] + [
        MustNotReceive(member_id=m, reason="must never receive this case")
        for m in sorted(set(data.must_not_receive_member_ids))
    ]
    session().flush()
    return referral


@dataclass
class WhereaboutsData:
    address: str = ""
    is_refuge: bool = False
    safe_phone: str = ""
    safe_times: str = ""
    safe_contact: str = ""


def save_whereabouts(actor: Actor, referral: Referral, data: WhereaboutsData) -> Referral:
    _own_draft(actor, referral)
    if referral.victim_id is None:
        raise ValidationFailed({"address": "Enter the victim's details first"})
    errors = {}
    for name, limit in (
        ("address", 1000),
        ("safe_phone", 40),
        ("safe_times", 200),
        ("safe_contact", 200),
    ):
        if len(getattr(data, name)) > limit:
            errors[name] = f"Keep this to {limit} characters or fewer"
    phone = data.safe_phone.replace(" ", "")
    if phone and not phone.lstrip("+").isdigit():
        errors["safe_phone"] = "Enter a phone number using digits, like 07700 900982"
    if errors:
        raise ValidationFailed(errors)
    row = session().get(Whereabouts, referral.victim_id) or Whereabouts(
        person_id=referral.victim_id
    )
    row.address = data.address.strip()
    row.is_refuge = data.is_refuge
    row.safe_phone = data.safe_phone.strip()
    row.safe_times = data.safe_times.strip()
    row.safe_contact = data.safe_contact.strip()
    row.updated_at = now()
    session().add(row)
    session().flush()
    return referral


@dataclass
class SharingChoice:
    """The consent page: consent given, or the state and a request to share without it."""

    state: ConsentState
    evidence: str
    rationale: str = ""
    basis_statutory: Any = None
    basis_voluntary: Any = None
    condition_special: Any = None
    #: What consent covers (when given); None means every purpose, category or agency type
    #: of a MARAC referral.
    purposes: list[Purpose] | None = None
    categories: list[Category] | None = None
    recipient_agency_types: list[str] | None = None
    #: The basis for referring to the MARAC itself; None: the agency sector's usual one.
    referral_basis: Article6 | None = None


def usual_referral_basis(agency: Agency) -> Article6:
    """The basis an agency of this kind usually refers on (the form's preselected answer)."""
    if agency.type == AgencyType.POLICE.value:
        return Article6.LAW_ENFORCEMENT
    if agency.sector == Sector.VOLUNTARY.value:
        return Article6.LEGITIMATE_INTERESTS
    return Article6.PUBLIC_TASK


def referral_bases(agency: Agency) -> tuple[Article6, ...]:
    """The bases this agency may refer to the MARAC on (never public task for the voluntary
    sector; never legitimate interests for a public authority doing its job)."""
    if agency.sector == Sector.VOLUNTARY.value:
        return REFERRAL_BASES_VOLUNTARY
    return REFERRAL_BASES_STATUTORY


def referral_basis_choices(referral: Referral) -> tuple[tuple[Article6, ...], Article6]:
    """The bases the referring agency may choose from, and the one it usually relies on."""
    agency = session().get(Agency, referral.referring_agency_id)
    assert agency is not None
    return referral_bases(agency), usual_referral_basis(agency)


def save_sharing(actor: Actor, referral: Referral, choice: SharingChoice) -> Referral:
    """Record the lawful basis for referring to the MARAC: consent, or a decision without it."""
    _own_draft(actor, referral)
    if referral.victim_id is None:
        raise ValidationFailed({"state": "Enter the victim's details first"})
    agency = session().get(Agency, referral.referring_agency_id)
    assert agency is not None
    basis = choice.referral_basis or usual_referral_basis(agency)
    if basis not in referral_bases(agency):
        raise ValidationFailed(
            {
                "referral_basis": "Choose a basis your kind of agency may refer on"
                + (
                    ": a voluntary-sector agency cannot rely on public task"
                    if agency.sector == Sector.VOLUNTARY.value
                    else ""
                )
            }
        )
    referral.referral_basis = basis.value
    # Saving this page again replaces what it said before: a draft is shown to nobody, so
    # its earlier consent and request were never relied on (the ledger keeps both).
    replaced = consent_services.discard_draft_basis(referral.id)
    if replaced:
        record(
            actor,
            "consent:draft_replaced",
            Subject("case", referral.id),
            case=referral.id,
            consents=replaced[0],
            decisions=replaced[1],
        )
    consent_services.record_consent(
        actor,
        referral_id=referral.id,
        subject_id=referral.victim_id,
        data=consent_services.ConsentData(
            state=choice.state,
            purposes=[Purpose.MARAC, Purpose.IDVA_SUPPORT]
            if choice.purposes is None
            else choice.purposes,
            categories=list(CASE_CATEGORIES) if choice.categories is None else choice.categories,
            recipient_agency_ids=[],
            recipient_agency_types=[t.value for t in AgencyType]
            if choice.recipient_agency_types is None
            else choice.recipient_agency_types,
            evidence=choice.evidence,
        ),
    )
    if choice.state is not ConsentState.GIVEN:
        consent_services.request_decision(
            actor,
            referral_id=referral.id,
            area_id=referral.area_id,
            meets_criteria=True,  # checked again at submission, when the grounds are complete
            data=consent_services.DecisionData(
                rationale=choice.rationale,
                categories=list(CASE_CATEGORIES),
                all_partners=True,
                recipient_agency_ids=[],
                basis_statutory=choice.basis_statutory,
                basis_voluntary=choice.basis_voluntary,
                condition_special=choice.condition_special,
            ),
        )
    return referral


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
    if referral.victim is not None and _under_age(referral.victim.born_on):
        missing["victim"] = UNDER_16_VICTIM
    if any(_under_age(p.born_on) for p in referral.people_in(PartyRole.PERPETRATOR)):
        missing["perpetrator"] = UNDER_16_PERPETRATOR
    if not referral.incident:
        missing["details"] = "Describe the incident and who the victim fears"
    if not consent_services.consents_for(referral.id):
        missing["sharing"] = "Record consent, or the reasons for sharing without it"
    return missing


#: How far back a referral may repeat an earlier one: the 12-month window, and a few days.
WINDOW_DAYS = 370


def _people_like(area_id: int, person: Person) -> Any:
    """People of the area who could match this one at all (``matching.score_match`` never
    matches without a shared name-and-initial key, NHS number or police identifier): the
    indexed pre-filter, so no comparison ever reads the area's whole history."""
    keys = matching.name_keys(person.given_name, person.family_name, person.aliases)
    shown = [
        Person.match_key.like(matching.match_key_pattern(k))
        for k in sorted(keys)
        if len(k.split(" ", 1)[0]) == 1  # the initial-and-family keys cover the full ones
    ]
    if person.nhs_number:
        shown.append(Person.nhs_number == person.nhs_number)
    if person.police_person_id:
        shown.append(Person.police_person_id == person.police_person_id)
    if not shown:
        return select(Person.id).where(false())
    return select(Person.id).where(Person.area_id == area_id, or_(*shown))


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
                Referral.status.notin_([ReferralStatus.DRAFT.value, ReferralStatus.REJECTED.value]),
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
    like_perpetrators = _people_like(referral.area_id, perpetrators[0])
    for other_person in perpetrators[1:]:
        like_perpetrators = like_perpetrators.union(_people_like(referral.area_id, other_person))
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
        victim_match = matching.score_match(_match_input(other.victim), _match_input(victim))
        if victim_match.level == "none":
            continue
        best = "none"
        for theirs in other.people_in(PartyRole.PERPETRATOR):
            for ours in perpetrators:
                level = matching.score_match(_match_input(theirs), _match_input(ours)).level
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
    like_ours = _people_like(referral.area_id, perpetrators[0])
    for other_person in perpetrators[1:]:
        like_ours = like_ours.union(_people_like(referral.area_id, other_person))
    others = _earlier_naming(
        referral, like_ours, _people_like(referral.area_id, victim), today_london()
    )
    for other in others:
        if other.victim is None:
            continue
        # Each names the other's victim as perpetrator, and the other's perpetrator as victim.
        names_us = any(
            matching.score_match(_match_input(p), _match_input(victim)).level == "strong"
            for p in other.people_in(PartyRole.PERPETRATOR)
        )
        named_by_us = any(
            matching.score_match(_match_input(other.victim), _match_input(p)).level == "strong"
            for p in perpetrators
        )
        if names_us and named_by_us:
            return other
    return None


def _match_input(person: Person) -> matching.MatchInput:
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
    _own_draft(actor, referral)
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
    pending = [d for d in consent_services.decisions_for(referral.id) if d.status == "pending"]
    del pending  # a pending decision may wait for approval; the coordinator sees that
    counter = _find_counter_allegation(referral)
    if counter is not None:
        referral.counter_allegation_id = counter.id
        counter.counter_allegation_id = referral.id
    referral.status = ReferralStatus.SUBMITTED.value
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
        "referral:submitted",
        Subject("case", referral.id),
        case=referral.id,
        persons=list(case_facts(referral).person_ids),
        repeat=referral.is_repeat,
        counter_allegation=referral.counter_allegation_id is not None,
        criteria=[c.lower().replace(" ", "_") for c in referral.criteria_labels],
    )
    return referral


def _triage(actor: Actor, referral: Referral, operation: str = "referral:triaged") -> None:
    act_on(actor, referral, operation)
    if not actor.can(Permission.REFERRALS_TRIAGE):
        raise forbid(
            actor,
            referral,
            operation,
            "Only the MARAC coordinator can accept, reject or defer referrals.",
        )
    if referral.area_id != actor.area_id:
        raise NotFound("There is no such case.")


def accept_referral(actor: Actor, referral: Referral, *, version: int | None = None) -> Referral:
    """Accept for the next conference; offer the IDVA service the case (every MARAC victim)."""
    _triage(actor, referral)
    if version is not None and referral.version != version:
        raise Conflict("Someone else changed this referral. Reload the page.")
    if referral.status not in {ReferralStatus.SUBMITTED.value, ReferralStatus.DEFERRED.value}:
        raise ValidationFailed("Only a submitted or deferred referral can be accepted.")
    referral.status = ReferralStatus.ACCEPTED.value
    referral.decided_at = now()
    referral.decided_by_id = actor.member_id
    referral.decision_reason = ""
    session().flush()
    record(actor, "referral:accepted", Subject("case", referral.id), case=referral.id)
    publish(CaseGiven(actor, referral.id, referral.referring_agency_id, GivenBy.ACCEPTED))
    idva_services = (
        session()
        .execute(
            select(Agency).where(
                Agency.area_id == referral.area_id,
                Agency.type == AgencyType.IDVA_SERVICE.value,
                Agency.disabled_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    for idva in idva_services:
        if idva.id != referral.referring_agency_id:  # an IDVA's own referral is already theirs
            share_case(actor, referral, idva.id, Purpose.IDVA_SUPPORT, allow_triage=True)
    return referral


def reject_referral(actor: Actor, referral: Referral, reason: str) -> Referral:
    _triage(actor, referral)
    if referral.status != ReferralStatus.SUBMITTED.value:
        raise ValidationFailed("Only a submitted referral can be rejected.")
    if len(reason.strip()) < 10:
        raise ValidationFailed({"reason": "Give the reason for rejecting the referral"})
    referral.status = ReferralStatus.REJECTED.value
    referral.decision_reason = reason.strip()
    referral.decided_at = now()
    referral.decided_by_id = actor.member_id
    session().flush()
    record(actor, "referral:rejected", Subject("case", referral.id), case=referral.id)
    return referral


def defer_referral(actor: Actor, referral: Referral, reason: str) -> Referral:
    _triage(actor, referral)
    if referral.status not in {ReferralStatus.SUBMITTED.value, ReferralStatus.ACCEPTED.value}:
        raise ValidationFailed("Only a submitted or accepted referral can be deferred.")
    if len(reason.strip()) < 5:
        raise ValidationFailed({"reason": "Give the reason for deferring"})
    referral.status = ReferralStatus.DEFERRED.value
    referral.decision_reason = reason.strip()
    referral.decided_at = now()
    referral.decided_by_id = actor.member_id
    session().flush()
    record(actor, "referral:deferred", Subject("case", referral.id), case=referral.id)
    return referral


@dataclass
class AreaRiskSettings:
    escalation_threshold: int
    band_standard_max: int
    band_medium_max: int
    high_risk_threshold: int
    extra_checklists: list[str]


def area_checklists(
    referral: Referral,
) -> tuple[list[checklists.Checklist], list[checklists.Checklist]]:
    """The main checklists and add-ons the referral's area offers (default first)."""
    area = session().get(MaracArea, referral.area_id)
    return checklists.offered(area.extra_checklists if area is not None else [])


def risk_settings(actor: Actor) -> tuple[MaracArea, list[checklists.Checklist]]:
    """The administrator's area, and the checklists it could enable besides the default."""
    if not actor.can(Permission.AGENCIES_MANAGE) or actor.area_id is None:
        raise Forbidden("Only a hub administrator changes the area's risk settings.")
    area = session().get(MaracArea, actor.area_id)
    if area is None:
        raise NotFound("There is no such area.")
    optional = [
        c
        for key, c in sorted(checklists.load_checklists().items())
        if key != checklists.DEFAULT_CHECKLIST
    ]
    return area, optional


def update_risk_settings(actor: Actor, data: AreaRiskSettings) -> MaracArea:
    """Change the thresholds, bands and checklists of the actor's area (recorded)."""
    area, optional = risk_settings(actor)
    errors: dict[str, str] = {}
    if not 1 <= data.escalation_threshold <= 20:
        errors["escalation_threshold"] = "Enter a number of incidents from 1 to 20"
    if not 0 <= data.band_standard_max < data.band_medium_max:
        errors["band_medium_max"] = "The medium band must start above the standard band"
    if not data.band_medium_max < data.high_risk_threshold <= 30:
        errors["high_risk_threshold"] = (
            "The high-risk threshold must be above the medium band, and 30 or less"
        )
    known = {c.key for c in optional}
    if any(key not in known for key in data.extra_checklists):
        errors["extra_checklists"] = "Select only checklists from the list"
    if errors:
        raise ValidationFailed(errors)
    area.escalation_threshold = data.escalation_threshold
    area.band_standard_max = data.band_standard_max
    area.band_medium_max = data.band_medium_max
    area.high_risk_threshold = data.high_risk_threshold
    area.extra_checklists = sorted(set(data.extra_checklists))
    session().flush()
    record(
        actor,
        "area:risk_settings_changed",
        Subject("area", area.id),
        escalation_threshold=area.escalation_threshold,
        band_standard_max=area.band_standard_max,
        band_medium_max=area.band_medium_max,
        high_risk_threshold=area.high_risk_threshold,
        checklists=area.extra_checklists,
    )
    return area


def close_referral(actor: Actor, referral: Referral, reason: str) -> Referral:
    """Close a case the MARAC has dealt with: it leaves the active lists, and stays on record."""
    _triage(actor, referral, "referral:closed")
    if referral.status not in {ReferralStatus.ACCEPTED.value, ReferralStatus.HEARD.value}:
        raise ValidationFailed("Only an accepted or heard case can be closed.")
    if len(reason.strip()) < 10:
        raise ValidationFailed({"reason": "Say why the case is being closed"})
    if len(reason) > 2000:
        raise ValidationFailed({"reason": "Keep the reason to 2,000 characters or fewer"})
    referral.status = ReferralStatus.CLOSED.value
    referral.closed_at = now()
    referral.closed_by_id = actor.member_id
    referral.closure_reason = reason.strip()
    session().flush()
    record(actor, "referral:closed", Subject("case", referral.id), case=referral.id)
    return referral


@dataclass(frozen=True)
class RelatedCase:
    label: str
    referral_id: int
    reference: str


def related_cases(actor: Actor, referral: Referral) -> list[RelatedCase]:
    """The earlier referral this one repeats and its counter-allegation pair, each only when
    the reader may know that case exists."""
    related: list[RelatedCase] = []
    for label, other_id in (
        ("Repeat of", referral.previous_referral_id),
        ("Counter-allegation with", referral.counter_allegation_id),
    ):
        if other_id is None:
            continue
        other = session().get(Referral, other_id)
        if other is not None and gate.would_know(actor, case_facts(other)):
            related.append(RelatedCase(label, other.id, other.reference))
    return related


def note_primary_aggressor(actor: Actor, referral: Referral, note: str) -> Referral:
    _triage(actor, referral, "referral:primary_aggressor_noted")
    if referral.counter_allegation_id is None:
        raise ValidationFailed("Only a counter-allegation carries a primary-aggressor note.")
    if len(note) > 4000:
        raise ValidationFailed({"note": "Keep this to 4,000 characters or fewer"})
    referral.primary_aggressor_note = note.strip()
    session().flush()
    record(
        actor, "referral:primary_aggressor_noted", Subject("case", referral.id), case=referral.id
    )
    return referral


def inbox(actor: Actor, statuses: tuple[str, ...] = ("submitted", "deferred")) -> list[Referral]:
    """The coordinator's inbox: referrals of the area awaiting a decision."""
    if not actor.can(Permission.REFERRALS_TRIAGE):
        raise Forbidden("Only the MARAC coordinator has the referral inbox.")
    return list(
        session()
        .execute(
            select(Referral)
            .options(selectinload(Referral.assessment))
            .where(
                Referral.area_id == actor.area_id,
                Referral.status.in_(statuses),
                knowable(actor),
            )
            .order_by(Referral.submitted_at)
        )
        .scalars()
    )


def agency_referrals(actor: Actor) -> list[Referral]:
    """Every referral the actor's agency made, newest first (references and statuses)."""
    if not actor.can(Permission.REFERRALS_READ):
        raise Forbidden("You cannot list referrals.")
    return list(
        session()
        .execute(
            select(Referral)
            .where(Referral.referring_agency_id == actor.agency_id, knowable(actor))
            .order_by(Referral.created_at.desc())
        )
        .scalars()
    )


def my_referrals(actor: Actor) -> list[Referral]:
    """Referrals of the actor's agency that the actor may know (drafts only for their
    author): walls, must-not-receive and the case team apply here as on the case page."""
    return list(
        session()
        .execute(
            select(Referral)
            .where(
                Referral.referring_agency_id == actor.agency_id,
                knowable(actor),
                or_(
                    Referral.status != ReferralStatus.DRAFT.value,
                    Referral.referrer_id == actor.member_id
                    if actor.member_id is not None
                    else false(),
                ),
            )
            .order_by(Referral.created_at.desc())
        )
        .scalars()
    )


# --- sharing, teams, walls ----------------------------------------------------------------


def share_case(
    actor: Actor,
    referral: Referral,
    agency_id: int,
    purpose: Purpose,
    *,
    allow_triage: bool = False,
) -> ReferralShare:
    """Give an agency the case: it then has need to know (the gate still needs a basis)."""
    act_on(actor, referral, "referral:shared")
    allowed = (
        actor.agency_id == referral.referring_agency_id and actor.can(Permission.REFERRALS_READ)
    ) or (allow_triage or actor.can(Permission.REFERRALS_TRIAGE))
    if not allowed:
        raise forbid(
            actor,
            referral,
            "referral:shared",
            "Only the referring agency or the coordinator can share this case.",
        )
    agency = session().get(Agency, agency_id)
    if agency is None or agency.area_id != referral.area_id or agency.is_disabled:
        raise ValidationFailed({"agency_id": "Select an agency of this MARAC"})
    if agency.id == referral.referring_agency_id:
        raise ValidationFailed({"agency_id": "This agency made the referral"})
    blocked = {m.member_id for m in referral.must_not_receive if m.member_id}
    existing = next((s for s in referral.shares if s.agency_id == agency.id), None)
    if existing is not None:
        return existing
    share = ReferralShare(
        agency_id=agency.id, purpose=purpose.value, shared_by_id=actor.member_id, shared_at=now()
    )
    referral.shares.append(share)
    session().flush()
    grant_need_to_know(
        actor, referral.id, agency.id, GrantKind.SHARED, purpose=purpose, source=f"share:{share.id}"
    )
    record(
        actor,
        "referral:shared",
        Subject("case", referral.id),
        case=referral.id,
        agency=agency.id,
        purpose=purpose.value,
        blocked_members=len(blocked),
    )
    publish(CaseGiven(actor, referral.id, agency.id, GivenBy.SHARED))
    return share


def shareable_agencies(actor: Actor, referral: Referral) -> list[Agency]:
    """Agencies the actor could give this case to (none unless they may share it)."""
    if referral.status == ReferralStatus.DRAFT.value or not (
        actor.agency_id == referral.referring_agency_id or actor.can(Permission.REFERRALS_TRIAGE)
    ):
        return []
    given = {s.agency_id for s in referral.shares} | {referral.referring_agency_id}
    return [
        a
        for a in session()
        .execute(
            select(Agency)
            .where(Agency.area_id == referral.area_id, Agency.disabled_at.is_(None))
            .order_by(Agency.name)
        )
        .scalars()
        if a.id not in given
    ]


def blockable_members(actor: Actor, referral: Referral) -> list[tuple[int, str]]:
    """People of the area who could be put on the case's must-not-receive list, as
    (member id, "name – agency"): everyone but the referrer themselves."""
    rows = session().execute(
        select(Member.id, Member.name, Agency.name)
        .join(Agency, Agency.id == Member.agency_id)
        .where(Agency.area_id == referral.area_id, Member.disabled_at.is_(None))
        .order_by(Member.name)
    )
    return [(mid, f"{name} – {agency}") for mid, name, agency in rows if mid != actor.member_id]


def team_candidates(actor: Actor, referral: Referral) -> list[Member]:
    """Colleagues a MARAC representative could put on the case team."""
    if not actor.has_role(Role.MARAC_REP) or actor.agency_id is None:
        return []
    facts = case_facts(referral)
    excluded = facts.team_member_ids | facts.walled_member_ids | facts.blocked_member_ids
    return [
        m
        for m in session()
        .execute(
            select(Member)
            .where(Member.agency_id == actor.agency_id, Member.disabled_at.is_(None))
            .order_by(Member.name)
        )
        .scalars()
        if m.id not in excluded and m.id != actor.member_id
    ]


def wall_candidates(actor: Actor, referral: Referral) -> list[Member]:
    """Colleagues a MARAC representative could wall off (they serve the perpetrator)."""
    if not actor.has_role(Role.MARAC_REP) or actor.agency_id is None:
        return []
    walled = case_facts(referral).walled_member_ids
    return [
        m
        for m in session()
        .execute(
            select(Member)
            .where(Member.agency_id == actor.agency_id, Member.disabled_at.is_(None))
            .order_by(Member.name)
        )
        .scalars()
        if m.id not in walled and m.id != actor.member_id
    ]


def add_to_team(actor: Actor, referral: Referral, member_id: int) -> CaseTeamMember:
    """A MARAC representative puts a colleague on the case team (need to know in the agency)."""
    act_on(actor, referral, "case_team:added")
    if not actor.has_role(Role.MARAC_REP):
        raise forbid(
            actor,
            referral,
            "case_team:added",
            "Only your agency's MARAC representative can change the case team.",
        )
    member = session().get(Member, member_id)
    if member is None or member.agency_id != actor.agency_id:
        raise ValidationFailed({"member_id": "Select someone from your own agency"})
    facts = case_facts(referral)
    if member.id in facts.walled_member_ids or member.id in facts.blocked_member_ids:
        raise ValidationFailed({"member_id": "This person must not work on this case"})
    existing = next((t for t in referral.team if t.member_id == member.id), None)
    if existing is not None:
        return existing
    row = CaseTeamMember(member_id=member.id, added_by_id=actor.member_id, added_at=now())
    referral.team.append(row)
    session().flush()
    record(
        actor, "case_team:added", Subject("case", referral.id), case=referral.id, member=member.id
    )
    return row


def add_conflict_wall(
    actor: Actor, referral: Referral, *, perpetrator_worker_id: int, victim_worker_id: int | None
) -> ConflictWall:
    """Record that the agency serves both parties: the perpetrator's worker never sees this."""
    act_on(actor, referral, "conflict_wall:added")
    if not actor.has_role(Role.MARAC_REP):
        raise forbid(
            actor,
            referral,
            "conflict_wall:added",
            "Only your agency's MARAC representative can set up a conflict wall.",
        )
    worker = session().get(Member, perpetrator_worker_id)
    if worker is None or worker.agency_id != actor.agency_id:
        raise ValidationFailed({"perpetrator_worker_id": "Select someone from your own agency"})
    if victim_worker_id == perpetrator_worker_id:
        raise ValidationFailed(
            {"victim_worker_id": "The victim and the perpetrator need separate caseworkers"}
        )
    wall = ConflictWall(
        agency_id=actor.agency_id,
        referral_id=referral.id,
        perpetrator_worker_id=worker.id,
        victim_worker_id=victim_worker_id,
        created_by_id=actor.member_id,
    )
    session().add(wall)
    referral.team = [t for t in referral.team if t.member_id != worker.id]
    session().flush()
    record(
        actor,
        "conflict_wall:added",
        Subject("case", referral.id),
        case=referral.id,
        member=worker.id,
    )
    return wall


@dataclass
class SearchHit:
    reference: str
    referral_id: int
    status: str
    matched_on: list[str]


def search_before_create(
    actor: Actor, *, given_name: str, family_name: str, born_on: date | None
) -> list[SearchHit]:
    """Does a MARAC case exist for this person? Minimal answers only, and recorded."""
    if not actor.can(Permission.REFERRALS_CREATE):
        raise Forbidden("You cannot search for cases.")
    if not given_name.strip() or not family_name.strip():
        raise ValidationFailed({"family_name": "Enter a first and last name to search"})
    query = matching.MatchInput(
        given=given_name,
        family=family_name,
        aliases="",
        born_on=born_on,
        nhs_number="",
        police_person_id="",
    )
    key = matching.normalise_name(family_name).replace(" ", "+")
    people = (
        session()
        .execute(
            select(Person).where(Person.area_id == actor.area_id, Person.match_key.like(f"%{key}%"))
        )
        .scalars()
        .all()
    )
    scores = {
        person.id: score
        for person in people
        if (score := matching.score_match(_match_input(person), query)).level != "none"
    }
    # Only cases the searcher may know: the answer itself says "a MARAC case exists".
    referrals = (
        session()
        .execute(
            select(Referral)
            .where(
                Referral.victim_id.in_(list(scores)),
                Referral.status != ReferralStatus.DRAFT.value,
                knowable(actor),
            )
            .order_by(Referral.id)
        )
        .scalars()
        .all()
        if scores
        else []
    )
    found = facts_many(referrals)
    visible = [f for f in found.values() if gate.would_know(actor, f)]
    gate.record_search(actor, "name_and_birth_date", visible)
    by_id = {r.id: r for r in referrals}
    return [
        SearchHit(
            by_id[f.id].reference,
            f.id,
            by_id[f.id].status,
            scores[by_id[f.id].victim_id or 0].reasons,
        )
        for f in visible
    ]


# --- approvals of sharing without consent -------------------------------------------------


def approvals_for(actor: Actor) -> list[tuple[Referral, list[SharingDecision]]]:
    """Requests to share without consent made in the actor's agency, for cases the actor may
    know (a representative on a case's must-not-receive list never sees its request),
    pending first, newest first."""
    if not actor.can(Permission.CONSENT_APPROVE):
        raise Forbidden("Only a MARAC representative or manager sees approvals.")
    referrals = {
        r.id: r
        for r in session()
        .execute(
            select(Referral).where(Referral.referring_agency_id == actor.agency_id, knowable(actor))
        )
        .scalars()
    }
    found: dict[int, list[SharingDecision]] = {}
    if referrals:
        for decision in (
            session()
            .execute(
                select(SharingDecision)
                .where(SharingDecision.referral_id.in_(list(referrals)))
                .order_by(SharingDecision.id.desc())
            )
            .scalars()
        ):
            found.setdefault(decision.referral_id, []).append(decision)
    moment = now()

    def first(referral_id: int) -> tuple[bool, int]:
        pending = any(d.current_status(moment).value == "pending" for d in found[referral_id])
        return (not pending, -max(d.id for d in found[referral_id]))

    return [(referrals[rid], found[rid]) for rid in sorted(found, key=first)]


def disclose_list(
    actor: Actor, referrals: list[Referral], categories: list[Category], *, action: str
) -> dict[int, gate.Disclosure]:
    """One gate decision per case of a list, in constant queries (refused ones left out)."""
    facts = facts_many(referrals)
    return gate.disclose_many(actor, [facts[r.id] for r in referrals], categories, action=action)


# --- possible repeats: the coordinator confirms or dismisses -------------------------------


@dataclass(frozen=True)
class RepeatCandidate:
    """An earlier referral that may name the same victim and perpetrator, and why."""

    referral_id: int
    reference: str
    referred_on: date
    reasons: list[str]


def _answered(referral_ids: list[int]) -> set[tuple[int, int]]:
    """(referral, earlier referral) pairs the coordinator has answered, in one query."""
    rows = session().execute(
        select(RepeatReview.referral_id, RepeatReview.earlier_id).where(
            RepeatReview.referral_id.in_(referral_ids)
        )
    )
    return {(referral_id, earlier_id) for referral_id, earlier_id in rows}


def _unanswered(referral_ids: list[int]) -> dict[int, list[PossibleRepeat]]:
    """Stored possible repeats the coordinator has not answered, by referral (one query)."""
    if not referral_ids:
        return {}
    answered = select(RepeatReview.id).where(
        RepeatReview.referral_id == PossibleRepeat.referral_id,
        RepeatReview.earlier_id == PossibleRepeat.earlier_id,
    )
    rows = session().execute(
        select(PossibleRepeat)
        .join(Referral, Referral.id == PossibleRepeat.referral_id)
        .where(
            PossibleRepeat.referral_id.in_(referral_ids),
            ~answered.exists(),
            or_(
                Referral.previous_referral_id.is_(None),
                Referral.previous_referral_id != PossibleRepeat.earlier_id,
            ),
        )
        .order_by(PossibleRepeat.id)
    )
    found: dict[int, list[PossibleRepeat]] = {}
    for (row,) in rows:
        found.setdefault(row.referral_id, []).append(row)
    return found


def repeat_candidates(actor: Actor, referral: Referral) -> list[RepeatCandidate]:
    """Possible earlier referrals of the same people that the coordinator has not answered.

    Only the area's coordinator sees them (they triage every referral of the area), and only
    earlier cases this coordinator may know. The ledger records which cases the list named,
    as it does for a search.
    """
    if not actor.can(Permission.REFERRALS_TRIAGE) or referral.area_id != actor.area_id:
        return []
    stored = _unanswered([referral.id]).get(referral.id, [])
    if not stored:
        return []
    earlier = {
        r.id: r
        for r in session()
        .execute(select(Referral).where(Referral.id.in_([c.earlier_id for c in stored])))
        .scalars()
    }
    facts = facts_many(list(earlier.values()))
    shown = [
        c for c in stored if c.earlier_id in facts and gate.would_know(actor, facts[c.earlier_id])
    ]
    if not shown:
        return []
    record(
        actor,
        "referral:repeat_candidates_listed",
        Subject("case", referral.id),
        case=referral.id,
        cases=[c.earlier_id for c in shown],
    )
    return [
        RepeatCandidate(
            c.earlier_id,
            earlier[c.earlier_id].reference,
            earlier[c.earlier_id].referred_on or today_london(),
            list(c.reasons),
        )
        for c in shown
    ]


def possible_repeats(actor: Actor, referrals: list[Referral]) -> set[int]:
    """Which of these referrals have a possible repeat still to answer (for the inbox)."""
    if not actor.can(Permission.REFERRALS_TRIAGE) or not referrals:
        return set()
    mine = [r.id for r in referrals if r.area_id == actor.area_id]
    return set(_unanswered(mine))


def answer_repeat(
    actor: Actor, referral: Referral, earlier_id: int, *, same_people: bool
) -> RepeatReview:
    """Record the coordinator's answer; "the same people" makes the referral a repeat."""
    _triage(actor, referral, "referral:repeat_answered")
    if earlier_id not in {c.earlier_id for c in _unanswered([referral.id]).get(referral.id, [])}:
        raise ValidationFailed(
            {"earlier": "That referral is not a possible repeat of this one, or was answered"}
        )
    review = RepeatReview(
        referral_id=referral.id,
        earlier_id=earlier_id,
        same_people=same_people,
        reviewed_by_id=actor.member_id,
        reviewed_at=now(),
    )
    session().add(review)
    if same_people and not referral.is_repeat:
        referral.is_repeat = True
        referral.previous_referral_id = earlier_id
    session().flush()
    record(
        actor,
        "referral:repeat_confirmed" if same_people else "referral:repeat_dismissed",
        Subject("case", referral.id),
        case=referral.id,
        cases=[earlier_id],
    )
    return review


# --- consent and sharing without consent, after the referral ------------------------------


def area_agencies(referral: Referral) -> list[Agency]:
    """The agencies of the case's area that may be named as recipients (names only)."""
    return list(
        session()
        .execute(
            select(Agency)
            .where(Agency.area_id == referral.area_id, Agency.disabled_at.is_(None))
            .order_by(Agency.name)
        )
        .scalars()
    )


def vital_interests_open(referral_id: int) -> bool:
    """Whether a decision for this case may rest on vital interests (see consent.gate)."""
    return gate.vital_interests_open(consent_services.consents_for(referral_id))


def require_referring_agency(actor: Actor, referral: Referral) -> None:
    """Consent is recorded by the agency that referred (it holds the victim's words)."""
    act_on(actor, referral, "consent:recorded")
    if referral.referring_agency_id != actor.agency_id:
        raise forbid(
            actor,
            referral,
            "consent:recorded",
            "Only the referring agency records consent for this case.",
        )
    if referral.victim_id is None:
        raise ValidationFailed({"state": "Enter the victim's details first"})


def add_consent(
    actor: Actor, referral: Referral, data: consent_services.ConsentData
) -> ConsentRecord:
    """Record what the victim said about sharing, with its scope: it applies from the next
    read, alongside (never replacing) earlier records until they are withdrawn."""
    require_referring_agency(actor, referral)
    return consent_services.record_consent(
        actor, referral_id=referral.id, subject_id=referral.victim_id or 0, data=data
    )


def withdraw_case_consent(actor: Actor, referral: Referral, consent_id: int) -> ConsentRecord:
    """Record that the victim withdrew a consent: the next read no longer relies on it."""
    require_referring_agency(actor, referral)
    return consent_services.withdraw_consent(
        actor, consent_services.get_consent(consent_id, referral.id)
    )


def ask_to_share_without_consent(
    actor: Actor, referral: Referral, data: consent_services.DecisionData
) -> SharingDecision:
    """Ask a MARAC representative or manager (not the asker) to approve sharing without
    consent; only for a case that meets a referral criterion."""
    require_referring_agency(actor, referral)
    return consent_services.request_decision(
        actor,
        referral_id=referral.id,
        area_id=referral.area_id,
        meets_criteria=referral.meets_criteria,
        data=data,
    )


def decide_sharing(actor: Actor, decision_id: int, *, approve: bool, note: str) -> Any:
    decision = consent_services.get_decision(decision_id)
    referral = get_referral(decision.referral_id)
    if referral.referring_agency_id != actor.agency_id:
        raise NotFound("There is no such request.")
    act_on(actor, referral, "decision:decided")
    if approve and not referral.meets_criteria:
        raise ValidationFailed(
            {
                "decision": "Sharing without consent is only for a case that "
                "meets a MARAC referral criterion"
            }
        )
    return consent_services.decide(
        actor,
        decision,
        approve=approve,
        note=note,
        referring_agency_id=referral.referring_agency_id,
    )
