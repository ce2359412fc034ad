"""Local sign-in: passwords, the second factor, lockout, sessions, and bad input."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pyotp
import time_machine
from sqlalchemy import func, select

from agencies import services as agencies
from audit.models import AuditEntry
from hub.auth.models import LocalCredential, MemberSession
from hub.auth.services import SIGN_IN_FAILED
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import now
from tests.support.web import current_code, sign_in, submit, text


def _count(model: Any, *where: Any) -> int:
    with db.unit_of_work() as uow:
        return int(
            uow.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        )


def test_member_signs_in_with_password_and_totp_and_sees_home(client, world) -> None:
    person = world["police_officer"]
    response = sign_in(client, person.email, person.password, person.totp_secret)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert "Testshire Police" in text(home) and "Police Officer" in text(home)


def test_wrong_password_and_unknown_user_get_the_same_message(client, world) -> None:
    person = world["nurse"]
    wrong = submit(client, "/sign-in", {"email": person.email, "password": "not the password"})
    unknown = submit(client, "/sign-in", {"email": "nobody@nowhere.test", "password": "x" * 14})
    assert wrong.status_code == unknown.status_code == 422
    assert SIGN_IN_FAILED in text(wrong) and SIGN_IN_FAILED in text(unknown)
    # Nothing about whether the account exists leaks through the page.
    assert text(wrong).replace(person.email, "").count("There is a problem") == 1
    assert person.email not in text(unknown)
    assert client.get("/").status_code == 302  # still signed out


def test_a_wrong_password_is_an_error_summary_linking_to_the_password_box(client, world) -> None:
    person = world["nurse"]
    page = text(submit(client, "/sign-in", {"email": person.email, "password": "not it at all"}))
    summary = page.split('class="govuk-error-summary"', 1)[1].split("</ul>", 1)[0]
    link = re.search(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert link and link.group(2).strip() == SIGN_IN_FAILED
    assert re.search(rf'<input[^>]*id="{link.group(1)}"[^>]*type="password"', page)
    # The box itself says what is wrong, as GOV.UK's error message pattern does.
    box_error = r'id="password-error"[^>]*>\s*<span[^>]*>Error:</span> The email address'
    assert re.search(box_error, page)


def test_failed_sign_ins_are_recorded_in_the_ledger(client, world) -> None:
    person = world["nurse"]
    submit(client, "/sign-in", {"email": person.email, "password": "wrong password!"})
    assert _count(AuditEntry, AuditEntry.action == "signin:failed") == 1


def test_lockout_after_repeated_failures_even_with_the_right_password(client, world) -> None:
    person = world["housing_officer"]
    for _ in range(5):
        submit(client, "/sign-in", {"email": person.email, "password": "wrong password!"})
    response = submit(client, "/sign-in", {"email": person.email, "password": person.password})
    assert response.status_code == 422
    assert SIGN_IN_FAILED in text(response)
    with time_machine.travel(now() + timedelta(minutes=16), tick=False):
        assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 302


def test_wrong_totp_code_is_refused(client, world) -> None:
    person = world["idva"]
    first = submit(client, "/sign-in", {"email": person.email, "password": person.password})
    assert first.headers["Location"].endswith("/sign-in/code")
    response = submit(client, "/sign-in/code", {"code": "000000"})
    assert response.status_code == 422
    assert "The code is not right" in text(response)
    assert client.get("/").status_code == 302


def test_a_totp_code_cannot_be_used_twice(app, world) -> None:
    person = world["idva"]
    code = current_code(person.totp_secret)
    first_client, second_client = app.test_client(), app.test_client()
    for c in (first_client, second_client):
        submit(c, "/sign-in", {"email": person.email, "password": person.password})
    assert submit(first_client, "/sign-in/code", {"code": code}).status_code == 302
    replay = submit(second_client, "/sign-in/code", {"code": code})
    assert replay.status_code == 422
    assert second_client.get("/").status_code == 302


def test_session_id_is_rotated_at_sign_in(client, world) -> None:
    person = world["nurse"]
    client.get("/sign-in")
    before = client.get_cookie("hub")
    sign_in(client, person.email, person.password, person.totp_secret)
    after = client.get_cookie("hub")
    assert before is not None and after is not None and before.value != after.value
    assert (
        _count(
            MemberSession,
            MemberSession.member_id == person.member_id,
            MemberSession.ended_at.is_(None),
        )
        == 1
    )


def test_idle_session_expires_after_fifteen_minutes(client, world) -> None:
    person = world["nurse"]
    sign_in(client, person.email, person.password, person.totp_secret)
    assert client.get("/").status_code == 200
    with time_machine.travel(now() + timedelta(minutes=16), tick=False):
        response = client.get("/")
        assert response.status_code == 302
        assert "/sign-in" in response.headers["Location"]
    assert (
        _count(
            MemberSession,
            MemberSession.member_id == person.member_id,
            MemberSession.end_reason == "idle",
        )
        == 1
    )


def test_disabled_member_loses_an_open_session_at_the_next_request(client, world) -> None:
    person = world["police_officer"]
    sign_in(client, person.email, person.password, person.totp_secret)
    assert client.get("/").status_code == 200
    with db.unit_of_work():
        agencies.set_member_disabled(Actor.system(), agencies.get_member(person.member_id), True)
    assert client.get("/").status_code == 302
    again = sign_in(client, person.email, person.password, person.totp_secret)
    assert again.status_code == 422


def test_member_of_a_disabled_agency_loses_access(client, world) -> None:
    person = world["nurse"]
    sign_in(client, person.email, person.password, person.totp_secret)
    with db.unit_of_work():
        agencies.set_agency_disabled(Actor.system(), agencies.get_agency(person.agency_id), True)
    assert client.get("/").status_code == 302
    assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 422


def test_sign_out_ends_the_session_for_good(client, world) -> None:
    person = world["nurse"]
    sign_in(client, person.email, person.password, person.totp_secret)
    stolen = client.get_cookie("hub").value
    response = submit(client, "/sign-out", form_url="/")
    assert response.status_code == 302
    client.set_cookie("hub", stolen)  # replaying the old cookie does not bring it back
    assert client.get("/").status_code == 302


def test_form_without_csrf_token_is_refused_and_changes_nothing(client, world) -> None:
    person = world["nurse"]
    response = client.post("/sign-in", data={"email": person.email, "password": person.password})
    assert response.status_code == 400
    assert "expired" in text(response)
    assert _count(MemberSession) == 0


def test_oversized_request_body_is_refused(client, world) -> None:
    response = client.post("/sign-in", data={"email": "a@b.test", "password": "x" * 2_000_000})
    assert response.status_code == 413
    assert "too large" in text(response)


def test_malformed_fields_get_messages(client, world) -> None:
    response = submit(client, "/sign-in", {"email": "", "password": ""})
    assert response.status_code == 422
    assert "Enter your email address" in text(response)
    assert "Enter your password" in text(response)


def test_new_member_sets_password_and_enrols_totp_from_an_invitation(client, app, world) -> None:
    admin = world["admin"]
    sign_in(client, admin.email, admin.password, admin.totp_secret)
    created = submit(
        client,
        "/admin/members/new",
        {
            "name": "Nia Newcomer",
            "email": "nia@nhs.test",
            "job_title": "Nurse",
            "agency_id": str(world.agencies["health"]),
            "roles": ["practitioner"],
        },
    )
    assert created.status_code == 302
    member_url = created.headers["Location"]
    invite = submit(client, member_url + "/invitation", form_url=member_url)
    link = text(invite).split('id="invitation-link">')[1].split("<")[0]
    path = "/" + link.split("/", 3)[3]

    newcomer = app.test_client()
    short = submit(newcomer, path, {"password": "short", "confirm": "short"})
    assert short.status_code == 422 and "12 characters or more" in text(short)
    chosen = submit(
        newcomer,
        path,
        {"password": "a long enough passphrase", "confirm": "a long enough passphrase"},
    )
    assert chosen.headers["Location"].endswith("/sign-in/set-up-authenticator")
    page = text(newcomer.get("/sign-in/set-up-authenticator"))
    assert "<svg" in page
    secret = page.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    wrong = submit(newcomer, "/sign-in/set-up-authenticator", {"code": "123456"})
    assert wrong.status_code == 422
    done = submit(newcomer, "/sign-in/set-up-authenticator", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert "Nia Newcomer" in text(newcomer.get("/"))
    # The link works once only.
    assert app.test_client().get(path).status_code == 404
    with db.unit_of_work() as uow:
        member = agencies.find_member_by_email("nia@nhs.test")
        credential = uow.session.get(LocalCredential, member.id)
        assert credential.has_totp and credential.password_hash.startswith("$argon2id$")
