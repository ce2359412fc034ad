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
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import and_, func, select, update

from agencies.models import Agency, Member, MemberStatus
from agencies.tasks.models import NotificationMode, NotificationPreference, TaskNotification
from hub.core.clock import LONDON, now
from hub.core.db import after_commit, session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """One fixed message: a subject, a generic sentence, and the page it links to."""

    subject: str
    sentence: str
    path: str


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
FOOTER = (
    "Sign in to see the details. This e-mail holds no case information on\n"
    "purpose: please do not reply to it or forward it.\n\n"
    "To get one e-mail a day instead, change your e-mail settings:\n"
    "{settings_url}"
)


@dataclass(frozen=True)
class Mailer:
    """Sends one message through SMTP with the configured TLS mode."""

    host: str
    port: int
    tls: str = "none"
    username: str = ""
    password: str = ""
    sender: str = "MARAC Hub <no-reply@marac-hub.example>"
    base_url: str = "http://127.0.0.1:5000"
    timeout: float = 10.0
    #: For tests and private CAs: the TLS context to trust; the system's default otherwise.
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)

    @classmethod
    def from_settings(cls, settings: Any) -> Mailer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            sender=settings.mail_sender,
            base_url=settings.base_url.rstrip("/"),
            timeout=float(getattr(settings, "smtp_timeout_seconds", 10)),
        )

    def compose(self, to: str, notice: Notice, **values: Any) -> EmailMessage:
        """Build the message: the notice's sentence, its link, and the fixed footer."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = notice.subject
        message["Date"] = format_datetime(now())
        message["Message-ID"] = make_msgid(domain="marac-hub.invalid")
        message["Auto-Submitted"] = "auto-generated"
        link = self.base_url + notice.path
        body = (
            f"{notice.sentence.format(**values)}\n\n{link}\n\n"
            + FOOTER.format(settings_url=self.base_url + "/tasks/notifications")
            + "\n"
        )
        message.set_content(body)
        return message

    def send(self, to: str, notice: Notice, **values: Any) -> None:
        self.send_message(self.compose(to, notice, **values))

    def send_message(self, message: EmailMessage) -> None:
        """Deliver a message already built (its From is set here)."""
        if "From" not in message:
            message["From"] = self.sender
        context = self.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if self.tls == "ssl":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            if self.tls == "starttls":
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)


_installed: Mailer | None = None


def install(mailer: Mailer | None) -> None:
    """Set the mailer used outside an application context (CLI scripts, tests)."""
    global _installed
    _installed = mailer


def current_mailer() -> Mailer | None:
    """The application's mailer (``app.extensions["hub.mailer"]``), or the installed one."""
    try:
        from flask import current_app

        found = current_app.extensions.get("hub.mailer")
        if found is None and "hub.settings" in current_app.extensions:
            found = Mailer.from_settings(current_app.extensions["hub.settings"])
            current_app.extensions["hub.mailer"] = found
        if found is not None:
            return found  # type: ignore[no-any-return]
    except RuntimeError:
        pass  # no application context: a script or a test
    return _installed


def _deliver(mailer: Mailer, to: str, notice: Notice, **values: Any) -> None:
    try:
        mailer.send(to, notice, **values)
    except (OSError, smtplib.SMTPException) as error:
        # The address is personal data: log the notice kind and the error only.
        log.warning("could not send %r notification: %s", notice.subject, error)


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
            after_commit(lambda: _deliver(mailer, address, NOTICES[kind]))
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
        after_commit(functools.partial(_deliver, mailer, address, DIGEST, count=count, noun=noun))
        sent += 1
    session().flush()
    return sent
