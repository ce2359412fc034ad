"""The canary scenario: about twenty personas, a dozen cases, two meetings, all through the
real services, with a marker in every free-text field (``tests.canary.markers``).

Area A ("Testshire MARAC") is tests/support/world.py's area with more people and agencies;
area B ("Otherland MARAC") is a second tenant with its own coordinator, auditor and case.

Cases (key: referrer; situation):

* C1  police_officer: consent for some agency types and categories only; shared by the
  referrer with housing; a conflict wall (housing_walled); police_blocked on the
  must-not-receive list; heard at M1 with research by two agencies, one shared; actions
  owned by health and housing, with task notes.
* C2  police_officer: consent refused; the request to share with every partner refused with
  a note, then a decision for named agencies (police, IDVA, the coordinator's agency)
  approved with a note; police_blocked must not receive it; heard at M1.
* C3  police_officer: not sought (unsafe), the request to share without consent still
  pending; the victim does not know; added late to M1 and deferred there, back on M2.
* C4  idva: consent given, then withdrawn (no consent in force); shared by the referrer with
  children's social care; on M2's agenda.
* C5, C6  police_officer and nurse: a counter-allegation pair (each names the other's victim
  as perpetrator), with a primary-aggressor note; heard together at M1.
* C7  police_officer: a draft.
* C8  nurse: accepted, then closed with a reason.
* C9  housing_rep: rejected with a reason; housing_walled walled off.
* C10 nurse: coordinator2 must not receive it; deferred in the coordinator's inbox.
* C11 officer_b, area B: accepted there.
* C12 the probation records system, through the API: consent for some agency types; on M2
  with research by children's social care and the GP practice.
* C13 C2 transferred to area B once M2 is built: the pack sent by the coordinator, accepted
  by coordinator_b into C13 (the pack's text belongs to C13 too; C2's whereabouts never).

Meetings: M1 (today, past its cut-off: every case added late with a reason) circulated to
every agency, held, minutes approved, amended with a reason and sent out; M2 (in two weeks)
built from the accepted referrals, circulated, M1's actions reviewed with notes.

The scenario only makes writes that a correct hub must allow: every write is done by someone
who needs to know the case (the referrer, the coordinator triaging, the chair running the
meeting, the owning agency working its task).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

import pyotp
from sqlalchemy import select

from agencies import services as agencies
from agencies.models import AgencyType, Sector
from cases import checklists
from cases import services as referrals
from cases.models import PartyRole, Referral
from consent.categories import CASE_CATEGORIES, Article6, Article9, Category, ConsentState, Purpose
from consent.services import DecisionData, consents_for, decisions_for
from hub.auth import identity
from hub.auth import services as auth
from hub.core import db
from hub.core.access import Actor, Role
from hub.core.clock import now, today_london
from meetings import conduct, minutes, research
from meetings import services as meetings
from meetings.models import Action, AgendaItem, Meeting, MeetingKind
from tests.canary.markers import PRIVATE, Markers, Owner
from tests.meetings.conftest import on_meeting_day
from tests.support.cases import answers
from tests.support.world import AGENCIES, PASSWORD, PEOPLE, World, build_world
from todo import services as tasks
from todo.models import Task

SYSTEM = Actor.system("canary-scenario")

#: Agencies added to tests/support/world.py's: key -> (name, type, sector, domain, lapsed).
MORE_AGENCIES: dict[str, tuple[str, AgencyType, Sector, str, bool]] = {
    "social": (
        "Testshire Children's Services",
        AgencyType.CHILDRENS_SOCIAL_CARE,
        Sector.STATUTORY,
        "social.test",
        False,
    ),
    "gp": ("Testshire Surgery", AgencyType.PRIMARY_CARE, Sector.STATUTORY, "gp.test", False),
    "refuge": (
        "Testshire Refuge",
        AgencyType.SPECIALIST_NGO,
        Sector.VOLUNTARY,
        "refuge.test",
        True,
    ),
    "probation": (
        "Testshire Probation",
        AgencyType.PROBATION,
        Sector.STATUTORY,
        "probation.test",
        False,
    ),
}
#: The second area's agencies.
OTHER_AREA = "Otherland MARAC"
OTHER_AGENCIES: dict[str, tuple[str, AgencyType, Sector, str]] = {
    "csp_b": ("Otherland Community Safety", AgencyType.OTHER, Sector.STATUTORY, "csp.other.test"),
    "police_b": ("Otherland Police", AgencyType.POLICE, Sector.STATUTORY, "police.other.test"),
}
#: People added to the world's: key -> (agency key, roles).
MORE_PEOPLE: dict[str, tuple[str, set[Role]]] = {
    "coordinator2": ("csp", {Role.COORDINATOR}),
    "police_blocked": ("police", {Role.PRACTITIONER, Role.MARAC_REP}),
    "housing_rep": ("housing", {Role.PRACTITIONER, Role.MARAC_REP}),
    "housing_walled": ("housing", {Role.PRACTITIONER}),
    "social_worker": ("social", {Role.PRACTITIONER, Role.MARAC_REP}),
    "gp": ("gp", {Role.PRACTITIONER, Role.MARAC_REP}),
    "lapsed_worker": ("refuge", {Role.PRACTITIONER, Role.MARAC_REP}),
    "coordinator_b": ("csp_b", {Role.COORDINATOR}),
    "auditor_b": ("csp_b", {Role.AUDITOR}),
    "officer_b": ("police_b", {Role.PRACTITIONER}),
}

#: The partner system: the probation service's records system, with its own provider.
API_CLIENT_ID = "probation-records"
API_CLIENT_SECRET = "probation-records-secret-for-the-canary"
API_PROVIDER_SECRET_ENV = "HUB_TEST_CANARY_PROBATION_SECRET"


def idp_clients() -> list[dict[str, Any]]:
    """The probation provider's clients: the hub (never used to sign in) and the system."""
    return [
        {
            "client_id": "marac-hub",
            "client_secret": "probation-idp-secret-for-the-hub",
            "redirect_uris": ["http://127.0.0.1:5000/auth/callback"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "scope": "openid email profile",
        },
        {
            "client_id": API_CLIENT_ID,
            "client_secret": API_CLIENT_SECRET,
            "redirect_uris": [],
            "response_types": [],
            "grant_types": ["client_credentials"],
            "scope": "referrals:read referrals:write",
        },
    ]


@dataclass
class Persona:
    """Someone the crawl signs in as: a member (password and TOTP) or the partner system."""

    key: str
    kind: str  # "member" or "api"
    agency: str
    area: str  # "A" or "B"
    agency_id: int
    email: str = ""
    password: str = ""
    totp_secret: str | None = None
    member_id: int | None = None
    roles: frozenset[Role] = frozenset()
    #: The partner system's bearer token (the crawl asks for a fresh one).
    client_id: str = ""


@dataclass
class Case:
    key: str
    id: int
    reference: str
    area: str
    #: The victim as a search would name her: given name, family name, date of birth.
    victim: tuple[str, str, date | None] = ("", "", None)
    counter_allegation: bool = False


@dataclass
class Scenario:
    world: World
    markers: Markers
    personas: dict[str, Persona] = field(default_factory=dict)
    agencies: dict[str, int] = field(default_factory=dict)
    cases: dict[str, Case] = field(default_factory=dict)
    meetings: dict[str, int] = field(default_factory=dict)
    #: The actions agreed at M1, by "case:owner", for the reviews at M2.
    actions: dict[str, int] = field(default_factory=dict)
    #: A case id no referral has, for "missing case" probes.
    missing_case_id: int = 0
    #: (old case, persona): who learns an old case's reference from a transfer's pack.
    told_by_transfer: set[tuple[str, str]] = field(default_factory=set)

    def case_by_id(self, referral_id: int) -> Case | None:
        return next((c for c in self.cases.values() if c.id == referral_id), None)

    def agency_key(self, agency_id: int) -> str:
        return next(k for k, v in self.agencies.items() if v == agency_id)


# --- people -----------------------------------------------------------------------------------


def _add_member(scenario: Scenario, key: str, agency_key: str, roles: set[Role], area: str) -> None:
    domain = {**AGENCIES, **MORE_AGENCIES, **OTHER_AGENCIES}[agency_key][3]
    email = f"{key.replace('_', '.')}@{domain}"
    member = agencies.add_member(
        SYSTEM,
        agencies.MemberData(
            name=key.replace("_", " ").title(),
            email=email,
            agency_id=scenario.agencies[agency_key],
            roles=frozenset(roles),
        ),
    )
    credential = auth.set_password(SYSTEM, member, PASSWORD)
    secret = pyotp.random_base32()
    credential.totp_secret = secret
    credential.totp_confirmed_at = now()
    scenario.personas[key] = Persona(
        key,
        "member",
        agency_key,
        area,
        member.agency_id,
        email,
        PASSWORD,
        secret,
        member.id,
        frozenset(roles),
    )


def _agency(
    area: Any, name: str, kind: AgencyType, sector: Sector, domain: str, lapsed: bool = False
) -> int:
    signed, due = (
        (date(2024, 1, 1), date(2025, 1, 1)) if lapsed else (date(2026, 1, 1), date(2030, 1, 1))
    )
    agency = agencies.create_agency(
        SYSTEM,
        area,
        agencies.AgencyData(
            name=name,
            type=kind,
            sector=sector,
            isp_signed_on=signed,
            isp_signed_by="Chief Officer",
            isp_review_due_on=due,
            email_domains=domain,
        ),
    )
    return int(agency.id)


def build_people(issuer: str) -> Scenario:
    """The world's area and people, the agencies and people added here, and area B."""
    world = build_world()
    scenario = Scenario(world=world, markers=Markers())
    scenario.agencies.update(world.agencies)
    for key, person in world.people.items():
        agency_key = next(k for k, v in world.agencies.items() if v == person.agency_id)
        roles = PEOPLE[key][1]
        scenario.personas[key] = Persona(
            key,
            "member",
            agency_key,
            "A",
            person.agency_id,
            person.email,
            person.password,
            person.totp_secret,
            person.member_id,
            frozenset(roles),
        )
    with db.unit_of_work():
        area_a = agencies.get_area(world.area_id)
        for key, (name, kind, sector, domain, lapsed) in MORE_AGENCIES.items():
            scenario.agencies[key] = _agency(area_a, name, kind, sector, domain, lapsed)
        area_b = agencies.create_area(SYSTEM, name=OTHER_AREA)
        for key, (name, kind, sector, domain) in OTHER_AGENCIES.items():
            scenario.agencies[key] = _agency(area_b, name, kind, sector, domain)
        for key, (agency_key, roles) in MORE_PEOPLE.items():
            area = "B" if agency_key.endswith("_b") else "A"
            _add_member(scenario, key, agency_key, roles, area)
        # The probation service signs in through its own provider, which also issues its
        # records system's API tokens; nobody of probation signs in to the crawl's pages.
        os.environ[API_PROVIDER_SECRET_ENV] = "probation-idp-secret-for-the-hub"
        probation = agencies.get_agency(scenario.agencies["probation"])
        identity.add_provider(
            SYSTEM,
            probation,
            identity.ProviderData(
                issuer=issuer, client_id="marac-hub", client_secret_env=API_PROVIDER_SECRET_ENV
            ),
        )
        identity.add_api_client(
            SYSTEM,
            identity.ApiClientData(
                agency_id=probation.id,
                client_id=API_CLIENT_ID,
                name="Probation records system",
                scopes=frozenset({"referrals:read", "referrals:write"}),
            ),
        )
    scenario.personas["probation_api"] = Persona(
        "probation_api",
        "api",
        "probation",
        "A",
        scenario.agencies["probation"],
        client_id=API_CLIENT_ID,
    )
    return scenario


#: Template items each agency keeps: a to-do list page looks the same with three items or
#: thirty, and each task is one more page for each of its agency's personas to read.
TEMPLATE_ITEMS_KEPT = 3


def trim_templates(scenario: Scenario) -> None:
    """Each agency adapts its to-do template (as agencies do): one item per kind of trigger,
    at most ``TEMPLATE_ITEMS_KEPT``."""
    with db.unit_of_work():
        for agency_id in scenario.agencies.values():
            agency = agencies.get_agency(agency_id)
            template = tasks.current_template(SYSTEM, agency)
            kinds: set[tuple[tuple[str, ...], bool]] = set()
            dropped = []
            for item in template.items:
                kind = (tuple(item.triggers), item.to_queue)
                if kind in kinds or len(kinds) >= TEMPLATE_ITEMS_KEPT:
                    dropped.append(item.key)
                else:
                    kinds.add(kind)
            version = template.version
            for key in dropped:
                version = tasks.remove_template_item(
                    SYSTEM, agency, base_version=version, key=key
                ).version


def actor(scenario: Scenario, key: str) -> Actor:
    """The actor a member persona acts as (for building the scenario through services)."""
    person = scenario.personas[key]
    assert person.member_id is not None
    with db.unit_of_work():
        return agencies.actor_for(agencies.get_member(person.member_id))


# --- referrals --------------------------------------------------------------------------------


@dataclass
class PeopleOfCase:
    victim: referrals.PersonData
    perpetrator: referrals.PersonData
    #: Markers of the two people, to register for a counter-allegation's other half.
    victim_markers: list[str]
    perpetrator_markers: list[str]


def _people(scenario: Scenario, case: str, number: int) -> PeopleOfCase:
    m = scenario.markers
    victim_markers = [
        m.new(case, "identity", "victim given name"),
        m.new(case, "identity", "victim family name"),
        m.new(case, "identity", "victim other names"),
        m.new(case, "identity", "victim gender"),
        m.new(case, "identity", "victim language"),
        m.new(case, "identity", "victim police identifier"),
    ]
    nhs = m.digits(case, "identity", "victim NHS number", prefix="94", length=10)
    ethnicity = m.new(case, "diversity", "victim ethnicity")
    victim = referrals.PersonData(
        given_name=victim_markers[0],
        family_name=victim_markers[1],
        aliases=victim_markers[2],
        born_on=date(1980 + number, 1 + number % 12, 10),
        gender=victim_markers[3],
        language=victim_markers[4],
        nhs_number=nhs,
        police_person_id=victim_markers[5],
        ethnicity=ethnicity,
        disability="no",
        lgbt="no",
    )
    perpetrator_markers = [
        m.new(case, "identity", "perpetrator given name"),
        m.new(case, "identity", "perpetrator family name"),
        m.new(case, "identity", "perpetrator other names"),
        m.new(case, "identity", "perpetrator police identifier"),
    ]
    perpetrator = referrals.PersonData(
        given_name=perpetrator_markers[0],
        family_name=perpetrator_markers[1],
        aliases=perpetrator_markers[2],
        born_on=date(1960 + number, 1 + (number + 5) % 12, 20),
        police_person_id=perpetrator_markers[3],
    )
    return PeopleOfCase(victim, perpetrator, [*victim_markers, nhs, ethnicity], perpetrator_markers)


@dataclass
class Sharing:
    state: ConsentState = ConsentState.GIVEN
    categories: list[Category] | None = None
    agency_types: list[AgencyType] | None = None
    #: For a state other than given: the request to share with every partner.
    rationale: bool = False


def draft_case(
    scenario: Scenario,
    case: str,
    referrer: str,
    number: int,
    *,
    sharing: Sharing,
    people: PeopleOfCase | None = None,
    blocked: tuple[str, ...] = (),
    victim_aware: bool = True,
) -> int:
    """A complete draft with a marker in every free-text field; returns its id."""
    m = scenario.markers
    who = actor(scenario, referrer)
    people = people or _people(scenario, case, number)
    filler = "and more words, so that the reasons are long enough to be accepted"
    with db.unit_of_work():
        referral = referrals.start_referral(who)
        referrals.save_victim(who, referral, people.victim)
        referrals.save_perpetrator(
            who,
            referral,
            people.perpetrator,
            relationship=m.new(case, "identity", "perpetrator relationship"),
            children=m.new(case, "children", "about the children"),
            children_count=1,
        )
        referrals.save_household(
            who,
            referral,
            [
                referrals.HouseholdMember(
                    referrals.PersonData(
                        given_name=m.new(case, "identity", "child given name"),
                        family_name=m.new(case, "identity", "child family name"),
                        born_on=date(2015, 1 + number % 12, 3),
                    ),
                    PartyRole.CHILD,
                ),
                referrals.HouseholdMember(
                    referrals.PersonData(
                        given_name=m.new(case, "identity", "household given name"),
                        family_name=m.new(case, "identity", "household family name"),
                        born_on=date(1950 + number, 2, 2),
                    ),
                    PartyRole.HOUSEHOLD,
                    relationship=m.new(case, "identity", "household relationship"),
                ),
            ],
        )
        referrals.save_risk(
            who,
            referral,
            referrals.RiskData(
                checklist=checklists.DEFAULT_CHECKLIST,
                answers=answers(15),
                professional_judgement=True,
                judgement_reasons=m.new(case, "risk", "professional judgement reasons"),
                incidents_12m=4,
            ),
        )
        referrals.save_details(
            who,
            referral,
            referrals.DetailsData(
                incident=m.new(case, "risk", "incident"),
                victim_fears=m.new(case, "risk", "who the victim fears"),
                safe_to_contact=m.new(case, "risk", "safe to talk to"),
                unsafe_to_contact=m.new(case, "risk", "not safe to talk to"),
                health_notes=m.new(case, "health", "health notes"),
                reported_to_police=True,
                crime_reference=m.new(case, "criminal_justice", "crime reference"),
                justice_notes=m.new(case, "criminal_justice", "bail and orders"),
                previous_marac=m.new(case, "risk", "previous MARAC"),
                victim_aware=victim_aware,
                victim_unaware_reason=""
                if victim_aware
                else m.new(case, "risk", "why the victim has not been told"),
                must_not_receive_names=m.new(case, "risk", "must-not-receive name"),
                must_not_receive_member_ids=[
                    scenario.personas[k].member_id
                    for k in blocked  # type: ignore[misc]
                ],
            ),
        )
        referrals.save_whereabouts(
            who,
            referral,
            referrals.WhereaboutsData(
                address=m.new(case, "whereabouts", "address"),
                safe_phone=m.digits(case, "whereabouts", "safe phone", prefix="077", length=11),
                safe_times=m.new(case, "whereabouts", "safe times"),
                safe_contact=m.new(case, "whereabouts", "safe contact"),
            ),
        )
        referrals.save_sharing(
            who,
            referral,
            referrals.SharingChoice(
                state=sharing.state,
                evidence=m.new(case, "risk", "how consent was given"),
                rationale=m.text(
                    m.new(case, "risk", "rationale to share without consent"), filler=filler
                )
                if sharing.rationale
                else "",
                basis_statutory=Article6.PUBLIC_TASK if sharing.rationale else None,
                basis_voluntary=Article6.LEGITIMATE_INTERESTS if sharing.rationale else None,
                condition_special=Article9.SAFEGUARDING if sharing.rationale else None,
                categories=sharing.categories,
                recipient_agency_types=[t.value for t in sharing.agency_types]
                if sharing.agency_types is not None
                else None,
            ),
        )
        return int(referral.id)


def _record(scenario: Scenario, case: str, referral_id: int) -> None:
    with db.unit_of_work():
        referral = referrals.get_referral(referral_id)
        area = "A" if referral.area_id == scenario.world.area_id else "B"
        victim = referral.victim
        assert victim is not None
        scenario.cases[case] = Case(
            case,
            referral.id,
            referral.reference,
            area,
            (victim.given_name, victim.family_name, victim.born_on),
        )
    for found in scenario.cases.values():
        with db.unit_of_work():
            found.counter_allegation = (
                referrals.get_referral(found.id).counter_allegation_id is not None
            )


def submit(scenario: Scenario, referrer: str, referral_id: int) -> None:
    who = actor(scenario, referrer)
    with db.unit_of_work():
        referrals.submit_referral(who, referrals.get_referral(referral_id))


def accept(scenario: Scenario, coordinator: str, referral_id: int) -> None:
    who = actor(scenario, coordinator)
    with db.unit_of_work():
        referrals.accept_referral(who, referrals.get_referral(referral_id))


def build_referrals(scenario: Scenario) -> None:
    """C1 to C11 through the services (C12 comes through the API)."""
    m = scenario.markers
    filler = "and more words, so that the reasons are long enough to be accepted"
    limited_types = [AgencyType.POLICE, AgencyType.IDVA_SERVICE, AgencyType.ACUTE_HEALTH]

    # C1: consent for some agency types and categories only; shared; walled; blocked.
    c1 = draft_case(
        scenario,
        "C1",
        "police_officer",
        1,
        sharing=Sharing(
            categories=[
                Category.IDENTITY,
                Category.RISK,
                Category.CHILDREN,
                Category.CRIMINAL_JUSTICE,
            ],
            agency_types=limited_types,
        ),
        blocked=("police_blocked",),
    )
    _record(scenario, "C1", c1)
    submit(scenario, "police_officer", c1)
    accept(scenario, "coordinator", c1)
    with db.unit_of_work():
        referral = referrals.get_referral(c1)
        referrals.share_case(
            actor(scenario, "police_officer"),
            referral,
            scenario.agencies["housing"],
            Purpose.MARAC,
        )
        referrals.add_conflict_wall(
            actor(scenario, "housing_rep"),
            referral,
            perpetrator_worker_id=scenario.personas["housing_walled"].member_id or 0,
            victim_worker_id=scenario.personas["housing_rep"].member_id,
        )

    # C2: refused; all-partner request refused; named-agency decision approved.
    c2 = draft_case(
        scenario,
        "C2",
        "police_officer",
        2,
        sharing=Sharing(state=ConsentState.REFUSED, rationale=True),
        blocked=("police_blocked",),
    )
    _record(scenario, "C2", c2)
    submit(scenario, "police_officer", c2)
    with db.unit_of_work():
        (first,) = decisions_for(c2)
        referrals.decide_sharing(
            actor(scenario, "police_rep"),
            first.id,
            approve=False,
            note=m.new("C2", "risk", "approver's note on a refused request"),
        )
        requested = referrals.ask_to_share_without_consent(
            actor(scenario, "police_officer"),
            referrals.get_referral(c2),
            DecisionData(
                rationale=m.text(
                    m.new("C2", "risk", "rationale for named agencies"), filler=filler
                ),
                categories=list(CASE_CATEGORIES),
                all_partners=False,
                recipient_agency_ids=[scenario.agencies[k] for k in ("police", "idva", "csp")],
                basis_statutory=Article6.PUBLIC_TASK,
                basis_voluntary=Article6.LEGITIMATE_INTERESTS,
                condition_special=Article9.SAFEGUARDING,
            ),
        )
        referrals.decide_sharing(
            actor(scenario, "police_rep"),
            requested.id,
            approve=True,
            note=m.new("C2", "risk", "approver's note"),
        )
    accept(scenario, "coordinator", c2)

    # C3: not sought because unsafe; the request is still pending; the victim is unaware.
    c3 = draft_case(
        scenario,
        "C3",
        "police_officer",
        3,
        sharing=Sharing(state=ConsentState.NOT_SOUGHT_UNSAFE, rationale=True),
        victim_aware=False,
    )
    _record(scenario, "C3", c3)
    submit(scenario, "police_officer", c3)
    accept(scenario, "coordinator", c3)

    # C4: consent given, then withdrawn; shared by the referrer with children's social care.
    c4 = draft_case(scenario, "C4", "idva", 4, sharing=Sharing())
    _record(scenario, "C4", c4)
    submit(scenario, "idva", c4)
    accept(scenario, "coordinator", c4)
    with db.unit_of_work():
        referral = referrals.get_referral(c4)
        (given,) = consents_for(c4)
        referrals.withdraw_case_consent(actor(scenario, "idva"), referral, given.id)
        referrals.share_case(
            actor(scenario, "idva"), referral, scenario.agencies["social"], Purpose.MARAC
        )

    # C5 and C6: a counter-allegation pair; each names the other's victim as perpetrator.
    pair = _people(scenario, "C5", 5)
    c5 = draft_case(scenario, "C5", "police_officer", 5, sharing=Sharing(), people=pair)
    _record(scenario, "C5", c5)
    submit(scenario, "police_officer", c5)
    accept(scenario, "coordinator", c5)
    for marker in [*pair.victim_markers, *pair.perpetrator_markers]:
        owner = next(iter(m.owners[marker]))
        m.also(marker, "C6", owner.category, owner.field + " (the other half of the pair)")
    flipped = PeopleOfCase(pair.perpetrator, pair.victim, [], [])
    c6 = draft_case(
        scenario,
        "C6",
        "nurse",
        6,
        sharing=Sharing(agency_types=limited_types),
        people=flipped,
    )
    _record(scenario, "C6", c6)
    submit(scenario, "nurse", c6)
    accept(scenario, "coordinator", c6)
    with db.unit_of_work():
        referral = referrals.get_referral(c5)
        assert referral.counter_allegation_id == c6, "C5 and C6 must be a counter-allegation"
        referrals.note_primary_aggressor(
            actor(scenario, "coordinator"),
            referral,
            m.new("C5", "risk", "primary-aggressor note"),
        )

    # C7: a draft.
    c7 = draft_case(scenario, "C7", "police_officer", 7, sharing=Sharing())
    _record(scenario, "C7", c7)

    # C8: accepted, then closed.
    c8 = draft_case(scenario, "C8", "nurse", 8, sharing=Sharing())
    _record(scenario, "C8", c8)
    submit(scenario, "nurse", c8)
    accept(scenario, "coordinator", c8)
    with db.unit_of_work():
        referrals.close_referral(
            actor(scenario, "coordinator"),
            referrals.get_referral(c8),
            m.new("C8", "risk", "closure reason"),
        )

    # C9: rejected; the housing caseworker who serves the perpetrator is walled off.
    c9 = draft_case(scenario, "C9", "housing_rep", 9, sharing=Sharing())
    _record(scenario, "C9", c9)
    submit(scenario, "housing_rep", c9)
    with db.unit_of_work():
        referral = referrals.get_referral(c9)
        referrals.add_conflict_wall(
            actor(scenario, "housing_rep"),
            referral,
            perpetrator_worker_id=scenario.personas["housing_walled"].member_id or 0,
            victim_worker_id=scenario.personas["housing_rep"].member_id,
        )
        referrals.reject_referral(
            actor(scenario, "coordinator"), referral, m.new("C9", "risk", "rejection reason")
        )

    # C10: the second coordinator must not receive it; deferred, so still in the inbox.
    c10 = draft_case(scenario, "C10", "nurse", 10, sharing=Sharing(), blocked=("coordinator2",))
    _record(scenario, "C10", c10)
    submit(scenario, "nurse", c10)
    with db.unit_of_work():
        referrals.defer_referral(
            actor(scenario, "coordinator"),
            referrals.get_referral(c10),
            m.new("C10", "risk", "deferral reason on the referral"),
        )

    # C11: the other area's case.
    c11 = draft_case(scenario, "C11", "officer_b", 11, sharing=Sharing())
    _record(scenario, "C11", c11)
    submit(scenario, "officer_b", c11)
    accept(scenario, "coordinator_b", c11)


def api_referral_body(scenario: Scenario) -> dict[str, Any]:
    """C12 as the probation records system posts it: a marker in every free-text field."""
    m = scenario.markers
    case = "C12"
    people = _people(scenario, case, 12)

    def person(data: referrals.PersonData) -> dict[str, Any]:
        out = {k: v for k, v in data.__dict__.items() if v not in ("", None)}
        out["born_on"] = data.born_on.isoformat() if data.born_on else None
        return out

    questions = checklists.load_checklists()[checklists.DEFAULT_CHECKLIST].questions
    return {
        "victim": person(people.victim),
        "perpetrator": person(people.perpetrator),
        "relationship": m.new(case, "identity", "perpetrator relationship"),
        "household": [
            {
                "given_name": m.new(case, "identity", "child given name"),
                "family_name": m.new(case, "identity", "child family name"),
                "born_on": "2016-04-04",
                "role": "child",
            }
        ],
        "children_count": 1,
        "children": m.new(case, "children", "about the children"),
        "answers": {q.id: {"answer": "yes" if i < 15 else "no"} for i, q in enumerate(questions)},
        "professional_judgement": True,
        "judgement_reasons": m.new(case, "risk", "professional judgement reasons"),
        "incidents_12m": 5,
        "incident": m.new(case, "risk", "incident"),
        "victim_fears": m.new(case, "risk", "who the victim fears"),
        "safe_to_contact": m.new(case, "risk", "safe to talk to"),
        "unsafe_to_contact": m.new(case, "risk", "not safe to talk to"),
        "health_notes": m.new(case, "health", "health notes"),
        "reported_to_police": True,
        "crime_reference": m.new(case, "criminal_justice", "crime reference"),
        "justice_notes": m.new(case, "criminal_justice", "bail and orders"),
        "previous_marac": m.new(case, "risk", "previous MARAC"),
        "victim_aware": True,
        "must_not_receive_names": m.new(case, "risk", "must-not-receive name"),
        "whereabouts": {
            "address": m.new(case, "whereabouts", "address"),
            "safe_phone": m.digits(case, "whereabouts", "safe phone", prefix="077", length=11),
            "safe_times": m.new(case, "whereabouts", "safe times"),
            "safe_contact": m.new(case, "whereabouts", "safe contact"),
        },
        "sharing": {
            "state": "given",
            "evidence": m.new(case, "risk", "how consent was given"),
            "recipient_agency_types": ["probation", "police", "childrens_social_care"],
        },
    }


def build_api_referral(scenario: Scenario, client: Any, token: str) -> None:
    """C12: the partner system creates and submits a referral through the JSON API."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "canary-c12"}
    made = client.post("/api/v1/referrals", json=api_referral_body(scenario), headers=headers)
    assert made.status_code == 201, made.get_data(as_text=True)
    referral_id = made.get_json()["id"]
    sent = client.post(f"/api/v1/referrals/{referral_id}/submit", headers=headers)
    assert sent.status_code == 200, sent.get_data(as_text=True)
    _record(scenario, "C12", referral_id)
    accept(scenario, "coordinator", referral_id)


# --- meetings ---------------------------------------------------------------------------------


def _item(meeting: Meeting, referral_id: int) -> AgendaItem:
    return next(i for i in meeting.items if i.referral_id == referral_id)


def _task_of(action_id: int) -> Task:
    found = db.session().get(Action, action_id)
    assert found is not None and found.task_id is not None
    task = db.session().get(Task, found.task_id)
    assert task is not None
    return task


def build_first_meeting(scenario: Scenario) -> None:
    """M1: today (past its cut-off), every agency invited, research, held, minutes out."""
    m = scenario.markers
    chair = actor(scenario, "chair")
    ids = {k: c.id for k, c in scenario.cases.items()}
    with db.unit_of_work():
        (meeting,) = meetings.schedule_meetings(
            chair,
            meetings.ScheduleData(
                first_on=today_london(),
                start_time=time(10, 0),
                venue="Town Hall, Room 2",
                kind=MeetingKind.AD_HOC,
            ),
        )
        scenario.meetings["M1"] = meeting.id
        for case in ("C1", "C2", "C3", "C5", "C6"):
            meetings.add_case(
                chair,
                meeting,
                scenario.cases[case].reference,
                m.text(m.new(case, "minutes", "added late reason"), filler="cannot wait"),
            )
        meetings.circulate_agenda(chair, meeting)
        meetings.defer_item(
            chair,
            meeting,
            _item(meeting, ids["C3"]).id,
            m.text(m.new("C3", "minutes", "agenda deferral reason"), filler="awaiting checks"),
        )

    def research_for(who: str, case: str, agency: str, *, share: bool) -> None:
        member = actor(scenario, who)
        with db.unit_of_work():
            meeting = db.session().get(Meeting, scenario.meetings["M1"])
            item = _item(meeting, ids[case])
            to_share = m.new(case, PRIVATE, "research to share", agency=agency)
            research.save_research(
                member,
                meeting,
                item,
                research.ResearchData(
                    facts=m.new(case, PRIVATE, "research facts", agency=agency),
                    opinions=m.new(case, PRIVATE, "research opinions", agency=agency),
                    to_share=to_share,
                    withheld=[
                        research.WithheldRow(
                            m.new(case, PRIVATE, "research item held back", agency=agency),
                            m.new(case, PRIVATE, "why it is held back", agency=agency),
                        )
                    ],
                ),
            )
            if share:
                research.share_at_meeting(member, meeting, item)
                m.also(to_share, case, "minutes", "research shared at the meeting")

    research_for("police_rep", "C1", "police", share=True)
    research_for("health_rep", "C1", "health", share=False)
    research_for("health_rep", "C2", "health", share=False)

    owners = {
        # Housing may not read C1's minutes, so it may not own an action on it.
        "C1": ["health_rep"],
        "C2": ["police_officer"],
        "C5": ["police_officer"],
        "C6": ["nurse"],
    }
    contributors = {"C1": "idva", "C2": "health", "C5": "health", "C6": "police"}
    actions: dict[str, int] = {}
    with db.unit_of_work():
        meeting = db.session().get(Meeting, scenario.meetings["M1"])
        conduct.mark_confidentiality_read(chair, meeting)
        for agency in ("police", "health", "idva", "housing"):
            conduct.record_attendance(
                chair,
                meeting,
                conduct.AttendanceData(
                    kind="present",
                    agency_id=scenario.agencies[agency],
                    name=f"{agency.title()} Representative",
                    role="MARAC rep",
                ),
            )
        for case, who in owners.items():
            item = _item(meeting, ids[case])
            values: dict[str, Any] = {
                name: m.new(case, "minutes", f"discussion: {name}")
                for name in conduct.TEXT_FIELDS
                if name != "primary_aggressor"
            }
            if item.is_counter_allegation:
                values["primary_aggressor"] = m.new(
                    case, "minutes", "discussion: primary aggressor"
                )
            values["informs_victim_agency_id"] = scenario.agencies["idva"]
            values["informs_victim_name"] = m.new(case, "minutes", "who tells the victim")
            conduct.save_discussion(chair, meeting, item, values)
            conduct.add_contribution(
                chair,
                meeting,
                item,
                scenario.agencies[contributors[case]],
                m.new(case, "minutes", f"what {contributors[case]} shared"),
            )
            for owner in who:
                action = conduct.add_action(
                    chair,
                    meeting,
                    item,
                    conduct.ActionData(
                        text=m.new(case, "minutes", f"action for {owner}"),
                        owner_member_id=scenario.personas[owner].member_id,
                        due_on=today_london() + timedelta(days=7),
                    ),
                )
                actions[f"{case}:{owner}"] = action.id
            conduct.set_outcome(chair, meeting, item, "discussed")
    with on_meeting_day(scenario.meetings["M1"]), db.unit_of_work():
        conduct.close_meeting(chair, db.session().get(Meeting, scenario.meetings["M1"]))
    with db.unit_of_work():
        meeting = db.session().get(Meeting, scenario.meetings["M1"])
        minutes.approve_minutes(chair, meeting)
        item = _item(meeting, ids["C2"])
        minutes.amend_minutes(
            chair,
            meeting,
            {f"item-{item.id}.risk_victim": m.new("C2", "minutes", "amended risk to the victim")},
            m.text(m.new("C2", "minutes", "amendment reason"), filler="corrected at the review"),
        )
        minutes.distribute_minutes(chair, meeting)
    # The owning agencies work their tasks: notes are their own.
    for key, agency in (
        ("C1:health_rep", "health"),
        ("C6:nurse", "health"),
    ):
        case, who = key.split(":")
        member = actor(scenario, who)
        with db.unit_of_work():
            task = _task_of(actions[key])
            tasks.update_task(
                member,
                task,
                version=task.version,
                change=tasks.TaskChange(note=m.new(case, PRIVATE, "task note", agency=agency)),
            )
    scenario.actions.update(actions)


def build_second_meeting(scenario: Scenario) -> None:
    """M2: in two weeks, built from the accepted referrals; M1's actions reviewed."""
    m = scenario.markers
    chair = actor(scenario, "chair")
    actions = scenario.actions
    with db.unit_of_work():
        (meeting,) = meetings.schedule_meetings(
            chair,
            meetings.ScheduleData(
                first_on=today_london() + timedelta(days=14),
                start_time=time(14, 0),
                venue="Virtual",
                kind=MeetingKind.AD_HOC,
            ),
        )
        scenario.meetings["M2"] = meeting.id
        meetings.build_agenda(chair, meeting)
        on_agenda = {i.referral_id for i in meeting.items}
        expected = {scenario.cases[k].id for k in ("C3", "C4", "C12")}
        assert on_agenda == expected, "M2's agenda is C3 (deferred), C4 and C12"
        meetings.circulate_agenda(chair, meeting)
        conduct.review_action(
            chair,
            meeting,
            actions["C1:health_rep"],
            "done",
            m.new("C1", "minutes", "action review note"),
        )
        conduct.review_action(
            chair,
            meeting,
            actions["C2:police_officer"],
            "not_possible",
            m.new("C2", "minutes", "action review note"),
        )
    for who, agency in (("social_worker", "social"), ("gp", "gp")):
        member = actor(scenario, who)
        with db.unit_of_work():
            meeting = db.session().get(Meeting, scenario.meetings["M2"])
            item = _item(meeting, scenario.cases["C12"].id)
            research.save_research(
                member,
                meeting,
                item,
                research.ResearchData(
                    facts=m.new("C12", PRIVATE, "research facts", agency=agency),
                    opinions=m.new("C12", PRIVATE, "research opinions", agency=agency),
                    to_share=m.new("C12", PRIVATE, "research to share", agency=agency),
                    withheld=[
                        research.WithheldRow(
                            m.new("C12", PRIVATE, "research item held back", agency=agency),
                            m.new("C12", PRIVATE, "why it is held back", agency=agency),
                        )
                    ],
                ),
            )


def build_retention(scenario: Scenario) -> None:
    """Area A adopts a retention policy; a run as if years later fills the review queue with
    every case the MARAC has (references only), and one case goes on legal hold."""
    from retention import policy, services
    from retention.models import HoldKind

    coordinator = actor(scenario, "coordinator")
    rules = {
        c.value: (r.months, r.trigger.value, r.action.value) for c, r in policy.DEFAULTS.items()
    }
    with db.unit_of_work():
        policy.adopt_policy(coordinator, policy.PolicyData(rules, "Testshire schedule MAR 01.02"))
    with db.unit_of_work():
        services.queue_expired(SYSTEM, scenario.world.area_id, date(2040, 1, 1))
    held = next(c for c in scenario.cases.values() if c.area == "A")
    with db.unit_of_work():
        services.set_hold(
            coordinator, services.HoldData(held.reference, HoldKind.DHR.value, "DHR commissioned")
        )


def build_transfer(scenario: Scenario) -> None:
    """C2 moves to area B: sent by the coordinator, accepted by coordinator_b into C13.

    The pack carries C2's text of the categories it was given (never its whereabouts), so
    that text is C13's too; coordinator_b learns C2's reference from the pack.
    """
    from transfers import services as transfers

    sender, receiver = actor(scenario, "coordinator"), actor(scenario, "coordinator_b")
    with db.unit_of_work():
        area_b = agencies.get_area_by_name(OTHER_AREA)
        assert area_b is not None
        started = transfers.start_transfer(
            sender,
            scenario.cases["C2"].id,
            transfers.StartData(
                to_area_id=area_b.id, reason="refuge", heard_here="yes", agenda_circulated="yes"
            ),
        )
        sent = transfers.send_transfer(sender, started.id)
        transfer_id, carried = sent.id, set(sent.pack["categories"])
    with db.unit_of_work():
        accepted = transfers.accept_transfer(receiver, transfer_id)
        new_id = accepted.new_referral_id
    assert new_id is not None
    _record(scenario, "C13", new_id)
    for owners in scenario.markers.owners.values():
        for owner in list(owners):
            if owner.case == "C2" and owner.category in carried:
                owners.add(Owner("C13", owner.category, owner.agency, owner.field))
    scenario.told_by_transfer.add(("C2", "coordinator_b"))


def build_scenario(client: Any, issuer: str, token_for: Any) -> Scenario:
    """Everything, in order. ``token_for()`` gives the partner system a fresh bearer token."""
    scenario = build_people(issuer)
    trim_templates(scenario)
    build_referrals(scenario)
    build_api_referral(scenario, client, token_for())
    build_first_meeting(scenario)
    build_second_meeting(scenario)
    build_retention(scenario)
    build_transfer(scenario)
    with db.unit_of_work():
        highest = db.session().execute(select(Referral.id).order_by(Referral.id.desc())).scalar()
    scenario.missing_case_id = int(highest or 0) + 1000
    return scenario
