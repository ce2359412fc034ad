"""The agency's referrals and the search before referring, filtered in the query by the gate.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, false, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased

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
from hub.core.paging import PAGE_SIZE, Window


@dataclass(frozen=True)
class ReferralPage:
    """One page of a list of referrals, newest first, and how many the whole list holds."""

    referrals: list[Referral]
    window: Window
    #: Of ``window.total``, the actor's own drafts (listed before the sent referrals).
    drafts: int = 0


#: Newest first; the id orders referrals started in the same instant, so pages never
#: overlap or skip a row.
NEWEST_FIRST = (Referral.created_at.desc(), Referral.id.desc())


def _rows(where: Any, limit: int, offset: int) -> list[Referral]:
    return list(
        session()
        .execute(select(Referral).where(where).order_by(*NEWEST_FIRST).limit(limit).offset(offset))
        .scalars()
    )


def _parts(parts: list[tuple[Any, int, int]]) -> list[Referral]:
    """Slices of the list in order (condition, limit, offset), each one ordered and sliced
    in SQL on its own, all in one statement (UNION ALL), so a page costs the same number of
    statements whichever parts it spans."""
    legs = [
        select(Referral, literal(n).label("part"))
        .where(where)
        .order_by(*NEWEST_FIRST)
        .limit(limit)
        .offset(offset)
        .subquery()
        for n, (where, limit, offset) in enumerate(parts)
    ]
    union = union_all(*(select(leg) for leg in legs)).subquery()
    row = aliased(Referral, union)
    return list(
        session()
        .execute(select(row).order_by(union.c.part, union.c.created_at.desc(), union.c.id.desc()))
        .scalars()
    )


def agency_referrals(actor: Actor, page: int = 1, size: int = PAGE_SIZE) -> ReferralPage:
    """A page of the referrals the actor's agency made, newest first (references and
    statuses), and how many there are: the cases the actor may know, counted as listed."""
    if not actor.can(Permission.REFERRALS_READ):
        raise Forbidden("You cannot list referrals.")
    where = and_(Referral.referring_agency_id == actor.agency_id, knowable(actor))
    total = session().execute(select(func.count(Referral.id)).where(where)).scalar_one()
    window = Window(page, size, int(total)).check("the referrals")
    return ReferralPage(_rows(where, size, window.offset), window)


def my_referrals(actor: Actor, page: int = 1, size: int = PAGE_SIZE) -> ReferralPage:
    """A page of the referrals of the actor's agency that the actor may know: walls,
    must-not-receive and the case team apply here as on the case page. Drafts only for their
    author, listed first (newest first), then the sent referrals, newest first.

    The count and each page's rows come from the same conditions, so the total counts
    nothing the list would not show; the rows are LIMIT/OFFSET in SQL, the drafts and the
    sent ones each in their own query ordered as the index on the agency and the time
    started serves."""
    own = and_(Referral.referring_agency_id == actor.agency_id, knowable(actor))
    is_draft = Referral.status == ReferralStatus.DRAFT
    authored = Referral.referrer_id == actor.member_id if actor.member_id is not None else false()
    drafts, sent = and_(own, is_draft, authored), and_(own, ~is_draft)
    total, draft_count = (
        session()
        .execute(
            select(func.count(Referral.id), func.count(Referral.id).filter(is_draft)).where(
                own, or_(~is_draft, authored)
            )
        )
        .one()
    )
    total, draft_count = int(total), int(draft_count or 0)
    window = Window(page, size, total).check("your agency's referrals")
    # The page's drafts (positions start.. of draft_count), then as many sent ones as fit.
    start = window.offset
    from_drafts = max(0, min(size, draft_count - start))
    rows = _parts(
        [
            (drafts, from_drafts, min(start, draft_count)),
            (sent, size - from_drafts, max(0, start - draft_count)),
        ]
    )
    return ReferralPage(rows, window, draft_count)


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
