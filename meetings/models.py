"""MARAC conferences: meetings, agendas, invitations, research, the record of the meeting, and
minutes kept as append-only revisions.

Columns that hold case content name their disclosure category in the ``#:`` comment. Nothing
here is shown without a gate decision: ``meetings.services`` and ``meetings.minutes`` pass
every case through ``consent.gate`` first. Research is the exception the gate does not
decide: it is private to the agency that wrote it (``meetings.research`` enforces that).
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.clock import now
from hub.core.db import Base, Code
from meetings.codes import (
    DISCUSSION_FIELDS,
    ActionStatus,
    AttendanceKind,
    DeferralKind,
    ItemStatus,
    MeetingKind,
    MeetingStatus,
    MinutesStatus,
)

__all__ = [
    "DISCUSSION_FIELDS",
    "Action",
    "ActionReview",
    "ActionStatus",
    "AgendaItem",
    "Attendance",
    "AttendanceKind",
    "CaseDiscussion",
    "Contribution",
    "DeferralKind",
    "ItemStatus",
    "Meeting",
    "MeetingInvitation",
    "MeetingKind",
    "MeetingStatus",
    "Minutes",
    "MinutesCopy",
    "MinutesRevision",
    "MinutesStatus",
    "ResearchSubmission",
    "ResearchWithheld",
]


class Meeting(Base):
    """One MARAC conference of one area."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    #: The day of the meeting (Europe/London).
    held_on: Mapped[date] = mapped_column(index=True)
    #: When it starts, London time.
    start_time: Mapped[time]
    #: Where: a room, or "Virtual". Never a victim's address.
    venue: Mapped[str] = mapped_column(String(200), default="")
    #: One of MeetingKind.
    kind: Mapped[MeetingKind] = mapped_column(Code(MeetingKind, 20), default=MeetingKind.SCHEDULED)
    #: The cadence of the series it was scheduled with (empty for ad hoc and emergency).
    cadence: Mapped[str] = mapped_column(String(20), default="")
    #: Referrals received after this day wait for the next meeting unless added with a
    #: reason; set from the area's agenda_cutoff_days when scheduled.
    cutoff_on: Mapped[date]
    #: One of MeetingStatus.
    status: Mapped[MeetingStatus] = mapped_column(
        Code(MeetingStatus, 20), default=MeetingStatus.PLANNED
    )
    #: Who chairs and who coordinates (the coordinator gets the minutes-due task).
    chair_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    circulated_at: Mapped[datetime | None]
    circulated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: The confidentiality statement was read out at the start (practice rule 13).
    confidentiality_read_at: Mapped[datetime | None]
    confidentiality_read_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)

    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", order_by="AgendaItem.position"
    )
    invitations: Mapped[list[MeetingInvitation]] = relationship(cascade="all, delete-orphan")
    attendance: Mapped[list[Attendance]] = relationship(
        cascade="all, delete-orphan", order_by="Attendance.id"
    )

    @property
    def is_emergency(self) -> bool:
        return self.kind == MeetingKind.EMERGENCY

    @property
    def invited_agency_ids(self) -> set[int]:
        return {i.agency_id for i in self.invitations}


class AgendaItem(Base):
    """A case on a meeting's agenda, with the flags the coordinator must see."""

    __tablename__ = "agenda_items"
    __table_args__ = (UniqueConstraint("meeting_id", "referral_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    #: 1, 2, 3, ... in the order the cases are heard; counter-allegations sit together.
    position: Mapped[int]
    #: Flags taken from the referral when it was put on the agenda.
    is_repeat: Mapped[bool] = mapped_column(default=False)
    is_counter_allegation: Mapped[bool] = mapped_column(default=False)
    #: The area the case was transferred from (MARAC to MARAC), or empty.
    transferred_from: Mapped[str] = mapped_column(String(120), default="")
    is_emergency: Mapped[bool] = mapped_column(default=False)
    #: The item at an earlier meeting that was deferred to this one.
    deferred_from_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("agenda_items.id"), index=True
    )
    #: Added after the cut-off; the coordinator's reason is kept.
    added_after_cutoff: Mapped[bool] = mapped_column(default=False)
    late_reason: Mapped[str] = mapped_column(Text, default="")
    #: One of ItemStatus.
    status: Mapped[ItemStatus] = mapped_column(Code(ItemStatus, 20), default=ItemStatus.LISTED)
    #: One of DeferralKind, when deferred.
    deferral_kind: Mapped[str] = mapped_column(String(20), default="")
    #: Why it was deferred (no case content: "referrer on leave", "awaiting police check").
    deferral_reason: Mapped[str] = mapped_column(Text, default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    added_at: Mapped[datetime] = mapped_column(default=now)

    meeting: Mapped[Meeting] = relationship(back_populates="items")
    discussion: Mapped[CaseDiscussion | None] = relationship(
        cascade="all, delete-orphan", uselist=False
    )
    contributions: Mapped[list[Contribution]] = relationship(
        cascade="all, delete-orphan", order_by="Contribution.id"
    )
    actions: Mapped[list[Action]] = relationship(order_by="Action.id", viewonly=True)

    @property
    def flag_codes(self) -> list[str]:
        """The flags as codes, for the ledger (no area names)."""
        found = [
            code
            for code, on in (
                ("emergency", self.is_emergency),
                ("repeat", self.is_repeat),
                ("counter_allegation", self.is_counter_allegation),
                ("transferred", bool(self.transferred_from)),
                ("deferred", self.deferred_from_item_id is not None),
                ("late", self.added_after_cutoff),
            )
            if on
        ]
        return found

    @property
    def flags(self) -> list[str]:
        """The agenda flags, in the words the coordinator uses."""
        found = []
        if self.is_emergency:
            found.append("Emergency")
        if self.is_repeat:
            found.append("Repeat")
        if self.is_counter_allegation:
            found.append("Counter-allegation")
        if self.transferred_from:
            found.append(f"Transferred in from {self.transferred_from}")
        if self.deferred_from_item_id is not None:
            found.append("Deferred from last time")
        if self.added_after_cutoff:
            found.append("Added after the cut-off")
        return found


class MeetingInvitation(Base):
    """An agency invited to a meeting: it then needs to know every case on its agenda."""

    __tablename__ = "meeting_invitations"
    __table_args__ = (UniqueConstraint("meeting_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    invited_at: Mapped[datetime] = mapped_column(default=now)


class ResearchSubmission(Base):
    """One agency's research on one case before a meeting: private to that agency."""

    __tablename__ = "meeting_research"
    __table_args__ = (UniqueConstraint("agenda_item_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True
    )
    #: The agency that wrote it; no other agency ever reads it.
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: research: what the agency's records show (fact).
    facts: Mapped[str] = mapped_column(Text, default="")
    #: research: professional opinion, kept apart from fact.
    opinions: Mapped[str] = mapped_column(Text, default="")
    #: research: what the agency proposes to share at the meeting, if relevant and
    #: proportionate. It leaves the agency only when the agency shares it.
    to_share: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    updated_at: Mapped[datetime] = mapped_column(default=now)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    withheld: Mapped[list[ResearchWithheld]] = relationship(
        cascade="all, delete-orphan", order_by="ResearchWithheld.id"
    )


class ResearchWithheld(Base):
    """Something the agency holds but will not share, and why (SafeLives research rules)."""

    __tablename__ = "meeting_research_withheld"

    id: Mapped[int] = mapped_column(primary_key=True)
    research_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_research.id", ondelete="CASCADE"), index=True
    )
    #: research: what is held (described, not copied).
    item: Mapped[str] = mapped_column(Text)
    #: research: why it is not shared.
    reason: Mapped[str] = mapped_column(Text)


class Attendance(Base):
    """Who was there, who sent apologies or information, and observers."""

    __tablename__ = "meeting_attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[AttendanceKind] = mapped_column(Code(AttendanceKind, 20))
    #: The agency (empty only for an observer from outside the partnership).
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    #: The representative's name (professionals only, never a victim or perpetrator).
    name: Mapped[str] = mapped_column(String(160), default="")
    #: Job title or role at the meeting.
    role: Mapped[str] = mapped_column(String(160), default="")
    #: For information sent in: the day it was received.
    information_received_on: Mapped[date | None]
    #: For an observer: the confidentiality statement was signed.
    confidentiality_signed: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=now)


class CaseDiscussion(Base):
    """What the meeting recorded about one case (the minutes' body for it)."""

    __tablename__ = "meeting_discussions"

    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="CASCADE"), primary_key=True
    )
    #: minutes: the referrer's reason for referral and the risks.
    referrer_summary: Mapped[str] = mapped_column(Text, default="")
    #: minutes: the victim's views and needs, from the IDVA.
    victim_views: Mapped[str] = mapped_column(Text, default="")
    #: minutes: the chair's risk summary, four parts.
    risk_victim: Mapped[str] = mapped_column(Text, default="")
    risk_children: Mapped[str] = mapped_column(Text, default="")
    risk_perpetrator: Mapped[str] = mapped_column(Text, default="")
    risk_professionals: Mapped[str] = mapped_column(Text, default="")
    #: minutes: who appears to be the primary aggressor (counter-allegations only).
    primary_aggressor: Mapped[str] = mapped_column(Text, default="")
    #: Who tells the victim the outcome: an agency and a named professional.
    informs_victim_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    informs_victim_name: Mapped[str] = mapped_column(String(160), default="")
    #: The chair chose to put the victim's whereabouts in the minutes for this case, with
    #: the reason; each render still reveals them through the gate for its recipient.
    include_whereabouts: Mapped[bool] = mapped_column(default=False)
    whereabouts_reason: Mapped[str] = mapped_column(Text, default="")
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    updated_at: Mapped[datetime] = mapped_column(default=now)


class Contribution(Base):
    """What one agency shared about a case at the meeting (only this enters the minutes)."""

    __tablename__ = "meeting_contributions"

    id: Mapped[int] = mapped_column(primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: minutes: what the agency shared.
    text: Mapped[str] = mapped_column(Text)
    #: The agency shared it from its own research page (rather than the chair typing it).
    from_research: Mapped[bool] = mapped_column(default=False)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=now)


class Action(Base):
    """An action an agency volunteered for a case; it becomes a task on the agency's list."""

    __tablename__ = "meeting_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    agenda_item_id: Mapped[int] = mapped_column(
        ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True
    )
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), index=True)
    #: minutes: what will be done.
    text: Mapped[str] = mapped_column(Text)
    #: The owning agency and the person in it.
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    owner_member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    due_on: Mapped[date]
    #: One of ActionStatus; set at the review in a later meeting.
    status: Mapped[ActionStatus] = mapped_column(
        Code(ActionStatus, 20), default=ActionStatus.OPEN, index=True
    )
    #: The task on the owning agency's to-do list.
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"), index=True)
    #: That task's state, kept by the to-do lists (which sit above meetings) for the review.
    task_state: Mapped[str] = mapped_column(String(40), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class ActionReview(Base):
    """A later meeting's review of an earlier action (practice rule 17)."""

    __tablename__ = "meeting_action_reviews"
    __table_args__ = (UniqueConstraint("meeting_id", "action_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    action_id: Mapped[int] = mapped_column(ForeignKey("meeting_actions.id"), index=True)
    #: Open means still open, carried forward.
    outcome: Mapped[ActionStatus] = mapped_column(Code(ActionStatus, 20))
    #: minutes: a short note (why not possible, what is still needed).
    note: Mapped[str] = mapped_column(Text, default="")
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reviewed_at: Mapped[datetime] = mapped_column(default=now)


class Minutes(Base):
    """The minutes of one meeting: draft, then approved and locked, then sent out."""

    __tablename__ = "meeting_minutes"

    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True
    )
    #: One of MinutesStatus.
    status: Mapped[MinutesStatus] = mapped_column(
        Code(MinutesStatus, 20), default=MinutesStatus.DRAFT
    )
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    distributed_at: Mapped[datetime | None]
    distributed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: The newest revision's number (0 while a draft).
    revision: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_locked(self) -> bool:
        return self.status != MinutesStatus.DRAFT


class MinutesCopy(Base):
    """A copy of approved minutes a member downloaded: which revision, which cases it held.

    The ledger records each download too; this is the working list of who holds which
    revision, so that an amendment can tell exactly those people to replace their copy."""

    __tablename__ = "meeting_minutes_copies"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int]
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    #: "full" (the coordinator's and chair's whole minutes) or "extract" (one agency's).
    scope: Mapped[str] = mapped_column(String(20))
    #: The cases the copy held (identifiers only).
    case_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    downloaded_at: Mapped[datetime] = mapped_column(default=now)


class MinutesRevision(Base):
    """One revision of approved minutes. Never updated: an amendment is a new row."""

    __tablename__ = "meeting_minutes_revisions"
    __table_args__ = (UniqueConstraint("meeting_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    #: 1 for the approved minutes, then 2, 3, ... for each amendment.
    number: Mapped[int]
    #: "approved" or "amendment".
    kind: Mapped[str] = mapped_column(String(20))
    #: minutes: the whole document as it stood (see meetings.minutes.MinutesContent).
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Why it was amended (empty for the approval itself).
    reason: Mapped[str] = mapped_column(Text, default="")
    #: Which sections the amendment changed, e.g. ["item-12.risk_victim"].
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)
