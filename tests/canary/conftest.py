"""Fixtures of the canary crawl: a real SMTP server, the probation service's identity provider,
and the scenario built once per test through the real services."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.canary.scenario import (
    API_CLIENT_ID,
    API_CLIENT_SECRET,
    Scenario,
    build_scenario,
    idp_clients,
)
from tests.support.idp import DevIdP
from todo import notify


class Mailbox:
    """An aiosmtpd handler that keeps every message the hub sends."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.messages if address in rcpt]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def mailbox(app: Any) -> Iterator[Mailbox]:
    """The hub's mail goes to a real SMTP server on loopback, from requests and services."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's chatter
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    mailer = notify.Mailer(
        host="127.0.0.1",
        port=controller.port,
        tls="none",
        base_url="http://127.0.0.1:5000",
        sender="MARAC Hub <no-reply@hub.example>",
    )
    app.extensions["hub.mailer"] = mailer
    notify.install(mailer)  # services called outside a request (building the scenario)
    try:
        yield handler
    finally:
        notify.install(None)
        controller.stop()


@pytest.fixture(scope="session")
def probation_idp() -> Iterator[DevIdP]:
    """The probation service's provider: it issues its records system's API tokens."""
    idp = DevIdP().start(clients=idp_clients(), users=[])
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture
def api_token(probation_idp: DevIdP) -> Any:
    """A fresh bearer token for the partner system, each time it is called."""

    def fresh() -> str:
        return probation_idp.client_credentials_token(
            API_CLIENT_ID, API_CLIENT_SECRET, "referrals:read referrals:write"
        )

    return fresh


@pytest.fixture
def scenario(app: Any, mailbox: Mailbox, probation_idp: DevIdP, api_token: Any) -> Scenario:
    return build_scenario(app.test_client(), probation_idp.issuer, api_token)
