"""The agency's referrals and the search before referring, filtered in the query by the gate.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import false, or_, select

from cases import matching
from cases.facts import facts_many, knowable
from cases.models import (
    Person,
    Referral,
    ReferralStatus,
)
from cases.operations.submission import match_input
from consent import gate
from hub.core.access import Actor, Permission
from hub.core.db import session
from hub.core.errors import Forbidden, ValidationFailed


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
                    Referral.status != ReferralStatus.DRAFT,
                    Referral.referrer_id == actor.member_id
                    if actor.member_id is not None
                    else false(),
                ),
            )
            .order_by(Referral.created_at.desc())
        )
        .scalars()
    )


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
        if (score := matching.score_match(match_input(person), query)).level != "none"
    }
    # Only cases the searcher may know: the answer itself says "a MARAC case exists".
    referrals = (
        session()
        .execute(
            select(Referral)
            .where(
                Referral.victim_id.in_(list(scores)),
                Referral.status != ReferralStatus.DRAFT,
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
