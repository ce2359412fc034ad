"""Consent and decisions to share without consent. Services take the actor; none commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from agencies.models import Agency, Sector
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from consent.categories import (
    CASE_CATEGORIES,
    Article6,
    Article9,
    Category,
    ConsentState,
    Purpose,
    allowed_bases,
)
from consent.gate import vital_interests_open
from consent.models import ConsentRecord, DecisionStatus, SharingDecision
from hub.core.access import Actor, Permission
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Forbidden, NotFound, ValidationFailed

MIN_RATIONALE = 40


@dataclass
class ConsentData:
    state: ConsentState
    purposes: list[Purpose]
    categories: list[Category]
    recipient_agency_ids: list[int]
    recipient_agency_types: list[str]
    evidence: str
    valid_until: datetime | None = None


def _validate_consent(data: ConsentData) -> None:
    errors: dict[str, str] = {}
    if data.state is ConsentState.GIVEN:
        if not data.purposes:
            errors["purposes"] = "Select what the consent is for"
        if not data.categories:
            errors["categories"] = "Select the information the consent covers"
        if not data.recipient_agency_ids and not data.recipient_agency_types:
            errors["recipient_agency_types"] = "Select who the information may go to"
    if not data.evidence.strip():
        errors["evidence"] = (
            "Say how consent was given, or why it was not sought "
            "(for example: verbally, in person, with an interpreter)"
        )
    elif len(data.evidence) > 2000:
        errors["evidence"] = "Keep this to 2,000 characters or fewer"
    if data.valid_until is not None and data.valid_until <= now():
        errors["valid_until"] = "The end date must be in the future"
    if errors:
        raise ValidationFailed(errors)


def record_consent(
    actor: Actor, *, referral_id: int, subject_id: int, data: ConsentData
) -> ConsentRecord:
    """Record consent given (or why it was not), as a row with its scope and evidence."""
    if not actor.can(Permission.CONSENT_RECORD):
        raise Forbidden("You cannot record consent.")
    _validate_consent(data)
    given = data.state is ConsentState.GIVEN
    row = ConsentRecord(
        referral_id=referral_id,
        subject_id=subject_id,
        state=data.state.value,
        purposes=[p.value for p in data.purposes] if given else [],
        categories=[c.value for c in data.categories] if given else [],
        recipient_agency_ids=sorted(set(data.recipient_agency_ids)) if given else [],
        recipient_agency_types=sorted(set(data.recipient_agency_types)) if given else [],
        evidence=data.evidence.strip(),
        obtained_by_id=actor.member_id,
        obtained_by_client=actor.client_id or "",
        valid_from=now(),
        valid_until=data.valid_until,
        recorded_at=now(),
    )
    session().add(row)
    session().flush()
    record(
        actor,
        LedgerAction.CONSENT_RECORDED,
        Subject("consent", row.id),
        case=referral_id,
        person=subject_id,
        state=row.state,
        purposes=row.purposes,
        categories=row.categories,
        agencies=row.recipient_agency_ids,
        agency_types=row.recipient_agency_types,
    )
    return row


def withdraw_consent(actor: Actor, consent: ConsentRecord) -> ConsentRecord:
    """Withdraw consent: it stops every later disclosure that relied on it, at once."""
    if not actor.can(Permission.CONSENT_RECORD):
        raise Forbidden("You cannot withdraw consent.")
    if consent.withdrawn_at is not None:
        raise ValidationFailed("This consent has already been withdrawn.")
    consent.withdrawn_at = now()
    consent.withdrawn_by_id = actor.member_id
    session().flush()
    record(
        actor,
        LedgerAction.CONSENT_WITHDRAWN,
        Subject("consent", consent.id),
        case=consent.referral_id,
        person=consent.subject_id,
    )
    return consent


def discard_draft_basis(referral_id: int) -> tuple[list[int], list[int]] | None:
    """Remove a draft referral's consent records and requests (the caller checks it is a
    draft, which nobody else can see); return their ids, or None when there were none."""
    consents = list(
        session()
        .execute(select(ConsentRecord).where(ConsentRecord.referral_id == referral_id))
        .scalars()
    )
    decisions = list(
        session()
        .execute(select(SharingDecision).where(SharingDecision.referral_id == referral_id))
        .scalars()
    )
    if not consents and not decisions:
        return None
    ids = ([c.id for c in consents], [d.id for d in decisions])
    for row in [*consents, *decisions]:
        session().delete(row)
    session().flush()
    return ids


def consents_for(referral_id: int) -> list[ConsentRecord]:
    return list(
        session()
        .execute(
            select(ConsentRecord)
            .where(ConsentRecord.referral_id == referral_id)
            .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        )
        .scalars()
    )


def get_consent(consent_id: int, referral_id: int) -> ConsentRecord:
    row = session().get(ConsentRecord, consent_id)
    if row is None or row.referral_id != referral_id:
        raise NotFound("There is no such consent record.")
    return row


@dataclass
class DecisionData:
    rationale: str
    categories: list[Category]
    all_partners: bool
    recipient_agency_ids: list[int]
    basis_statutory: Article6 | None
    basis_voluntary: Article6 | None
    condition_special: Article9 | None
    purpose: Purpose = Purpose.MARAC
    expires_at: datetime | None = None


def _validate_decision(
    data: DecisionData, area_id: int, meets_criteria: bool, referral_id: int
) -> None:
    errors: dict[str, str] = {}
    if not meets_criteria:
        errors["rationale"] = (
            "Sharing without consent is only for a case that meets a MARAC referral criterion"
        )
    elif len(data.rationale.strip()) < MIN_RATIONALE:
        errors["rationale"] = (
            f"Explain why sharing without consent is necessary and "
            f"proportionate, in at least {MIN_RATIONALE} characters"
        )
    if not data.categories:
        errors["categories"] = "Select the information to share"
    elif any(c not in CASE_CATEGORIES for c in data.categories):
        errors["categories"] = "Select only information that is part of the referral"
    recipients = list(session().execute(select(Agency).where(Agency.area_id == area_id)).scalars())
    if not data.all_partners:
        recipients = [a for a in recipients if a.id in set(data.recipient_agency_ids)]
        if not recipients:
            errors["recipient_agency_ids"] = "Select who the information may go to"
    sectors = {Sector(a.sector) for a in recipients}
    if Sector.STATUTORY in sectors:
        if data.basis_statutory is None:
            errors["basis_statutory"] = "Select the lawful basis for statutory agencies"
        elif data.basis_statutory not in allowed_bases(Sector.STATUTORY):
            errors["basis_statutory"] = "Statutory agencies cannot rely on legitimate interests"
    if Sector.VOLUNTARY in sectors:
        if data.basis_voluntary is None:
            errors["basis_voluntary"] = "Select the lawful basis for voluntary-sector agencies"
        elif data.basis_voluntary not in allowed_bases(Sector.VOLUNTARY):
            errors["basis_voluntary"] = (
                "A voluntary-sector agency cannot rely on public task "
                "or other public-authority bases"
            )
    vital = {
        name
        for name, value in (
            ("basis_statutory", data.basis_statutory),
            ("basis_voluntary", data.basis_voluntary),
        )
        if value is Article6.VITAL_INTERESTS
    }
    if data.condition_special is Article9.VITAL_INTERESTS:
        vital.add("condition_special")
    if vital and not vital_interests_open(consents_for(referral_id)):
        for name in sorted(vital):
            errors[name] = (
                "Vital interests apply only when the victim lacks capacity, or asking her would "
                "be unsafe or impossible, and her life is at risk: choose another basis"
            )
    if any(c.is_special for c in data.categories) and data.condition_special is None:
        errors["condition_special"] = (
            "Select the Article 9 / Schedule 1 condition for "
            "health, criminal justice or equality information"
        )
    if data.expires_at is not None and data.expires_at <= now():
        errors["expires_at"] = "The end date must be in the future"
    if errors:
        raise ValidationFailed(errors)


def request_decision(
    actor: Actor, *, referral_id: int, area_id: int, meets_criteria: bool, data: DecisionData
) -> SharingDecision:
    """Ask to share without consent: reasons and bases in writing, for someone else to approve."""
    if not actor.can(Permission.CONSENT_RECORD):
        raise Forbidden("You cannot ask to share without consent.")
    _validate_decision(data, area_id, meets_criteria, referral_id)
    row = SharingDecision(
        referral_id=referral_id,
        all_partners=data.all_partners,
        recipient_agency_ids=[] if data.all_partners else sorted(set(data.recipient_agency_ids)),
        categories=[c.value for c in data.categories],
        purpose=data.purpose.value,
        rationale=data.rationale.strip(),
        basis_statutory=data.basis_statutory.value if data.basis_statutory else None,
        basis_voluntary=data.basis_voluntary.value if data.basis_voluntary else None,
        condition_special=data.condition_special.value if data.condition_special else None,
        requested_by_id=actor.member_id,
        requested_by_client=actor.client_id or "",
        requested_at=now(),
        expires_at=data.expires_at,
    )
    session().add(row)
    session().flush()
    record(
        actor,
        LedgerAction.DECISION_REQUESTED,
        Subject("decision", row.id),
        case=referral_id,
        categories=row.categories,
        all_partners=row.all_partners,
        agencies=row.recipient_agency_ids,
    )
    return row


def decide(
    actor: Actor, decision: SharingDecision, *, approve: bool, note: str, referring_agency_id: int
) -> SharingDecision:
    """Approve or refuse a request, as a MARAC representative or manager who did not ask."""
    if not actor.can(Permission.CONSENT_APPROVE):
        raise Forbidden(
            "Only a MARAC representative or manager can approve sharing without consent."
        )
    if actor.agency_id != referring_agency_id:
        raise Forbidden("Only the referring agency's representative can decide this.")
    if actor.member_id is None or actor.member_id == decision.requested_by_id:
        raise ValidationFailed({"decision": "You asked for this, so someone else must decide it"})
    if decision.status != DecisionStatus.PENDING:
        raise ValidationFailed({"decision": "This request has already been decided"})
    if not approve and len(note.strip()) < 5:
        raise ValidationFailed({"note": "Say why you are refusing"})
    decision.status = DecisionStatus.APPROVED if approve else DecisionStatus.REFUSED
    decision.decided_by_id = actor.member_id
    decision.decided_at = now()
    decision.decision_note = note.strip()
    session().flush()
    record(
        actor,
        LedgerAction.DECISION_APPROVED if approve else LedgerAction.DECISION_REFUSED,
        Subject("decision", decision.id),
        case=decision.referral_id,
    )
    return decision


def decisions_for(referral_id: int) -> list[SharingDecision]:
    return list(
        session()
        .execute(
            select(SharingDecision)
            .where(SharingDecision.referral_id == referral_id)
            .order_by(SharingDecision.requested_at.desc(), SharingDecision.id.desc())
        )
        .scalars()
    )


def get_decision(decision_id: int) -> SharingDecision:
    row = session().get(SharingDecision, decision_id)
    if row is None:
        raise NotFound("There is no such request.")
    return row
