"""MARAC-to-MARAC transfers inside one hub: the record, its steps and the pack it carried.

The pack is a snapshot taken when the sending coordinator sends it, built only from the
gate's disclosure of the old case: the receiving area reads the pack, never the old case.
Old whereabouts are never part of it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.clock import now
from hub.core.db import Base, Code


class TransferReason(StrEnum):
    PERMANENT_MOVE = "permanent_move"
    TEMPORARY_MOVE = "temporary_move"
    REFUGE = "refuge"

    @property
    def label(self) -> str:
        return {
            "permanent_move": "A permanent move",
            "temporary_move": "A temporary move",
            "refuge": "A move to a refuge",
        }[self.value]


class TransferStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    LISTED = "listed"
    HEARD = "heard"
    CLOSED = "closed"
    DECLINED = "declined"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Transfer(Base):
    """One case sent from one MARAC area of this hub to another."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The case in the sending area (it becomes "transferred" when the receiver accepts).
    #: (None on the receiving hub of a transfer between hubs: the old case is not here.)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    #: The areas on this hub; the other hub's side is None, named by peer_hub and peer_area.
    from_area_id: Mapped[int | None] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    to_area_id: Mapped[int | None] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    reason: Mapped[TransferReason] = mapped_column(Code(TransferReason, 20))
    #: The SafeLives branch questions, both required: already heard at the sending MARAC?
    heard_here: Mapped[bool]
    #: ... and was the sending MARAC's agenda with this case already circulated?
    agenda_circulated: Mapped[bool]
    status: Mapped[TransferStatus] = mapped_column(
        Code(TransferStatus, 20), default=TransferStatus.DRAFT, index=True
    )
    #: identity, risk, children, health, criminal_justice, minutes: the pack as sent (never
    #: whereabouts), {"pieces": [...], "categories": [...], "missing": [...]}.
    pack: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The case the receiving area opened for it.
    new_referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    #: Why the receiving MARAC declined it (free text, kept here, never in the ledger).
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    sent_at: Mapped[datetime | None]
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    listed_at: Mapped[datetime | None]
    listed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: The meeting of the receiving area it was listed at, if one was planned.
    listed_meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"))
    heard_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    declined_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: "in_hub" (both areas on this hub) or "between_hubs".
    kind: Mapped[str] = mapped_column(String(20), default="in_hub")
    #: Between hubs: the other hub's identifier (from the trust list) and its area's name.
    peer_hub: Mapped[str] = mapped_column(String(300), default="")
    peer_area: Mapped[str] = mapped_column(String(120), default="")
    #: Between hubs: the package's identifier (its ``jti``); a second one is a replay.
    package_id: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    #: On the sending hub: the sealed package as pushed (JWS inside JWE, for the receiver
    #: only). On the receiving hub: empty (the pack is kept, opened, in ``pack``).
    package: Mapped[str] = mapped_column(Text, default="")
    #: The receiving hub's signed receipt (compact JWS), on both sides.
    receipt: Mapped[str] = mapped_column(Text, default="")
    receipt_at: Mapped[datetime | None]

    @property
    def between_hubs(self) -> bool:
        return self.kind == "between_hubs"

    @property
    def label(self) -> str:
        return f"TR-{self.id}"
