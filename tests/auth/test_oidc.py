"""Signing in through an agency's own identity provider, over plain HTTP.

Two real providers (tools/dev-idp) play Testshire Police (role mapping not trusted:
newcomers wait for approval) and Testshire Hospital (mapping trusted). A third, shaped by
each test (tests/support/fake_op.py), issues the bad ID tokens a real provider never would,
so each check on the token is shown to refuse.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import socket
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select, update

from agencies import services as agencies
from agencies.models import Member
from audit.models import AuditEntry
from hub.auth import identity
from hub.auth.models import MemberSession, OidcRequest
from hub.core import db
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now
from hub.core.routes import require, require_recent_sign_in
from tests.support.agencies_sso import (
    PASSWORD,
    Providers,
    callback_path,
    sso_sign_in,
    start_sign_in,
)
from tests.support.fake_op import FakeProvider, b64, unsigned_token
from tests.support.idp import DevIdP, IdPLoginError, login_via_http, logout_via_http
from tests.support.web import current_code, sign_in, submit
from tests.support.web import text as raw_text

# --- helpers ---------------------------------------------------------------------------------


def text(response: Any) -> str:
    """The page as a person reads it (entities such as &#39; decoded)."""
    return html.unescape(raw_text(response))


def _count(model: Any, *where: Any) -> int:
    with db.unit_of_work() as uow:
        return int(
            uow.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        )


def _ledger(action: str) -> list[dict[str, Any]]:
    with db.unit_of_work() as uow:
        bodies = uow.session.execute(
            select(AuditEntry.body).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).scalars()
        return [json.loads(b) for b in bodies]


def _refusal_reasons() -> list[str]:
    return [e.get("reason", "") for e in _ledger("signin:failed")]


def _member(email: str) -> Member | None:
    with db.unit_of_work() as uow:
        found = uow.session.execute(
            select(Member).where(Member.email == email)
        ).scalar_one_or_none()
        if found is not None:
            _ = found.roles, found.agency.name
        return found


def _assert_signed_out(client: Any) -> None:
    home = client.get("/")
    assert home.status_code == 302 and "/sign-in" in home.headers["Location"]


def _assert_refused(client: Any, response: Any, *, status: int, says: str, reason: str) -> None:
    assert response.status_code == status, text(response)[:800]
    assert says in text(response)
    _assert_signed_out(client)
    assert reason in _refusal_reasons()


def _admin_actor(world: Any) -> Actor:
    with db.unit_of_work():
        return agencies.actor_for(agencies.get_member(world["admin"].member_id))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the journey that works ------------------------------------------------------------------


def test_a_trusted_provider_signs_a_newcomer_in_with_mapped_roles(
    client: Any, providers: Providers, health_idp: DevIdP
) -> None:
    response = sso_sign_in(client, providers.health_agency, "nina@nhs.test")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = text(client.get("/"))
    assert "Nina Patel" in home and "Testshire Hospital" in home
    with db.unit_of_work() as uow:
        link = uow.session.execute(select(identity.FederatedIdentity)).scalar_one()
        assert (link.issuer, link.subject, link.status) == (
            health_idp.issuer,
            "nhs-nina",
            "approved",
        )
        assert link.member.roles == {Role.PRACTITIONER, Role.MARAC_REP}
        assert link.member.agency_id == providers.health_agency
        live = uow.session.execute(
            select(MemberSession).where(MemberSession.member_id == link.member_id)
        ).scalar_one()
        assert (live.method, live.idp_id) == ("oidc", providers.health)
        assert live.id_token_hint and live.id_token_hint.count(".") == 2
    assert [e["method"] for e in _ledger("signin:succeeded")] == ["oidc"]
    assert _count(OidcRequest) == 0  # the authorization request was used up


def test_members_are_keyed_on_issuer_and_subject_never_on_email(
    client: Any, app: Any, providers: Providers, world: Any
) -> None:
    nurse = world["nurse"]
    # The trusted provider's first sign-in links the existing hub member of the same agency.
    assert sso_sign_in(client, providers.health_agency, "nurse@nhs.test").status_code == 302
    with db.unit_of_work():
        member = agencies.get_member(nurse.member_id)
        member.email = "renamed.nurse@nhs.test"  # the hub's copy of the email changes
    again = app.test_client()
    assert sso_sign_in(again, providers.health_agency, "nurse@nhs.test").status_code == 302
    with db.unit_of_work() as uow:
        links = uow.session.execute(select(identity.FederatedIdentity)).scalars().all()
        assert [(link.subject, link.member_id) for link in links] == [
            ("nhs-nurse", nurse.member_id)
        ]
    assert _member("nurse@nhs.test") is None  # no second member was made from the email


def test_each_sign_in_reapplies_the_providers_role_mapping(
    app: Any, providers: Providers, world: Any
) -> None:
    assert (
        sso_sign_in(app.test_client(), providers.health_agency, "nina@nhs.test").status_code == 302
    )
    assert _member("nina@nhs.test").roles == {Role.PRACTITIONER, Role.MARAC_REP}
    with db.unit_of_work():
        provider = identity.get_provider(providers.health)
        identity.update_provider(
            Actor.system(),
            provider,
            identity.ProviderData(
                issuer=provider.issuer,
                client_id=provider.client_id,
                client_secret_env=provider.client_secret_env or "",
                scopes=provider.scopes,
                roles_claim="groups",
                role_mapping={"marac-practitioners": "practitioner"},
                trust_role_mapping=True,
            ),
            version=provider.version,
        )
    assert (
        sso_sign_in(app.test_client(), providers.health_agency, "nina@nhs.test").status_code == 302
    )
    assert _member("nina@nhs.test").roles == {Role.PRACTITIONER}
    changed = _ledger("member:roles_changed")
    assert changed[-1]["roles"] == ["practitioner"]
    assert changed[-1]["previous"] == ["marac_rep", "practitioner"]


def test_a_provider_that_maps_no_role_lets_nobody_in(client: Any, providers: Providers) -> None:
    response = sso_sign_in(client, providers.health_agency, "norole@nhs.test")
    _assert_refused(
        client,
        response,
        status=403,
        says="Your account gives you no role in MARAC Hub",
        reason="no_role",
    )
    assert _member("norole@nhs.test") is None


def test_a_newcomer_at_an_untrusted_provider_waits_for_approval(
    app: Any, client: Any, providers: Providers, world: Any
) -> None:
    response = sso_sign_in(client, providers.police_agency, "alice@police.test")
    assert response.status_code == 200
    assert "Waiting for approval" in text(response)
    assert "Testshire Police's MARAC representative" in text(response)
    _assert_signed_out(client)
    alice = _member("alice@police.test")
    assert alice is not None and alice.status == "pending" and alice.roles == frozenset()
    assert alice.name == "Alice Idris"
    # Trying again changes nothing but the ledger.
    assert sso_sign_in(client, providers.police_agency, "alice@police.test").status_code == 200
    assert _count(Member, Member.email == "alice@police.test") == 1
    assert _refusal_reasons().count("pending_approval") == 2

    admin = app.test_client()
    sign_in(admin, world["admin"].email, world["admin"].password, world["admin"].totp_secret)
    listing = text(admin.get("/admin/approvals"))
    assert "Alice Idris" in listing and "Practitioner" in listing  # suggested by her groups
    with db.unit_of_work() as uow:
        request_id = uow.session.execute(select(identity.FederatedIdentity.id)).scalar_one()
    page = admin.get(f"/admin/approvals/{request_id}")
    assert page.status_code == 200 and "alice@police.test" in text(page)
    decided = submit(
        admin, f"/admin/approvals/{request_id}", {"roles": ["practitioner"], "decision": "approve"}
    )
    assert decided.status_code == 302

    assert sso_sign_in(client, providers.police_agency, "alice@police.test").status_code == 302
    assert "Alice Idris" in text(client.get("/"))
    assert _member("alice@police.test").roles == {Role.PRACTITIONER}
    assert len(_ledger("member:approved")) == 1


def test_a_marac_rep_decides_only_for_their_own_agency(
    app: Any, providers: Providers, world: Any
) -> None:
    # The police rep's own agency account waits for the administrator first (an existing
    # member's email only proposes the link).
    rep = app.test_client()
    waiting = sso_sign_in(rep, providers.police_agency, "police.rep@police.test")
    assert waiting.status_code == 200 and "confirm that this account is yours" in text(waiting)
    admin = _admin_actor(world)
    with db.unit_of_work():
        (pending,) = identity.pending_approvals(admin)
        identity.approve_sign_in(admin, pending, [])
    # Someone waits at each agency: the hospital's provider stops being trusted for a while.
    with db.unit_of_work():
        provider = identity.get_provider(providers.health)
        provider.trust_role_mapping = False
    assert (
        sso_sign_in(app.test_client(), providers.police_agency, "alice@police.test").status_code
        == 200
    )
    assert (
        sso_sign_in(app.test_client(), providers.health_agency, "norole@nhs.test").status_code
        == 200
    )

    assert sso_sign_in(rep, providers.police_agency, "police.rep@police.test").status_code == 302
    listing = text(rep.get("/admin/approvals"))
    assert "Alice Idris" in listing and "Noah Role" not in listing
    with db.unit_of_work() as uow:
        ids = dict(
            uow.session.execute(
                select(Member.email, identity.FederatedIdentity.id).join(
                    Member, identity.FederatedIdentity.member_id == Member.id
                )
            ).all()
        )
    assert rep.get(f"/admin/approvals/{ids['norole@nhs.test']}").status_code == 404
    too_much = submit(
        rep,
        f"/admin/approvals/{ids['alice@police.test']}",
        {"roles": ["chair"], "decision": "approve"},
    )
    assert too_much.status_code == 422 and "Select only options" in text(too_much)
    refused = submit(rep, f"/admin/approvals/{ids['alice@police.test']}", {"decision": "refuse"})
    assert refused.status_code == 302
    again = app.test_client()
    _assert_refused(
        again,
        sso_sign_in(again, providers.police_agency, "alice@police.test"),
        status=403,
        says="turned off",
        reason="member_disabled",
    )


# --- refusals with the real providers ---------------------------------------------------


def test_a_user_of_one_agencys_provider_claiming_another_agency_is_refused(
    client: Any, providers: Providers
) -> None:
    # Mallory signs in at the police provider with an email of the hospital's domain.
    response = sso_sign_in(client, providers.police_agency, "mallory@nhs.test")
    _assert_refused(
        client, response, status=403, says="belongs to a different agency", reason="wrong_agency"
    )
    assert _member("mallory@nhs.test") is None


def test_an_unknown_email_domain_is_refused(client: Any, providers: Providers) -> None:
    response = sso_sign_in(client, providers.police_agency, "stranger@elsewhere.test")
    _assert_refused(
        client, response, status=403, says="not registered with MARAC Hub", reason="unknown_domain"
    )
    assert _member("stranger@elsewhere.test") is None


def test_a_disabled_member_is_refused_and_loses_an_open_session(
    app: Any, client: Any, providers: Providers
) -> None:
    assert sso_sign_in(client, providers.health_agency, "nina@nhs.test").status_code == 302
    assert client.get("/").status_code == 200
    with db.unit_of_work():
        member = agencies.find_member_by_email("nina@nhs.test")
        agencies.set_member_disabled(Actor.system(), member, True)
    _assert_signed_out(client)  # the open session ends at its next request
    again = app.test_client()
    _assert_refused(
        again,
        sso_sign_in(again, providers.health_agency, "nina@nhs.test"),
        status=403,
        says="Your MARAC Hub access has been turned off",
        reason="member_disabled",
    )


def test_a_disabled_agency_is_refused(client: Any, providers: Providers) -> None:
    provider_url = start_sign_in(client, providers.health_agency)
    back = login_via_http(requests.Session(), provider_url, "nina@nhs.test", PASSWORD)
    with db.unit_of_work():  # the agency leaves while the person is at their provider
        agencies.set_agency_disabled(
            Actor.system(), agencies.get_agency(providers.health_agency), True
        )
    response = client.get(callback_path(back.headers["Location"]))
    _assert_refused(
        client,
        response,
        status=403,
        says="Testshire Hospital no longer uses",
        reason="agency_disabled",
    )
    assert _member("nina@nhs.test") is None
    # And nobody is sent to a disabled agency's provider in the first place.
    assert client.get(f"/sign-in/agency/{providers.health_agency}/start").status_code == 403


def test_an_answer_whose_state_does_not_match_is_refused(
    app: Any, client: Any, providers: Providers
) -> None:
    provider_url = start_sign_in(client, providers.health_agency)
    back = login_via_http(requests.Session(), provider_url, "nina@nhs.test", PASSWORD)
    genuine = callback_path(back.headers["Location"])
    state = parse_qs(urlsplit(genuine).query)["state"][0]
    forged = genuine.replace(state, "forged-" + state[7:])
    _assert_refused(
        client,
        client.get(forged),
        status=400,
        says="did not match a sign-in",
        reason="state_mismatch",
    )
    # The genuine answer in another browser (without this one's state) is refused too.
    other = app.test_client()
    _assert_refused(
        other,
        other.get(genuine),
        status=400,
        says="did not match a sign-in",
        reason="state_mismatch",
    )
    # Neither forgery used up the real request: the right browser still gets in.
    assert client.get(genuine).status_code == 302
    assert client.get("/").status_code == 200


def test_a_replayed_answer_is_refused_even_with_the_old_cookie(
    client: Any, providers: Providers
) -> None:
    provider_url = start_sign_in(client, providers.health_agency)
    cookie = client.get_cookie("hub").value  # holds this sign-in's state
    back = login_via_http(requests.Session(), provider_url, "nina@nhs.test", PASSWORD)
    answer = callback_path(back.headers["Location"])
    assert client.get(answer).status_code == 302
    submit(client, "/sign-out", {}, form_url="/")
    client.set_cookie("hub", cookie)  # an attacker who copied the browser's cookie
    _assert_refused(
        client, client.get(answer), status=400, says="already used", reason="state_mismatch"
    )


def test_key_rotation_at_the_provider_does_not_break_sign_in(
    app: Any, providers: Providers, health_idp: DevIdP
) -> None:
    assert (
        sso_sign_in(app.test_client(), providers.health_agency, "nina@nhs.test").status_code == 302
    )
    old = {k["kid"] for k in health_idp.jwks()["keys"]}
    health_idp.restart_with_new_key()
    assert not old & {k["kid"] for k in health_idp.jwks()["keys"]}
    time.sleep(1.1)  # the hub fetches a key set at most once a second
    again = app.test_client()
    assert sso_sign_in(again, providers.health_agency, "nina@nhs.test").status_code == 302
    assert again.get("/").status_code == 200


# --- a provider that is down or talks nonsense ------------------------------------------


def _point_at(provider_id: int, issuer: str) -> None:
    with db.unit_of_work():
        provider = identity.get_provider(provider_id)
        provider.issuer = issuer


def test_a_provider_that_is_down_gets_a_clear_page_and_local_sign_in_still_works(
    client: Any, providers: Providers, world: Any
) -> None:
    _point_at(providers.police, f"http://127.0.0.1:{_free_port()}")
    members = _count(Member)
    response = client.get(f"/sign-in/agency/{providers.police_agency}/start")
    _assert_refused(
        client,
        response,
        status=503,
        says="Testshire Police's sign-in service is not available",
        reason="provider_unavailable",
    )
    assert _count(Member) == members and _count(OidcRequest) == 0
    idva = world["idva"]
    assert sign_in(client, idva.email, idva.password, idva.totp_secret).status_code == 302
    assert client.get("/").status_code == 200


def _fake_sign_in(client: Any, agency_id: int) -> Any:
    back = requests.get(start_sign_in(client, agency_id), allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    return client.get(callback_path(back.headers["Location"]))


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param({"discovery_override": "<html>Service Unavailable</html>"}, id="html"),
        pytest.param(
            {"discovery_override": {"issuer": "http://elsewhere.test"}}, id="wrong-issuer"
        ),
        pytest.param({"discovery_override": ["not", "an", "object"]}, id="not-an-object"),
    ],
)
def test_a_provider_with_garbage_discovery_gets_the_unavailable_page(
    client: Any, fake_provider: int, fake_op: FakeProvider, garbage: dict[str, Any]
) -> None:
    for name, value in garbage.items():
        setattr(fake_op, name, value)
    response = client.get(f"/sign-in/agency/{fake_provider}/start")
    _assert_refused(
        client,
        response,
        status=503,
        says="Testshire Homes's sign-in service is not available",
        reason="provider_unavailable",
    )
    assert _count(OidcRequest) == 0


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param({"token_override": "<html>Bad gateway</html>"}, id="token-html"),
        pytest.param({"jwks_override": {"keys": []}}, id="empty-key-set"),
        pytest.param({"jwks_override": "nonsense"}, id="key-set-garbage"),
    ],
)
def test_garbage_during_the_answer_gets_the_unavailable_page_and_creates_nothing(
    client: Any, fake_provider: int, fake_op: FakeProvider, garbage: dict[str, Any]
) -> None:
    members, identities = _count(Member), _count(identity.FederatedIdentity)
    for name, value in garbage.items():
        setattr(fake_op, name, value)
    response = _fake_sign_in(client, fake_provider)
    _assert_refused(
        client, response, status=503, says="is not available", reason="provider_unavailable"
    )
    assert (_count(Member), _count(identity.FederatedIdentity)) == (members, identities)
    assert _count(OidcRequest) == 0


# --- ID tokens the hub must refuse (the shaped provider) -------------------------------


def test_the_shaped_provider_signs_in_when_nothing_is_tampered(
    client: Any, fake_provider: int
) -> None:
    """The control: each refusal below is caused by its one change, not by the harness."""
    assert _fake_sign_in(client, fake_provider).status_code == 302
    assert "Fake Person" in text(client.get("/"))


def _hs256_with_public_key(fake_op: FakeProvider) -> Any:
    def tamper(claims: dict[str, Any], header: dict[str, Any]) -> str:
        pem = fake_op.key.as_pem(private=False)
        head = b64(json.dumps({"alg": "HS256", "kid": "fake-key-1"}).encode())
        body = b64(json.dumps(claims).encode())
        mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64(mac)}"

    return tamper


def _other_key(fake_op: FakeProvider, kid: str) -> Any:
    def tamper(claims: dict[str, Any], header: dict[str, Any]) -> str:
        return fake_op.sign(claims, {"alg": "RS256", "kid": kid}, fake_op.other_key)

    return tamper


def _without_nonce(claims: dict[str, Any], header: dict[str, Any]) -> None:
    del claims["nonce"]


REFUSED_TOKENS = {
    "wrong_audience": (
        lambda op: lambda c, h: c.update(aud="some-other-client"),
        "meant for another service",
    ),
    "wrong_issuer": (
        lambda op: lambda c, h: c.update(iss="https://impostor.example"),
        "did not come from Testshire Homes",
    ),
    "expired_token": (
        lambda op: lambda c, h: c.update(exp=int(time.time()) - 300),
        "had already expired",
    ),
    "issued_at_invalid": (
        lambda op: lambda c, h: c.update(iat=int(time.time()) - 3600),
        "not issued for this sign-in",
    ),
    "bad_signature": (lambda op: _other_key(op, "fake-key-1"), "signature does not match"),
    "unknown_key": (
        lambda op: _other_key(op, "a-key-nobody-published"),
        "key Testshire Homes does not publish",
    ),
    "missing_nonce": (lambda op: _without_nonce, "it had no nonce"),
    "nonce_mismatch": (
        lambda op: lambda c, h: c.update(nonce="some-other-sign-in"),
        "belongs to a different sign-in",
    ),
    "unsigned_token": (lambda op: lambda c, h: unsigned_token(c), "was not signed"),
    "algorithm_refused": (_hs256_with_public_key, "signed in a way MARAC Hub does not accept"),
}


@pytest.mark.parametrize("reason", list(REFUSED_TOKENS))
def test_an_id_token_failing_a_check_is_refused_with_a_clear_page(
    client: Any, fake_provider: int, fake_op: FakeProvider, reason: str
) -> None:
    make_tamper, says = REFUSED_TOKENS[reason]
    fake_op.tamper = make_tamper(fake_op)
    response = _fake_sign_in(client, fake_provider)
    _assert_refused(client, response, status=403, says=says, reason=reason)
    assert _member("fake.person@homes.test") is None
    assert _count(MemberSession) == 0


def test_a_replayed_id_token_is_refused_by_its_nonce(
    app: Any, fake_provider: int, fake_op: FakeProvider
) -> None:
    first = app.test_client()
    assert _fake_sign_in(first, fake_provider).status_code == 302
    old_token = fake_op.issued[-1]
    fake_op.tamper = lambda claims, header: old_token  # the provider's answer replayed
    second = app.test_client()
    _assert_refused(
        second,
        _fake_sign_in(second, fake_provider),
        status=403,
        says="belongs to a different sign-in",
        reason="nonce_mismatch",
    )


# --- the sign-in page ------------------------------------------------------------------


def test_the_sign_in_page_offers_agencies_with_their_own_sign_in(
    client: Any, providers: Providers
) -> None:
    page = text(client.get("/sign-in"))
    assert "Sign in with your agency's account" in page
    assert f'value="{providers.police_agency}">Testshire Police' in page
    assert f'value="{providers.health_agency}">Testshire Hospital' in page
    assert 'name="password"' in page  # local sign-in stays on the same page
    chosen = client.get(f"/sign-in/agency?agency={providers.health_agency}")
    assert chosen.status_code == 200
    # A refresh, not a redirect: a redirect answering a form would break the CSP form-action.
    assert chosen.headers["Refresh"] == (f"0; url=/sign-in/agency/{providers.health_agency}/start")
    assert "Continue to Testshire Hospital" in text(chosen)


def test_typing_an_email_finds_the_agency_by_its_domain(client: Any, providers: Providers) -> None:
    found = submit(client, "/sign-in/find", {"work_email": "Someone@NHS.test"}, form_url="/sign-in")
    assert found.status_code == 303
    assert found.headers["Location"] == f"/sign-in/agency?agency={providers.health_agency}"
    local = submit(
        client, "/sign-in/find", {"work_email": "someone@idva.test"}, form_url="/sign-in"
    )
    assert local.status_code == 200
    assert "does not have its own sign-in" in text(local)
    assert 'value="someone@idva.test"' in text(local)  # carried into the password form
    bad = submit(client, "/sign-in/find", {"work_email": "not an email"}, form_url="/sign-in")
    assert bad.status_code == 422 and "There is a problem" in text(bad)


def test_a_hub_password_is_refused_for_an_agency_with_its_own_sign_in(
    client: Any, providers: Providers, world: Any
) -> None:
    officer = world["police_officer"]
    response = submit(client, "/sign-in", {"email": officer.email, "password": officer.password})
    assert response.status_code == 422
    assert "Testshire Police signs its staff in with their work accounts" in text(response)
    _assert_signed_out(client)
    assert "agency_uses_provider" in _refusal_reasons()


# --- signing out -------------------------------------------------------------------------


def test_signing_out_ends_the_hub_session_and_the_providers(
    client: Any, providers: Providers, health_idp: DevIdP
) -> None:
    browser = requests.Session()
    sso_sign_in(client, providers.health_agency, "nina@nhs.test", browser=browser)
    out = submit(client, "/sign-out", {}, form_url="/")
    assert out.status_code == 303 and out.headers["Location"] == "/sign-out/provider"
    _assert_signed_out(client)
    page = client.get("/sign-out/provider")
    assert page.status_code == 200
    target = page.headers["Refresh"].split("url=", 1)[1]
    assert target.startswith(health_idp.discovery["end_session_endpoint"] + "?")
    query = parse_qs(urlsplit(target).query)
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1:5000/signed-out"]
    assert query["id_token_hint"][0].count(".") == 2 and query["client_id"] == ["marac-hub"]
    # The hint is handed out once and not kept.
    assert client.get("/sign-out/provider").status_code == 302
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(MemberSession.id_token_hint)).scalar_one() is None

    back = logout_via_http(browser, target)
    assert back.headers["Location"].startswith("http://127.0.0.1:5000/signed-out")
    assert "You have signed out" in text(client.get("/signed-out"))
    # The provider's own session is gone: it asks for the password again.
    with pytest.raises(IdPLoginError):
        login_via_http(
            browser,
            start_sign_in(client, providers.health_agency),
            "nina@nhs.test",
            "not the password",
        )


# --- step-up -----------------------------------------------------------------------------


def _sensitive_route(app: Any) -> None:
    @app.route("/test/sensitive", methods=["GET", "POST"])
    @require(Permission.SESSION_USE)
    @require_recent_sign_in(minutes=10)
    def sensitive() -> str:
        return "sensitive action done"


def _signed_in_minutes_ago(member_id: int, minutes: int) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(
            update(MemberSession)
            .where(MemberSession.member_id == member_id)
            .values(authenticated_at=now() - timedelta(minutes=minutes))
        )


def test_step_up_sends_a_provider_member_back_to_their_provider(
    app: Any, client: Any, providers: Providers
) -> None:
    _sensitive_route(app)
    browser = requests.Session()
    sso_sign_in(client, providers.health_agency, "nina@nhs.test", browser=browser)
    assert text(client.get("/test/sensitive")) == "sensitive action done"
    _signed_in_minutes_ago(_member("nina@nhs.test").id, 11)
    refused = client.get("/test/sensitive")
    assert refused.status_code == 303 and refused.headers["Location"] == "/sign-in/again"
    page = client.get("/sign-in/again")
    assert "Confirm it is you" in text(page) and "/sign-in/again/start" in text(page)
    provider_url = client.get("/sign-in/again/start").headers["Location"]
    query = parse_qs(urlsplit(provider_url).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["600"]
    back = login_via_http(browser, provider_url, "nina@nhs.test", PASSWORD)
    done = client.get(callback_path(back.headers["Location"]))
    assert done.status_code == 302 and done.headers["Location"] == "/test/sensitive"
    assert text(client.get("/test/sensitive")) == "sensitive action done"
    assert [e["method"] for e in _ledger("signin:reauthenticated")] == ["oidc"]


def test_step_up_with_a_different_account_is_refused(
    app: Any, client: Any, providers: Providers
) -> None:
    _sensitive_route(app)
    sso_sign_in(client, providers.health_agency, "nina@nhs.test")
    _signed_in_minutes_ago(_member("nina@nhs.test").id, 11)
    client.get("/test/sensitive")
    provider_url = client.get("/sign-in/again/start").headers["Location"]
    back = login_via_http(requests.Session(), provider_url, "nurse@nhs.test", PASSWORD)
    response = client.get(callback_path(back.headers["Location"]))
    assert response.status_code == 403 and "different account" in text(response)
    assert "step_up_wrong_person" in _refusal_reasons()
    assert client.get("/test/sensitive").status_code == 303


def test_step_up_for_a_local_member_asks_for_password_and_code(
    app: Any, client: Any, world: Any
) -> None:
    _sensitive_route(app)
    idva = world["idva"]
    sign_in(client, idva.email, idva.password, idva.totp_secret)
    _signed_in_minutes_ago(idva.member_id, 11)
    assert client.get("/test/sensitive?tab=2").headers["Location"] == "/sign-in/again"
    page = client.get("/sign-in/again")
    assert 'name="password"' in text(page) and 'name="code"' in text(page)
    wrong = submit(client, "/sign-in/again", {"password": idva.password, "code": "000000"})
    assert wrong.status_code == 422 and "not right" in text(wrong)
    assert client.get("/test/sensitive?tab=2").status_code == 303
    right = submit(
        client,
        "/sign-in/again",
        {"password": idva.password, "code": current_code(idva.totp_secret, offset_steps=1)},
    )
    assert right.status_code == 302 and right.headers["Location"] == "/test/sensitive?tab=2"
    assert text(client.get("/test/sensitive")) == "sensitive action done"
    assert [e["method"] for e in _ledger("signin:reauthenticated")] == ["local"]


def test_an_action_refused_for_step_up_commits_nothing(app: Any, client: Any, world: Any) -> None:
    from audit.ledger import Subject, record
    from hub.core.access import ensure_recent_sign_in
    from hub.core.requestctx import actor

    @app.route("/test/share", methods=["POST"])
    @require(Permission.SESSION_USE)
    def share() -> str:
        who = actor()
        record(who, "case_team:added", Subject("member", who.member_id))
        ensure_recent_sign_in(who, 10, now())  # a service's own check, after it wrote
        return "shared"

    idva = world["idva"]
    sign_in(client, idva.email, idva.password, idva.totp_secret)
    _signed_in_minutes_ago(idva.member_id, 11)
    response = submit(client, "/test/share", {}, form_url="/")
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in/again"
    assert _ledger("case_team:added") == []


def test_exporting_the_ledger_needs_a_recent_sign_in(client: Any, world: Any) -> None:
    auditor = world["auditor"]
    sign_in(client, auditor.email, auditor.password, auditor.totp_secret)
    assert client.get("/ledger/export.csv").status_code == 200
    _signed_in_minutes_ago(auditor.member_id, 11)
    refused = client.get("/ledger/export.csv")
    assert refused.status_code == 303 and refused.headers["Location"] == "/sign-in/again"
    assert _ledger("ledger:csv_exported") != [] and len(_ledger("ledger:csv_exported")) == 1
