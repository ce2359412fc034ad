"""Consent and sharing without consent after the referral, and their approvals.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from agencies.models import Agency
from audit.actions import LedgerAction
from cases.facts import knowable
from cases.models import (
    Referral,
)
from cases.operations.access import act_on, forbid, get_referral
from consent import gate
from consent import services as consent_services
from consent.models import ConsentRecord, DecisionStatus, SharingDecision
from hub.core.access import Actor, Permission
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Forbidden, NotFound, ValidationFailed

# --- approvals of sharing without consent -------------------------------------------------


def pending_approvals_count(actor: Actor) -> int:
    """How many requests to share without consent wait for a decision in the actor's agency,
    for cases the actor may know (for the home page: the same cases ``approvals_for`` lists)."""
    if not actor.can(Permission.CONSENT_APPROVE) or actor.agency_id is None:
        return 0
    statement = (
        select(func.count(SharingDecision.id))
        .join(Referral, Referral.id == SharingDecision.referral_id)
        .where(
            Referral.referring_agency_id == actor.agency_id,
            SharingDecision.status == DecisionStatus.PENDING,
            knowable(actor),
        )
    )
    return int(session().execute(statement).scalar_one())


def approvals_for(actor: Actor) -> list[tuple[Referral, list[SharingDecision]]]:
    """Requests to share without consent made in the actor's agency, for cases the actor may
    know (a representative on a case's must-not-receive list never sees its request),
    pending first, newest first."""
    if not actor.can(Permission.CONSENT_APPROVE):
        raise Forbidden("Only a MARAC representative or manager sees approvals.")
    referrals = {
        r.id: r
        for r in session()
        .execute(
            select(Referral).where(Referral.referring_agency_id == actor.agency_id, knowable(actor))
        )
        .scalars()
    }
    found: dict[int, list[SharingDecision]] = {}
    if referrals:
        for decision in (
            session()
            .execute(
                select(SharingDecision)
                .where(SharingDecision.referral_id.in_(list(referrals)))
                .order_by(SharingDecision.id.desc())
            )
            .scalars()
        ):
            found.setdefault(decision.referral_id, []).append(decision)
    moment = now()

    def first(referral_id: int) -> tuple[bool, int]:
        pending = any(d.current_status(moment).value == "pending" for d in found[referral_id])
        return (not pending, -max(d.id for d in found[referral_id]))

    return [(referrals[rid], found[rid]) for rid in sorted(found, key=first)]


# --- consent and sharing without consent, after the referral ------------------------------


def area_agencies(referral: Referral) -> list[Agency]:
    """The agencies of the case's area that may be named as recipients (names only)."""
    return list(
        session()
        .execute(
            select(Agency)
            .where(Agency.area_id == referral.area_id, Agency.disabled_at.is_(None))
            .order_by(Agency.name)
        )
        .scalars()
    )


def vital_interests_open(referral_id: int) -> bool:
    """Whether a decision for this case may rest on vital interests (see consent.gate)."""
    return gate.vital_interests_open(consent_services.consents_for(referral_id))


def require_referring_agency(actor: Actor, referral: Referral) -> None:
    """Consent is recorded by the agency that referred (it holds the victim's words)."""
    act_on(actor, referral, LedgerAction.CONSENT_RECORDED)
    if referral.referring_agency_id != actor.agency_id:
        raise forbid(
            actor,
            referral,
            LedgerAction.CONSENT_RECORDED,
            "Only the referring agency records consent for this case.",
        )
    if referral.victim_id is None:
        raise ValidationFailed({"state": "Enter the victim's details first"})


def add_consent(
    actor: Actor, referral: Referral, data: consent_services.ConsentData
) -> ConsentRecord:
    """Record what the victim said about sharing, with its scope: it applies from the next
    read, alongside (never replacing) earlier records until they are withdrawn."""
    require_referring_agency(actor, referral)
    return consent_services.record_consent(
        actor, referral_id=referral.id, subject_id=referral.victim_id or 0, data=data
    )


def withdraw_case_consent(actor: Actor, referral: Referral, consent_id: int) -> ConsentRecord:
    """Record that the victim withdrew a consent: the next read no longer relies on it."""
    require_referring_agency(actor, referral)
    return consent_services.withdraw_consent(
        actor, consent_services.get_consent(consent_id, referral.id)
    )


def ask_to_share_without_consent(
    actor: Actor, referral: Referral, data: consent_services.DecisionData
) -> SharingDecision:
    """Ask a MARAC representative or manager (not the asker) to approve sharing without
    consent; only for a case that meets a referral criterion."""
    require_referring_agency(actor, referral)
    return consent_services.request_decision(
        actor,
        referral_id=referral.id,
        area_id=referral.area_id,
        meets_criteria=referral.meets_criteria,
        data=data,
    )


def decide_sharing(actor: Actor, decision_id: int, *, approve: bool, note: str) -> Any:
    decision = consent_services.get_decision(decision_id)
    referral = get_referral(decision.referral_id)
    if referral.referring_agency_id != actor.agency_id:
        raise NotFound("There is no such request.")
    act_on(actor, referral, LedgerAction.DECISION_DECIDED)
    if approve and not referral.meets_criteria:
        raise ValidationFailed(
            {
                "decision": "Sharing without consent is only for a case that "
                "meets a MARAC referral criterion"
            }
        )
    return consent_services.decide(
        actor,
        decision,
        approve=approve,
        note=note,
        referring_agency_id=referral.referring_agency_id,
    )
