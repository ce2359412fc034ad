"""Fixtures for the to-do list tests: real cases, made through the referral services, with
real sharing, case teams, conflict walls and must-not-receive lists. The gate itself decides
who may know each case; nothing here stands in for it."""

from __future__ import annotations

import itertools
import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from agencies import services as agencies
from audit.models import AuditEntry
from cases import services as referrals
from consent.categories import Purpose
from hub.core import db
from hub.core.access import Actor, Role
from tests.support import cases
from tests.support.cases import Names
from tests.support.world import World, actor_of

_numbers = itertools.count(1)


def _people() -> tuple[Names, Names]:
    """A victim and a perpetrator no other case of the test names (no repeats, no pairs)."""
    n = next(_numbers)
    return (
        Names("Jane", f"Example{n}", date(1990, 5, 17)),
        Names("John", f"Sample{n}", date(1987, 2, 3)),
    )


def police_case(
    world: World,
    *,
    consent: bool = True,
    must_not_receive: tuple[str, ...] = (),
) -> int:
    """A police officer's referral, complete and submitted (not yet accepted, so no template
    tasks of its own): the officer, the police MARAC representative, the chair (police) and
    the coordinator know it; no other agency does until it is given the case.

    ``consent=False`` records a request to share without consent that nobody has approved:
    no agency beyond the police has a basis for any category, minutes included.
    """
    officer = actor_of(world["police_officer"])
    victim, perpetrator = _people()
    referral_id = cases.draft(officer, victim=victim, perpetrator=perpetrator)
    if must_not_receive:
        with db.unit_of_work():
            referrals.save_details(
                officer,
                referrals.get_referral(referral_id),
                referrals.DetailsData(
                    incident="Assault at home on Friday night; police attended.",
                    victim_fears="The perpetrator and his brother",
                    reported_to_police=True,
                    crime_reference="CR/123/26",
                    victim_aware=True,
                    must_not_receive_member_ids=[world[k].member_id for k in must_not_receive],
                ),
            )
    if consent:
        cases.with_consent(officer, referral_id)
    else:
        cases.without_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    return referral_id


def reference_of(referral_id: int) -> str:
    with db.unit_of_work():
        return referrals.get_referral(referral_id).reference


def share(world: World, referral_id: int, agency: str) -> None:
    """The referring officer gives the case to another agency (its template fills its queue)."""
    with db.unit_of_work():
        referrals.share_case(
            actor_of(world["police_officer"]),
            referrals.get_referral(referral_id),
            world.agencies[agency],
            Purpose.MARAC,
        )


def representative(world: World, agency: str) -> Actor:
    """The agency's MARAC representative: the world's, or one made for an agency without."""
    for person in world.people.values():
        if person.agency_id == world.agencies[agency]:
            found = actor_of(person)
            if found.has_role(Role.MARAC_REP):
                return found
    with db.unit_of_work():
        member = agencies.add_member(
            Actor.system("test"),
            agencies.MemberData(
                name=f"{agency.title()} Representative",
                email=f"rep@{agency}.rep.test",
                agency_id=world.agencies[agency],
                roles=frozenset({Role.MARAC_REP}),
            ),
        )
        return agencies.actor_for(member)


def on_team(world: World, referral_id: int, member: str) -> None:
    """The member's MARAC representative puts them on the case team."""
    rep = representative(world, _agency_key(world, member))
    with db.unit_of_work():
        referrals.add_to_team(rep, referrals.get_referral(referral_id), world[member].member_id)


def wall_off(world: World, referral_id: int, member: str) -> None:
    """The member's agency serves the perpetrator too: their representative walls them off."""
    rep = representative(world, _agency_key(world, member))
    with db.unit_of_work():
        referrals.add_conflict_wall(
            rep,
            referrals.get_referral(referral_id),
            perpetrator_worker_id=world[member].member_id,
            victim_worker_id=None,
        )


def _agency_key(world: World, member: str) -> str:
    return next(k for k, v in world.agencies.items() if v == world[member].agency_id)


def refusals(case_id: int | None = None) -> list[dict[str, Any]]:
    """The ledger's refusal entries (optionally those about one case), oldest first."""
    with db.unit_of_work() as uow:
        bodies = uow.session.execute(
            select(AuditEntry.body)
            .where(AuditEntry.action == "access:denied")
            .order_by(AuditEntry.id)
        ).scalars()
        found = [json.loads(b) for b in bodies]
    return [e for e in found if case_id is None or e.get("case") == case_id]


@pytest.fixture
def referral(world: Any) -> int:
    """A submitted police case with consent to share with every agency type."""
    return police_case(world)


@pytest.fixture
def actors(world: Any) -> Any:
    """actors["police_officer"] -> the Actor a persona acts as."""

    class Actors(dict):
        def __missing__(self, key: str) -> Actor:
            self[key] = actor_of(world[key])
            return self[key]

    return Actors()
