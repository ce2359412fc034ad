"""A realistic year at a MARAC, then years later: the cases retention must deal with."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import time_machine
from sqlalchemy import select, update

from agencies.models import Agency
from cases import services as referrals
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import now
from meetings import minutes
from meetings.models import Meeting
from retention import policy
from retention.jobs import run_retention
from retention.models import RecordClass, RetentionAction, Trigger
from tests.meetings.conftest import PEOPLE, circulated_meeting, referred, run_to_close
from tests.support.world import World, actor_of

#: What the destroyed cases' people and places are called: none of it may survive them.
HEARD_PEOPLE = [name for pair in PEOPLE[:2] for n in pair for name in (n.given, n.family)]
HEARD_BIRTHDAYS = [n.born_on.isoformat() for pair in PEOPLE[:2] for n in pair if n.born_on]
HEARD_TEXT = ["Secret Street", "07700 900123", "Strangulation on Friday", "Flag the records"]
#: The case on legal hold keeps its own.
HELD_ADDRESS = "3 Willow Lane"


@dataclass
class Year:
    """Two cases heard at a meeting, minuted and closed; a third accepted, not heard."""

    meeting_id: int
    heard: list[int]
    other: int
    coordinator: Actor


def a_year(world: World) -> Year:
    # Years pass in these tests: the agencies renew their information sharing protocol.
    with db.unit_of_work() as uow:
        uow.session.execute(update(Agency).values(isp_review_due_on=date(2100, 1, 1)))
    conference = circulated_meeting(world)
    run_to_close(world, conference)
    chair = actor_of(world["chair"])
    coordinator = actor_of(world["coordinator"])
    with db.unit_of_work() as uow:
        minutes.approve_minutes(chair, uow.session.get_one(Meeting, conference.meeting_id))
    for case_id in conference.referral_ids:
        with db.unit_of_work():
            referrals.close_referral(
                coordinator, referrals.get_referral(case_id), "Heard; actions complete."
            )
    other = referred(world, "police_officer", index=2, address=HELD_ADDRESS)
    return Year(conference.meeting_id, conference.referral_ids, other, coordinator)


def adopt(actor: Actor, **changes: tuple[int, Trigger, RetentionAction]) -> int:
    """Adopt the defaults, with some classes changed: {class: (months, trigger, action)}."""
    rules = {
        c.value: (r.months, r.trigger.value, r.action.value) for c, r in policy.DEFAULTS.items()
    }
    for key, (months, trigger, action) in changes.items():
        rules[RecordClass(key).value] = (months, trigger.value, action.value)
    with db.unit_of_work():
        return policy.adopt_policy(
            actor, policy.PolicyData(rules=rules, source="Testshire schedule, MAR 01.02")
        ).version


@contextlib.contextmanager
def years_later(years: float, days: int = 0) -> Iterator[datetime]:
    moment = now() + timedelta(days=int(365.25 * years) + days)
    with time_machine.travel(moment, tick=False):
        yield moment


def nightly(**kwargs: Any) -> list[tuple[int, dict[str, int], dict[str, int]]]:
    return run_retention(**kwargs)


def all_rows_text(*, skip: tuple[str, ...] = ("audit_",)) -> str:
    """Every row of every table but the ledger's, as text (to look for what must be gone)."""
    from hub.core.db import Base

    parts = []
    with db.unit_of_work() as uow:
        for table in Base.metadata.sorted_tables:
            if table.name.startswith(skip):
                continue
            for row in uow.session.execute(select(table)):
                parts.append(f"{table.name}: {tuple(row)!r}")
    return "\n".join(parts)
