"""The return's lifecycle: draft, validated, submitted, corrected.

Validating checks the quarter and holds its figures with the warnings found; submitting
freezes the held figures as sent, with who sent them, and refuses when the figures have
changed since they were validated. A correction is a new version, validated and sent with
a reason; a sent version never changes.

API
===

``status_of(actor, quarter) -> Lifecycle``
    The latest version (or none: a draft), the warnings the quarter raises now, whether
    the figures changed since the latest version, and the actions open to the actor.
``validate_return(actor, quarter) -> QuarterlyReturn``
``submit_return(actor, quarter, reason="") -> QuarterlyReturn``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from agencies.models import Member
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import Conflict, Forbidden, ValidationFailed
from returns.compute import Quarter
from returns.models import TRANSITIONS, QuarterlyReturn, RepeatDefinition, ReturnStatus
from returns.services import QuarterReturn, quarter_return

#: What each warning code says to the coordinator.
WARNINGS = {
    "no_meetings": "No meeting was held and closed in this quarter.",
    "month_without_meeting": "A month of the quarter has no meeting held.",
    "repeats_above_cases": "A meeting has more repeat cases than cases.",
    "previous_not_submitted": (
        "The previous quarter’s return has not been submitted: SafeLives uses an area’s last "
        "quarter as a proxy for a missing one, and drops an area after two missing quarters."
    ),
    "older_repeat_definition": (
        "The MARAC uses the older repeat definition (a criminal-type incident), but the hub "
        "flags repeats by the current one (any abuse within 12 months): check the repeats."
    ),
}
MIN_REASON = 10


@dataclass(frozen=True)
class Lifecycle:
    status: ReturnStatus
    latest: QuarterlyReturn | None
    warnings: list[str]
    #: The figures now differ from those the latest version holds.
    changed: bool
    can_validate: bool
    can_submit: bool
    #: Submitting the latest version would send a correction (a reason is needed).
    is_correction: bool
    #: Who validated and who sent the latest version (names of hub members).
    names: dict[str, str] = field(default_factory=dict)

    @property
    def warning_texts(self) -> list[str]:
        return [WARNINGS[code] for code in self.warnings]


def snapshot(found: QuarterReturn) -> dict[str, Any]:
    """The figures as held: per meeting date and in total, with the definitions used."""
    return {
        "rows": [
            {"held_on": r.held_on.isoformat(), "counts": dict(sorted(r.counts.items()))}
            for r in found.rows
        ],
        "totals": dict(sorted(found.totals.items())),
        "repeat_definition": found.settings.repeat_definition.value,
        "categories": dict(found.settings.agency_categories or {}),
    }


def _same_figures(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return bool(a.get("rows") == b.get("rows") and a.get("totals") == b.get("totals"))


def warnings_for(found: QuarterReturn, area_id: int) -> list[str]:
    codes: list[str] = []
    if not found.rows:
        codes.append("no_meetings")
    else:
        months = {r.held_on.month for r in found.rows}
        first = found.quarter.starts_on.month
        if any(m not in months for m in range(first, first + 3)):
            codes.append("month_without_meeting")
    if any(r.counts["cases_repeat"] > r.counts["cases_total"] for r in found.rows):
        codes.append("repeats_above_cases")
    sent_before = session().scalar(
        select(QuarterlyReturn.id)
        .where(
            QuarterlyReturn.area_id == area_id,
            QuarterlyReturn.quarter == found.quarter.previous.key,
            QuarterlyReturn.submitted_at.is_not(None),
        )
        .limit(1)
    )
    if sent_before is None:
        codes.append("previous_not_submitted")
    if found.settings.repeat_definition == RepeatDefinition.CRIMINAL_INCIDENT:
        codes.append("older_repeat_definition")
    return codes


def _latest(area_id: int, quarter: Quarter) -> QuarterlyReturn | None:
    return session().scalar(
        select(QuarterlyReturn)
        .where(QuarterlyReturn.area_id == area_id, QuarterlyReturn.quarter == quarter.key)
        .order_by(QuarterlyReturn.version.desc())
        .limit(1)
    )


def _names(latest: QuarterlyReturn | None) -> dict[str, str]:
    if latest is None:
        return {}
    found = {}
    for key, member_id in (
        ("validated_by", latest.validated_by_id),
        ("submitted_by", latest.submitted_by_id),
    ):
        member = session().get(Member, member_id) if member_id is not None else None
        if member is not None:
            found[key] = member.name
    return found


def status_of(actor: Actor, quarter: Quarter, found: QuarterReturn | None = None) -> Lifecycle:
    found = found or quarter_return(actor, quarter)
    assert actor.area_id is not None  # quarter_return checked it
    latest = _latest(actor.area_id, quarter)
    status = latest.status if latest is not None else ReturnStatus.DRAFT
    manage = actor.can(Permission.RETURNS_MANAGE)
    changed = latest is not None and not _same_figures(latest.snapshot, snapshot(found))
    return Lifecycle(
        status=status,
        latest=latest,
        warnings=warnings_for(found, actor.area_id),
        changed=changed,
        can_validate=manage and quarter.ends_on < now().date(),
        can_submit=manage and status == ReturnStatus.VALIDATED and not changed,
        is_correction=latest is not None and latest.version > 1,
        names=_names(latest),
    )


def _require_manager(actor: Actor) -> None:
    if not actor.can(Permission.RETURNS_MANAGE):
        raise Forbidden("Only the area's coordinator validates and submits its return.")


def validate_return(actor: Actor, quarter: Quarter) -> QuarterlyReturn:
    """Check the quarter and hold its figures (a new version after a sent one)."""
    _require_manager(actor)
    found = quarter_return(actor, quarter)
    assert actor.area_id is not None
    if quarter.ends_on >= now().date():
        raise ValidationFailed("A quarter can be validated once it has ended.")
    latest = _latest(actor.area_id, quarter)
    status = latest.status if latest is not None else ReturnStatus.DRAFT
    if ReturnStatus.VALIDATED not in TRANSITIONS[status]:
        raise Conflict(f"A {status.label.lower()} return cannot be validated.")
    if latest is None or latest.status != ReturnStatus.VALIDATED:
        latest = QuarterlyReturn(
            area_id=actor.area_id,
            quarter=quarter.key,
            version=1 if latest is None else latest.version + 1,
            reason="",
        )
        session().add(latest)
    latest.status = ReturnStatus.VALIDATED
    latest.snapshot = snapshot(found)
    latest.warnings = warnings_for(found, actor.area_id)
    latest.validated_at = now()
    latest.validated_by_id = actor.member_id
    session().flush()
    record(
        actor,
        LedgerAction.RETURN_VALIDATED,
        Subject("area", actor.area_id),
        quarter=quarter.key,
        version=latest.version,
        warnings=latest.warnings,
    )
    return latest


def submit_return(actor: Actor, quarter: Quarter, reason: str = "") -> QuarterlyReturn:
    """Freeze the validated figures as sent; a later version is a correction, with a reason."""
    _require_manager(actor)
    found = quarter_return(actor, quarter)
    assert actor.area_id is not None
    latest = _latest(actor.area_id, quarter)
    if latest is None or latest.status != ReturnStatus.VALIDATED:
        raise Conflict("Validate the return before submitting it.")
    if not _same_figures(latest.snapshot, snapshot(found)):
        raise Conflict("The figures have changed since the return was validated: validate again.")
    correction = latest.version > 1
    target = ReturnStatus.CORRECTED if correction else ReturnStatus.SUBMITTED
    if target not in TRANSITIONS[latest.status]:
        raise Conflict("This return cannot be submitted now.")
    if correction and len(reason.strip()) < MIN_REASON:
        raise ValidationFailed(
            {"reason": "Say why the correction is sent, in at least 10 characters"}
        )
    latest.status = target
    latest.submitted_at = now()
    latest.submitted_by_id = actor.member_id
    latest.reason = reason.strip()
    session().flush()
    record(
        actor,
        LedgerAction.RETURN_CORRECTED if correction else LedgerAction.RETURN_SUBMITTED,
        Subject("area", actor.area_id),
        quarter=quarter.key,
        version=latest.version,
    )
    return latest
