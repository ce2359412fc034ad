"""The JSON API accepts partner systems' bearer tokens from their agency's provider, and only those.

Tokens come from the real dev IdP's client-credentials grant; the bad ones are made from a
real token (expired by moving the hub's clock, re-signed with ``alg: none`` or with HS256
keyed by the provider's public key) or issued for another API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from joserfc.jwk import RSAKey

from hub.auth import identity
from hub.core import db
from hub.core.access import Actor
from hub.core.requestctx import actor
from hub.core.routes import require_scope
from tests.support.agencies_sso import (
    OTHER_API,
    RECORDS_CLIENT,
    RECORDS_SECRET,
    STRANGE_CLIENT,
    STRANGE_SECRET,
    Providers,
)
from tests.support.fake_op import FakeProvider
from tests.support.idp import DevIdP
from tests.support.web import sign_in

WHOAMI = "/api/v1/whoami"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(head))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def records_system(providers: Providers) -> int:
    """The police records system, registered to read referrals only."""
    with db.unit_of_work():
        client = identity.add_api_client(
            Actor.system(),
            identity.ApiClientData(
                agency_id=providers.police_agency,
                client_id=RECORDS_CLIENT,
                name="Police records system",
                scopes=frozenset({"referrals:read"}),
            ),
        )
        return client.id


@pytest.fixture
def token(police_idp: DevIdP) -> str:
    """A genuine token asking for more than the client is registered for."""
    return police_idp.client_credentials_token(
        RECORDS_CLIENT, RECORDS_SECRET, "referrals:read referrals:write"
    )


def _assert_problem(response: Any, status: int, detail: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    assert detail in body["detail"]
    return body


def test_a_valid_token_acts_as_its_agency_with_its_registered_scopes(
    client: Any, records_system: int, token: str
) -> None:
    response = client.get(WHOAMI, headers=_bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {
        "client": str(records_system),
        "name": "Police records system",
        "agency": {"id": response.get_json()["agency"]["id"], "name": "Testshire Police"},
        # The token asked for write as well; the registration allows read only.
        "scopes": ["referrals:read"],
    }


def test_no_token_gets_401_with_a_bearer_challenge(client: Any, records_system: int) -> None:
    response = client.get(WHOAMI)
    _assert_problem(response, 401, "access token")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="marac-hub"')


def test_a_browser_session_does_not_open_the_api(client: Any, world: Any) -> None:
    idva = world["idva"]
    sign_in(client, idva.email, idva.password, idva.totp_secret)
    assert client.get("/").status_code == 200
    _assert_problem(client.get(WHOAMI), 401, "access token")


def test_an_expired_token_is_refused(client: Any, records_system: int, token: str) -> None:
    expires = _parts(token)[1]["exp"]
    with time_machine.travel(expires + 120, tick=False):
        response = client.get(WHOAMI, headers=_bearer(token))
    _assert_problem(response, 401, "expired")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_token_for_another_audience_is_refused(
    client: Any, records_system: int, police_idp: DevIdP
) -> None:
    other = police_idp.client_credentials_token(
        RECORDS_CLIENT, RECORDS_SECRET, "referrals:read", resource=OTHER_API
    )
    assert _parts(other)[1]["aud"] == OTHER_API
    response = client.get(WHOAMI, headers=_bearer(other))
    _assert_problem(response, 401, "not meant for this API")


def test_an_unsigned_token_is_refused(client: Any, records_system: int, token: str) -> None:
    _, claims = _parts(token)
    unsigned = (
        _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
        + "."
    )
    _assert_problem(client.get(WHOAMI, headers=_bearer(unsigned)), 401, "alg none")


def test_a_token_signed_with_hs256_keyed_by_the_public_key_is_refused(
    client: Any, records_system: int, token: str, police_idp: DevIdP
) -> None:
    header, claims = _parts(token)
    jwk = next(k for k in police_idp.jwks()["keys"] if k["kid"] == header["kid"])
    public_pem = RSAKey.import_key(jwk).public_key.public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = (
        _b64(json.dumps({"alg": "HS256", "kid": header["kid"]}).encode())
        + "."
        + _b64(json.dumps(claims).encode())
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{_b64(mac)}"
    _assert_problem(client.get(WHOAMI, headers=_bearer(forged)), 401, "public-key signatures")


def test_a_token_with_a_tampered_payload_is_refused(
    client: Any, records_system: int, token: str
) -> None:
    head, _body, signature = token.split(".")
    claims = _parts(token)[1]
    claims["scope"] = "referrals:read referrals:write admin"
    tampered = f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"
    _assert_problem(client.get(WHOAMI, headers=_bearer(tampered)), 401, "does not verify")


def test_a_token_of_an_unregistered_client_is_refused(
    client: Any, records_system: int, police_idp: DevIdP
) -> None:
    stranger = police_idp.client_credentials_token(STRANGE_CLIENT, STRANGE_SECRET, "referrals:read")
    _assert_problem(client.get(WHOAMI, headers=_bearer(stranger)), 401, "not a registered")


def test_a_disabled_client_is_refused(client: Any, records_system: int, token: str) -> None:
    with db.unit_of_work():
        found = identity.list_api_clients()[0]
        identity.set_api_client_disabled(Actor.system(), found, True)
    _assert_problem(client.get(WHOAMI, headers=_bearer(token)), 401, "not a registered")


def test_a_token_from_another_agencys_provider_is_refused(
    client: Any, records_system: int, health_idp: DevIdP
) -> None:
    # Same client id, but issued by the hospital's provider: not the police system's tokens.
    other = health_idp.client_credentials_token(RECORDS_CLIENT, RECORDS_SECRET, "referrals:read")
    _assert_problem(client.get(WHOAMI, headers=_bearer(other)), 401, "not a registered")


def test_a_token_without_the_routes_scope_gets_403(
    app: Any, client: Any, records_system: int, token: str
) -> None:
    @app.route("/api/v1/test-write", methods=["POST"])
    @require_scope("referrals:write")
    def write() -> dict[str, Any]:
        return {"by": actor().name}

    app.extensions["csrf"].exempt(write)  # as register_api_blueprint does for API blueprints

    @app.route("/api/v1/test-read")
    @require_scope("referrals:read")
    def read() -> dict[str, Any]:
        return {"by": actor().name}

    assert client.get("/api/v1/test-read", headers=_bearer(token)).get_json() == {
        "by": "Police records system"
    }
    response = client.post("/api/v1/test-write", headers=_bearer(token))
    body = _assert_problem(response, 403, "referrals:write")
    assert body["required_scopes"] == ["referrals:write"]
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="referrals:write"' in challenge


def test_a_malformed_authorization_header_is_refused(client: Any, records_system: int) -> None:
    response = client.get(WHOAMI, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _assert_problem(response, 401, "Bearer <token>")
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]
    _assert_problem(client.get(WHOAMI, headers=_bearer("not-a-jwt")), 401, "not a signed JWT")


def test_the_openapi_document_is_served_and_errors_keep_their_headers(client: Any) -> None:
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    document = spec.get_json()
    assert "/api/v1/whoami" in document["paths"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    wrong_method = client.delete(WHOAMI)
    _assert_problem(wrong_method, 405, "")
    assert "GET" in wrong_method.headers["Allow"]
    _assert_problem(client.get("/api/v1/nothing-here"), 404, "")


def test_tokens_are_checked_against_the_clock(client: Any, records_system: int, token: str) -> None:
    issued = _parts(token)[1]["iat"]
    with time_machine.travel(issued - 600, tick=False):  # the hub's clock is far behind
        response = client.get(WHOAMI, headers=_bearer(token))
    _assert_problem(response, 401, "issued in the future")


def _fake_system(fake_provider: int) -> None:
    with db.unit_of_work():
        identity.add_api_client(
            Actor.system(),
            identity.ApiClientData(
                agency_id=fake_provider,
                client_id="homes-system",
                name="Homes system",
                scopes=frozenset({"referrals:read"}),
            ),
        )


def _access_token(fake_op: FakeProvider, **changes: Any) -> str:
    moment = int(time.time())
    claims = {
        "iss": fake_op.issuer,
        "aud": "urn:marac-hub:api",
        "client_id": "homes-system",
        "sub": "homes-system",
        "scope": "referrals:read",
        "iat": moment,
        "exp": moment + 300,
        "nbf": moment - 5,
    }
    claims.update(changes)
    return fake_op.sign(claims, {"alg": "RS256", "kid": "fake-key-1", "typ": "at+jwt"})


def test_a_token_not_valid_yet_is_refused(
    client: Any, fake_provider: int, fake_op: FakeProvider
) -> None:
    _fake_system(fake_provider)
    ok = client.get(WHOAMI, headers=_bearer(_access_token(fake_op)))
    assert ok.status_code == 200 and ok.get_json()["agency"]["name"] == "Testshire Homes"
    early = _access_token(fake_op, nbf=int(time.time()) + 600)
    _assert_problem(client.get(WHOAMI, headers=_bearer(early)), 401, "not valid yet")
    no_expiry = _access_token(fake_op)
    claims = _parts(no_expiry)[1]
    del claims["exp"]
    without_exp = fake_op.sign(claims, {"alg": "RS256", "kid": "fake-key-1"})
    _assert_problem(client.get(WHOAMI, headers=_bearer(without_exp)), 401, "expired")


def test_a_token_from_an_unknown_issuer_is_refused(
    client: Any, fake_provider: int, fake_op: FakeProvider
) -> None:
    _fake_system(fake_provider)
    stranger = _access_token(fake_op, iss="https://issuer.nobody.registered")
    _assert_problem(client.get(WHOAMI, headers=_bearer(stranger)), 401, "not an agency")
