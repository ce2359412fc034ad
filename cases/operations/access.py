"""Loading a case through the gate, acting on it, and recording why an agency needs to know it.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from sqlalchemy import select

from audit.actions import LedgerAction
from cases.facts import case_facts, facts_many
from cases.models import (
    GrantKind,
    NeedToKnowGrant,
    Referral,
    WhereaboutsReveal,
)
from consent import gate
from consent.categories import (
    CASE_CATEGORIES,
    Category,
    Purpose,
)
from hub.core.access import Actor
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import NO_SUCH_CASE, Forbidden, NotFound, Refused

# --- loading ------------------------------------------------------------------------------


def find_referral(referral_id: int) -> Referral | None:
    """A referral by id, or None: for code that decides access, never for display."""
    return session().get(Referral, referral_id)


def get_referral(referral_id: int) -> Referral:
    """Load a referral by id for code that has already been through the gate (or is the
    hub itself); never for showing or changing a case on someone's behalf."""
    referral = session().get(Referral, referral_id)
    if referral is None:
        raise NotFound(NO_SUCH_CASE)
    return referral


def open_case(
    actor: Actor,
    referral_id: int,
    categories: list[Category] | None = None,
    *,
    purpose: Purpose | None = None,
    reveal_reason: str | None = None,
    action: str = LedgerAction.CASE_VIEWED,
) -> tuple[Referral, gate.Disclosure]:
    """Load a case through the gate. Every refusal is the concealed 404 of a missing case."""
    referral = session().get(Referral, referral_id)
    if referral is None:
        gate.refuse(actor, referral_id, "no_such_case", attempted=action)
        raise Refused(NO_SUCH_CASE, conceal=True, code="no_such_case")
    # The reason is kept first, so that the reveal's ledger entry can name it; a reveal the
    # gate does not grant takes its reason away again, in the same unit of work.
    reveal = None
    if reveal_reason:
        reveal = WhereaboutsReveal(
            referral_id=referral.id, member_id=actor.member_id, reason=reveal_reason.strip()[:2000]
        )
        session().add(reveal)
        session().flush()
    disclosure = gate.disclose(
        actor,
        case_facts(referral),
        categories or list(CASE_CATEGORIES),
        purpose,
        reveal_reason=reveal_reason,
        reveal_ref=reveal.id if reveal is not None else None,
        action=action,
    )
    if reveal is not None and (disclosure.refused or not disclosure.allows(Category.WHEREABOUTS)):
        session().delete(reveal)
        session().flush()
    if disclosure.refused:
        raise Refused(NO_SUCH_CASE, conceal=True, code=disclosure.refusal_code)
    return referral, disclosure


def case_for_action(actor: Actor, referral_id: int, operation: str) -> Referral:
    """Load a case the actor is about to act on, through the gate (a refusal is a 404)."""
    referral = session().get(Referral, referral_id)
    if referral is None:
        gate.refuse(actor, referral_id, "no_such_case", attempted=operation)
        raise Refused(NO_SUCH_CASE, conceal=True, code="no_such_case")
    act_on(actor, referral, operation)
    return referral


def forbid(actor: Actor, referral: Referral, operation: str, message: str) -> Forbidden:
    """Record that someone who may know the case was refused an operation on it, and give
    the error to raise (every refusal is in the ledger, not only the gate's)."""
    gate.refuse(actor, referral.id, "not_permitted", area_id=referral.area_id, attempted=operation)
    return Forbidden(message)


def act_on(actor: Actor, referral: Referral, operation: str) -> gate.Permit:
    """Ask the gate whether the actor may act on this case at all, before anything else.

    Every service that writes on a case calls this first: walls, must-not-receive, the area
    and need to know refuse a write exactly as they refuse a read.
    """
    return gate.authorise(actor, case_facts(referral), operation)


def grant_need_to_know(
    actor: Actor,
    referral_id: int,
    agency_id: int,
    kind: GrantKind,
    *,
    purpose: Purpose,
    source: str,
) -> NeedToKnowGrant:
    """Record that an agency needs to know a case, and why (read by the gate)."""
    existing = (
        session()
        .execute(
            select(NeedToKnowGrant).where(
                NeedToKnowGrant.referral_id == referral_id,
                NeedToKnowGrant.agency_id == agency_id,
                NeedToKnowGrant.kind == kind.value,
                NeedToKnowGrant.source == source,
            )
        )
        .scalar_one_or_none()
    )
    if existing is not None:
        return existing
    grant = NeedToKnowGrant(
        referral_id=referral_id,
        agency_id=agency_id,
        kind=kind.value,
        purpose=purpose.value,
        source=source,
        granted_by_id=actor.member_id,
        granted_at=now(),
    )
    session().add(grant)
    session().flush()
    return grant


def disclose_list(
    actor: Actor, referrals: list[Referral], categories: list[Category], *, action: str
) -> dict[int, gate.Disclosure]:
    """One gate decision per case of a list, in constant queries (refused ones left out)."""
    facts = facts_many(referrals)
    return gate.disclose_many(actor, [facts[r.id] for r in referrals], categories, action=action)
