"""Cases feed the to-do lists: template tasks when an agency gets a case, and the system
rules the scheduler checks (consent expiring, a repeat window ending, an approval waiting).

The to-do lists sit above cases in the import order: this module reads the case tables
directly, and ``case_given`` is subscribed to ``CaseGiven`` by the app shell.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select

from agencies.models import Agency
from cases import matching
from cases.events import CaseGiven, GivenBy
from cases.models import Referral, ReferralStatus
from cases.operations.sharing import agency_preview
from consent.models import ConsentRecord, DecisionStatus, SharingDecision
from hub.core.db import session
from todo import rules
from todo import services as tasks
from todo.catalogue import CaseContext
from todo.models import Trigger


def _context(referral: Referral, agency_id: int) -> CaseContext:
    involved = {referral.referring_agency_id} | {s.agency_id for s in referral.shares}
    involved.discard(agency_id)
    types = frozenset(
        session().execute(select(Agency.type).where(Agency.id.in_(involved or {0}))).scalars()
    )
    # Only flags the referral really answers; an absent flag never skips a template item.
    flags: dict[str, bool] = {}
    if referral.children_count is not None:
        flags["no_children"] = referral.children_count == 0
    if referral.reported_to_police is not None or referral.crime_reference:
        flags["crime_recorded"] = bool(referral.crime_reference)
    return CaseContext(agency_types_involved=types, flags=flags)


def case_given(event: CaseGiven) -> None:
    """Make the agency's template tasks for a case it has just been given."""
    actor, agency_id = event.actor, event.agency_id
    referral = session().get(Referral, event.referral_id)
    agency = session().get(Agency, agency_id)
    if agency is None or referral is None:
        return
    accepted = event.how is GivenBy.ACCEPTED
    if not accepted and not agency_preview(referral, agency, None).identifies:
        # Shared beyond what consent or an approved decision covers: the agency cannot tell
        # who the person is, so it is given no hands-on work for them (the sharer was told).
        return
    tasks.generate_from_template(
        actor,
        agency=agency,
        referral_id=referral.id,
        trigger=Trigger.REFERRAL_ACCEPTED if accepted else Trigger.CASE_SHARED,
        risk_band=referral.assessment.band if referral.assessment else None,
        context=_context(referral, agency_id),
        owner_member_id=referral.referrer_id if accepted else None,
    )


def consent_expiry_tasks(today: date) -> Iterable[rules.RuleTask]:
    rows = (
        session()
        .execute(
            select(ConsentRecord, Referral)
            .join(Referral, Referral.id == ConsentRecord.referral_id)
            .where(
                ConsentRecord.state == "given",
                ConsentRecord.withdrawn_at.is_(None),
                ConsentRecord.valid_until.is_not(None),
            )
        )
        .all()
    )
    for consent, referral in rows:
        task = rules.consent_expiring(
            consent_id=consent.id,
            ends_on=consent.valid_until.date(),
            today=today,
            agency_id=referral.referring_agency_id,
            referral_id=referral.id,
            owner_member_id=referral.referrer_id,
        )
        if task is not None:
            yield task


def repeat_window_tasks(today: date) -> Iterable[rules.RuleTask]:
    rows = (
        session()
        .execute(
            select(Referral).where(
                Referral.status.in_([ReferralStatus.ACCEPTED, ReferralStatus.HEARD])
            )
        )
        .scalars()
    )
    for referral in rows:
        if referral.referred_on is None:
            continue
        task = rules.repeat_window_ending(
            referral_id=referral.id,
            window_ends_on=matching.repeat_window_ends_on(referral.referred_on),
            today=today,
            agency_id=referral.referring_agency_id,
            owner_member_id=referral.referrer_id,
        )
        if task is not None:
            yield task


def approval_tasks(today: date) -> Iterable[rules.RuleTask]:
    rows = (
        session()
        .execute(
            select(SharingDecision, Referral)
            .join(Referral, Referral.id == SharingDecision.referral_id)
            .where(SharingDecision.status == DecisionStatus.PENDING)
        )
        .all()
    )
    for decision, referral in rows:
        yield rules.approval_waiting(
            decision_id=decision.id,
            requested_on=decision.requested_at.date(),
            agency_id=referral.referring_agency_id,
            referral_id=referral.id,
        )
