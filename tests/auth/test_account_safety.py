"""Account safety: resets that cannot take an account over, the enrolment secret kept on
the server, sessions with an absolute lifetime, and sessions that end with their provider.

E-mails reach a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import pyotp
import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select

from hub.auth.models import CredentialReset, LocalCredential, MemberSession
from hub.core import db
from hub.core.clock import now
from tests.support.agencies_sso import Providers, sso_sign_in
from tests.support.web import current_code, sign_in, submit
from tests.support.web import text as raw_text
from todo import notify

NEW_PASSWORD = "a brand new passphrase 2026"


def text(response: Any) -> str:
    return html.unescape(raw_text(response))


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def inbox(app: Any) -> Iterator[Inbox]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app.extensions["hub.mailer"] = notify.Mailer(
        host="127.0.0.1", port=port, base_url="http://127.0.0.1:5000"
    )
    try:
        yield handler
    finally:
        controller.stop()


def _browser(app: Any, world: Any, key: str) -> Any:
    browser = app.test_client()
    person = world[key]
    assert sign_in(browser, person.email, person.password, person.totp_secret).status_code == 302
    return browser


def _invite(admin: Any, member_id: int) -> Any:
    url = f"/admin/members/{member_id}"
    return submit(admin, url + "/invitation", form_url=url)


# --- Invitations never take an account over ------------------------------------------------


def test_a_sign_in_link_for_an_existing_member_needs_their_representative_and_goes_to_them(
    app: Any, world: Any, inbox: Inbox
) -> None:
    admin = _browser(app, world, "admin")
    officer = world["police_officer"]
    victim_session = _browser(app, world, "police_officer")
    page = _invite(admin, officer.member_id)
    assert page.status_code == 200
    assert "no sign-in link is shown to you" in text(page)
    assert 'id="invitation-link"' not in raw_text(page) and "/invitation/" not in raw_text(page)
    (told,) = inbox.to(officer.email)
    assert "asked to reset your MARAC Hub password" in told.get_content()
    assert "/invitation/" not in told.get_content()
    # The password still works: nothing changed yet.
    assert victim_session.get("/").status_code == 200

    # The administrator cannot approve it, even holding MEMBERS_APPROVE.
    assert 'id="resets"' not in raw_text(admin.get("/admin/approvals"))
    with db.unit_of_work() as uow:
        reset_id = uow.session.execute(select(CredentialReset.id)).scalar_one()
    refused = submit(
        admin,
        f"/admin/approvals/resets/{reset_id}",
        {"decision": "approve"},
        form_url="/admin/approvals",
    )
    assert refused.status_code == 404
    # Nor can a representative of another agency.
    other_rep = _browser(app, world, "health_rep")
    assert 'id="resets"' not in raw_text(other_rep.get("/admin/approvals"))

    rep = _browser(app, world, "police_rep")
    listing = text(rep.get("/admin/approvals"))
    assert "Sign-in resets waiting for you" in listing and officer.email in listing
    approved = submit(
        rep,
        f"/admin/approvals/resets/{reset_id}",
        {"decision": "approve"},
        form_url="/admin/approvals",
    )
    assert approved.status_code == 302
    link_mail = inbox.to(officer.email)[-1]
    link = re.search(r"http://127\.0\.0\.1:5000(/invitation/\S+)", link_mail.get_content())
    assert link is not None

    # The member uses it: a new password, a new authenticator, every old session gone.
    newcomer = app.test_client()
    chosen = submit(newcomer, link.group(1), {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert chosen.headers["Location"].endswith("/sign-in/set-up-authenticator")
    assert victim_session.get("/").status_code == 302
    enrol = text(newcomer.get("/sign-in/set-up-authenticator"))
    secret = enrol.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    assert secret != officer.totp_secret
    done = submit(newcomer, "/sign-in/set-up-authenticator", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert "your sign-in was reset" in inbox.to(officer.email)[-1]["Subject"]
    with db.unit_of_work() as uow:
        reasons = uow.session.execute(
            select(MemberSession.end_reason).where(
                MemberSession.member_id == officer.member_id,
                MemberSession.end_reason.is_not(None),
            )
        ).scalars()
        assert "credential_reset" in set(reasons)
    # The old password no longer works.
    assert sign_in(app.test_client(), officer.email, officer.password).status_code == 422


def test_a_representative_cannot_approve_a_reset_of_their_own_account(
    app: Any, world: Any, inbox: Inbox
) -> None:
    admin = _browser(app, world, "admin")
    _invite(admin, world["police_rep"].member_id)
    rep = _browser(app, world, "police_rep")
    assert 'id="resets"' not in raw_text(rep.get("/admin/approvals"))
    with db.unit_of_work() as uow:
        reset_id = uow.session.execute(select(CredentialReset.id)).scalar_one()
    decided = submit(
        rep, f"/admin/approvals/resets/{reset_id}", {"decision": "approve"}, form_url="/"
    )
    assert decided.status_code == 404


def test_no_sign_in_link_for_a_member_of_an_agency_with_its_own_provider(
    app: Any, world: Any, providers: Providers
) -> None:
    admin = _browser(app, world, "admin")
    # Testshire Police signs in through its provider: neither a link nor a reset.
    refused = _invite(admin, world["police_officer"].member_id)
    assert refused.status_code == 409 and "own work accounts" in text(refused)
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(CredentialReset)).first() is None


def test_a_new_members_link_is_shown_once_and_an_older_one_stops_working(
    app: Any, world: Any
) -> None:
    admin = _browser(app, world, "admin")
    created = submit(
        admin,
        "/admin/members/new",
        {
            "name": "Nia Newcomer",
            "email": "nia@idva.test",
            "agency_id": str(world.agencies["idva"]),
            "roles": ["practitioner"],
        },
    )
    member_url = created.headers["Location"]
    member_id = int(member_url.rsplit("/", 1)[1])
    first = text(_invite(admin, member_id)).split('id="invitation-link">')[1].split("<")[0]
    second = text(_invite(admin, member_id)).split('id="invitation-link">')[1].split("<")[0]
    assert first != second
    assert app.test_client().get("/" + first.split("/", 3)[3]).status_code == 404
    assert app.test_client().get("/" + second.split("/", 3)[3]).status_code == 200


# --- The enrolment secret stays on the server ----------------------------------------------


def test_the_authenticator_secret_is_never_in_the_browsers_cookie(app: Any, world: Any) -> None:
    admin = _browser(app, world, "admin")
    created = submit(
        admin,
        "/admin/members/new",
        {
            "name": "Ola Enrol",
            "email": "ola@idva.test",
            "agency_id": str(world.agencies["idva"]),
            "roles": ["practitioner"],
        },
    )
    member_id = int(created.headers["Location"].rsplit("/", 1)[1])
    link = text(_invite(admin, member_id)).split('id="invitation-link">')[1].split("<")[0]
    newcomer = app.test_client()
    path = "/" + link.split("/", 3)[3]
    submit(newcomer, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    page = text(newcomer.get("/sign-in/set-up-authenticator"))
    secret = page.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    # The session cookie is signed, not encrypted: anyone holding it can read it.
    cookie = newcomer.get_cookie("hub").value
    payload = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert secret not in repr(payload) and "secret" not in payload.get("pending", {})
    # Reloading shows the same secret (kept on the server), and the code confirms it.
    again = text(newcomer.get("/sign-in/set-up-authenticator"))
    assert secret in again.replace(" ", "")
    done = submit(newcomer, "/sign-in/set-up-authenticator", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    with db.unit_of_work() as uow:
        credential = uow.session.get(LocalCredential, member_id)
        assert credential.totp_secret == secret and credential.totp_pending_secret is None


def test_wrong_enrolment_codes_count_towards_the_lockout(app: Any, world: Any) -> None:
    admin = _browser(app, world, "admin")
    created = submit(
        admin,
        "/admin/members/new",
        {
            "name": "Pat Guess",
            "email": "pat@idva.test",
            "agency_id": str(world.agencies["idva"]),
            "roles": ["practitioner"],
        },
    )
    member_id = int(created.headers["Location"].rsplit("/", 1)[1])
    link = text(_invite(admin, member_id)).split('id="invitation-link">')[1].split("<")[0]
    newcomer = app.test_client()
    submit(
        newcomer, "/" + link.split("/", 3)[3], {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    page = text(newcomer.get("/sign-in/set-up-authenticator"))
    secret = page.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    for _ in range(5):
        submit(newcomer, "/sign-in/set-up-authenticator", {"code": "000000"})
    right = submit(newcomer, "/sign-in/set-up-authenticator", {"code": pyotp.TOTP(secret).now()})
    assert right.status_code == 302 and right.headers["Location"].endswith("/sign-in")
    assert newcomer.get("/").status_code == 302
    with db.unit_of_work() as uow:
        assert uow.session.get(LocalCredential, member_id).totp_secret is None


# --- Sessions -----------------------------------------------------------------------------


def test_a_session_ends_after_its_absolute_lifetime_however_busy(app: Any, world: Any) -> None:
    person = world["nurse"]
    browser = _browser(app, world, "nurse")
    started = now()
    for minutes in range(10, 12 * 60, 10):  # a request every ten minutes, all day
        with time_machine.travel(started + timedelta(minutes=minutes), tick=False):
            assert browser.get("/").status_code == 200, minutes
    with time_machine.travel(started + timedelta(hours=12, minutes=1), tick=False):
        assert browser.get("/").status_code == 302
    with db.unit_of_work() as uow:
        reasons = uow.session.execute(
            select(MemberSession.end_reason).where(MemberSession.member_id == person.member_id)
        ).scalars()
        assert list(reasons) == ["expired"]


def test_switching_a_provider_off_ends_its_peoples_sessions_and_revives_no_password(
    app: Any, world: Any, providers: Providers
) -> None:
    person = world["nurse"]  # Testshire Hospital: signs in through its provider
    browser = app.test_client()
    assert sso_sign_in(browser, providers.health_agency, "nurse@nhs.test").status_code == 302
    assert browser.get("/").status_code == 200
    admin = _browser(app, world, "admin")
    off = submit(
        admin,
        f"/admin/identity-providers/{providers.health}/disabled",
        {"disabled": "yes"},
        form_url=f"/admin/identity-providers/{providers.health}",
    )
    assert off.status_code == 302
    assert browser.get("/").status_code == 302  # signed out at once
    with db.unit_of_work() as uow:
        ended = uow.session.execute(
            select(MemberSession.end_reason).where(MemberSession.member_id == person.member_id)
        ).scalars()
        assert list(ended) == ["provider_disabled"]
    # Their hub password from before the provider came does not come back to life.
    response = submit(
        app.test_client(), "/sign-in", {"email": person.email, "password": person.password}
    )
    assert response.status_code == 422
    assert "signs its staff in with their work accounts" in text(response)


def test_a_local_session_from_before_the_agency_got_its_provider_ends(
    app: Any, world: Any, providers: Providers
) -> None:
    # A password session of the police officer, as it was before the agency's provider
    # was connected.
    from agencies.models import Member
    from hub.auth import services

    person = world["police_officer"]
    with db.unit_of_work() as uow:
        token = services.start_session(uow.session.get(Member, person.member_id), method="local")
    browser = app.test_client()
    with browser.session_transaction() as cookie:
        cookie["sid"] = token
    assert browser.get("/").status_code == 302


def test_the_code_step_of_a_locked_account_checks_nothing(app: Any, world: Any) -> None:
    person = world["idva"]
    browser = app.test_client()
    submit(browser, "/sign-in", {"email": person.email, "password": person.password})
    with db.unit_of_work() as uow:
        uow.session.get(LocalCredential, person.member_id).locked_until = now() + timedelta(
            minutes=10
        )
    right = submit(browser, "/sign-in/code", {"code": current_code(person.totp_secret)})
    assert right.status_code == 422 and browser.get("/").status_code == 302
