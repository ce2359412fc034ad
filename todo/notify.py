"""E-mail about tasks: a generic sentence and a link, never a name, a case or an agency.

An e-mail can be read by anyone who sees the recipient's inbox or screen, and it leaves the
hub's protection for good. So every message is one of a few fixed texts: it says *that*
something waits in MARAC Hub and links to the list where the member signs in to see it. It
never names a person, a case or its reference, a task's wording, or which agencies are
involved. The tests assert this on every message a real SMTP server receives.

Sending happens only after the transaction commits (``hub.core.db.after_commit``): nothing
goes out for work that rolled back. Each notification is also a row (``task_notifications``)
holding a kind and ids, so members who chose the daily digest get one e-mail a day instead.

Settings: ``HUB_SMTP_HOST``, ``HUB_SMTP_PORT``, ``HUB_SMTP_TLS`` (``none``, ``starttls`` or
``ssl``), ``HUB_SMTP_USERNAME``, ``HUB_SMTP_PASSWORD``, ``HUB_MAIL_SENDER``,
``HUB_SMTP_TIMEOUT_SECONDS``, ``HUB_BASE_URL`` (the links) and ``HUB_DIGEST_HOUR``.

In development, a local debug sink prints every message instead of delivering it::

    .venv/bin/python -m aiosmtpd -n -l 127.0.0.1:1025

(the defaults ``HUB_SMTP_HOST=127.0.0.1``, ``HUB_SMTP_PORT=1025``, ``HUB_SMTP_TLS=none``
point at it).
"""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime

from sqlalchemy import and_, func, select, update

from agencies.models import Agency, Member, MemberStatus
from hub.core.clock import LONDON, now
from hub.core.db import after_commit, session
from hub.core.mail import Mailer, Notice, current_mailer, deliver, install
from todo.models import NotificationMode, NotificationPreference, TaskNotification

__all__ = ["DIGEST", "NOTICES", "Mailer", "Notice", "current_mailer", "install", "notify_member"]

log = logging.getLogger(__name__)


#: The only texts the hub ever e-mails about tasks.
NOTICES: dict[str, Notice] = {
    "reminder": Notice(
        "MARAC Hub: a task is due soon",
        "You have a task due soon in MARAC Hub.",
        "/tasks",
    ),
    "assigned": Notice(
        "MARAC Hub: a task is waiting for you",
        "A task has been given to you in MARAC Hub.",
        "/tasks",
    ),
    "escalation": Notice(
        "MARAC Hub: an overdue task needs your attention",
        "A task in your agency is overdue and needs your attention in MARAC Hub.",
        "/tasks/overdue",
    ),
}
DIGEST = Notice(
    "MARAC Hub: your daily summary",
    "You have {count} new {noun} about tasks in MARAC Hub.",
    "/tasks",
)


def mode_of(member_id: int) -> NotificationMode:
    found = session().get(NotificationPreference, member_id)
    return NotificationMode(found.mode) if found else NotificationMode.EACH


def _can_receive(member: Member) -> bool:
    if member.disabled_at is not None or member.status != MemberStatus.ACTIVE.value:
        return False  # disabled, or still waiting for approval
    agency = session().get(Agency, member.agency_id)
    return agency is not None and agency.disabled_at is None  # the agency left the hub


def notify_member(member_id: int, kind: str, *, task_id: int | None = None) -> bool:
    """Owe a member a notification; e-mail it after the commit unless they take the digest.

    Returns whether a notification was recorded (not for disabled or pending members).
    """
    if kind not in NOTICES:
        raise ValueError(f"unknown notification kind {kind!r}")
    member = session().get(Member, member_id)
    if member is None or not _can_receive(member):
        return False
    row = TaskNotification(member_id=member_id, kind=kind, task_id=task_id)
    session().add(row)
    if mode_of(member_id) is NotificationMode.EACH:
        mailer = current_mailer()
        if mailer is None:
            log.warning("no mailer configured: a %s notification stays unsent", kind)
        else:
            row.sent_at = now()
            address = member.email
            after_commit(lambda: deliver(mailer, address, NOTICES[kind]))
    session().flush()
    return True


def set_preference(member_id: int, mode: NotificationMode) -> bool:
    """Choose how a member is told; returns whether anything changed."""
    found = session().get(NotificationPreference, member_id)
    if found is None:
        found = NotificationPreference(member_id=member_id, mode=NotificationMode.EACH.value)
        session().add(found)
    if found.mode == mode.value:
        session().flush()
        return False
    found.mode = mode.value
    if mode is NotificationMode.EACH:
        # What waited for a digest is on the member's list already; start afresh.
        session().execute(
            update(TaskNotification)
            .where(
                and_(TaskNotification.member_id == member_id, TaskNotification.sent_at.is_(None))
            )
            .values(sent_at=now())
        )
    session().flush()
    return True


def send_digests(*, at: datetime | None = None, digest_hour: int = 7) -> int:
    """Send each digest member one e-mail for what waited since their last one.

    Runs often; a member gets at most one digest per London day, from ``digest_hour`` on.
    Returns the number of digests queued (they go out after the commit).
    """
    moment = at or now()
    local = moment.astimezone(LONDON)
    today: date = local.date()
    if local.hour < digest_hour:
        return 0
    mailer = current_mailer()
    if mailer is None:
        log.warning("no mailer configured: digests wait")
        return 0
    pending = (
        select(TaskNotification.member_id, func.count(TaskNotification.id))
        .join(
            NotificationPreference, NotificationPreference.member_id == TaskNotification.member_id
        )
        .where(
            TaskNotification.sent_at.is_(None),
            NotificationPreference.mode == NotificationMode.DIGEST.value,
            (NotificationPreference.last_digest_on.is_(None))
            | (NotificationPreference.last_digest_on < today),
        )
        .group_by(TaskNotification.member_id)
    )
    sent = 0
    for member_id, count in session().execute(pending).all():
        member = session().get(Member, member_id)
        preference = session().get(NotificationPreference, member_id)
        assert preference is not None
        preference.last_digest_on = today
        session().execute(
            update(TaskNotification)
            .where(
                and_(TaskNotification.member_id == member_id, TaskNotification.sent_at.is_(None))
            )
            .values(sent_at=moment)
        )
        if member is None or not _can_receive(member):
            continue
        address = member.email
        noun = "notification" if count == 1 else "notifications"
        after_commit(functools.partial(deliver, mailer, address, DIGEST, count=count, noun=noun))
        sent += 1
    session().flush()
    return sent
