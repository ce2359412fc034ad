"""Scheduled work for to-do lists, run only by the one scheduler process (`hub scheduler`).

``hub.scheduler.JOBS`` refers to these by text and runs them inside the hub's application
context, so the database and settings come from the running app. Each job opens its own unit
of work and commits once; e-mails leave only after that commit. Every job is safe to run
twice (a restarted or second-chance run changes nothing already done): reminders and
escalations are stamped on the task, rule tasks are keyed.

System-rule providers
=====================

``RULE_PROVIDERS`` maps a name to a callable ``provider(today: date) -> Iterable[RuleTask]``.
A provider runs inside the job's unit of work (``hub.core.db.session()`` is available), reads
its own tables and builds ``RuleTask`` values with ``agencies.tasks.rules`` (``minutes_due``,
``consent_expiring``, ``repeat_window_ending``, ``approval_waiting``). The packages above
agencies register theirs at import time, for example in ``consent/services.py``::

    from agencies.jobs import RULE_PROVIDERS
    RULE_PROVIDERS["consent-expiry"] = consent_expiry_tasks

Each provider runs in its own transaction: one that fails is logged and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from agencies import notify
from agencies.tasks import services
from agencies.tasks.rules import RuleTask
from hub.core.access import Actor
from hub.core.clock import today_london
from hub.core.db import Database, unit_of_work

log = logging.getLogger(__name__)

RuleProvider = Callable[[date], Iterable[RuleTask]]
#: name -> provider; filled by higher layers (consent, hub.referrals, meetings).
RULE_PROVIDERS: dict[str, RuleProvider] = {}

SCHEDULER = Actor.system("scheduler")


def _settings() -> Any:
    from flask import current_app

    return current_app.extensions["hub.settings"]


def send_reminders(*, today: date | None = None, database: Database | None = None) -> int:
    """Remind owners of tasks due within the reminder window (default 1 working day)."""
    days = getattr(_settings_or_none(), "task_reminder_working_days", 1)
    with unit_of_work(database):
        count = services.send_due_reminders(
            SCHEDULER, today=today or today_london(), working_days=days
        )
    if count:
        log.info("reminded %d tasks", count)
    return count


def escalate_overdue(*, today: date | None = None, database: Database | None = None) -> int:
    """Escalate overdue tasks to their agency's MARAC representatives, once per task."""
    days = getattr(_settings_or_none(), "task_escalate_after_working_days", 1)
    with unit_of_work(database):
        count = services.escalate_overdue_tasks(
            SCHEDULER, today=today or today_london(), after_working_days=days
        )
    if count:
        log.info("escalated %d overdue tasks", count)
    return count


def generate_system_rule_tasks(
    *, today: date | None = None, database: Database | None = None
) -> int:
    """Ask every registered provider which rule tasks should exist; make the missing ones."""
    today = today or today_london()
    made = 0
    for name, provider in sorted(RULE_PROVIDERS.items()):
        try:
            with unit_of_work(database):
                for spec in provider(today):
                    if spec.resolved:
                        services.resolve_system_rule_task(
                            SCHEDULER, rule_key=spec.rule_key, agency_id=spec.agency_id
                        )
                        continue
                    if spec.due_on is None or not spec.title:
                        raise ValueError(f"rule {spec.rule_key!r} needs a title and a due date")
                    _task, created = services.system_rule_task(
                        SCHEDULER,
                        rule_key=spec.rule_key,
                        agency_id=spec.agency_id,
                        title=spec.title,
                        due_on=spec.due_on,
                        owner_member_id=spec.owner_member_id,
                        referral_id=spec.referral_id,
                        priority=spec.priority,
                    )
                    made += int(created)
        except Exception:
            log.exception("system-rule provider %r failed; the others still run", name)
    if made:
        log.info("made %d system-rule tasks", made)
    return made


def send_digests(*, database: Database | None = None) -> int:
    """Send the daily digest to members who chose it (from HUB_DIGEST_HOUR, London time)."""
    hour = getattr(_settings_or_none(), "digest_hour", 7)
    with unit_of_work(database):
        count = notify.send_digests(digest_hour=hour)
    if count:
        log.info("sent %d digests", count)
    return count


def _settings_or_none() -> Any:
    try:
        return _settings()
    except RuntimeError:
        return None  # called outside the app (a test with a bound database)
