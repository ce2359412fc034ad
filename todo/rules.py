"""The hub's own reminders as tasks: what each system rule makes, and when.

The rows these rules look at (meetings, consent records, referrals, sharing decisions) live in
packages above agencies, so the rules here are pure: a provider registered in
``todo.jobs.RULE_PROVIDERS`` by a higher layer reads its own tables and turns each row
into a ``RuleTask`` with the builders below; the scheduler's ``task-system-rules`` job then
calls ``services.system_rule_task`` (idempotent by rule key) or, for a ``RuleTask`` marked
``resolved``, ``services.resolve_system_rule_task``.

Windows and wording (rule keys name ids only):

=================  ======================================  ================================
rule               when a task appears                     due
=================  ======================================  ================================
minutes due        a meeting is held                       3 working days after it [DERB]
consent expiring   consent ends within 7 days              the working day before it ends
repeat window      the 12-month repeat window ends within  the day it ends [SL-REP][DERB]
                   14 days [design]
approval waiting   a decision to share without consent     1 working day after the request
                   waits for a manager [CHESH][RED]        [design], urgent
=================  ======================================  ================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from hub.core.workdays import add_working_days
from todo.codes import Priority

MINUTES_WORKING_DAYS = 3
CONSENT_WINDOW_DAYS = 7
REPEAT_WINDOW_LEAD_DAYS = 14


@dataclass(frozen=True)
class RuleTask:
    """One task a rule wants to exist (or, with ``resolved``, no longer needs)."""

    rule_key: str
    agency_id: int
    title: str = ""
    due_on: date | None = None
    owner_member_id: int | None = None
    referral_id: int | None = None
    priority: Priority = Priority.NORMAL
    #: The condition no longer holds (consent renewed, approval decided): close the task.
    resolved: bool = False


def minutes_due(
    *, meeting_id: int, held_on: date, agency_id: int, owner_member_id: int | None = None
) -> RuleTask:
    """The coordinator's task to send out the minutes within 3 working days of a meeting."""
    return RuleTask(
        rule_key=f"minutes-due:meeting-{meeting_id}",
        agency_id=agency_id,
        title="Send out the approved minutes of the MARAC meeting",
        due_on=add_working_days(held_on, MINUTES_WORKING_DAYS),
        owner_member_id=owner_member_id,
        priority=Priority.HIGH,
    )


def consent_expiring(
    *,
    consent_id: int,
    ends_on: date,
    today: date,
    agency_id: int,
    referral_id: int | None,
    owner_member_id: int | None = None,
) -> RuleTask | None:
    """Review consent that ends within 7 days; None while it is further off or already over."""
    if not today <= ends_on <= today + timedelta(days=CONSENT_WINDOW_DAYS):
        return None
    return RuleTask(
        # The end date is part of the key: renewed consent that ends again earns a new task.
        rule_key=f"consent-expiry:{consent_id}:{ends_on.isoformat()}",
        agency_id=agency_id,
        title="Consent ends within 7 days: renew it with the victim or record the basis for "
        "sharing",
        due_on=max(today, add_working_days(ends_on, -1)),
        owner_member_id=owner_member_id,
        referral_id=referral_id,
        priority=Priority.HIGH,
    )


def repeat_window_ending(
    *,
    referral_id: int,
    window_ends_on: date,
    today: date,
    agency_id: int,
    owner_member_id: int | None = None,
) -> RuleTask | None:
    """Check for new incidents before a case's 12-month repeat window closes."""
    if not today <= window_ends_on <= today + timedelta(days=REPEAT_WINDOW_LEAD_DAYS):
        return None
    return RuleTask(
        rule_key=f"repeat-window:{referral_id}:{window_ends_on.isoformat()}",
        agency_id=agency_id,
        title="The 12-month repeat window ends soon: check for any new incident before it closes",
        due_on=window_ends_on,
        owner_member_id=owner_member_id,
        referral_id=referral_id,
    )


def approval_waiting(
    *,
    decision_id: int,
    requested_on: date,
    agency_id: int,
    referral_id: int | None,
    owner_member_id: int | None = None,
) -> RuleTask:
    """A MARAC representative decides a request to share without consent."""
    return RuleTask(
        rule_key=f"sharing-approval:{decision_id}",
        agency_id=agency_id,
        title="Decide a request to share information without consent",
        due_on=add_working_days(requested_on, 1),
        owner_member_id=owner_member_id,
        referral_id=referral_id,
        priority=Priority.URGENT,
    )
