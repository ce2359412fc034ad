"""The area's risk settings and the checklists it offers.

Services take the actor explicitly and never commit."""

from __future__ import annotations

from dataclasses import dataclass

from agencies.models import MaracArea
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from cases import checklists
from cases.models import (
    Referral,
)
from hub.core.access import Actor, Permission
from hub.core.db import session
from hub.core.errors import Forbidden, NotFound, ValidationFailed


@dataclass
class AreaRiskSettings:
    escalation_threshold: int
    band_standard_max: int
    band_medium_max: int
    high_risk_threshold: int
    extra_checklists: list[str]


def area_checklists(
    referral: Referral,
) -> tuple[list[checklists.Checklist], list[checklists.Checklist]]:
    """The main checklists and add-ons the referral's area offers (default first)."""
    area = session().get(MaracArea, referral.area_id)
    return checklists.offered(area.extra_checklists if area is not None else [])


def risk_settings(actor: Actor) -> tuple[MaracArea, list[checklists.Checklist]]:
    """The administrator's area, and the checklists it could enable besides the default."""
    if not actor.can(Permission.AGENCIES_MANAGE) or actor.area_id is None:
        raise Forbidden("Only a hub administrator changes the area's risk settings.")
    area = session().get(MaracArea, actor.area_id)
    if area is None:
        raise NotFound("There is no such area.")
    optional = [
        c
        for key, c in sorted(checklists.load_checklists().items())
        if key != checklists.DEFAULT_CHECKLIST
    ]
    return area, optional


def update_risk_settings(actor: Actor, data: AreaRiskSettings) -> MaracArea:
    """Change the thresholds, bands and checklists of the actor's area (recorded)."""
    area, optional = risk_settings(actor)
    errors: dict[str, str] = {}
    if not 1 <= data.escalation_threshold <= 20:
        errors["escalation_threshold"] = "Enter a number of incidents from 1 to 20"
    if not 0 <= data.band_standard_max < data.band_medium_max:
        errors["band_medium_max"] = "The medium band must start above the standard band"
    if not data.band_medium_max < data.high_risk_threshold <= 30:
        errors["high_risk_threshold"] = (
            "The high-risk threshold must be above the medium band, and 30 or less"
        )
    known = {c.key for c in optional}
    if any(key not in known for key in data.extra_checklists):
        errors["extra_checklists"] = "Select only checklists from the list"
    if errors:
        raise ValidationFailed(errors)
    area.escalation_threshold = data.escalation_threshold
    area.band_standard_max = data.band_standard_max
    area.band_medium_max = data.band_medium_max
    area.high_risk_threshold = data.high_risk_threshold
    area.extra_checklists = sorted(set(data.extra_checklists))
    session().flush()
    record(
        actor,
        LedgerAction.AREA_RISK_SETTINGS_CHANGED,
        Subject("area", area.id),
        escalation_threshold=area.escalation_threshold,
        band_standard_max=area.band_standard_max,
        band_medium_max=area.band_medium_max,
        high_risk_threshold=area.high_risk_threshold,
        checklists=area.extra_checklists,
    )
    return area
