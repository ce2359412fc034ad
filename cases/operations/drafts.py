"""Drafts: starting a referral and saving its pages, page by page or all at once.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select

from agencies.models import Agency, AgencyType, MaracArea, Member, Sector
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import checklists, matching
from cases.models import (
    MustNotReceive,
    PartyRole,
    Person,
    PersonKey,
    Referral,
    ReferralParty,
    ReferralStatus,
    RiskAssessment,
    Whereabouts,
)
from cases.operations.access import act_on, forbid
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
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now, today_london
from hub.core.db import session
from hub.core.errors import NO_SUCH_CASE, Forbidden, NotFound, ValidationFailed

# --- drafts -------------------------------------------------------------------------------


def _area_code(area: MaracArea) -> str:
    word = next((w for w in area.name.split() if w.upper() != "MARAC"), "MARAC")
    return "".join(ch for ch in word.upper() if ch.isalpha())[:2] or "MA"


def reference_example(area: MaracArea) -> str:
    """A reference in the area's own format, for hints ("NO-2026-0042" in Northbridge)."""
    return f"{_area_code(area)}-{today_london().year}-0042"


def _new_reference(area: MaracArea) -> str:
    """The area's next reference this year (the caller holds the area's lock)."""
    year = today_london().year
    prefix = f"{_area_code(area)}-{year}-"
    # The highest number this year, read from the unique index on reference: longest first,
    # then greatest, so 10000 comes after 9999.
    last = (
        session()
        .execute(
            select(Referral.reference)
            .where(Referral.reference.like(prefix + "%"))
            .order_by(func.length(Referral.reference).desc(), Referral.reference.desc())
            .limit(1)
        )
        .scalar_one_or_none()
    )
    number = last[len(prefix) :] if last else "0"
    if not number.isdigit():  # a reference not made here: count them all, as before
        taken = session().execute(
            select(Referral.reference).where(Referral.reference.like(prefix + "%"))
        )
        digits = [ref[len(prefix) :] for ref in taken.scalars() if ref[len(prefix) :].isdigit()]
        number = str(max(map(int, digits), default=0))
    return f"{prefix}{int(number) + 1:04d}"


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
    record(actor, LedgerAction.REFERRAL_DRAFTED, Subject("case", referral.id), case=referral.id)
    return referral


def own_draft(actor: Actor, referral: Referral) -> None:
    act_on(actor, referral, LedgerAction.REFERRAL_DRAFT_CHANGED)
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
            LedgerAction.REFERRAL_DRAFT_CHANGED,
            "Only the referrer or their agency's MARAC representative can change this referral.",
        )
    if referral.status != ReferralStatus.DRAFT:
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
    keys = matching.name_keys(person.given_name, person.family_name, person.aliases)
    kept = {row.key: row for row in person.keys}
    person.keys = [
        kept.get(key) or PersonKey(key=key[:250], area_id=area_id) for key in sorted(keys)
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


def under_age(born_on: date | None, day: date | None = None) -> bool:
    return born_on is not None and age_on(born_on, day or today_london()) < MIN_AGE


def save_victim(actor: Actor, referral: Referral, data: PersonData) -> Referral:
    own_draft(actor, referral)
    errors = _validate_person(data)
    if "born_on" not in errors and under_age(data.born_on):
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
    own_draft(actor, referral)
    errors = _validate_person(data)
    if "born_on" not in errors and under_age(data.born_on):
        errors["born_on"] = UNDER_16_PERPETRATOR
    if not relationship.strip():
        errors["relationship"] = "Say how they are connected to the victim, like ex-partner"
    others = others or []
    if len(others) > 5:
        errors["others"] = "Name up to 5 other perpetrators here; say more in the incident"
    for number, (other, other_relationship) in enumerate(others, start=2):
        prefix = f"p{number}_"
        errors.update(_validate_person(other, prefix))
        if prefix + "born_on" not in errors and under_age(other.born_on):
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
    own_draft(actor, referral)
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
    own_draft(actor, referral)
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
    own_draft(actor, referral)
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
    own_draft(actor, referral)
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
    if agency.type == AgencyType.POLICE:
        return Article6.LAW_ENFORCEMENT
    if agency.sector == Sector.VOLUNTARY:
        return Article6.LEGITIMATE_INTERESTS
    return Article6.PUBLIC_TASK


def referral_bases(agency: Agency) -> tuple[Article6, ...]:
    """The bases this agency may refer to the MARAC on (never public task for the voluntary
    sector; never legitimate interests for a public authority doing its job)."""
    if agency.sector == Sector.VOLUNTARY:
        return REFERRAL_BASES_VOLUNTARY
    return REFERRAL_BASES_STATUTORY


def referral_basis_choices(referral: Referral) -> tuple[tuple[Article6, ...], Article6]:
    """The bases the referring agency may choose from, and the one it usually relies on."""
    agency = session().get(Agency, referral.referring_agency_id)
    assert agency is not None
    return referral_bases(agency), usual_referral_basis(agency)


def save_sharing(actor: Actor, referral: Referral, choice: SharingChoice) -> Referral:
    """Record the lawful basis for referring to the MARAC: consent, or a decision without it."""
    own_draft(actor, referral)
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
                    if agency.sector == Sector.VOLUNTARY
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
            LedgerAction.CONSENT_DRAFT_REPLACED,
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


# --- one referral, from any channel -------------------------------------------------------


@dataclass
class PerpetratorData:
    """The perpetrator page: who they are, their relationship, the children, any others."""

    person: PersonData
    relationship: str
    children: str = ""
    children_count: int | None = None
    others: list[tuple[PersonData, str]] = field(default_factory=list)


@dataclass
class ReferralData:
    """What a referrer says about a case, in parts; a part left as None is not touched.

    A page of the referral form sends its own part; a partner system's API call sends them
    all at once. Either way the same rules check each part, in the order of the form."""

    victim: PersonData | None = None
    perpetrator: PerpetratorData | None = None
    household: list[HouseholdMember] | None = None
    risk: RiskData | None = None
    details: DetailsData | None = None
    whereabouts: WhereaboutsData | None = None
    sharing: SharingChoice | None = None


@dataclass(frozen=True)
class Referred:
    referral: Referral
    #: True when a retried call (same idempotency key) found the referral it made before.
    replayed: bool = False


def refer_case(
    actor: Actor,
    data: ReferralData,
    *,
    referral: Referral | None = None,
    idempotency_key: str | None = None,
) -> Referred:
    """Start a draft referral (or continue ``referral``) and save the parts ``data`` gives.

    The one service the referral form and the API both call. Nothing is committed here: a
    part that breaks a rule raises ``ValidationFailed`` and the caller's unit of work keeps
    nothing of the call."""
    if referral is None:
        referral = start_referral(actor, idempotency_key=idempotency_key)
        if idempotency_key and referral.victim_id is not None:
            return Referred(referral, replayed=True)
    if data.victim is not None:
        save_victim(actor, referral, data.victim)
    if data.perpetrator is not None:
        part = data.perpetrator
        save_perpetrator(
            actor,
            referral,
            part.person,
            relationship=part.relationship,
            children=part.children,
            children_count=part.children_count,
            others=part.others,
        )
    if data.household is not None:
        save_household(actor, referral, data.household)
    if data.risk is not None:
        save_risk(actor, referral, data.risk)
    if data.details is not None:
        save_details(actor, referral, data.details)
    if data.whereabouts is not None:
        save_whereabouts(actor, referral, data.whereabouts)
    if data.sharing is not None:
        save_sharing(actor, referral, data.sharing)
    return Referred(referral)
