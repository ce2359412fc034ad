"""Who may learn of a task: the gate's rules 1-3 for the task's case, applied to the to-do lists.

A task about no case is its agency's business alone. A task about a case exists for a person
only when that person may know the case (``consent.gate``: a current information sharing
protocol, no conflict wall, not on the must-not-receive list, need to know), so:

* every list and count filters in the query, before paging and counting (``only_knowable``);
* a task is given only to someone who may know its case, and nobody is e-mailed about a task
  of a case they may not (or may no longer) know (``who_may_know``).

Nothing here shows content or records a disclosure: the presenter (``todo.presenter``) shows
a task's case content, from the gate's ``Disclosure``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from agencies.models import Agency, Member
from agencies.services import actor_for
from cases.facts import facts_many, knowable
from cases.models import Referral
from consent import gate
from hub.core.access import Actor
from hub.core.db import session
from todo.models import Task

SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


def only_knowable(actor: Actor, statement: SelectT) -> SelectT:
    """Keep the tasks about no case, or about a case the actor may know, in the SQL itself.

    The case is joined by its primary key, so the gate's conditions are checked only for the
    rows the rest of the query selects (an index range of one owner's or one agency's tasks).
    """
    _hold_agency(actor)
    return statement.outerjoin(Referral, Referral.id == Task.referral_id).where(
        or_(Task.referral_id.is_(None), knowable(actor))
    )


def _hold_agency(actor: Actor) -> None:
    """Keep the reader's agency in the unit of work's identity map (which holds rows only
    weakly), so the several lists and counts of one page do not each read it again."""
    if actor.agency_id is not None:
        held = session().info.setdefault("todo.held_agencies", {})
        if actor.agency_id not in held:
            held[actor.agency_id] = session().get(Agency, actor.agency_id)


def who_may_know(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (member id, case id) pairs where the member may know the case, in a few queries."""
    wanted = set(pairs)
    if not wanted:
        return set()
    referrals = (
        session()
        .execute(select(Referral).where(Referral.id.in_({case for _m, case in wanted})))
        .scalars()
        .all()
    )
    facts = facts_many(referrals)
    members = (
        session()
        .execute(
            select(Member)
            .options(selectinload(Member.role_rows), selectinload(Member.agency))
            .where(Member.id.in_({member for member, _c in wanted}))
        )
        .scalars()
        .all()
    )
    actors = {m.id: actor_for(m) for m in members}
    return {
        (member, case)
        for member, case in wanted
        if member in actors and case in facts and gate.would_know(actors[member], facts[case])
    }


def may_know(member_id: int, referral_id: int | None) -> bool:
    """Whether a member may know a task's case (always, for a task about no case)."""
    return referral_id is None or (member_id, referral_id) in who_may_know(
        [(member_id, referral_id)]
    )
