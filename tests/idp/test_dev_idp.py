"""The development OpenID provider (tools/dev-idp) does what the hub relies on.

One real provider process serves the whole module; every test starts its own
flows with a fresh ``requests.Session``, so the tests do not depend on order.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import KeySet

from tests.support.idp import (
    DevIdP,
    IdPLoginError,
    default_clients,
    default_users,
    login_via_http,
    logout_via_http,
    pkce_pair,
)

API = "urn:marac-hub:test-api"
HUB = "marac-hub-test"
HUB_SECRET = "marac-hub-test-secret"
HUB_REDIRECT = "http://127.0.0.1:5000/auth/callback"
HUB_LOGOUT_REDIRECT = "http://127.0.0.1:5000/"
ES_CLIENT = "es256-client"
ES_SECRET = "es256-client-secret"
PARTNER = "partner-agency-system"
PARTNER_SECRET = "partner-agency-system-secret"
ALICE = ("alice@police.example", "alice-password")


@pytest.fixture(scope="module")
def idp() -> Iterator[DevIdP]:
    clients = default_clients()
    clients.append(
        {
            "client_id": ES_CLIENT,
            "client_secret": ES_SECRET,
            "redirect_uris": [HUB_REDIRECT],
            "grant_types": ["authorization_code"],
            "id_token_signed_response_alg": "ES256",
            "scope": "openid email groups",
        }
    )
    with DevIdP().start(clients=clients, users=default_users(), api_audience=API) as running:
        yield running


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _keyset(idp: DevIdP) -> KeySet:
    # JWKS JSON as a plain dict; joserfc's stub wants its TypedDict.
    return KeySet.import_key_set(idp.jwks())  # type: ignore[arg-type]


def _sign_in(
    idp: DevIdP,
    session: requests.Session,
    *,
    client_id: str = HUB,
    secret: str = HUB_SECRET,
    scope: str = "openid email profile groups roles",
) -> dict[str, Any]:
    """Authorization code + PKCE through the login form; returns the token response."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    url = idp.authorization_url(
        client_id,
        HUB_REDIRECT,
        scope=scope,
        state=state,
        nonce=nonce,
        code_challenge=challenge,
    )
    final = login_via_http(session, url, *ALICE)
    assert final.status_code in (302, 303)
    location = final.headers["Location"]
    assert location.startswith(HUB_REDIRECT + "?")
    params = _query(location)
    assert params["state"] == state
    assert params["iss"] == idp.issuer  # RFC 9207 issuer identification
    tokens = idp.exchange_code(client_id, secret, params["code"], HUB_REDIRECT, verifier)
    tokens["_nonce"] = nonce
    return tokens


def _verify_id_token(
    idp: DevIdP, id_token: str, *, client_id: str, nonce: str, alg: str
) -> dict[str, Any]:
    token = jwt.decode(id_token, _keyset(idp), algorithms=[alg])
    assert token.header["alg"] == alg
    assert token.header["kid"] in {k["kid"] for k in idp.jwks()["keys"]}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": idp.issuer},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True, "value": "u-alice"},
    ).validate(token.claims)
    assert token.claims["exp"] > time.time()
    return dict(token.claims)


def test_discovery_lists_what_the_hub_needs(idp: DevIdP) -> None:
    meta = requests.get(f"{idp.issuer}/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == idp.issuer
    for endpoint in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ):
        assert meta[endpoint].startswith(idp.issuer + "/"), endpoint
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert {"authorization_code", "client_credentials"} <= set(meta["grant_types_supported"])
    assert {"openid", "email", "profile", "groups", "roles"} <= set(meta["scopes_supported"])
    assert {"RS256", "ES256"} <= set(meta["id_token_signing_alg_values_supported"])


def test_jwks_kids_are_rfc7638_thumbprints_and_public_only(idp: DevIdP) -> None:
    keys = _keyset(idp)
    algs = set()
    for key in keys:
        assert key.kid == key.thumbprint()
        assert not key.is_private
        algs.add(key.alg)
    assert {"RS256", "ES256"} <= algs


def test_authorization_code_flow_with_pkce(idp: DevIdP) -> None:
    session = requests.Session()
    tokens = _sign_in(idp, session)
    assert tokens["token_type"] == "Bearer"
    assert 0 < tokens["expires_in"] <= 3600

    claims = _verify_id_token(
        idp, tokens["id_token"], client_id=HUB, nonce=tokens["_nonce"], alg="RS256"
    )
    assert claims["sub"] == "u-alice"

    userinfo = requests.get(
        idp.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert userinfo.status_code == 200
    info = userinfo.json()
    assert info["sub"] == "u-alice"
    assert info["email"] == "alice@police.example"
    assert info["email_verified"] is True
    assert info["name"] == "Alice Idris"
    assert info["groups"] == ["agency:police"]
    assert info["roles"] == ["marac-chair"]
    assert "password" not in info
    assert "login" not in info


def test_client_registered_for_es256_gets_es256_id_token(idp: DevIdP) -> None:
    tokens = _sign_in(
        idp,
        requests.Session(),
        client_id=ES_CLIENT,
        secret=ES_SECRET,
        scope="openid email groups",
    )
    _verify_id_token(
        idp,
        tokens["id_token"],
        client_id=ES_CLIENT,
        nonce=tokens["_nonce"],
        alg="ES256",
    )
    info = requests.get(
        idp.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    ).json()
    assert info["groups"] == ["agency:police"]
    assert "roles" not in info  # scope not requested
    assert "name" not in info


def test_prompt_login_switches_user_in_the_same_browser(idp: DevIdP) -> None:
    session = requests.Session()
    _sign_in(idp, session)  # alice now has a session at the IdP
    verifier, challenge = pkce_pair()
    url = idp.authorization_url(
        HUB,
        HUB_REDIRECT,
        state="s",
        nonce="n",
        code_challenge=challenge,
        prompt="login",
    )
    final = login_via_http(session, url, "BOB", "bob-password")  # case-insensitive
    code = _query(final.headers["Location"])["code"]
    tokens = idp.exchange_code(HUB, HUB_SECRET, code, HUB_REDIRECT, verifier)
    info = requests.get(
        idp.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    ).json()
    assert info["sub"] == "u-bob"
    assert info["roles"] == ["referrer"]


def test_code_flow_token_for_the_api_when_resource_is_sent(idp: DevIdP) -> None:
    verifier, challenge = pkce_pair()
    url = idp.authorization_url(
        HUB,
        HUB_REDIRECT,
        scope="openid referrals:read",
        state="s",
        nonce="n",
        code_challenge=challenge,
        resource=API,
    )
    code = _query(login_via_http(requests.Session(), url, *ALICE).headers["Location"])["code"]
    resp = requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": HUB_REDIRECT,
            "code_verifier": verifier,
            "resource": API,
        },
        auth=(HUB, HUB_SECRET),
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    claims = jwt.decode(resp.json()["access_token"], _keyset(idp), algorithms=["RS256"]).claims
    assert claims["aud"] == API
    assert claims["sub"] == "u-alice"
    assert claims["client_id"] == HUB
    assert claims["scope"] == "referrals:read"


def test_code_exchange_needs_the_right_verifier(idp: DevIdP) -> None:
    _, challenge = pkce_pair()
    url = idp.authorization_url(HUB, HUB_REDIRECT, state="s", nonce="n", code_challenge=challenge)
    code = _query(login_via_http(requests.Session(), url, *ALICE).headers["Location"])["code"]
    resp = requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": HUB_REDIRECT,
            "code_verifier": pkce_pair()[0],
        },
        auth=(HUB, HUB_SECRET),
        timeout=5,
    )
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_grant"


def test_code_is_single_use_and_replay_revokes_tokens(idp: DevIdP) -> None:
    verifier, challenge = pkce_pair()
    url = idp.authorization_url(HUB, HUB_REDIRECT, state="s", nonce="n", code_challenge=challenge)
    code = _query(login_via_http(requests.Session(), url, *ALICE).headers["Location"])["code"]
    tokens = idp.exchange_code(HUB, HUB_SECRET, code, HUB_REDIRECT, verifier)
    replay = requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": HUB_REDIRECT,
            "code_verifier": verifier,
        },
        auth=(HUB, HUB_SECRET),
        timeout=5,
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    userinfo = requests.get(
        idp.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert userinfo.status_code == 401


@pytest.mark.parametrize(
    "pkce_params",
    [{}, {"code_challenge": "x" * 43, "code_challenge_method": "plain"}],
    ids=["no-pkce", "plain-method"],
)
def test_authorization_without_s256_pkce_is_refused(
    idp: DevIdP, pkce_params: dict[str, str]
) -> None:
    url = idp.authorization_url(HUB, HUB_REDIRECT, state="st", nonce="n", **pkce_params)
    resp = requests.get(url, allow_redirects=False, timeout=5)
    assert resp.status_code in (302, 303)
    location = resp.headers["Location"]
    assert location.startswith(HUB_REDIRECT)
    params = _query(location)
    assert params["error"] == "invalid_request"
    assert "code" not in params
    assert params["state"] == "st"


def test_wrong_password_rerenders_form_with_error_and_no_code(idp: DevIdP) -> None:
    _, challenge = pkce_pair()
    url = idp.authorization_url(HUB, HUB_REDIRECT, state="s", nonce="n", code_challenge=challenge)
    session = requests.Session()
    with pytest.raises(IdPLoginError) as caught:
        login_via_http(session, url, "alice@police.example", "not-her-password")
    page = caught.value.response
    assert page is not None
    assert page.status_code == 200
    assert 'id="login-error"' in page.text
    assert "Invalid login or password." in page.text
    assert 'name="login"' in page.text
    assert 'name="password"' in page.text
    assert 'type="submit"' in page.text
    assert "code=" not in page.text
    assert "Location" not in page.headers

    # Unknown logins get the same answer.
    with pytest.raises(IdPLoginError) as unknown:
        login_via_http(requests.Session(), url, "mallory@example", "alice-password")
    assert unknown.value.response is not None
    assert 'id="login-error"' in unknown.value.response.text


def test_client_credentials_with_resource_gives_api_jwt(idp: DevIdP) -> None:
    token = idp.client_credentials_token(HUB, HUB_SECRET, "referrals:read referrals:write", API)
    decoded = jwt.decode(token, _keyset(idp), algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"
    assert decoded.header["kid"] in {k["kid"] for k in idp.jwks()["keys"]}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": idp.issuer},
        aud={"essential": True, "value": API},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
        client_id={"essential": True, "value": HUB},
    ).validate(decoded.claims)
    assert decoded.claims["scope"] == "referrals:read referrals:write"
    assert decoded.claims["sub"] == HUB
    assert 0 < decoded.claims["exp"] - decoded.claims["iat"] <= 3600


def test_client_credentials_scope_is_limited_to_the_client(idp: DevIdP) -> None:
    token = idp.client_credentials_token(PARTNER, PARTNER_SECRET, "referrals:read", API)
    claims = jwt.decode(token, _keyset(idp), algorithms=["RS256"]).claims
    assert claims["scope"] == "referrals:read"
    assert claims["client_id"] == PARTNER

    refused = requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": "referrals:write",
            "resource": API,
        },
        auth=(PARTNER, PARTNER_SECRET),
        timeout=5,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"

    unknown_api = requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": "referrals:read",
            "resource": "urn:x",
        },
        auth=(PARTNER, PARTNER_SECRET),
        timeout=5,
    )
    assert unknown_api.status_code == 400
    assert unknown_api.json()["error"] == "invalid_target"

    bad_secret = requests.post(
        idp.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "scope": "referrals:read",
            "resource": API,
        },
        auth=(PARTNER, "wrong"),
        timeout=5,
    )
    assert bad_secret.status_code == 401


def test_end_session_redirects_to_post_logout_uri(idp: DevIdP) -> None:
    session = requests.Session()
    tokens = _sign_in(idp, session)
    end_session = (
        idp.discovery["end_session_endpoint"]
        + "?"
        + urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": HUB_LOGOUT_REDIRECT,
                "state": "bye",
            }
        )
    )
    final = logout_via_http(session, end_session)
    assert final.status_code in (302, 303)
    assert final.headers["Location"] == f"{HUB_LOGOUT_REDIRECT}?state=bye"

    # The IdP session is gone: a new authorization request asks for a password.
    _, challenge = pkce_pair()
    url = idp.authorization_url(HUB, HUB_REDIRECT, state="s", nonce="n", code_challenge=challenge)
    page = session.get(url, timeout=5)
    assert page.status_code == 200
    assert 'id="login-form"' in page.text

    # The access token issued in that session was revoked with it.
    userinfo = requests.get(
        idp.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert userinfo.status_code == 401


def test_unregistered_post_logout_redirect_is_refused(idp: DevIdP) -> None:
    url = (
        idp.discovery["end_session_endpoint"]
        + "?"
        + urlencode({"client_id": HUB, "post_logout_redirect_uri": "http://evil.example/"})
    )
    resp = requests.get(url, allow_redirects=False, timeout=5)
    assert resp.status_code == 400
    assert "evil.example" not in resp.headers.get("Location", "")


def test_rotate_keys_in_place_keeps_old_key_published(idp: DevIdP) -> None:
    before = idp.client_credentials_token(HUB, HUB_SECRET, "referrals:read", API)
    old_kid = jwt.decode(before, _keyset(idp), algorithms=["RS256"]).header["kid"]

    rotated = idp.rotate_keys()
    new_kid = next(k["kid"] for k in rotated["signing"] if k["alg"] == "RS256")
    assert new_kid != old_kid

    after = idp.client_credentials_token(HUB, HUB_SECRET, "referrals:read", API)
    keys = _keyset(idp)
    assert jwt.decode(after, keys, algorithms=["RS256"]).header["kid"] == new_kid
    # Tokens signed before the rotation still verify against the new JWKS.
    assert jwt.decode(before, keys, algorithms=["RS256"]).header["kid"] == old_kid


def test_restart_with_new_key_presents_new_kids(idp: DevIdP) -> None:
    issuer = idp.issuer
    old_keys = _keyset(idp)
    old_kids = {k["kid"] for k in idp.jwks()["keys"]}
    old_token = idp.client_credentials_token(HUB, HUB_SECRET, "referrals:read", API)

    idp.restart_with_new_key()

    assert idp.issuer == issuer
    new_kids = {k["kid"] for k in idp.jwks()["keys"]}
    assert new_kids
    assert not (new_kids & old_kids)
    new_token = idp.client_credentials_token(HUB, HUB_SECRET, "referrals:read", API)
    new_kid = jwt.decode(new_token, _keyset(idp), algorithms=["RS256"]).header["kid"]
    assert new_kid in new_kids
    # A client holding the old JWKS must refetch: the new token fails there.
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(new_token, old_keys, algorithms=["RS256"])
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(old_token, _keyset(idp), algorithms=["RS256"])


# --- Enterprise shapes: a path issuer, one kind of key, strictness, hangs ---------------


@pytest.fixture(scope="module")
def shaped() -> Iterator[DevIdP]:
    """A provider like Entra ID: issuer with a path, ES256 keys only, pairwise subjects,
    a client registered for client_secret_post, no email_verified, an acr level."""
    users = default_users()
    users[0] = {**users[0], "omit_claims": ["email_verified"], "acr": "AAL3_ANY"}
    clients = [
        {
            "client_id": "post-client",
            "client_secret": "post-secret",
            "redirect_uris": [HUB_REDIRECT],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
            "id_token_signed_response_alg": "ES256",
            "subject_type": "pairwise",
            "scope": "openid email profile",
        }
    ]
    with DevIdP().start(
        clients=clients,
        users=users,
        issuer_path="/tenant-7/v2.0",
        signing_algs=("ES256",),
        subject_types=("public", "pairwise"),
        acr_values=("AAL3_ANY",),
    ) as running:
        yield running


def _code(idp: DevIdP, client_id: str, challenge: str, nonce: str) -> str:
    url = idp.authorization_url(
        client_id,
        HUB_REDIRECT,
        scope="openid email profile",
        state="s",
        nonce=nonce,
        code_challenge=challenge,
        acr_values="AAL3_ANY",
    )
    return _query(login_via_http(requests.Session(), url, *ALICE).headers["Location"])["code"]


def test_an_issuer_with_a_path_serves_every_endpoint_under_it(shaped: DevIdP) -> None:
    assert shaped.issuer.endswith("/tenant-7/v2.0")
    found = requests.get(f"{shaped.issuer}/.well-known/openid-configuration", timeout=5).json()
    assert found["issuer"] == shaped.issuer
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert found[name].startswith(shaped.issuer + "/"), name
    assert (
        requests.get(f"{shaped.origin}/.well-known/openid-configuration", timeout=5).status_code
        == 404
    )
    assert {k["kty"] for k in shaped.jwks()["keys"]} == {"EC"}


def test_a_client_registered_for_client_secret_post_may_not_use_basic(shaped: DevIdP) -> None:
    verifier, challenge = pkce_pair()
    code = _code(shaped, "post-client", challenge, "n1")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": HUB_REDIRECT,
        "code_verifier": verifier,
    }
    basic = requests.post(
        shaped.token_endpoint, data=form, auth=("post-client", "post-secret"), timeout=5
    )
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    verifier, challenge = pkce_pair()
    form.update(code=_code(shaped, "post-client", challenge, "n2"), code_verifier=verifier)
    posted = requests.post(
        shaped.token_endpoint,
        data={**form, "client_id": "post-client", "client_secret": "post-secret"},
        timeout=5,
    )
    assert posted.status_code == 200
    token = jwt.decode(posted.json()["id_token"], _keyset(shaped), algorithms=["ES256"])
    assert token.claims["sub"] != "u-alice"  # pairwise
    assert token.claims["acr"] == "AAL3_ANY"  # the level asked for with acr_values
    info = requests.get(
        shaped.discovery["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {posted.json()['access_token']}"},
        timeout=5,
    ).json()
    assert info["email"] == "alice@police.example" and "email_verified" not in info


def test_a_hang_holds_requests_until_released(shaped: DevIdP) -> None:
    shaped.hang("/jwks")
    outcome: list[int] = []
    import threading

    waiter = threading.Thread(
        target=lambda: outcome.append(requests.get(shaped.jwks_uri, timeout=30).status_code)
    )
    waiter.start()
    shaped.wait_for_waiting(1)
    assert outcome == [] and shaped.stats()["waiting"] == 1
    assert shaped.release() == 1
    waiter.join(timeout=10)
    assert outcome == [200]
    assert shaped.stats()["requests"]["/jwks"] >= 1
