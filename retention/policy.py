"""Each area's retention policy: the defaults, validation, and adopting a new version.

There is no national MARAC retention period (next-capabilities 3.1): every period is the
area's to set. The defaults follow the one concrete local rule found (a council schedule's
"minutes of multi-agency meetings: 6+ years", MAR 01.02) and are shown as "local policy
required" until the area adopts a policy of its own; until then nothing is queued.

API
===

``current(area_id) -> Policy``
    The area's newest version, or the defaults (version 0, not adopted).
``adopt_policy(actor, PolicyData) -> RetentionPolicy``
    Validate and save a new version; the ledger records its periods (codes and numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission
from hub.core.db import session
from hub.core.errors import Forbidden, ValidationFailed
from retention.models import RecordClass, RetentionAction, RetentionPolicy, Trigger

#: The repeat criterion looks back 12 months from the last referral (MP IS10): a case and
#: its referral are never destroyed sooner.
REPEAT_WINDOW_MONTHS = 12
MAX_MONTHS = 600


@dataclass(frozen=True)
class Rule:
    months: int
    trigger: Trigger
    action: RetentionAction
    #: Where the default comes from (shown beside it on the settings page).
    basis: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"months": self.months, "trigger": self.trigger.value, "action": self.action.value}


_MINUTES_RULE = (
    "Follows a council schedule's MAR 01.02 (minutes of multi-agency meetings, 6+ years)"
)
_PROPOSED = "Proposed default, following the minutes' six years"

#: The proposed defaults: every one "local policy required".
DEFAULTS: dict[RecordClass, Rule] = {
    RecordClass.CASE: Rule(72, Trigger.LAST_REFERRAL, RetentionAction.REVIEW, _PROPOSED),
    RecordClass.CHECKLIST: Rule(72, Trigger.LAST_REFERRAL, RetentionAction.REVIEW, _PROPOSED),
    RecordClass.WHEREABOUTS: Rule(
        12,
        Trigger.CASE_CLOSED,
        RetentionAction.REVIEW,
        "Proposed default: a victim's address is needed only while the case is open",
    ),
    RecordClass.RESEARCH: Rule(72, Trigger.MEETING_DATE, RetentionAction.REVIEW, _PROPOSED),
    RecordClass.MINUTES: Rule(72, Trigger.MEETING_DATE, RetentionAction.REVIEW, _MINUTES_RULE),
    RecordClass.ACTIONS: Rule(72, Trigger.MEETING_DATE, RetentionAction.REVIEW, _PROPOSED),
    RecordClass.CONSENT: Rule(72, Trigger.LAST_REFERRAL, RetentionAction.REVIEW, _PROPOSED),
    RecordClass.SUBJECT_ACCESS: Rule(
        24,
        Trigger.REQUEST_CLOSED,
        RetentionAction.REVIEW,
        "Proposed default: two years after the response, for complaints to the ICO",
    ),
}

#: Which triggers each class may use.
CASE_TRIGGERS = (Trigger.LAST_REFERRAL, Trigger.CASE_CLOSED, Trigger.MEETING_DATE)
TRIGGERS: dict[RecordClass, tuple[Trigger, ...]] = {
    c: (CASE_TRIGGERS if c is not RecordClass.SUBJECT_ACCESS else (Trigger.REQUEST_CLOSED,))
    for c in RecordClass
}


@dataclass(frozen=True)
class Policy:
    area_id: int
    #: 0 for the defaults (not adopted).
    version: int
    rules: dict[RecordClass, Rule]
    source: str = ""

    @property
    def is_adopted(self) -> bool:
        return self.version > 0

    def is_default(self, record_class: RecordClass) -> bool:
        rule, default = self.rules[record_class], DEFAULTS[record_class]
        return (rule.months, rule.trigger, rule.action) == (
            default.months,
            default.trigger,
            default.action,
        )


@dataclass(frozen=True)
class PolicyData:
    #: {record class code: (months, trigger code, action code)} as typed.
    rules: dict[str, tuple[int | None, str, str]]
    source: str


def _rule_of(found: dict[str, Any], default: Rule) -> Rule:
    return Rule(
        int(found.get("months", default.months)),
        Trigger(found.get("trigger", default.trigger.value)),
        RetentionAction(found.get("action", default.action.value)),
    )


def current(area_id: int) -> Policy:
    """The area's newest policy version, or the defaults as version 0."""
    found = (
        session()
        .execute(
            select(RetentionPolicy)
            .where(RetentionPolicy.area_id == area_id)
            .order_by(RetentionPolicy.version.desc())
            .limit(1)
        )
        .scalar_one_or_none()
    )
    if found is None:
        return Policy(area_id, 0, dict(DEFAULTS))
    rules = {c: _rule_of(found.rules.get(c.value, {}), DEFAULTS[c]) for c in RecordClass}
    return Policy(area_id, found.version, rules, found.source)


def area_of(actor: Actor, permission: Permission) -> int:
    if not actor.can(permission) or actor.area_id is None:
        raise Forbidden("Only the area's coordinator (or the administrator) manages retention.")
    return actor.area_id


def policy_for(actor: Actor) -> Policy:
    return current(area_of(actor, Permission.RETENTION_SETTINGS))


def adopt_policy(actor: Actor, data: PolicyData) -> RetentionPolicy:
    """Save a new version of the area's policy and record its periods in the ledger."""
    area_id = area_of(actor, Permission.RETENTION_SETTINGS)
    errors: dict[str, str] = {}
    rules: dict[str, dict[str, Any]] = {}
    for record_class in RecordClass:
        key = record_class.value
        months, trigger, action = data.rules.get(key, (None, "", ""))
        if months is None:
            errors[f"{key}_months"] = f"Enter how many months to keep: {record_class.label}"
        elif not 1 <= months <= MAX_MONTHS:
            errors[f"{key}_months"] = f"Enter a number of months from 1 to {MAX_MONTHS}"
        elif record_class is RecordClass.CASE and months < REPEAT_WINDOW_MONTHS:
            errors[f"{key}_months"] = (
                "Keep cases for at least 12 months: repeat referrals are found within 12 months"
                " of the last referral"
            )
        if trigger not in {t.value for t in TRIGGERS[record_class]}:
            errors[f"{key}_trigger"] = f"Select when the clock starts: {record_class.label}"
        if action not in {a.value for a in RetentionAction}:
            errors[f"{key}_action"] = f"Select what happens at the end: {record_class.label}"
        if f"{key}_months" not in errors and months is not None:
            rules[key] = {"months": months, "trigger": trigger, "action": action}
    source = data.source.strip()
    if not source:
        errors["source"] = "Enter where the local policy comes from, such as the council's schedule"
    elif len(source) > 300:
        errors["source"] = "The source must be 300 characters or fewer"
    if errors:
        raise ValidationFailed(errors)
    version = current(area_id).version + 1
    found = RetentionPolicy(
        area_id=area_id,
        version=version,
        rules=rules,
        source=source,
        created_by_id=actor.member_id,
    )
    session().add(found)
    session().flush()
    record(
        actor,
        LedgerAction.RETENTION_POLICY_ADOPTED,
        Subject("area", area_id),
        area=area_id,
        version=version,
        rules=rules,
    )
    return found
