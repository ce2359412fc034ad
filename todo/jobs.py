"""Scheduled work for to-do lists, run only by the one scheduler process (`hub scheduler`).

``hub.scheduler.JOBS`` refers to these by text and runs them inside the hub's application
context, so the database and settings come from the running app. Each job opens its own unit
of work and commits once; e-mails leave only after that commit. Every job is safe to run
twice (a restarted or second-chance run changes nothing already done): reminders and
escalations are stamped on the task, rule tasks are keyed.

System-rule providers
=====================

``rule_providers()`` names each callable ``provider(today: date) -> Iterable[RuleTask]``. A
provider runs inside the job's unit of work, reads the tables of the package it is about
(the to-do lists sit above cases and meetings, so they read them directly) and builds
``RuleTask`` values with ``todo.rules`` (``minutes_due``, ``consent_expiring``,
``repeat_window_ending``, ``approval_waiting``). Each runs in its own transaction: one that
fails is logged and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from hub.core.access import Actor
from hub.core.clock import today_london
from hub.core.db import Database, unit_of_work
from todo import notify, services
from todo.rules import RuleTask

log = logging.getLogger(__name__)

RuleProvider = Callable[[date], Iterable[RuleTask]]


def rule_providers() -> dict[str, RuleProvider]:
    """Every system rule, by name."""
    from todo import cases, meetings

    return {
        "consent-expiry": cases.consent_expiry_tasks,
        "repeat-window": cases.repeat_window_tasks,
        "sharing-approval": cases.approval_tasks,
        "meetings-minutes-due": meetings.minutes_due_provider,
    }


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
    for name, provider in sorted(rule_providers().items()):
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
