"""The area's settings for its quarterly MARAC data return.

Counts only: nothing here names a case or a person.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.clock import now
from hub.core.db import Base, Code


class RepeatDefinition(StrEnum):
    """Which definition of a repeat case the MARAC uses (next-capabilities 1.4)."""

    #: SafeLives' current one: any abuse between the same victim and perpetrator(s) within
    #: 12 months of the last referral.
    ANY_ABUSE_12M = "any_abuse_12m"
    #: The older one: a further incident that would be criminal if reported to the police.
    CRIMINAL_INCIDENT = "criminal_incident"

    @property
    def label(self) -> str:
        return {
            "any_abuse_12m": "Any abuse within 12 months of the last referral (current)",
            "criminal_incident": "A further criminal-type incident (older definition)",
        }[self.value]


class ReturnSettings(Base):
    """One area's settings for the return: how agency types map to the return's referral
    categories, the repeat definition, and the denominators and national figures."""

    __tablename__ = "return_settings"

    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), primary_key=True)
    #: {agency type code: return category code}; a type not named uses the default mapping.
    agency_categories: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: One of RepeatDefinition.
    repeat_definition: Mapped[RepeatDefinition] = mapped_column(
        Code(RepeatDefinition, 30), default=RepeatDefinition.ANY_ABUSE_12M
    )
    #: Women aged 16 and over living in the area the MARAC covers.
    female_population: Mapped[int | None]
    #: Where that figure comes from, e.g. "ONS Census 2021, table TS009".
    population_source: Mapped[str] = mapped_column(String(200), default="")
    population_year: Mapped[int | None]
    #: National figures for comparison, {measure code: value in tenths of a per cent or of a
    #: case per 10,000}, as the administrator entered them from SafeLives' published table.
    national: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    #: The last day of the 12 months the national figures cover.
    national_as_of: Mapped[date | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    updated_at: Mapped[datetime] = mapped_column(default=now)


class ReturnStatus(StrEnum):
    #: Not yet checked: every quarter starts here (no row is needed for it).
    DRAFT = "draft"
    #: Checked by the coordinator, with the warnings it raised; the figures are held.
    VALIDATED = "validated"
    #: Sent to SafeLives: the figures frozen as sent.
    SUBMITTED = "submitted"
    #: A later version sent after the first, with the reason.
    CORRECTED = "corrected"

    @property
    def label(self) -> str:
        return {
            "draft": "Draft",
            "validated": "Validated",
            "submitted": "Submitted",
            "corrected": "Corrected",
        }[self.value]


#: Which status may follow which (the services check it; the page shows the next step).
TRANSITIONS: dict[ReturnStatus, set[ReturnStatus]] = {
    ReturnStatus.DRAFT: {ReturnStatus.VALIDATED},
    ReturnStatus.VALIDATED: {
        ReturnStatus.VALIDATED,
        ReturnStatus.SUBMITTED,
        ReturnStatus.CORRECTED,
    },
    ReturnStatus.SUBMITTED: {ReturnStatus.VALIDATED},
    ReturnStatus.CORRECTED: {ReturnStatus.VALIDATED},
}


class QuarterlyReturn(Base):
    """One version of an area's return for one quarter: the figures as validated, then as
    sent. A correction is a new version; a sent version is never changed."""

    __tablename__ = "quarterly_returns"
    __table_args__ = (UniqueConstraint("area_id", "quarter", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    #: The calendar quarter, e.g. "2026-Q2".
    quarter: Mapped[str] = mapped_column(String(7))
    #: 1 for the first return of the quarter, 2, 3, ... for each correction.
    version: Mapped[int] = mapped_column(default=1)
    status: Mapped[ReturnStatus] = mapped_column(
        Code(ReturnStatus, 20), default=ReturnStatus.VALIDATED
    )
    #: The meeting rows and totals as validated and sent: counts per meeting date only.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The warnings validation raised, as codes.
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    validated_at: Mapped[datetime] = mapped_column(default=now)
    validated_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: Why a correction was sent (no case content: "a meeting closed late was missing").
    reason: Mapped[str] = mapped_column(Text, default="")
