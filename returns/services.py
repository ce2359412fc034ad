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
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass

from agencies.models import AgencyType, MaracArea
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Forbidden, NotFound, ValidationFailed
from returns import codes
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
    repeat_definition: RepeatDefinition


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
            national={},
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
    rows = meeting_rows(area.id, quarter.starts_on, quarter.ends_on, settings.agency_categories)
    return QuarterReturn(
        area_name=area.name,
        quarter=quarter,
        rows=rows,
        totals=totals(rows),
        repeat_definition=settings.repeat_definition,
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
