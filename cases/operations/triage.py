"""The coordinator's decisions: accept, reject, defer, close, the primary-aggressor note, the inbox.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from agencies.models import Agency, AgencyType
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import lifecycle
from cases.events import CaseGiven, GivenBy
from cases.facts import knowable
from cases.lifecycle import Decision
from cases.models import Referral, ReferralStatus
from cases.operations.access import act_on, forbid
from cases.operations.sharing import share_case
from consent.categories import (
    Purpose,
)
from hub.core.access import Actor, Permission
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.core.events import publish


def require_triage(
    actor: Actor, referral: Referral, operation: str = LedgerAction.REFERRAL_TRIAGED
) -> None:
    act_on(actor, referral, operation)
    if not actor.can(Permission.REFERRALS_TRIAGE):
        raise forbid(
            actor,
            referral,
            operation,
            "Only the MARAC coordinator can accept, reject or defer referrals.",
        )
    if referral.area_id != actor.area_id:
        raise NotFound("There is no such case.")


def accept_referral(actor: Actor, referral: Referral, *, version: int | None = None) -> Referral:
    """Accept for the next conference; offer the IDVA service the case (every MARAC victim)."""
    require_triage(actor, referral)
    if version is not None and referral.version != version:
        raise Conflict("Someone else changed this referral. Reload the page.")
    lifecycle.move(referral, Decision.ACCEPT)
    referral.decided_at = now()
    referral.decided_by_id = actor.member_id
    referral.decision_reason = ""
    session().flush()
    record(actor, LedgerAction.REFERRAL_ACCEPTED, Subject("case", referral.id), case=referral.id)
    publish(CaseGiven(actor, referral.id, referral.referring_agency_id, GivenBy.ACCEPTED))
    idva_services = (
        session()
        .execute(
            select(Agency).where(
                Agency.area_id == referral.area_id,
                Agency.type == AgencyType.IDVA_SERVICE,
                Agency.disabled_at.is_(None),
            )
        )
        .scalars()
        .all()
    )
    for idva in idva_services:
        if idva.id != referral.referring_agency_id:  # an IDVA's own referral is already theirs
            share_case(actor, referral, idva.id, Purpose.IDVA_SUPPORT, allow_triage=True)
    return referral


def reject_referral(actor: Actor, referral: Referral, reason: str) -> Referral:
    require_triage(actor, referral)
    if referral.status in lifecycle.MOVES[Decision.REJECT].start and len(reason.strip()) < 10:
        raise ValidationFailed({"reason": "Give the reason for rejecting the referral"})
    lifecycle.move(referral, Decision.REJECT)
    referral.decision_reason = reason.strip()
    referral.decided_at = now()
    referral.decided_by_id = actor.member_id
    session().flush()
    record(actor, LedgerAction.REFERRAL_REJECTED, Subject("case", referral.id), case=referral.id)
    return referral


def defer_referral(actor: Actor, referral: Referral, reason: str) -> Referral:
    require_triage(actor, referral)
    if referral.status in lifecycle.MOVES[Decision.DEFER].start and len(reason.strip()) < 5:
        raise ValidationFailed({"reason": "Give the reason for deferring"})
    lifecycle.move(referral, Decision.DEFER)
    referral.decision_reason = reason.strip()
    referral.decided_at = now()
    referral.decided_by_id = actor.member_id
    session().flush()
    record(actor, LedgerAction.REFERRAL_DEFERRED, Subject("case", referral.id), case=referral.id)
    return referral


def close_referral(actor: Actor, referral: Referral, reason: str) -> Referral:
    """Close a case the MARAC has dealt with: it leaves the active lists, and stays on record."""
    require_triage(actor, referral, LedgerAction.REFERRAL_CLOSED)
    if referral.status in lifecycle.MOVES[Decision.CLOSE].start:
        if len(reason.strip()) < 10:
            raise ValidationFailed({"reason": "Say why the case is being closed"})
        if len(reason) > 2000:
            raise ValidationFailed({"reason": "Keep the reason to 2,000 characters or fewer"})
    lifecycle.move(referral, Decision.CLOSE)
    referral.closed_at = now()
    referral.closed_by_id = actor.member_id
    referral.closure_reason = reason.strip()
    session().flush()
    record(actor, LedgerAction.REFERRAL_CLOSED, Subject("case", referral.id), case=referral.id)
    return referral


def note_primary_aggressor(actor: Actor, referral: Referral, note: str) -> Referral:
    require_triage(actor, referral, LedgerAction.REFERRAL_PRIMARY_AGGRESSOR_NOTED)
    if referral.counter_allegation_id is None:
        raise ValidationFailed("Only a counter-allegation carries a primary-aggressor note.")
    if not note.strip():
        # An empty box is a slip, not a wish to delete the saved note.
        raise ValidationFailed({"note": "Say who appears to be the primary aggressor, and why"})
    if len(note) > 4000:
        raise ValidationFailed({"note": "Keep this to 4,000 characters or fewer"})
    referral.primary_aggressor_note = note.strip()
    session().flush()
    record(
        actor,
        LedgerAction.REFERRAL_PRIMARY_AGGRESSOR_NOTED,
        Subject("case", referral.id),
        case=referral.id,
    )
    return referral


def inbox_count(actor: Actor) -> int:
    """How many referrals wait in the actor's inbox (for the home page), by the same filter."""
    if not actor.can(Permission.REFERRALS_TRIAGE) or actor.area_id is None:
        return 0
    statement = select(func.count(Referral.id)).where(
        Referral.area_id == actor.area_id,
        Referral.status.in_(("submitted", "deferred")),
        knowable(actor),
    )
    return int(session().execute(statement).scalar_one())


#: How far back the inbox lists the referrals the coordinator rejected (days), and how many.
REJECTED_SHOWN_DAYS = 365
REJECTED_SHOWN = 20


def recently_rejected(actor: Actor) -> list[Referral]:
    """The area's latest referrals rejected in the last year, newest decision first (at most
    ``REJECTED_SHOWN``, so the inbox costs the same however many there were): a rejected
    referral is not a case, but the coordinator must still find it to answer for it."""
    if not actor.can(Permission.REFERRALS_TRIAGE):
        raise Forbidden("Only the MARAC coordinator has the referral inbox.")
    since = now() - timedelta(days=REJECTED_SHOWN_DAYS)
    return list(
        session()
        .execute(
            select(Referral)
            .where(
                Referral.area_id == actor.area_id,
                Referral.status == ReferralStatus.REJECTED,
                Referral.decided_at >= since,
                knowable(actor),
            )
            .order_by(Referral.decided_at.desc(), Referral.id.desc())
            .limit(REJECTED_SHOWN)
        )
        .scalars()
    )


def inbox(actor: Actor, statuses: tuple[str, ...] = ("submitted", "deferred")) -> list[Referral]:
    """The coordinator's inbox: referrals of the area awaiting a decision."""
    if not actor.can(Permission.REFERRALS_TRIAGE):
        raise Forbidden("Only the MARAC coordinator has the referral inbox.")
    return list(
        session()
        .execute(
            select(Referral)
            .options(selectinload(Referral.assessment))
            .where(
                Referral.area_id == actor.area_id,
                Referral.status.in_(statuses),
                knowable(actor),
            )
            .order_by(Referral.submitted_at)
        )
        .scalars()
    )
