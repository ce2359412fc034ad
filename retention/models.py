"""Each area's retention policy (versioned), the review queue, legal holds and erasures.

Nothing here holds case content: the queue names a case by its id and reference (which
name no one), a hold's reason is the coordinator's note, and an erasure record says only
which case was erased, under which policy version, on which day.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.clock import now
from hub.core.db import Base, Code


class RecordClass(StrEnum):
    """What a retention period applies to (next-capabilities 3.5)."""

    CASE = "case"
    CHECKLIST = "checklist"
    WHEREABOUTS = "whereabouts"
    RESEARCH = "research"
    MINUTES = "minutes"
    ACTIONS = "actions"
    CONSENT = "consent"
    SUBJECT_ACCESS = "subject_access"

    @property
    def label(self) -> str:
        return CLASS_LABELS[self]


CLASS_LABELS = {
    RecordClass.CASE: "Case and referral (people, referral, sharing, everything else)",
    RecordClass.CHECKLIST: "Risk checklist",
    RecordClass.WHEREABOUTS: "Whereabouts (address, refuge, safe phone and times)",
    RecordClass.RESEARCH: "Agencies' research",
    RecordClass.MINUTES: "Minutes and extracts (the case's discussion)",
    RecordClass.ACTIONS: "Actions and tasks",
    RecordClass.CONSENT: "Consent records and decisions to share without consent",
    RecordClass.SUBJECT_ACCESS: "Subject access files",
}


class Trigger(StrEnum):
    """When a record's clock starts."""

    LAST_REFERRAL = "last_referral"
    CASE_CLOSED = "case_closed"
    MEETING_DATE = "meeting_date"
    #: Subject access files only: the day the response was sent or the request refused.
    REQUEST_CLOSED = "request_closed"

    @property
    def label(self) -> str:
        return {
            "last_referral": "The last referral for the victim",
            "case_closed": "The case was closed",
            "meeting_date": "The last meeting that heard the case",
            "request_closed": "The response was sent or the request refused",
        }[self.value]


class RetentionAction(StrEnum):
    """What happens when a record's period ends."""

    #: Destroyed by the next nightly run after a notice period, unless held or extended.
    DELETE = "delete"
    #: Waits in the queue until the coordinator confirms or extends it.
    REVIEW = "review"

    @property
    def label(self) -> str:
        return {
            "delete": "Destroy after a 30-day notice in the queue",
            "review": "The coordinator reviews it first",
        }[self.value]


class RetentionPolicy(Base):
    """One version of an area's retention policy. Never changed: saving adds a version."""

    __tablename__ = "retention_policies"
    __table_args__ = (UniqueConstraint("area_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    #: 1, 2, 3, ... in the order the area adopted them.
    version: Mapped[int]
    #: {record class: {"months": int, "trigger": Trigger, "action": RetentionAction}}.
    rules: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSON)
    #: Where the local policy comes from, e.g. "Council retention schedule 2026, MAR 01.02".
    source: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class ReviewStatus(StrEnum):
    #: The period has ended: waiting for the coordinator (or the notice period).
    DUE = "due"
    #: The coordinator confirmed it: the next nightly run destroys it, unless held.
    CONFIRMED = "confirmed"
    #: Kept for longer, with a reason, until a date; then due again.
    EXTENDED = "extended"
    #: Destroyed.
    DESTROYED = "destroyed"

    @property
    def label(self) -> str:
        return {
            "due": "Due for review",
            "confirmed": "Confirmed for destruction",
            "extended": "Extended",
            "destroyed": "Destroyed",
        }[self.value]


class RetentionReview(Base):
    """One record class of one case (or one subject access file) whose period has ended.

    The case is named by id and reference without a foreign key: the row outlives the case
    it destroyed, as the record that it was destroyed."""

    __tablename__ = "retention_reviews"
    __table_args__ = (
        UniqueConstraint("area_id", "record_class", "case_id", "sar_id"),
        Index("ix_retention_reviews_area_status", "area_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"))
    record_class: Mapped[RecordClass] = mapped_column(Code(RecordClass, 20))
    #: The case (a referral's id), for every class but subject access files.
    case_id: Mapped[int] = mapped_column(default=0)
    #: The subject access request, for subject access files.
    sar_id: Mapped[int] = mapped_column(default=0)
    #: The case's reference ("NB-2026-0042") or the request's ("SAR-7"): names no one.
    reference: Mapped[str] = mapped_column(String(30))
    #: The day the period ended (with any time under a legal hold added).
    due_on: Mapped[date]
    status: Mapped[ReviewStatus] = mapped_column(Code(ReviewStatus, 20), default=ReviewStatus.DUE)
    #: The policy version that made it due.
    policy_version: Mapped[int]
    queued_at: Mapped[datetime] = mapped_column(default=now)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[datetime | None]
    #: Why it was kept longer (the coordinator's words; never in the ledger).
    reason: Mapped[str] = mapped_column(Text, default="")
    extended_until: Mapped[date | None]
    destroyed_at: Mapped[datetime | None]


class HoldKind(StrEnum):
    DHR = "dhr"
    SAFEGUARDING_REVIEW = "safeguarding_review"
    LITIGATION = "litigation"
    INQUIRY = "inquiry"

    @property
    def label(self) -> str:
        return {
            "dhr": "Domestic homicide review",
            "safeguarding_review": "Safeguarding adults or children review",
            "litigation": "Litigation or a legal claim",
            "inquiry": "Public inquiry (for example into child abuse)",
        }[self.value]


class LegalHold(Base):
    """A legal hold on a case: while it stands, the case's retention clock stops."""

    __tablename__ = "retention_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    kind: Mapped[HoldKind] = mapped_column(Code(HoldKind, 30))
    #: Who asked for it and why (the coordinator's words; never in the ledger).
    reason: Mapped[str] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    set_at: Mapped[datetime] = mapped_column(default=now)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    lifted_at: Mapped[datetime | None]
    lift_reason: Mapped[str] = mapped_column(Text, default="")

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class Erasure(Base):
    """That a case was erased, under which policy version, on which day: what the
    auditor's pages show in place of the case. Holds no personal data."""

    __tablename__ = "retention_erasures"

    case_id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    reference: Mapped[str] = mapped_column(String(30), index=True)
    policy_version: Mapped[int]
    erased_at: Mapped[datetime] = mapped_column(default=now)
