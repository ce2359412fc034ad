"""Sending e-mail: one fixed notice at a time, through SMTP, only after the commit.

The kernel knows how to send a ``Notice`` (a subject, a generic sentence and a link) and
nothing about what it is about; the packages that notify (the to-do lists) own their texts.
An e-mail leaves the hub's protection for good, so a notice never carries case detail: the
canary crawl reads every message sent.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from hub.core.clock import now

log = logging.getLogger(__name__)

#: The footer of every notice; ``settings_url`` is where the member changes how they are told.
FOOTER = (
    "Sign in to see the details. This e-mail holds no case information on\n"
    "purpose: please do not reply to it or forward it.\n\n"
    "To get one e-mail a day instead, change your e-mail settings:\n"
    "{settings_url}"
)


@dataclass(frozen=True)
class Notice:
    """One fixed message: a subject, a generic sentence, and the page it links to."""

    subject: str
    sentence: str
    path: str


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


def deliver(mailer: Mailer, to: str, notice: Notice, **values: Any) -> None:
    """Send, logging (never raising) a failure: the address is personal data, so only the
    notice's subject and the error are logged."""
    try:
        mailer.send(to, notice, **values)
    except (OSError, smtplib.SMTPException) as error:
        # The address is personal data: log the notice kind and the error only.
        log.warning("could not send %r notification: %s", notice.subject, error)
