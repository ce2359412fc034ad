"""Sign-in under concurrency: a provider that hangs, many sign-ins at once, a burst of
wrong passwords. Requests run in threads against the real app, on each database.

No timing is asserted (figures are in bench/): each test checks what happened instead.
A hanging provider is held by the dev IdP itself until the test lets it go, and more
requests wait on it than the database connection pool holds (5 + 10), so a request
that waited while holding its transaction would starve the one measured here.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from audit.models import AuditEntry
from hub.auth.models import LocalCredential, MemberSession
from hub.core import db
from tests.support.agencies_sso import (
    PASSWORD,
    RECORDS_CLIENT,
    RECORDS_SECRET,
    Providers,
    callback_path,
    start_sign_in,
)
from tests.support.idp import DevIdP, login_via_http
from tests.support.web import csrf_token, sign_in, submit, text

HANGING = 16  # more than the pool's 5 connections + 10 overflow
DISCOVERY = "/.well-known/openid-configuration"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Long enough that only the test ends the wait (it lets the provider answer).
    return {"oidc_timeout_seconds": 90}


def _signed_in(app: Any, world: Any) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.2"  # another person, elsewhere
    person = world["idva"]
    assert sign_in(client, person.email, person.password, person.totp_secret).status_code == 302
    return client


def _while_hanging(idp: DevIdP, app: Any, world: Any, calls: list[Any]) -> list[Any]:
    """Run ``calls`` (each hangs at the provider), load a page meanwhile, then release."""
    reader = _signed_in(app, world)
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        waiting: list[Future[Any]] = [pool.submit(call) for call in calls]
        try:
            idp.wait_for_waiting(len(calls))
            page = reader.get("/")
            # Answered while every one of them still waits at the provider.
            assert idp.stats()["waiting"] == len(calls)
            assert not any(f.done() for f in waiting)
            assert page.status_code == 200 and "Idva" in text(page)
        finally:
            idp.release()
        return [f.result(timeout=60) for f in waiting]


def test_a_provider_hanging_at_sign_in_holds_up_no_other_request(
    app: Any, world: Any, own_idp: DevIdP, own_police_provider: int
) -> None:
    own_idp.hang(DISCOVERY)
    agency = world.agencies["police"]
    results = _while_hanging(
        own_idp,
        app,
        world,
        [lambda: app.test_client().get(f"/sign-in/agency/{agency}/start") for _ in range(HANGING)],
    )
    assert [r.status_code for r in results] == [302] * HANGING


def test_a_provider_hanging_at_its_token_endpoint_holds_up_no_other_request(
    app: Any, world: Any, own_idp: DevIdP, own_police_provider: int
) -> None:
    agency = world.agencies["police"]
    answers = []
    for _ in range(HANGING):
        browser = app.test_client()
        back = login_via_http(
            requests.Session(), start_sign_in(browser, agency), "alice@police.test", PASSWORD
        )
        answers.append((browser, callback_path(back.headers["Location"])))
    own_idp.hang("/token")
    results = _while_hanging(
        own_idp,
        app,
        world,
        [lambda b=b, path=path: b.get(path) for b, path in answers],
    )
    # Alice waits for approval (the police provider's mapping is not trusted): each
    # answer was redeemed and checked once the provider let go.
    assert {r.status_code for r in results} == {200}
    assert "Waiting for approval" in text(results[0])


def test_a_provider_hanging_at_its_key_set_holds_up_no_other_request(
    app: Any, world: Any, own_idp: DevIdP, own_police_provider: int
) -> None:
    token = own_idp.client_credentials_token(RECORDS_CLIENT, RECORDS_SECRET, "referrals:read")
    own_idp.hang("/jwks")  # the hub has not fetched the key set yet
    headers = {"Authorization": f"Bearer {token}"}
    results = _while_hanging(
        own_idp,
        app,
        world,
        [lambda: app.test_client().get("/api/v1/whoami", headers=headers) for _ in range(HANGING)],
    )
    assert [r.status_code for r in results] == [200] * HANGING


def test_one_person_signing_in_many_times_at_once_always_gets_in(
    app: Any, world: Any, providers: Providers
) -> None:
    """Eighteen sign-ins of one account at once, through its agency's provider."""
    answers = []
    for _ in range(18):
        browser = app.test_client()
        back = login_via_http(
            requests.Session(),
            start_sign_in(browser, providers.health_agency),
            "nurse@nhs.test",
            PASSWORD,
        )
        answers.append((browser, callback_path(back.headers["Location"])))
    with ThreadPoolExecutor(max_workers=18) as pool:
        results = list(pool.map(lambda pair: pair[0].get(pair[1]), answers))
    assert [r.status_code for r in results] == [302] * 18, [
        (r.status_code, text(r)[:200]) for r in results if r.status_code != 302
    ]
    with db.unit_of_work() as uow:
        live = uow.session.execute(
            select(func.count())
            .select_from(MemberSession)
            .where(
                MemberSession.member_id == world["nurse"].member_id,
                MemberSession.ended_at.is_(None),
            )
        ).scalar_one()
    assert live == 18


def test_simultaneous_password_sign_ins_to_one_account_never_fail(app: Any, world: Any) -> None:
    """Eighteen sign-ins at once of a demo account (no second factor) in demo mode."""
    from dataclasses import replace

    from hub.app import create_app

    person = world["housing_officer"]
    with db.unit_of_work() as uow:
        uow.session.get(LocalCredential, person.member_id).is_demo = True
    demo = create_app(replace(app.extensions["hub.settings"], demo=True))
    try:
        browsers = [demo.test_client() for _ in range(18)]
        tokens = [csrf_token(b, "/sign-in") for b in browsers]

        def sign_in_now(pair: tuple[Any, str]) -> Any:
            return pair[0].post(
                "/sign-in",
                data={"csrf_token": pair[1], "email": person.email, "password": person.password},
            )

        with ThreadPoolExecutor(max_workers=18) as pool:
            results = list(pool.map(sign_in_now, zip(browsers, tokens, strict=True)))
        assert [(r.status_code, r.headers.get("Location")) for r in results] == [(302, "/")] * 18
    finally:
        demo.extensions["hub.db"].dispose()


def test_a_burst_of_wrong_passwords_is_counted_exactly_and_slows_nobody_else(
    app: Any, world: Any
) -> None:
    """Thirty wrong passwords at once from one address (the rate limit allows 30 a minute)."""
    reader = _signed_in(app, world)
    person = world["nurse"]
    browsers = [app.test_client() for _ in range(30)]
    tokens = [csrf_token(b, "/sign-in") for b in browsers]

    def wrong(pair: tuple[Any, str]) -> int:
        response = pair[0].post(
            "/sign-in",
            data={"csrf_token": pair[1], "email": person.email, "password": "not the password!"},
        )
        return int(response.status_code)

    with ThreadPoolExecutor(max_workers=31) as pool:
        burst = [pool.submit(wrong, pair) for pair in zip(browsers, tokens, strict=True)]
        page = pool.submit(reader.get, "/").result(timeout=120)
        statuses = [f.result(timeout=120) for f in burst]
    assert page.status_code == 200
    assert statuses == [422] * 30
    with db.unit_of_work() as uow:
        reasons = Counter(
            json.loads(body)["reason"]
            for body in uow.session.execute(
                select(AuditEntry.body).where(AuditEntry.action == "signin:failed")
            ).scalars()
        )
        credential = uow.session.get(LocalCredential, person.member_id)
        locked = credential.locked_until is not None
    # Every refusal is in the ledger, and every wrong password was counted: each fifth one
    # locked the account, and once locked the rest were not even checked.
    assert sum(reasons.values()) == 30, reasons
    wrong_total = reasons["wrong_password"] + reasons["wrong_password_locked"]
    assert reasons["wrong_password_locked"] == wrong_total // 5 >= 1, reasons
    assert reasons["locked"] == 30 - wrong_total and locked


def test_the_right_code_does_not_open_a_locked_account(app: Any, client: Any, world: Any) -> None:
    from tests.support.web import current_code

    person = world["idva"]
    first = submit(client, "/sign-in", {"email": person.email, "password": person.password})
    assert first.headers["Location"].endswith("/sign-in/code")
    for _ in range(5):
        assert submit(client, "/sign-in/code", {"code": "000000"}).status_code == 422
    right = submit(client, "/sign-in/code", {"code": current_code(person.totp_secret)})
    assert right.status_code == 422
    assert client.get("/").status_code == 302  # still signed out
    with db.unit_of_work() as uow:
        reasons = [
            json.loads(b)["reason"]
            for b in uow.session.execute(
                select(AuditEntry.body)
                .where(AuditEntry.action == "signin:failed")
                .order_by(AuditEntry.id)
            ).scalars()
        ]
    assert reasons == ["wrong_code"] * 4 + ["wrong_code_locked", "locked"]
    # And the right password is refused too while locked.
    again = app.test_client()
    assert sign_in(again, person.email, person.password, person.totp_secret).status_code == 422
