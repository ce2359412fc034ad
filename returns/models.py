"""The area's settings for its quarterly MARAC data return.

Counts only: nothing here names a case or a person.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
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
