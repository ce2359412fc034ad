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
import weakref
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import and_, func, select, update

from agencies.models import Agency, Member, MemberStatus
from agencies.services import actor_for
from hub.core.clock import LONDON, now
from hub.core.db import UnitOfWork, after_commit, current_unit, session
from hub.core.mail import Mailer, Notice, current_mailer, deliver, install
from todo import visibility
from todo.models import NotificationMode, NotificationPreference, Task, TaskNotification

__all__ = [
    "BURST",
    "DIGEST",
    "NOTICES",
    "Mailer",
    "Notice",
    "current_mailer",
    "install",
    "notify_many",
    "notify_member",
]

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
#: One transaction owed a member several notifications: one message says how many.
BURST = Notice(
    "MARAC Hub: new work is waiting for you",
    "You have {count} new notifications about tasks in MARAC Hub.",
    "/tasks",
)
DIGEST = Notice(
    "MARAC Hub: your daily summary",
    "You have {count} new {noun} about tasks in MARAC Hub.",
    "/tasks",
)


def mode_of(member_id: int) -> NotificationMode:
    found = session().get(NotificationPreference, member_id)
    return NotificationMode(found.mode) if found else NotificationMode.EACH


def _can_receive(member: Member) -> bool:
    if member.disabled_at is not None or member.status != MemberStatus.ACTIVE:
        return False  # disabled, or still waiting for approval
    agency = session().get(Agency, member.agency_id)
    return agency is not None and agency.disabled_at is None  # the agency left the hub


#: What each unit of work owes each member by e-mail: (address, the kinds owed, in order).
_BURSTS: weakref.WeakKeyDictionary[UnitOfWork, dict[int, tuple[str, list[str]]]] = (
    weakref.WeakKeyDictionary()
)


def _send_burst(mailer: Mailer, address: str, kinds: list[str]) -> None:
    """One e-mail for everything one transaction owed one member."""
    if len(kinds) == 1:
        deliver(mailer, address, NOTICES[kinds[0]])
    else:
        deliver(mailer, address, BURST, count=len(kinds))


def _owe(member: Member, kind: str, task_id: int | None) -> None:
    """Record the notification; a member who takes each one gets, after the commit, one
    e-mail for all this transaction owed them (accepting a case that makes twenty tasks
    sends one message, not twenty)."""
    row = TaskNotification(member_id=member.id, kind=kind, task_id=task_id)
    session().add(row)
    if mode_of(member.id) is not NotificationMode.EACH:
        return
    mailer = current_mailer()
    if mailer is None:
        log.warning("no mailer configured: a %s notification stays unsent", kind)
        return
    row.sent_at = now()
    bursts = _BURSTS.setdefault(current_unit(), {})
    if member.id in bursts:
        bursts[member.id][1].append(kind)
        return
    address, kinds = member.email, [kind]
    bursts[member.id] = (address, kinds)
    after_commit(functools.partial(_send_burst, mailer, address, kinds))


def notify_many(
    kind: str, tasks: Sequence[Task], recipients: Mapping[int, Sequence[int]]
) -> dict[int, list[int]]:
    """Owe each task's recipients a notification, e-mailed after the commit unless they take
    the digest; ``recipients`` maps a task id to member ids.

    Nobody is told of a task about a case they may not know (behind a wall, on its
    must-not-receive list, their agency's protocol lapsed), nor while disabled or pending.
    Returns, per task id, the members who were owed one.
    """
    if kind not in NOTICES:
        raise ValueError(f"unknown notification kind {kind!r}")
    wanted = {member for task in tasks for member in recipients.get(task.id, ())}
    if not wanted:
        return {}
    members = {
        m.id: m
        for m in session().execute(select(Member).where(Member.id.in_(wanted))).scalars()
        if _can_receive(m)
    }
    knowing = visibility.who_may_know(
        (member, task.referral_id)
        for task in tasks
        if task.referral_id is not None
        for member in recipients.get(task.id, ())
        if member in members
    )
    told: dict[int, list[int]] = {}
    for task in tasks:
        for member_id in recipients.get(task.id, ()):
            if member_id not in members:
                continue
            if task.referral_id is not None and (member_id, task.referral_id) not in knowing:
                continue
            _owe(members[member_id], kind, task.id)
            told.setdefault(task.id, []).append(member_id)
    session().flush()
    return told


def notify_member(member_id: int, kind: str, *, task_id: int | None = None) -> bool:
    """Owe one member a notification (see ``notify_many``); returns whether it was owed."""
    if kind not in NOTICES:
        raise ValueError(f"unknown notification kind {kind!r}")
    if task_id is None:
        member = session().get(Member, member_id)
        if member is None or not _can_receive(member):
            return False
        _owe(member, kind, None)
        session().flush()
        return True
    task = session().get(Task, task_id)
    if task is None:
        return False
    return member_id in notify_many(kind, [task], {task.id: [member_id]}).get(task.id, [])


def set_preference(member_id: int, mode: NotificationMode) -> bool:
    """Choose how a member is told; returns whether anything changed."""
    found = session().get(NotificationPreference, member_id)
    if found is None:
        found = NotificationPreference(member_id=member_id, mode=NotificationMode.EACH)
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


def _countable(member: Member) -> int:
    """How many of a member's waiting notifications the digest may count: those about no
    case, or about a case the member may (still) know, in one query."""
    statement = (
        select(func.count(TaskNotification.id))
        .select_from(TaskNotification)
        .outerjoin(Task, Task.id == TaskNotification.task_id)
        .where(TaskNotification.member_id == member.id, TaskNotification.sent_at.is_(None))
    )
    return int(
        session().execute(visibility.only_knowable(actor_for(member), statement)).scalar_one()
    )


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
            NotificationPreference.mode == NotificationMode.DIGEST,
            (NotificationPreference.last_digest_on.is_(None))
            | (NotificationPreference.last_digest_on < today),
        )
        .group_by(TaskNotification.member_id)
    )
    sent = 0
    for member_id, _waiting in session().execute(pending).all():
        member = session().get(Member, member_id)
        preference = session().get(NotificationPreference, member_id)
        assert preference is not None
        count = _countable(member) if member is not None and _can_receive(member) else 0
        session().execute(
            update(TaskNotification)
            .where(
                and_(TaskNotification.member_id == member_id, TaskNotification.sent_at.is_(None))
            )
            .values(sent_at=moment)
        )
        if member is None or not count:
            continue
        preference.last_digest_on = today
        address = member.email
        noun = "notification" if count == 1 else "notifications"
        after_commit(functools.partial(deliver, mailer, address, DIGEST, count=count, noun=noun))
        sent += 1
    session().flush()
    return sent
