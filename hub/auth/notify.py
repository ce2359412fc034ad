"""E-mail to a member about their own sign-in: a reset asked for, its link, and its use.

Fixed texts only, sent after the commit (nothing goes out for work that rolled back). The
reset link is the one message that carries a secret: it goes to the member's own address,
never to the person who asked for the reset.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from hub.core.clock import now
from hub.core.db import after_commit
from hub.core.mail import current_mailer

log = logging.getLogger(__name__)

#: kind -> (subject, text); {link} is the hub's address for this message.
MESSAGES: dict[str, tuple[str, str]] = {
    "reset_requested": (
        "MARAC Hub: a reset of your sign-in was asked for",
        "The hub administrator has asked to reset your MARAC Hub password and authenticator "
        "app. Your agency's MARAC representative must approve it first; if they do, you will "
        "get a one-time link by e-mail.\n\n"
        "If you did not expect this, tell your agency's MARAC representative now. Your "
        "current password and authenticator keep working until you use a new link.",
    ),
    "reset_link": (
        "MARAC Hub: choose a new password",
        "Your agency's MARAC representative approved resetting your MARAC Hub sign-in. Use "
        "this link within 7 days to choose a new password and set up your authenticator app "
        "again. It works once.\n\n{link}\n\n"
        "If you did not expect this, do not use the link: tell your agency's MARAC "
        "representative.",
    ),
    "reset_done": (
        "MARAC Hub: your sign-in was reset",
        "Your MARAC Hub password was changed with a reset link, and every session you had "
        "was ended. You will set up your authenticator app again at your next sign-in.\n\n"
        "If this was not you, tell your agency's MARAC representative now.",
    ),
}


def compose(to: str, kind: str, *, base_url: str, path: str = "") -> EmailMessage:
    subject, text = MESSAGES[kind]
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now())
    message["Message-ID"] = make_msgid(domain="marac-hub.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text.format(link=base_url.rstrip("/") + path) + "\n")
    return message


def send(to: str, kind: str, *, path: str = "") -> None:
    """Queue one of the fixed messages for after the commit."""
    mailer = current_mailer()
    if mailer is None:
        log.warning("no mailer configured: a %s message stays unsent", kind)
        return
    message = compose(to, kind, base_url=mailer.base_url, path=path)

    def deliver() -> None:
        try:
            mailer.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            # The address is personal data: log the kind and the error only.
            log.warning("could not send the %s message: %s", kind, error)

    after_commit(deliver)
