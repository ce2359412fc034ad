"""The quarterly MARAC data return: its rows, its agency categories, and its exports.

Every use case takes the actor explicitly, may flush, and never commits. What leaves here
is counts per meeting date and their totals: never a case, a person or a reference.

API
===

``quarter_return(actor, quarter) -> QuarterReturn``
    The area's held meetings in the quarter, one row of counts each, and the totals.
``export_csv(actor, quarter, *, publication=False) -> str``
    The same rows as CSV; in publication mode a count from 1 to 4 is written "<5". Each
    export is a ledger entry.
``categories(actor)`` / ``update_categories(actor, {agency type: category})``
    Where each agency type's referrals are counted (the coordinator's to change).
``settings(actor)`` / ``update_settings(actor, SettingsData)``
    The repeat definition, the adult female population with its source and year, and the
    national figures with their date (the coordinator's or the administrator's).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from datetime import date

from agencies.models import AgencyType, MaracArea
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Forbidden, NotFound, ValidationFailed
from returns import codes, measures
from returns.compute import MeetingRow, Quarter, category_of, meeting_rows, totals
from returns.models import RepeatDefinition, ReturnSettings

#: Counts below this are written "<5" in publication mode (board reports; WWALES).
SUPPRESS_BELOW = 5


@dataclass(frozen=True)
class QuarterReturn:
    area_name: str
    quarter: Quarter
    rows: list[MeetingRow]
    totals: Counter[str]
    #: The rolling 12 months that end with the quarter: every meeting's row, and totals.
    year_rows: list[MeetingRow]
    year_totals: Counter[str]
    settings: ReturnSettings
    quarter_measures: measures.Measures
    year_measures: measures.Measures

    @property
    def repeat_definition(self) -> RepeatDefinition:
        return self.settings.repeat_definition

    def national(self, code: str) -> float | None:
        """A national figure as entered (stored in tenths), or None."""
        tenths = (self.settings.national or {}).get(code)
        return None if tenths is None else tenths / 10

    def quarter_totals(self) -> list[tuple[Quarter, Counter[str]]]:
        """Each quarter of the rolling year, oldest first, with its totals."""
        return [
            (q, totals([r for r in self.year_rows if q.starts_on <= r.held_on <= q.ends_on]))
            for q in self.quarter.year_to()
        ]


def _area(actor: Actor, permission: Permission) -> MaracArea:
    if not actor.can(permission) or actor.area_id is None:
        raise Forbidden("Only the area's coordinator and chair see its quarterly return.")
    area = session().get(MaracArea, actor.area_id)
    if area is None:
        raise NotFound("There is no such area.")
    return area


def settings_of(area_id: int) -> ReturnSettings:
    """The area's settings row; a new one (not yet added) holds the defaults."""
    found = session().get(ReturnSettings, area_id)
    if found is None:
        found = ReturnSettings(
            area_id=area_id,
            agency_categories={},
            repeat_definition=RepeatDefinition.ANY_ABUSE_12M,
            population_source="",
            national=dict(measures.NATIONAL_2024_09),
            national_as_of=date(2024, 9, 30),
        )
    return found


def parse_quarter(text: str) -> Quarter:
    try:
        return Quarter.parse(text)
    except ValueError:
        raise NotFound("There is no such quarter.") from None


def quarter_return(actor: Actor, quarter: Quarter) -> QuarterReturn:
    area = _area(actor, Permission.RETURNS_READ)
    settings = settings_of(area.id)
    year_rows = meeting_rows(
        area.id, quarter.year_to()[0].starts_on, quarter.ends_on, settings.agency_categories
    )
    rows = [r for r in year_rows if r.held_on >= quarter.starts_on]
    quarter_totals, year_totals = totals(rows), totals(year_rows)
    population = settings.female_population
    return QuarterReturn(
        area_name=area.name,
        quarter=quarter,
        rows=rows,
        totals=quarter_totals,
        year_rows=year_rows,
        year_totals=year_totals,
        settings=settings,
        quarter_measures=measures.derive(quarter_totals, quarters=1, population=population),
        year_measures=measures.derive(year_totals, quarters=4, population=population),
    )


def shown(value: int, *, publication: bool) -> str:
    """A count as printed: in publication mode, 1 to 4 as "<5" (nought stays nought)."""
    if publication and 0 < value < SUPPRESS_BELOW:
        return f"<{SUPPRESS_BELOW}"
    return str(value)


def export_csv(actor: Actor, quarter: Quarter, *, publication: bool = False) -> str:
    """The quarter's meeting rows and totals as CSV, recorded in the ledger."""
    found = quarter_return(actor, quarter)
    columns = codes.fields()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["meeting_date", *(code for code, _label in columns)])
    for row in found.rows:
        writer.writerow(
            [
                row.held_on.isoformat(),
                *(shown(row.get(code), publication=publication) for code, _ in columns),
            ]
        )
    writer.writerow(
        ["total", *(shown(found.totals[code], publication=publication) for code, _ in columns)]
    )
    _record_export(actor, found, "csv", publication)
    return out.getvalue()


def _record_export(actor: Actor, found: QuarterReturn, kind: str, publication: bool) -> None:
    assert actor.area_id is not None  # _area checked it
    record(
        actor,
        LedgerAction.RETURN_EXPORTED,
        Subject("area", actor.area_id),
        quarter=found.quarter.key,
        format=kind,
        publication=publication,
        meetings=len(found.rows),
    )


def categories(actor: Actor) -> dict[AgencyType, str]:
    """Where each agency type's referrals are counted in the area's return."""
    area = _area(actor, Permission.RETURNS_READ)
    mapping = settings_of(area.id).agency_categories
    return {kind: category_of(kind, mapping) for kind in AgencyType}


def update_categories(actor: Actor, chosen: dict[str, str]) -> dict[AgencyType, str]:
    """Change where agency types' referrals are counted (recorded in the ledger)."""
    area = _area(actor, Permission.RETURNS_MANAGE)
    errors = {
        kind: "Select a category from the list"
        for kind in (k.value for k in AgencyType)
        if chosen.get(kind) not in codes.CATEGORIES
    }
    unknown = set(chosen) - {k.value for k in AgencyType}
    if unknown:
        errors["_"] = "Only the hub's agency types can be mapped"
    if errors:
        raise ValidationFailed(errors)
    settings = settings_of(area.id)
    settings.agency_categories = {k.value: chosen[k.value] for k in AgencyType}
    settings.updated_by_id = actor.member_id
    settings.updated_at = now()
    session().add(settings)
    session().flush()
    record(
        actor,
        LedgerAction.RETURN_CATEGORIES_CHANGED,
        Subject("area", area.id),
        categories=settings.agency_categories,
    )
    return {kind: category_of(kind, settings.agency_categories) for kind in AgencyType}


@dataclass(frozen=True)
class SettingsData:
    repeat_definition: str
    female_population: int | None
    population_source: str
    population_year: int | None
    #: {measure code: tenths}, only the measures entered.
    national: dict[str, int]
    national_as_of: date | None


def settings(actor: Actor) -> ReturnSettings:
    return settings_of(_area(actor, Permission.RETURNS_SETTINGS).id)


def update_settings(actor: Actor, data: SettingsData) -> ReturnSettings:
    """Change the area's repeat definition, population and national figures (recorded)."""
    area = _area(actor, Permission.RETURNS_SETTINGS)
    errors: dict[str, str] = {}
    if data.repeat_definition not in {d.value for d in RepeatDefinition}:
        errors["repeat_definition"] = "Select the repeat definition the MARAC uses"
    if data.female_population is not None and not 1_000 <= data.female_population <= 30_000_000:
        errors["female_population"] = "Enter a population from 1,000 to 30,000,000"
    if data.female_population is not None and not data.population_source.strip():
        errors["population_source"] = "Enter where the population figure comes from"
    if data.population_year is not None and not 2001 <= data.population_year <= now().year:
        errors["population_year"] = f"Enter a year from 2001 to {now().year}"
    if data.female_population is not None and data.population_year is None:
        errors["population_year"] = "Enter the year the population figure is for"
    known = {c for c, _label, _unit in measures.NATIONAL_MEASURES}
    for code, tenths in data.national.items():
        limit = 10_000 if code == "cases_per_10k" else 1_000
        if code not in known or not 0 <= tenths <= limit:
            errors[f"national_{code}"] = (
                f"Enter a figure from 0 to {limit // 10:,}, to one decimal place"
            )
    if data.national and data.national_as_of is None:
        errors["national_as_of"] = "Enter the last day of the 12 months the figures cover"
    if data.national_as_of is not None and data.national_as_of > now().date():
        errors["national_as_of"] = "The figures' date must be today or in the past"
    if errors:
        raise ValidationFailed(errors)
    found = settings_of(area.id)
    found.repeat_definition = RepeatDefinition(data.repeat_definition)
    found.female_population = data.female_population
    found.population_source = data.population_source.strip()
    found.population_year = data.population_year
    found.national = dict(data.national)
    found.national_as_of = data.national_as_of
    found.updated_by_id = actor.member_id
    found.updated_at = now()
    session().add(found)
    session().flush()
    record(
        actor,
        LedgerAction.RETURN_SETTINGS_CHANGED,
        Subject("area", area.id),
        repeat_definition=found.repeat_definition.value,
        female_population=found.female_population,
        population_year=found.population_year,
        national=found.national,
    )
    return found
