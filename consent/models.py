"""Consent and decisions to share without consent: rows with scope, evidence and history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent.categories import Category, ConsentState, Purpose
from hub.core.clock import now
from hub.core.db import Base, Code


class ConsentRecord(Base):
    """What a person agreed to (or why they were not asked), for whom, and until when.

    Points at the referral and person by table name: consent sits below referrals in the
    import order.
    """

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    #: The person whose data it is (the victim).
    subject_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    #: One of ConsentState.
    state: Mapped[ConsentState] = mapped_column(Code(ConsentState, 40))
    #: Purposes covered (Purpose values).
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Recipient agencies by id, and/or by agency type; empty both means nobody.
    recipient_agency_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    recipient_agency_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Data categories covered (Category values).
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: How consent was given or why it was not sought (e.g. "verbally, in person, with an
    #: interpreter"); never a copy of the victim's words.
    evidence: Mapped[str] = mapped_column(Text, default="")
    #: The member who recorded it, or (from the API) the partner system's client id.
    obtained_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    obtained_by_client: Mapped[str] = mapped_column(String(120), default="")
    valid_from: Mapped[datetime] = mapped_column(default=now)
    valid_until: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=now)

    def in_force(self, moment: datetime) -> bool:
        if self.state != ConsentState.GIVEN:
            return False  # only given consent permits sharing
        if self.withdrawn_at is not None and self.withdrawn_at <= moment:
            return False  # withdrawn: stops future disclosures at once
        if self.valid_from > moment:
            return False  # not yet in force
        return not (self.valid_until is not None and self.valid_until <= moment)  # expired

    def covers(
        self, *, purpose: Purpose, agency_id: int, agency_type: str, category: Category
    ) -> bool:
        return (
            purpose.value in self.purposes
            and category.value in self.categories
            and (
                agency_id in self.recipient_agency_ids or agency_type in self.recipient_agency_types
            )
        )


class DecisionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "pending": "Waiting for approval",
            "approved": "Approved",
            "refused": "Refused",
            "expired": "Expired",
            "withdrawn": "Withdrawn",
        }[self.value]


class SharingDecision(Base):
    """A decision to share without consent: high risk, written reasons, a second person's yes.

    Its lawful bases are recorded per recipient sector, since a voluntary-sector agency
    cannot rely on public task.
    """

    __tablename__ = "sharing_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    #: True: every MARAC partner that has need to know; else recipient_agency_ids only.
    all_partners: Mapped[bool] = mapped_column(default=False)
    recipient_agency_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    purpose: Mapped[Purpose] = mapped_column(Code(Purpose, 30), default=Purpose.MARAC)
    #: Why sharing without consent is necessary and proportionate (required).
    rationale: Mapped[str] = mapped_column(Text)
    #: Article 6 basis for statutory recipients, and for voluntary-sector recipients.
    basis_statutory: Mapped[str | None] = mapped_column(String(30))
    basis_voluntary: Mapped[str | None] = mapped_column(String(30))
    #: Article 9 / Schedule 1 condition for special-category data.
    condition_special: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[DecisionStatus] = mapped_column(
        Code(DecisionStatus, 20), default=DecisionStatus.PENDING, index=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    requested_by_client: Mapped[str] = mapped_column(String(120), default="")
    requested_at: Mapped[datetime] = mapped_column(default=now)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None]

    def current_status(self, moment: datetime) -> DecisionStatus:
        """The status as people should see it: an approved decision past its end is expired."""
        if (
            self.status == DecisionStatus.APPROVED
            and self.expires_at is not None
            and self.expires_at <= moment
        ):
            return DecisionStatus.EXPIRED
        return DecisionStatus(self.status)

    def in_force(self, moment: datetime) -> bool:
        if self.status != DecisionStatus.APPROVED:
            return False  # pending, refused or withdrawn decisions permit nothing
        return not (self.expires_at is not None and self.expires_at <= moment)  # lapsed
