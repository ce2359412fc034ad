"""Fixtures for conferences: accepted cases, a scheduled meeting, a meeting run to minutes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import time_machine

from agencies.models import Cadence
from hub.core import db
from hub.core.clock import LONDON, today_london
from meetings import conduct, services
from meetings.models import Meeting, MeetingKind
from tests.support import cases
from tests.support.cases import Names
from tests.support.world import World, actor_of

#: Victims and perpetrators for distinct cases (distinct names: no repeats, no matches).
PEOPLE = [
    (Names("Jane", "Example", date(1990, 5, 17)), Names("John", "Sample", date(1987, 2, 3))),
    (Names("Amira", "Khan", date(1992, 4, 3)), Names("Karl", "Stone", date(1985, 1, 1))),
    (Names("Bea", "Fielding", date(1979, 8, 9)), Names("Dev", "Morrow", date(1975, 3, 4))),
    (Names("Cara", "Lowell", date(2001, 1, 20)), Names("Eli", "Brant", date(1999, 6, 6))),
]


@contextmanager
def on_meeting_day(meeting_id: int) -> Iterator[None]:
    """Move the clock to the afternoon of the meeting's day, if it is still ahead: a meeting
    is closed once it has been held, never before its date."""
    with db.unit_of_work() as uow:
        held_on = uow.session.get(Meeting, meeting_id).held_on
    if held_on <= today_london():
        yield
        return
    with time_machine.travel(datetime.combine(held_on, time(15), LONDON), tick=True):
        yield


def accepted_case(
    world: World,
    referrer: str = "nurse",
    *,
    victim: Names | None = None,
    perpetrator: Names | None = None,
    index: int = 0,
) -> int:
    """A referral made by a persona, with consent, submitted and accepted by the coordinator."""
    who = actor_of(world[referrer])
    v, p = PEOPLE[index % len(PEOPLE)]
    referral_id = cases.draft(who, victim=victim or v, perpetrator=perpetrator or p)
    cases.with_consent(who, referral_id)
    cases.submit(who, referral_id)
    cases.accept(actor_of(world["coordinator"]), referral_id)
    return referral_id


def referred(
    world: World,
    referrer: str = "nurse",
    *,
    index: int = 0,
    victim: Names | None = None,
    perpetrator: Names | None = None,
    agency_types: list[str] | None = None,
    blocked: tuple[str, ...] = (),
    address: str | None = None,
    accepted_by: str = "coordinator",
) -> int:
    """A referral through the real services, as ``accepted_case``, with what the side-door
    tests need: consent for some kinds of agency only, hub members on the must-not-receive
    list, a victim's address of its own, and who accepts it."""
    from cases import services as referrals
    from consent.categories import ConsentState

    who = actor_of(world[referrer])
    v, p = PEOPLE[index % len(PEOPLE)]
    referral_id = cases.draft(who, victim=victim or v, perpetrator=perpetrator or p)
    with db.unit_of_work():
        referral = referrals.get_referral(referral_id)
        if blocked:
            referrals.save_details(
                who,
                referral,
                referrals.DetailsData(
                    incident="Assault at home on Friday night; police attended.",
                    victim_fears="The perpetrator and his brother",
                    victim_aware=True,
                    must_not_receive_member_ids=[world[k].member_id for k in blocked],
                ),
            )
        if address is not None:
            referrals.save_whereabouts(
                who,
                referral,
                referrals.WhereaboutsData(
                    address=address, safe_phone="07700 900999", safe_times="Evenings"
                ),
            )
        referrals.save_sharing(
            who,
            referral,
            referrals.SharingChoice(
                state=ConsentState.GIVEN,
                evidence="Verbally, in person, alone",
                recipient_agency_types=agency_types,
            ),
        )
    cases.submit(who, referral_id)
    cases.accept(actor_of(world[accepted_by]), referral_id)
    return referral_id


def add_person(world: World, key: str, agency: str, roles: frozenset[Any]) -> None:
    """Another member of the test area (a second coordinator, a housing representative)."""
    import pyotp

    from agencies import services as agencies
    from hub.auth import services as auth
    from hub.core.access import Actor
    from hub.core.clock import now
    from tests.support.world import AGENCIES, PASSWORD
    from tests.support.world import Person as WorldPerson

    system = Actor.system("test-world")
    with db.unit_of_work():
        email = f"{key.replace('_', '.')}@{AGENCIES[agency][3]}"
        member = agencies.add_member(
            system,
            agencies.MemberData(
                name=key.replace("_", " ").title(),
                email=email,
                agency_id=world.agencies[agency],
                roles=roles,
            ),
        )
        credential = auth.set_password(system, member, PASSWORD)
        secret = pyotp.random_base32()
        credential.totp_secret = secret
        credential.totp_confirmed_at = now()
        world.people[key] = WorldPerson(key, member.id, email, member.agency_id, secret)


def schedule(
    world: World,
    *,
    days_ahead: int = 14,
    kind: MeetingKind = MeetingKind.AD_HOC,
    cadence: Cadence | None = None,
    count: int = 1,
) -> list[int]:
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work():
        made = services.schedule_meetings(
            coordinator,
            services.ScheduleData(
                first_on=today_london() + timedelta(days=days_ahead),
                start_time=time(10, 0),
                venue="Town Hall, Room 2",
                kind=kind,
                cadence=cadence,
                count=count,
            ),
        )
        return [m.id for m in made]


@dataclass
class Conference:
    """A meeting with cases on its agenda, circulated to every agency."""

    meeting_id: int
    referral_ids: list[int]
    item_ids: list[int] = field(default_factory=list)


def circulated_meeting(
    world: World, referrers: tuple[str, ...] = ("nurse", "housing_officer"), *, days_ahead: int = 14
) -> Conference:
    referral_ids = [accepted_case(world, who, index=n) for n, who in enumerate(referrers)]
    (meeting_id,) = schedule(world, days_ahead=days_ahead)
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, meeting_id)
        services.build_agenda(coordinator, meeting)
        services.circulate_agenda(coordinator, meeting)
        item_ids = [i.id for i in meeting.items]
    return Conference(meeting_id, referral_ids, item_ids)


FULL_DISCUSSION = {
    "referrer_summary": "Strangulation on Friday; 15 Yes answers; escalating since separation.",
    "victim_views": "Wants to stay in the area; afraid of the perpetrator's brother.",
    "risk_victim": "Serious harm likely before the court date.",
    "risk_children": "Two children witnessed the assault.",
    "risk_perpetrator": "Breaching bail; uses cannabis daily.",
    "risk_professionals": "Threatened a housing officer in March.",
}


def run_to_close(
    world: World,
    conference: Conference,
    *,
    discussion: dict[str, Any] | None = None,
    actions: bool = True,
) -> None:
    """The chair records attendance, both cases and an action each, then closes."""
    from agencies.services import get_member

    chair = actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = uow.session.get(Meeting, conference.meeting_id)
        conduct.mark_confidentiality_read(chair, meeting)
        conduct.record_attendance(
            chair,
            meeting,
            conduct.AttendanceData(
                kind="present",
                agency_id=world.agencies["health"],
                name="Helen Rep",
                role="Safeguarding lead",
            ),
        )
        conduct.record_attendance(
            chair,
            meeting,
            conduct.AttendanceData(
                kind="present", agency_id=world.agencies["idva"], name="Ida Vale", role="IDVA"
            ),
        )
        for item in meeting.items:
            values = dict(discussion if discussion is not None else FULL_DISCUSSION)
            values["informs_victim_agency_id"] = world.agencies["idva"]
            values["informs_victim_name"] = "Ida Vale"
            if item.is_counter_allegation:
                values["primary_aggressor"] = "Information points to one primary aggressor."
            conduct.save_discussion(chair, meeting, item, values)
            if actions:
                owner = get_member(world["health_rep"].member_id)
                conduct.add_action(
                    chair,
                    meeting,
                    item,
                    conduct.ActionData(
                        text="Flag the records and offer a safe appointment",
                        owner_member_id=owner.id,
                        due_on=today_london() + timedelta(days=7),
                    ),
                )
            conduct.set_outcome(chair, meeting, item, "discussed")
    with on_meeting_day(conference.meeting_id), db.unit_of_work() as uow:
        conduct.close_meeting(chair, uow.session.get(Meeting, conference.meeting_id))


@pytest.fixture
def conference(world) -> Conference:
    return circulated_meeting(world)
