"""The quarterly MARAC data return: its rows, its agency categories, and its exports.

Every use case takes the actor explicitly, may flush, and never commits. What leaves here
is counts per meeting date and their totals: never a case, a person or a reference.

API
===

``quarter_return(actor, quarter) -> QuarterReturn``
    The area's held meetings in the quarter, one row of counts each, and the totals.
``export_csv(actor, quarter, *, publication=False) -> str``, ``export_xlsx(...) -> bytes``
    The same rows as CSV or a spreadsheet; in publication mode a count from 1 to 4 is
    written "<5". Each export is a ledger entry.
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

from sqlalchemy import func, select

from agencies.models import AgencyType, MaracArea
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission
from hub.core.clock import now, to_london, today_london
from hub.core.db import session
from hub.core.errors import Forbidden, NotFound, ValidationFailed
from meetings.models import Meeting
from returns import charts, codes, measures
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
    #: The quarters either side worth showing (None before the area's first quarter and
    #: after the current one), so the pages never lead through empty years.
    previous: Quarter | None = None
    following: Quarter | None = None

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


def neighbours(area: MaracArea, quarter: Quarter) -> tuple[Quarter | None, Quarter | None]:
    """The quarter before (back to the area's first) and after (up to the current one)."""
    first_meeting = session().scalar(
        select(func.min(Meeting.held_on)).where(Meeting.area_id == area.id)
    )
    starts = [to_london(area.created_at).date(), *([first_meeting] if first_meeting else [])]
    first = Quarter.containing(min(starts))
    last = Quarter.containing(today_london())
    return (
        quarter.previous if quarter.previous >= first else None,
        quarter.next if quarter.next <= last else None,
    )


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
    previous, following = neighbours(area, quarter)
    return QuarterReturn(
        previous=previous,
        following=following,
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


def export_xlsx(actor: Actor, quarter: Quarter, *, publication: bool = False) -> bytes:
    """The quarter's meeting rows and totals as a spreadsheet, recorded in the ledger."""
    from openpyxl import Workbook

    found = quarter_return(actor, quarter)
    columns = codes.fields()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Meetings")
    sheet.append(["Meeting date", *(label for _code, label in columns)])
    sheet.append(["meeting_date", *(code for code, _label in columns)])

    def cell(value: int) -> int | str:
        return shown(value, publication=publication) if publication else value

    for row in found.rows:
        sheet.append([row.held_on, *(cell(row.get(code)) for code, _ in columns)])
    sheet.append(["Total", *(cell(found.totals[code]) for code, _ in columns)])
    about = book.create_sheet("About")
    for pair in (
        ("MARAC", found.area_name),
        ("Quarter", found.quarter.label),
        ("Repeat definition", found.repeat_definition.label),
        ("Unit", "A case is a victim and perpetrator pair, counted at the meeting that heard it"),
        ("Not known", "Counted in its own columns, never as a no"),
        ("Publication mode", "Counts from 1 to 4 shown as <5" if publication else "No"),
        ("Produced", now().strftime("%Y-%m-%d %H:%M UTC")),
    ):
        about.append(list(pair))
    out = io.BytesIO()
    book.save(out)
    _record_export(actor, found, "xlsx", publication)
    return out.getvalue()


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


#: Quarters the dashboard's trends show.
TREND_QUARTERS = 8
#: The diversity groups' names where a chart has little room (its table has the full ones).
SHORT_LABELS = {
    "victims_bame": "Black, Asian, minoritised",
    "victims_lgbt": "LGBT+",
    "victims_disabled": "Disabled",
    "victims_male": "Male",
    "victims_16_17": "Aged 16 or 17",
}


def _pct(value: float | None) -> str:
    return "Not available" if value is None else f"{value:.1f}%"


@dataclass(frozen=True)
class Dashboard:
    area_name: str
    charts: list[charts.Chart]
    previous: Quarter | None
    following: Quarter | None


def dashboard(actor: Actor, quarter: Quarter) -> Dashboard:
    """The dashboard's charts for the two years to the quarter."""
    area = _area(actor, Permission.RETURNS_READ)
    found = settings_of(area.id)
    quarters = [quarter]
    while len(quarters) < TREND_QUARTERS:
        quarters.insert(0, quarters[0].previous)
    rows = meeting_rows(area.id, quarters[0].starts_on, quarter.ends_on, found.agency_categories)
    per_quarter = [
        (q, totals([r for r in rows if q.starts_on <= r.held_on <= q.ends_on])) for q in quarters
    ]
    year = totals([r for r in rows if r.held_on >= quarters[-4].starts_on])
    population = found.female_population
    national = {code: tenths / 10 for code, tenths in (found.national or {}).items()}
    made: list[charts.Chart] = []

    recommended = None if not population else population * measures.RECOMMENDED_PER_10K / 40_000
    cases = [(q.key, float(t["cases_total"]), str(t["cases_total"])) for q, t in per_quarter]
    made.append(
        charts.columns(
            "cases",
            "Cases discussed each quarter",
            f"Cases discussed at the MARAC in each of the {len(quarters)} quarters to "
            f"{quarter.label}, repeats included."
            + (
                f" The line is the recommended volume: {recommended:.0f} cases a quarter "
                "(40 a year per 10,000 women aged 16 and over)."
                if recommended is not None
                else " The recommended volume needs the area's population (Return settings)."
            ),
            cases,
            reference=None if recommended is None else ("Recommended volume", recommended),
            table=(
                ["Quarter", "Cases", "Recommended"],
                [
                    [
                        q.label,
                        str(t["cases_total"]),
                        "" if recommended is None else f"{recommended:.0f}",
                    ]
                    for q, t in per_quarter
                ],
            ),
        )
    )

    def rate(t: Counter[str]) -> float | None:
        return None if not t["cases_total"] else 100 * t["cases_repeat"] / t["cases_total"]

    repeat_national = national.get("repeat_rate")
    made.append(
        charts.columns(
            "repeats",
            "Repeat rate each quarter",
            "The share of the quarter's cases that were repeats."
            + (
                f" The line is the national rate, {repeat_national:.1f}%."
                if repeat_national is not None
                else ""
            ),
            [
                (q.key, rate(t) or 0.0, _pct(rate(t)) if t["cases_total"] else "–")
                for q, t in per_quarter
            ],
            reference=None if repeat_national is None else ("National", repeat_national),
            unit="%",
            table=(
                ["Quarter", "Repeat rate", "Repeats", "Cases"],
                [
                    [q.label, _pct(rate(t)), str(t["cases_repeat"]), str(t["cases_total"])]
                    for q, t in per_quarter
                ],
            ),
        )
    )

    sources = [
        (label, float(year[f"referrals_{code}"]), str(year[f"referrals_{code}"]))
        for code, label in codes.CATEGORIES.items()
    ]
    sources.sort(key=lambda s: -s[1])
    made.append(
        charts.rows(
            "sources",
            "Who referred the year's cases",
            f"Cases in the 12 months to the end of {quarter.label}, by the kind of agency "
            "that referred them, most first.",
            sources,
            table=(["Referred by", "Cases"], [[label, shown] for label, _v, shown in sources]),
        )
    )

    shares = measures.derive(year, quarters=4, population=population)
    diversity = [m for m in shares.measures if m.code.startswith("victims_")]
    made.append(
        charts.rows(
            "diversity",
            "Victims in the year's cases, against the national figures",
            "The share of the 12 months' cases whose victim was in each group; the black mark "
            "on each bar is the national figure. Cases where it is not known count in the "
            "whole but not in the group.",
            [(SHORT_LABELS[m.code], m.value or 0.0, _pct(m.value)) for m in diversity],
            marks=[national.get(m.code) for m in diversity],
            mark_label="National",
            unit="%",
            table=(
                ["Group", "This area", "Not known", "National"],
                [
                    [m.label, _pct(m.value), str(m.not_known), _pct(national.get(m.code))]
                    for m in diversity
                ],
            ),
        )
    )
    return Dashboard(area.name, made, *neighbours(area, quarter))
