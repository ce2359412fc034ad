"""Held meetings written as rows, for the return's counts: each case described plainly, so
the tests can count what they expect from the description, not with the hub's code."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, time

from cases.models import PartyRole, Person, Referral, ReferralParty, ReferralStatus
from hub.core import db
from meetings.models import AgendaItem, ItemStatus, Meeting, MeetingStatus
from tests.support.world import World

_numbers = itertools.count(1)


@dataclass
class Case:
    """One referral as heard: who referred it, its victim, its perpetrators' birthdays."""

    agency: str = "police"
    ethnicity: str = "White British"
    gender: str = "Female"
    victim_born_on: date | None = date(1990, 1, 1)
    disability: str = "no"
    lgbt: str = "no"
    children: int | None = 0
    repeat: bool = False
    perpetrators: list[date | None] = field(default_factory=lambda: [date(1985, 1, 1)])
    referred_on: date = date(2026, 3, 1)


def hold(
    world: World,
    held_on: date,
    cases: list[Case],
    *,
    status: MeetingStatus = MeetingStatus.HELD,
    deferred: list[Case] = (),  # type: ignore[assignment]
) -> dict[int, int]:
    """A meeting of the test area with these cases discussed (and those deferred from it);
    returns {id(case): referral id} so a deferred case can be heard again later."""
    return hold_again(world, held_on, [(c, None) for c in cases], status=status, deferred=deferred)


def hold_again(
    world: World,
    held_on: date,
    cases: list[tuple[Case, int | None]],
    *,
    status: MeetingStatus = MeetingStatus.HELD,
    deferred: list[Case] = (),  # type: ignore[assignment]
) -> dict[int, int]:
    made: dict[int, int] = {}
    with db.unit_of_work() as uow:
        s = uow.session
        meeting = Meeting(
            area_id=world.area_id,
            held_on=held_on,
            start_time=time(10),
            cutoff_on=held_on,
            status=status,
        )
        s.add(meeting)
        s.flush()
        rows = [(c, rid, ItemStatus.DISCUSSED) for c, rid in cases]
        rows += [(c, None, ItemStatus.DEFERRED) for c in deferred]
        for position, (case, referral_id, outcome) in enumerate(rows, start=1):
            if referral_id is None:
                referral_id = _referral(s, world, case)
            made[id(case)] = referral_id
            s.add(
                AgendaItem(
                    meeting_id=meeting.id,
                    referral_id=referral_id,
                    position=position,
                    status=outcome,
                    is_repeat=case.repeat,
                )
            )
        s.flush()
    return made


def _referral(s, world: World, case: Case) -> int:
    n = next(_numbers)
    victim = Person(
        area_id=world.area_id,
        given_name=f"Victim{n}",
        family_name="Tally",
        born_on=case.victim_born_on,
        gender=case.gender,
        ethnicity=case.ethnicity,
        disability=case.disability,
        lgbt=case.lgbt,
    )
    s.add(victim)
    s.flush()
    referral = Referral(
        area_id=world.area_id,
        reference=f"RT-{n:05d}",
        status=ReferralStatus.HEARD,
        referring_agency_id=world.agencies[case.agency],
        victim_id=victim.id,
        referred_on=case.referred_on,
        is_repeat=case.repeat,
        children_count=case.children,
    )
    s.add(referral)
    s.flush()
    for m, born_on in enumerate(case.perpetrators):
        perpetrator = Person(
            area_id=world.area_id,
            given_name=f"Perp{n}x{m}",
            family_name="Tally",
            born_on=born_on,
        )
        s.add(perpetrator)
        s.flush()
        s.add(
            ReferralParty(
                referral_id=referral.id,
                person_id=perpetrator.id,
                role=PartyRole.PERPETRATOR.value,
            )
        )
    s.flush()
    return referral.id
