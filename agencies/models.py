"""MARAC areas, partner agencies and their members."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.access import Role
from hub.core.clock import now
from hub.core.db import Base, Code


class AgencyType(StrEnum):
    """Partner agency types, as the quarterly MARAC return groups referrals."""

    POLICE = "police"
    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    ADULTS_SOCIAL_CARE = "adults_social_care"
    ACUTE_HEALTH = "acute_health"
    PRIMARY_CARE = "primary_care"
    MENTAL_HEALTH = "mental_health"
    HOUSING = "housing"
    PROBATION = "probation"
    IDVA_SERVICE = "idva_service"
    SPECIALIST_NGO = "specialist_ngo"
    EDUCATION = "education"
    SUBSTANCE_MISUSE = "substance_misuse"
    OTHER = "other"

    @property
    def label(self) -> str:
        return AGENCY_TYPE_LABELS[self]


AGENCY_TYPE_LABELS = {
    AgencyType.POLICE: "Police",
    AgencyType.CHILDRENS_SOCIAL_CARE: "Children's social care",
    AgencyType.ADULTS_SOCIAL_CARE: "Adults' social care",
    AgencyType.ACUTE_HEALTH: "Acute health (hospital trust)",
    AgencyType.PRIMARY_CARE: "Primary care (GP)",
    AgencyType.MENTAL_HEALTH: "Mental health",
    AgencyType.HOUSING: "Housing",
    AgencyType.PROBATION: "Probation",
    AgencyType.IDVA_SERVICE: "IDVA service",
    AgencyType.SPECIALIST_NGO: "Specialist NGO (BAMER, LGBT+)",
    AgencyType.EDUCATION: "Education",
    AgencyType.SUBSTANCE_MISUSE: "Substance misuse",
    AgencyType.OTHER: "Other",
}


class Sector(StrEnum):
    """Statutory bodies may rely on public task; the voluntary sector may not."""

    STATUTORY = "statutory"
    VOLUNTARY = "voluntary"

    @property
    def label(self) -> str:
        return {"statutory": "Statutory", "voluntary": "Voluntary sector"}[self.value]


class Cadence(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    THREE_WEEKLY = "three_weekly"
    MONTHLY = "monthly"

    @property
    def label(self) -> str:
        return {
            "weekly": "Weekly",
            "fortnightly": "Fortnightly",
            "three_weekly": "Every three weeks",
            "monthly": "Monthly",
        }[self.value]


class MemberStatus(StrEnum):
    ACTIVE = "active"
    #: Created by a first single sign-on; waits for the agency's MARAC representative.
    PENDING = "pending"


class MaracArea(Base):
    """A MARAC area: the tenant boundary inside one hub."""

    __tablename__ = "marac_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Shown in headers and on minutes, e.g. "Northbridge MARAC".
    name: Mapped[str] = mapped_column(String(120), unique=True)
    #: How often conferences normally meet.
    meeting_cadence: Mapped[Cadence] = mapped_column(Code(Cadence, 20), default=Cadence.MONTHLY)
    #: Potential escalation: this many incidents in 12 months meets the criterion
    #: (SafeLives recommends 3; some areas use 5).
    escalation_threshold: Mapped[int] = mapped_column(default=3)
    #: Days before a meeting after which new cases wait for the next one.
    agenda_cutoff_days: Mapped[int] = mapped_column(default=5)
    #: Highest score of the "standard" band and of the "medium" band; 14+ is high.
    band_standard_max: Mapped[int] = mapped_column(default=9)
    band_medium_max: Mapped[int] = mapped_column(default=13)
    #: Yes answers on the checklist that make a visible-high-risk referral.
    high_risk_threshold: Mapped[int] = mapped_column(default=14)
    #: Risk checklists the area offers besides the default SafeLives 24-question one: the
    #: 27-question police DASH as another main checklist, the stalking add-on beside either.
    extra_checklists: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=now)

    agencies: Mapped[list[Agency]] = relationship(back_populates="area", order_by="Agency.name")


class Agency(Base):
    """A partner agency of one MARAC area."""

    __tablename__ = "agencies"
    __table_args__ = (UniqueConstraint("area_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    #: One of AgencyType; decides the to-do template and the referral statistics group.
    type: Mapped[AgencyType] = mapped_column(Code(AgencyType, 40))
    #: Statutory or voluntary; decides which lawful bases it may rely on.
    sector: Mapped[Sector] = mapped_column(Code(Sector, 20))
    #: The information sharing protocol: signed at chief-officer level, reviewed periodically.
    isp_signed_on: Mapped[date | None]
    isp_signed_by: Mapped[str | None] = mapped_column(String(160))
    isp_review_due_on: Mapped[date | None]
    #: Comma-free list of email domains its staff use, for finding the agency at sign-in.
    email_domains: Mapped[str] = mapped_column(String(500), default="")
    #: Set when the agency leaves the hub; its members can no longer sign in.
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    area: Mapped[MaracArea] = relationship(back_populates="agencies")
    members: Mapped[list[Member]] = relationship(back_populates="agency", order_by="Member.name")

    @property
    def agency_sector(self) -> Sector:
        return Sector(self.sector)

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def domains(self) -> list[str]:
        return [d for d in self.email_domains.split() if d]

    def has_current_isp(self, on: date) -> bool:
        """Whether the protocol is signed and not past its review date on a given day."""
        if self.isp_signed_on is None or self.isp_signed_on > on:
            return False  # never signed, or signed with a future date: not yet in force
        if self.isp_review_due_on is not None and self.isp_review_due_on < on:
            return False  # lapsed: the review date has passed without renewal
        return True


class MemberRole(Base):
    """One role held by one member."""

    __tablename__ = "member_roles"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class Member(Base):
    """A person working for a partner agency who uses the hub."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    #: Lower-cased; unique across the hub. Never the key for single sign-on (issuer+sub is).
    email: Mapped[str] = mapped_column(String(254), unique=True)
    #: Job title shown beside the name, e.g. "Detective Sergeant".
    job_title: Mapped[str] = mapped_column(String(160), default="")
    status: Mapped[MemberStatus] = mapped_column(
        Code(MemberStatus, 20), default=MemberStatus.ACTIVE
    )
    #: Set when the member is disabled; open sessions end at their next request.
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_signed_in_at: Mapped[datetime | None]
    #: Optimistic-locking counter for edits by two administrators at once.
    version: Mapped[int] = mapped_column(default=1)

    agency: Mapped[Agency] = relationship(back_populates="members")
    role_rows: Mapped[list[MemberRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    def set_roles(self, roles: set[Role] | frozenset[Role]) -> None:
        wanted = {r.value for r in roles}
        self.role_rows = [r for r in self.role_rows if r.role in wanted] + [
            MemberRole(role=r) for r in sorted(wanted - {r.role for r in self.role_rows})
        ]

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def is_pending(self) -> bool:
        return self.status == MemberStatus.PENDING

    def can_sign_in(self) -> bool:
        """Whether this member may hold a session now."""
        if self.is_disabled:
            return False  # disabled by an administrator or their agency
        if self.agency.is_disabled:
            return False  # the whole agency has left the hub
        return not self.is_pending  # waiting for approval by the MARAC representative
