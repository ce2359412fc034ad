"""Fixtures for the to-do list tests: referrals as bare rows, a controllable case gate."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.core import db
from hub.core.access import Actor
from tests.support.world import actor_of

_numbers = itertools.count(1)


def make_referral(
    world: Any,
    agency_key: str = "police",
    referrer: str = "police_officer",
    status: str = "accepted",
) -> int:
    """A referral row with nothing in it but ids: the to-do tests need only something to point
    at (the referral journey has its own tests)."""
    from hub.referrals.models import Referral

    with db.unit_of_work() as uow:
        referral = Referral(
            area_id=world.area_id,
            reference=f"TS-2026-{next(_numbers):04d}",
            status=status,
            referring_agency_id=world.agencies[agency_key],
            referrer_id=world[referrer].member_id,
        )
        uow.session.add(referral)
        uow.session.flush()
        return referral.id


@dataclass
class CaseGate:
    """Stands in for the disclosure gate: everyone sees every case unless denied here."""

    denied: set[tuple[int, int]] = field(default_factory=set)
    references: dict[int, str] = field(default_factory=dict)
    asked: list[tuple[int | None, int]] = field(default_factory=list)

    def deny(self, member_id: int, referral_id: int) -> None:
        self.denied.add((member_id, referral_id))

    def can_see(self, actor: Actor, referral_id: int) -> bool:
        self.asked.append((actor.member_id, referral_id))
        return (actor.member_id or 0, referral_id) not in self.denied

    def reference(self, actor: Actor, referral_id: int) -> str | None:
        return self.references.get(referral_id)


@pytest.fixture
def gate(app: Any) -> CaseGate:
    found = CaseGate()
    app.extensions["hub.case_visibility"] = found.can_see
    app.extensions["hub.case_reference"] = found.reference
    return found


@pytest.fixture
def referral(world: Any, gate: CaseGate) -> int:
    referral_id = make_referral(world)
    with db.unit_of_work() as uow:
        from hub.referrals.models import Referral

        gate.references[referral_id] = uow.session.get(Referral, referral_id).reference
    return referral_id


@pytest.fixture
def actors(world: Any) -> Any:
    """actors["police_officer"] -> the Actor a persona acts as."""

    class Actors(dict):
        def __missing__(self, key: str) -> Actor:
            self[key] = actor_of(world[key])
            return self[key]

    return Actors()
