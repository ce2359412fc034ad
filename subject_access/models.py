"""A subject access request and the redactions the data protection officer decides.

Only the auditor / data protection officer reads or writes these rows.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.clock import now
from hub.core.db import Base, Code


class RequestStatus(StrEnum):
    RECEIVED = "received"
    IDENTITY_CHECKED = "identity_checked"
    IN_REVIEW = "in_review"
    SENT = "sent"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return {
            "received": "Received",
            "identity_checked": "Identity checked",
            "in_review": "In review",
            "sent": "Sent",
            "refused": "Refused",
        }[self.value]


#: Which status may follow which; the services check every change against it.
TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.RECEIVED: frozenset({RequestStatus.IDENTITY_CHECKED, RequestStatus.REFUSED}),
    RequestStatus.IDENTITY_CHECKED: frozenset({RequestStatus.IN_REVIEW, RequestStatus.REFUSED}),
    RequestStatus.IN_REVIEW: frozenset({RequestStatus.SENT, RequestStatus.REFUSED}),
    RequestStatus.SENT: frozenset(),
    RequestStatus.REFUSED: frozenset(),
}


class Exemption(StrEnum):
    """Why an item is withheld (ICO exemptions; next-capabilities 3.2 and 3.5)."""

    THIRD_PARTY = "third_party"
    CRIME_PREJUDICE = "crime_prejudice"
    SERIOUS_HARM_HEALTH = "serious_harm_health"
    SERIOUS_HARM_SOCIAL_WORK = "serious_harm_social_work"
    PROTECT_PUBLIC = "protect_public"
    PART3_RIGHTS_OF_OTHERS = "part3_rights_of_others"

    @property
    def label(self) -> str:
        return {
            "third_party": "Third-party information (DPA 2018 Sch. 2 Part 3)",
            "crime_prejudice": "Crime prevention or detection would be prejudiced",
            "serious_harm_health": "Serious harm: health data",
            "serious_harm_social_work": "Serious harm: social work data",
            "protect_public": "Functions designed to protect the public",
            "part3_rights_of_others": "Police records: rights and freedoms of others (s.45(4)(e))",
        }[self.value]


class SubjectAccessRequest(Base):
    """One person's request to see what the hub holds about them."""

    __tablename__ = "subject_access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The MARAC area whose records are asked for; only its auditors see the request.
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    #: Who asked (the subject, or someone acting for them), as written on the request.
    requester_name: Mapped[str] = mapped_column(String(200))
    #: "self", or how the requester acts for the subject (e.g. "solicitor").
    requester_capacity: Mapped[str] = mapped_column(String(120), default="self")
    #: The subject as the request names them: the search the officer ran.
    subject_given_name: Mapped[str] = mapped_column(String(120))
    subject_family_name: Mapped[str] = mapped_column(String(120))
    subject_born_on: Mapped[date | None]
    #: The person on the area's referrals the officer chose (never merged, never guessed).
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    received_on: Mapped[date]
    #: One calendar month from receipt, or three with an extension.
    due_on: Mapped[date]
    extension_reason: Mapped[str] = mapped_column(Text, default="")
    extended_at: Mapped[datetime | None]
    status: Mapped[RequestStatus] = mapped_column(
        Code(RequestStatus, 20), default=RequestStatus.RECEIVED
    )
    identity_checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: How the identity was checked, e.g. "passport seen in person".
    identity_method: Mapped[str] = mapped_column(Text, default="")
    identity_checked_at: Mapped[datetime | None]
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    #: The subject is a perpetrator on some case: the DPO and the chair must review.
    is_perpetrator: Mapped[bool] = mapped_column(default=False)
    dpo_reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    dpo_reviewed_at: Mapped[datetime | None]
    #: The chair who reviewed it with the DPO (the chair has no access to these pages).
    chair_reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    review_note: Mapped[str] = mapped_column(Text, default="")
    #: SHA-256 of the last PDF produced; the ledger entry names it.
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")
    produced_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    redactions: Mapped[list[Redaction]] = relationship(
        cascade="all, delete-orphan", order_by="Redaction.id"
    )

    @property
    def is_extended(self) -> bool:
        return self.extended_at is not None

    def is_overdue(self, today: date) -> bool:
        return (
            self.status not in {RequestStatus.SENT, RequestStatus.REFUSED} and today > self.due_on
        )


class Redaction(Base):
    """The officer's decision on one bundle item, where it differs from the pre-marking."""

    __tablename__ = "subject_access_redactions"
    __table_args__ = (UniqueConstraint("request_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("subject_access_requests.id", ondelete="CASCADE"), index=True
    )
    #: Which item: "case:<id>:<section>:<row>" and the like (see subject_access.bundle).
    item_key: Mapped[str] = mapped_column(String(120))
    #: True withholds the item; False releases a pre-marked one.
    withheld: Mapped[bool] = mapped_column(default=True)
    exemption: Mapped[Exemption | None] = mapped_column(Code(Exemption, 40), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[datetime] = mapped_column(default=now)
