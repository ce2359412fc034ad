"""Providers shaped like Microsoft Entra ID and NHS CIS2, and claims that must be refused.

Both are the real dev IdP (tools/dev-idp), configured as those services behave where the
hub can tell: see tests/support/agencies_sso.py. The hub's own client key (private_key_jwt)
comes from a file, as ``HUB_OIDC_CLIENT_KEY_FILE`` gives it in production.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from agencies.models import Member
from audit.models import AuditEntry
from hub.auth import client_keys, identity
from hub.auth.models import MemberSession
from hub.core import db
from hub.core.access import Role
from tests.support.agencies_sso import (
    CIS2_ACR,
    ENTRA_PATH,
    PASSWORD,
    callback_path,
    cis2_like_idp,
    connect_cis2_like,
    connect_entra_like,
    entra_like_idp,
    start_sign_in,
)
from tests.support.idp import DevIdP, login_via_http
from tests.support.web import sign_in, submit
from tests.support.web import text as raw_text

BASE = "http://127.0.0.1:5000"


def text(response: Any) -> str:
    return html.unescape(raw_text(response))


@pytest.fixture(scope="module")
def hub_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hub's client key, as an operator provides it in HUB_OIDC_CLIENT_KEY_FILE."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("hub-client-key") / "client-key.pem"
    path.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
def settings_overrides(hub_key_file: Path) -> dict[str, Any]:
    return {"oidc_client_key_file": str(hub_key_file)}


@pytest.fixture(scope="module")
def entra_idp() -> Iterator[DevIdP]:
    idp = entra_like_idp([BASE])
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="module")
def cis2_idp(hub_key_file: Path) -> Iterator[DevIdP]:
    # What the hospital's IT team registers: the hub's public key, from /auth/jwks.json.
    public = {"keys": [k.public_jwk() for k in client_keys.parse_keys(hub_key_file.read_bytes())]}
    idp = cis2_like_idp([BASE], public)
    try:
        yield idp
    finally:
        idp.stop()


def _sign_in_at(client: Any, agency_id: int, login: str) -> Any:
    back = login_via_http(requests.Session(), start_sign_in(client, agency_id), login, PASSWORD)
    return client.get(callback_path(back.headers["Location"]))


def _ledger(action: str) -> list[dict[str, Any]]:
    with db.unit_of_work() as uow:
        bodies = uow.session.execute(
            select(AuditEntry.body).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).scalars()
        return [json.loads(b) for b in bodies]


def _member(email: str) -> Member | None:
    with db.unit_of_work() as uow:
        found = uow.session.execute(
            select(Member).where(Member.email == email)
        ).scalar_one_or_none()
        if found is not None:
            _ = found.roles
        return found


# --- Entra ID ------------------------------------------------------------------------------


def test_an_entra_like_provider_signs_people_in(client: Any, world: Any, entra_idp: DevIdP) -> None:
    """Path issuer, ES256 only, pairwise subjects, claims only in userinfo, app roles,
    client_secret_post, 60-second tokens and no email_verified: all at once."""
    assert entra_idp.issuer.endswith(ENTRA_PATH)
    assert {k["alg"] for k in entra_idp.jwks()["keys"]} == {"ES256"}
    provider_id = connect_entra_like(world, entra_idp)
    response = _sign_in_at(client, world.agencies["housing"], "amara@homes.test")
    assert response.status_code == 302, text(response)[:600]
    assert "Amara Obi" in text(client.get("/"))
    amara = _member("amara@homes.test")
    assert amara is not None and amara.roles == {Role.PRACTITIONER}
    with db.unit_of_work() as uow:
        link = uow.session.execute(select(identity.FederatedIdentity)).scalar_one()
        # A pairwise subject: not the provider's internal id.
        assert link.subject != "ent-amara" and link.idp_id == provider_id


def test_a_provider_registered_for_client_secret_post_refuses_basic_with_a_clear_page(
    app: Any, client: Any, world: Any, entra_idp: DevIdP
) -> None:
    provider_id = connect_entra_like(world, entra_idp, auth_method="client_secret_basic")
    response = _sign_in_at(client, world.agencies["housing"], "amara@homes.test")
    assert response.status_code == 403
    assert "Testshire Homes's sign-in service would not confirm this sign-in" in text(response)
    (entry,) = [e for e in _ledger("signin:failed") if e["reason"] == "token_refused"]
    # The page and the ledger both name the agency and its provider.
    assert entry["idp"] == provider_id and entry["actor"]["agency"] == world.agencies["housing"]
    # And the connection check says so, instead of "usable".
    admin = app.test_client()
    person = world["admin"]
    sign_in(admin, person.email, person.password, person.totp_secret)
    checked = text(
        submit(
            admin,
            f"/admin/identity-providers/{provider_id}/check",
            {},
            form_url=f"/admin/identity-providers/{provider_id}",
        )
    )
    assert "refused the hub's client authentication (client_secret_basic" in checked


# --- NHS CIS2 -----------------------------------------------------------------------------


def test_a_cis2_like_provider_signs_in_with_the_hubs_own_key_and_list_of_object_roles(
    app: Any, client: Any, world: Any, cis2_idp: DevIdP
) -> None:
    provider_id = connect_cis2_like(world, cis2_idp)
    provider_url = start_sign_in(client, world.agencies["health"])
    assert f"acr_values={CIS2_ACR}" in provider_url  # the extra parameter is sent
    back = login_via_http(requests.Session(), provider_url, "nina@nhs.test", PASSWORD)
    response = client.get(callback_path(back.headers["Location"]))
    assert response.status_code == 302, text(response)[:600]
    nina = _member("nina@nhs.test")
    # Only the role at this agency's organisation counts, not the one at another trust.
    assert nina is not None and nina.roles == {Role.PRACTITIONER}
    # The hub publishes the key the provider was given.
    published = client.get("/auth/jwks.json").get_json()
    assert published["keys"] == cis2_idp.clients[0]["jwks"]["keys"]
    assert "d" not in published["keys"][0] and "p" not in published["keys"][0]
    # The administrator sees which codes the provider sent (codes only, nobody's identity).
    admin = app.test_client()
    person = world["admin"]
    sign_in(admin, person.email, person.password, person.totp_secret)
    page = text(admin.get(f"/admin/identity-providers/{provider_id}"))
    seen = page.split('id="claims-seen"', 1)[1].split("</dl>", 1)[0]
    assert "nhsid_nrbac_roles: activities, activity_codes, org_code" in seen
    assert "S8000:G8000:R8001" in seen and "S8000:G8000:R8000" not in seen
    assert "nina@nhs.test" not in seen and "Nina" not in seen


def test_a_sign_in_below_the_level_asked_for_is_refused(
    client: Any, world: Any, cis2_idp: DevIdP
) -> None:
    connect_cis2_like(world, cis2_idp)
    response = _sign_in_at(client, world.agencies["health"], "low@nhs.test")
    assert response.status_code == 403 and "was not strong enough" in text(response)
    assert "acr_refused" in [e["reason"] for e in _ledger("signin:failed")]
    assert _member("low@nhs.test") is None


@pytest.mark.parametrize(
    ("login", "email"),
    [("nurse@nhs.test", "nurse@nhs.test"), ("stringly@nhs.test", "stringly@nhs.test")],
    ids=["string-false-on-an-existing-member", "string-true"],
)
def test_email_verified_must_be_json_true(
    client: Any, world: Any, cis2_idp: DevIdP, login: str, email: str
) -> None:
    connect_cis2_like(world, cis2_idp)
    before = _member(email)
    response = _sign_in_at(client, world.agencies["health"], login)
    assert response.status_code == 403, text(response)[:500]
    assert "did not confirm that your email address is verified" in text(response)
    refusals = [e for e in _ledger("signin:failed") if e["reason"] == "email_unverified"]
    assert len(refusals) == 1 and refusals[0]["actor"]["agency"] == world.agencies["health"]
    with db.unit_of_work() as uow:
        assert uow.session.execute(select(identity.FederatedIdentity)).first() is None
        assert uow.session.execute(select(MemberSession)).first() is None
    after = _member(email)
    assert (before is None) == (after is None)  # nobody created, nobody taken over
    if before is not None:
        assert after.roles == before.roles


def test_a_provider_without_email_verified_is_trusted_only_when_its_directory_owns_the_domain(
    client: Any, world: Any, entra_idp: DevIdP
) -> None:
    provider_id = connect_entra_like(world, entra_idp)
    with db.unit_of_work():
        identity.get_provider(provider_id).email_verification = "claim"
    response = _sign_in_at(client, world.agencies["housing"], "amara@homes.test")
    assert response.status_code == 403
    assert "email_unverified" in [e["reason"] for e in _ledger("signin:failed")]


# --- The runbook's commands, against the same providers -----------------------------------


@pytest.fixture
def run(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hub_key_file: Path
) -> Any:
    from click.testing import CliRunner

    from hub.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HUB_ENV", "development")
    monkeypatch.setenv("HUB_OIDC_CLIENT_KEY_FILE", str(hub_key_file))
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_the_runbooks_entra_id_commands_connect_a_usable_provider(
    run: Any, world: Any, entra_idp: DevIdP, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.agencies_sso import ENTRA_SECRET, ENTRA_SECRET_ENV

    monkeypatch.setenv(ENTRA_SECRET_ENV, ENTRA_SECRET)
    added = run(
        "idp", "add", "--agency", "Testshire Homes",
        "--issuer", entra_idp.issuer,
        "--client-id", "3c9f1e27-marac-hub",
        "--secret-env", ENTRA_SECRET_ENV,
        "--auth-method", "client_secret_post",
        "--email-from-directory",
        "--scopes", "openid email profile roles",
        "--roles-claim", "roles",
        "--map", "MARAC.Practitioner=practitioner",
        "--map", "MARAC.Representative=marac_rep",
        "--trust-roles",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    checked = run("idp", "test", "Testshire Homes")
    assert checked.exit_code == 0, checked.output
    assert "the provider accepted the hub's client (client_secret_post)" in checked.output


def test_the_runbooks_cis2_commands_connect_a_usable_provider(
    run: Any, world: Any, cis2_idp: DevIdP
) -> None:
    added = run(
        "idp", "add", "--agency", "Testshire Hospital",
        "--issuer", cis2_idp.issuer,
        "--client-id", "marac-hub-cis2",
        "--auth-method", "private_key_jwt",
        "--assertion-alg", "RS512",
        "--param", "acr_values=AAL3_ANY",
        "--scopes", "openid email profile nationalrbacaccess",
        "--roles-claim", "nhsid_nrbac_roles[org_code=RX1].role_code",
        "--map", "S8000:G8000:R8001=practitioner",
        "--trust-roles",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "the hub's public keys:     http://127.0.0.1:5000/auth/jwks.json" in added.output
    checked = run("idp", "test", "Testshire Hospital")
    assert checked.exit_code == 0, checked.output
    assert "signs client assertions with key" in checked.output and "(RS512)" in checked.output
    assert "the provider accepted the hub's client (private_key_jwt)" in checked.output
    # With the wrong algorithm the provider refuses the hub, and the check says so.
    with db.unit_of_work():
        provider = identity.provider_for_agency(world.agencies["health"])
        provider.assertion_alg = "RS256"
    refused = run("idp", "test", "Testshire Hospital")
    assert refused.exit_code != 0
    assert "refused the hub's client authentication (private_key_jwt" in refused.output


def test_groups_overage_is_refused_and_shown_to_the_administrator(
    app: Any, client: Any, world: Any, entra_idp: DevIdP
) -> None:
    provider_id = connect_entra_like(world, entra_idp)
    with db.unit_of_work():
        provider = identity.get_provider(provider_id)
        provider.roles_claim, provider.scopes = "groups", provider.scopes + " groups"
    response = _sign_in_at(client, world.agencies["housing"], "busy@homes.test")
    assert response.status_code == 403 and "gives you no role" in text(response)
    admin = app.test_client()
    person = world["admin"]
    sign_in(admin, person.email, person.password, person.totp_secret)
    page = text(admin.get(f"/admin/identity-providers/{provider_id}"))
    seen = page.split('id="claims-seen"', 1)[1].split("</dl>", 1)[0]
    assert "_claim_names" in seen and "none found at groups" in seen


def test_a_certificate_of_the_hubs_key_is_published_with_its_thumbprint(
    tmp_path: Path, hub_key_file: Path
) -> None:
    import base64
    import hashlib
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    private = serialization.load_pem_private_key(hub_key_file.read_bytes(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MARAC Hub")])
    moment = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(moment)
        .not_valid_after(moment + timedelta(days=365))
        .sign(private, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    (key,) = client_keys.parse_keys(
        hub_key_file.read_bytes(), certificate.public_bytes(serialization.Encoding.PEM)
    )
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert key.x5t_s256 == expected
    published = key.public_jwk()
    assert published["x5t#S256"] == expected and published["x5c"] == [
        base64.b64encode(der).decode()
    ]
