"""The cases a person may open: every sent case of the area the gate lets them know.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, select

from cases.facts import knowable
from cases.models import Referral, ReferralStatus
from cases.operations.lists import NEWEST_FIRST, ReferralPage
from hub.core.access import Actor, Permission
from hub.core.db import session
from hub.core.errors import Forbidden
from hub.core.paging import PAGE_SIZE, Window

#: A draft is its author's (on the referral list), a rejected referral never became a case.
NOT_A_CASE = (ReferralStatus.DRAFT, ReferralStatus.REJECTED)


def _cases_of(actor: Actor) -> Any:
    return and_(
        Referral.area_id == actor.area_id,
        Referral.status.notin_(NOT_A_CASE),
        knowable(actor),
    )


def open_cases(actor: Actor, page: int = 1, size: int = PAGE_SIZE) -> ReferralPage:
    """A page of the cases the actor may open, newest first, and how many there are.

    Whoever the case was shared with, whose agency it was given to, who is on its team or
    invited to its meeting finds it here by the same conditions the case page applies
    (walls, must-not-receive, the case team): the count and the rows come from one filter,
    so the total counts nothing the list would not show."""
    if not actor.can(Permission.REFERRALS_READ):
        raise Forbidden("You cannot list cases.")
    where = _cases_of(actor)
    total = session().execute(select(func.count(Referral.id)).where(where)).scalar_one()
    window = Window(page, size, int(total)).check("your cases")
    rows = list(
        session()
        .execute(
            select(Referral).where(where).order_by(*NEWEST_FIRST).limit(size).offset(window.offset)
        )
        .scalars()
    )
    return ReferralPage(rows, window)


def count_open_cases(actor: Actor) -> int:
    """How many cases ``open_cases`` lists for the actor (for the home page)."""
    if not actor.can(Permission.REFERRALS_READ) or actor.area_id is None:
        return 0
    where = _cases_of(actor)
    return int(session().execute(select(func.count(Referral.id)).where(where)).scalar_one())
