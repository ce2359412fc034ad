"""The demo area's last year: the MARACs Northbridge held before the hub, as an import.

An area that starts using the hub brings its past year with it (the cases heard, at which
meeting, with the monitoring answers the quarterly return counts), so that repeats are found
and the data return and dashboard show something real from the first day. The demo does the
same: twelve monthly meetings of 13 to 19 cases each, about 30 % of them repeats, referred
mostly by the police, all closed since. The rows are written as an import writes them, not
through the referral pages (nobody read or shared them in the hub), and the ledger records
the import once, with counts only.

Everything here is fictional and generated from a fixed seed, so every `make run` gives the
same year.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import case, func, select

from agencies import services as agencies
from agencies.models import Agency, AgencyType
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import matching
from cases.models import PartyRole, Person, PersonKey, Referral, ReferralParty, ReferralStatus
from hub.core.access import Actor
from hub.core.clock import LONDON, today_london
from hub.core.config import Settings
from hub.core.db import session
from meetings.models import (
    AgendaItem,
    ItemStatus,
    Meeting,
    MeetingKind,
    MeetingStatus,
    Minutes,
    MinutesStatus,
)
from returns import services as returns

#: Fictional names only (none is a demo case's person).
GIVEN_WOMEN = [
    "Amy", "Beth", "Chloe", "Donna", "Erin", "Faye", "Gemma", "Holly", "Isla", "Jade",
    "Kara", "Lucy", "Megan", "Nadia", "Olivia", "Paige", "Rachel", "Sophie", "Tara", "Yasmin",
]  # fmt: skip
GIVEN_MEN = [
    "Adam", "Ben", "Carl", "Dean", "Ethan", "Gary", "Jason", "Kieran", "Lee", "Neil",
    "Owen", "Paul", "Ross", "Scott", "Tony", "Wayne",
]  # fmt: skip
FAMILY = [
    "Archer", "Bailey", "Carter", "Doyle", "Ellis", "Fletcher", "Gray", "Hale", "Irwin",
    "Jennings", "Knight", "Lawson", "Marsh", "Nolan", "Osborne", "Parry", "Quinn", "Rhodes",
    "Shaw", "Thorne", "Vaughan", "Walton", "Yates", "Hussain", "Begum", "Okafor", "Mensah",
    "Nowicki", "Silva", "Khan",
]  # fmt: skip
#: Ethnicity as referrers write it (free text); blank when not asked.
ETHNICITIES = (
    ["White British"] * 34
    + ["White Irish", "Pakistani", "Indian", "Bangladeshi", "Black Caribbean", "Black African"]
    + ["Mixed White and Black Caribbean", "Polish", "Prefer not to say", ""]
)
#: Who refers, as a share of cases: the police about 64 %, the rest from partners.
REFERRERS = [
    ("Northbridge Police", 64),
    ("Northbridge IDVA Service", 10),
    ("Northbridge General Hospital", 7),
    ("Northbridge Children's Services", 6),
    ("Northbridge Homes", 4),
    ("Riverside Medical Practice", 3),
    ("Northbridge Mental Health Trust", 2),
    ("Probation Service Northbridge", 2),
    ("Safe Haven Refuge", 2),
]
#: The demo area's adult female population (fictional) for the return's volume measure.
DEMO_FEMALE_POPULATION = 104_000
MEETINGS = 12
SEED = 2026


def _birthday(rng: random.Random, on: date, youngest: int, oldest: int) -> date:
    return on - timedelta(days=rng.randint(youngest * 365 + 1, oldest * 365 + 300))


def _person(area_id: int, rng: random.Random, on: date, *, woman: bool, young: bool) -> Person:
    given = rng.choice(GIVEN_WOMEN if woman else GIVEN_MEN)
    family = rng.choice(FAMILY)
    born = _birthday(rng, on, 16, 17) if young else _birthday(rng, on, 19, 62)
    return Person(
        area_id=area_id,
        given_name=given,
        family_name=family,
        born_on=born if rng.random() > 0.04 else None,
        gender="Female" if woman else "Male",
        language="English",
        ethnicity=rng.choice(ETHNICITIES),
        disability=rng.choices(["yes", "no", "not_known"], [14, 60, 26])[0],
        lgbt=rng.choices(["yes", "no", "not_known"], [3, 62, 35])[0],
    )


def _keyed(person: Person) -> Person:
    """The person with the name keys repeat matching reads, as the referral pages write them."""
    person.match_key = matching.match_key(person.given_name, person.family_name)
    person.keys = [
        PersonKey(key=key, area_id=person.area_id)
        for key in sorted(matching.name_keys(person.given_name, person.family_name))
    ]
    return person


def _agencies(area_id: int) -> list[tuple[Agency, int]]:
    found = []
    for name, weight in REFERRERS:
        agency = agencies.find_agency_by_name(name)
        if agency is not None and agency.area_id == area_id:
            found.append((agency, weight))
    return found


def seed_history(settings: Settings) -> list[str]:
    """Import the demo area's last year of meetings and cases; a second run adds nothing."""
    from hub import demo

    if settings.is_production:
        raise demo.DemoRefused("the demo area is never available in production")
    area = agencies.get_area_by_name(demo.AREA)
    if area is None:
        return []
    today = today_london()
    first_of_month = today.replace(day=1)
    already = session().execute(
        select(func.count(Meeting.id)).where(
            Meeting.area_id == area.id, Meeting.held_on < first_of_month
        )
    )
    if already.scalar_one():
        return [_summary(area.id, first_of_month)]
    rng = random.Random(SEED)  # noqa: S311  # fictional data, the same on every run
    referrers = _agencies(area.id)
    coordinator = agencies.find_member_by_email("coordinator@csp.northbridge.example")
    chair = agencies.find_member_by_email(f"chair@{demo.AGENCIES[1][3]}")
    numbers: dict[int, int] = {}
    heard: list[tuple[Referral, date]] = []
    meetings = cases = repeats = 0
    for back in range(MEETINGS, 0, -1):
        month = first_of_month
        for _ in range(back):
            month = (month - timedelta(days=1)).replace(day=1)
        held_on = _second_tuesday(month)
        meeting = Meeting(
            area_id=area.id,
            held_on=held_on,
            start_time=time(10, 0),
            venue="Northbridge Civic Centre, Committee Room 3",
            kind=MeetingKind.SCHEDULED,
            cadence="monthly",
            cutoff_on=held_on - timedelta(days=5),
            status=MeetingStatus.HELD,
            chair_id=chair.id if chair else None,
            coordinator_id=coordinator.id if coordinator else None,
            circulated_at=_at(held_on - timedelta(days=4)),
            closed_at=_at(held_on, 13),
            created_at=_at(held_on - timedelta(days=30)),
        )
        session().add(meeting)
        session().flush()
        meetings += 1
        for position in range(1, rng.randint(13, 19) + 1):
            referred_on = held_on - timedelta(days=rng.randint(6, 20))
            earlier = [r for r, on in heard if (held_on - on).days <= 365]
            repeat_of = rng.choice(earlier) if earlier and rng.random() < 0.3 else None
            referral = _referral(area.id, rng, referrers, referred_on, numbers, repeat_of)
            referral.referrer_id = None
            referral.decided_by_id = coordinator.id if coordinator else None
            referral.closed_by_id = coordinator.id if coordinator else None
            session().add(
                AgendaItem(
                    meeting_id=meeting.id,
                    referral_id=referral.id,
                    position=position,
                    is_repeat=referral.is_repeat,
                    status=ItemStatus.DISCUSSED,
                    added_by_id=coordinator.id if coordinator else None,
                    added_at=_at(held_on - timedelta(days=5)),
                )
            )
            heard.append((referral, held_on))
            cases += 1
            repeats += referral.is_repeat
        session().add(
            Minutes(
                meeting_id=meeting.id,
                status=MinutesStatus.DISTRIBUTED,
                approved_at=_at(held_on + timedelta(days=2)),
                approved_by_id=chair.id if chair else None,
                distributed_at=_at(held_on + timedelta(days=3)),
                distributed_by_id=coordinator.id if coordinator else None,
                revision=1,
            )
        )
    found = returns.settings_of(area.id)
    if found.female_population is None:
        found.female_population = DEMO_FEMALE_POPULATION
        found.population_source = "Fictional figure for the demo area"
        found.population_year = today.year - 1
        session().add(found)
    session().flush()
    record(
        Actor.system("demo-seed"),
        LedgerAction.AREA_HISTORY_IMPORTED,
        Subject("area", area.id),
        meetings=meetings,
        cases=cases,
        repeats=repeats,
    )
    return [_summary(area.id, first_of_month)]


def _summary(area_id: int, before: date) -> str:
    """What the imported year holds, said the same on every run."""
    meetings, cases, repeats = (
        session()
        .execute(
            select(
                func.count(func.distinct(Meeting.id)),
                func.count(AgendaItem.id),
                func.coalesce(func.sum(case((AgendaItem.is_repeat, 1), else_=0)), 0),
            )
            .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
            .where(
                Meeting.area_id == area_id, Meeting.held_on < before, Meeting.cadence == "monthly"
            )
        )
        .one()
    )
    return (
        f"Its last year before the hub: {meetings} monthly meetings, {cases} cases heard "
        f"({repeats} repeats), imported for the data return and repeat checks."
    )


def _second_tuesday(month: date) -> date:
    day = month + timedelta(days=(1 - month.weekday()) % 7)  # the first Tuesday
    return day + timedelta(days=7)


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LONDON)


def _referral(
    area_id: int,
    rng: random.Random,
    referrers: list[tuple[Agency, int]],
    referred_on: date,
    numbers: dict[int, int],
    repeat_of: Referral | None,
) -> Referral:
    young = rng.random() < 0.02
    woman = rng.random() > 0.05
    if repeat_of is not None and repeat_of.victim is not None:
        earlier = repeat_of.victim
        victim = Person(area_id=area_id, **{c: getattr(earlier, c) for c in _PERSON_COLUMNS})
    else:
        victim = _person(area_id, rng, referred_on, woman=woman, young=young)
    perpetrator = _person(area_id, rng, referred_on, woman=not woman, young=False)
    _keyed(victim)
    _keyed(perpetrator)
    if rng.random() < 0.015:
        perpetrator.born_on = _birthday(rng, referred_on, 16, 17)  # a young perpetrator
    numbers[referred_on.year] = numbers.get(referred_on.year, 0) + 1
    agency = rng.choices([a for a, _ in referrers], [w for _, w in referrers])[0]
    submitted = _at(referred_on, 11)
    referral = Referral(
        area_id=area_id,
        reference=f"NO-{referred_on.year}-H{numbers[referred_on.year]:03d}",
        status=ReferralStatus.CLOSED,
        referring_agency_id=agency.id,
        victim=victim,
        referred_on=referred_on,
        visible_high_risk=True,
        potential_escalation=rng.random() < 0.3,
        is_repeat=repeat_of is not None,
        previous_referral_id=repeat_of.id if repeat_of is not None else None,
        victim_aware=True,
        children_count=rng.choices([0, 1, 2, 3, None], [40, 25, 18, 9, 8])[0],
        reported_to_police=agency.type == AgencyType.POLICE or rng.random() < 0.5,
        referral_basis="6(1)(e)",
        submitted_at=submitted,
        decided_at=submitted + timedelta(days=1),
        closed_at=min(submitted + timedelta(days=rng.randint(30, 60)), _at(today_london())),
        closure_reason="Imported from the area's records before the hub: closed.",
        created_at=submitted,
        updated_at=submitted,
    )
    session().add(referral)
    session().flush()
    session().add(
        ReferralParty(referral_id=referral.id, person=perpetrator, role=PartyRole.PERPETRATOR.value)
    )
    return referral


_PERSON_COLUMNS = (
    "given_name",
    "family_name",
    "born_on",
    "gender",
    "language",
    "ethnicity",
    "disability",
    "lgbt",
)
