"""The quarterly return for the area's own reporting tools: counts only, never a case.

``GET /api/v1/returns/{quarter}`` answers the meeting rows, the totals and the measures of
the client's own area. Errors are RFC 9457 problem JSON (a quarter that is not written like
2026-Q2 is a 404).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from hub.core.requestctx import actor
from hub.core.routes import require_scope
from returns import lifecycle, services

bp = Blueprint(
    "returns_api",
    __name__,
    url_prefix="/api/v1",
    description="The quarterly MARAC data return: counts per meeting date, never a case.",
)

_COUNTS = ma.fields.Dict(
    keys=ma.fields.String(),
    values=ma.fields.Integer(),
    metadata={"description": "Counts by field code; a code ending _not_known counts no answer."},
)


class MeetingSchema(ma.Schema):
    meeting_date = ma.fields.Date(required=True)
    counts = _COUNTS


class ReturnSchema(ma.Schema):
    area = ma.fields.String(required=True)
    quarter = ma.fields.String(required=True, metadata={"example": "2026-Q2"})
    starts_on = ma.fields.Date(required=True)
    ends_on = ma.fields.Date(required=True)
    status = ma.fields.String(
        required=True, metadata={"description": "draft, validated, submitted or corrected"}
    )
    repeat_definition = ma.fields.String(required=True)
    meetings = ma.fields.List(ma.fields.Nested(MeetingSchema), required=True)
    totals = _COUNTS
    measures = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(allow_none=True)),
        metadata={
            "description": "quarter and rolling_12_months: each measure, in per cent or "
            "cases a year per 10,000 women aged 16 and over"
        },
    )


@bp.route("/returns/<quarter>")
@require_scope("returns:read")
@bp.response(200, ReturnSchema)
def quarterly_return(quarter: str) -> dict[str, Any]:
    """The area's return for one calendar quarter, as counted from its held meetings."""
    who = actor()
    found = services.quarter_return(who, services.parse_quarter(quarter))
    life = lifecycle.status_of(who, found.quarter, found)
    return {
        "area": found.area_name,
        "quarter": found.quarter.key,
        "starts_on": found.quarter.starts_on,
        "ends_on": found.quarter.ends_on,
        "status": life.status.value,
        "repeat_definition": found.repeat_definition.value,
        "meetings": [
            {"meeting_date": r.held_on, "counts": dict(sorted(r.counts.items()))}
            for r in found.rows
        ],
        "totals": dict(sorted(found.totals.items())),
        "measures": {
            "quarter": {m.code: m.value for m in found.quarter_measures.measures},
            "rolling_12_months": {m.code: m.value for m in found.year_measures.measures},
        },
    }
