"""Two agencies' identity providers (real dev IdPs) for the world, and helpers to sign in there.

Testshire Police's provider is not trusted for roles (newcomers wait for approval);
Testshire Hospital's is (groups map to roles). Each provider's users include people who
must be refused: someone whose email belongs to the other agency, someone whose email
domain no agency uses, someone with no mapped group.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from agencies import services as agencies
from hub.auth import identity
from hub.core import db
from hub.core.access import Actor
from tests.support.idp import DevIdP, login_via_http

HUB_CLIENT = "marac-hub"
POLICE_SECRET_ENV = "HUB_TEST_IDP_POLICE_SECRET"
HEALTH_SECRET_ENV = "HUB_TEST_IDP_HEALTH_SECRET"
SECRETS = {
    POLICE_SECRET_ENV: "police-idp-secret-for-the-hub",
    HEALTH_SECRET_ENV: "health-idp-secret-for-the-hub",
}
RECORDS_CLIENT, RECORDS_SECRET = "police-records", "police-records-secret"
STRANGE_CLIENT, STRANGE_SECRET = "unregistered-system", "unregistered-system-secret"
OTHER_API = "urn:another:api"
MAPPING = {"marac-practitioners": "practitioner", "marac-reps": "marac_rep"}
PASSWORD = "provider-password-1"


def _user(sub: str, email: str, name: str, groups: list[str]) -> dict[str, Any]:
    given, _, family = name.partition(" ")
    return {
        "sub": sub,
        "login": email,
        "password": PASSWORD,
        "email": email,
        "name": name,
        "given_name": given,
        "family_name": family,
        "groups": groups,
    }


POLICE_USERS = [
    _user("pol-alice", "alice@police.test", "Alice Idris", ["marac-practitioners"]),
    _user("pol-rep", "police.rep@police.test", "Police Rep", ["marac-reps", "marac-practitioners"]),
    _user("pol-mallory", "mallory@nhs.test", "Mallory Stone", ["marac-reps"]),
    _user("pol-stranger", "stranger@elsewhere.test", "Sam Stranger", ["marac-practitioners"]),
]
HEALTH_USERS = [
    _user("nhs-nina", "nina@nhs.test", "Nina Patel", ["marac-practitioners", "marac-reps"]),
    _user("nhs-nurse", "nurse@nhs.test", "Nurse", ["marac-practitioners"]),
    _user("nhs-norole", "norole@nhs.test", "Noah Role", ["catering"]),
]


def _clients(secret: str, bases: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "client_id": HUB_CLIENT,
            "client_secret": secret,
            "client_name": "MARAC Hub (tests)",
            "redirect_uris": [b + "/auth/callback" for b in bases],
            "post_logout_redirect_uris": [b + "/signed-out" for b in bases],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "scope": "openid email profile groups",
        },
        {
            "client_id": RECORDS_CLIENT,
            "client_secret": RECORDS_SECRET,
            "redirect_uris": [],
            "response_types": [],
            "grant_types": ["client_credentials"],
            "scope": "referrals:read referrals:write returns:read",
        },
        {
            "client_id": STRANGE_CLIENT,
            "client_secret": STRANGE_SECRET,
            "redirect_uris": [],
            "response_types": [],
            "grant_types": ["client_credentials"],
            "scope": "referrals:read",
        },
    ]


@contextmanager
def agency_idps(bases: list[str]) -> Iterator[tuple[DevIdP, DevIdP]]:
    """Start Testshire Police's and Testshire Hospital's providers on free ports."""
    police, health = DevIdP(), DevIdP()
    try:
        police.start(
            clients=_clients(SECRETS[POLICE_SECRET_ENV], bases),
            users=POLICE_USERS,
            resources={OTHER_API: {"scope": "referrals:read"}},
        )
        health.start(clients=_clients(SECRETS[HEALTH_SECRET_ENV], bases), users=HEALTH_USERS)
        yield police, health
    finally:
        police.stop()
        health.stop()


@dataclass
class Providers:
    police: int  # provider ids
    health: int
    police_agency: int
    health_agency: int


def connect_providers(world: Any, police: DevIdP, health: DevIdP) -> Providers:
    """Give the world's police and hospital their providers (secrets from the environment)."""
    os.environ.update(SECRETS)
    actor = Actor.system("test-sso")
    with db.unit_of_work():
        police_row = identity.add_provider(
            actor,
            agencies.get_agency(world.agencies["police"]),
            identity.ProviderData(
                issuer=police.issuer,
                client_id=HUB_CLIENT,
                client_secret_env=POLICE_SECRET_ENV,
                scopes="openid email profile groups",
                roles_claim="groups",
                role_mapping=MAPPING,
            ),
        )
        health_row = identity.add_provider(
            actor,
            agencies.get_agency(world.agencies["health"]),
            identity.ProviderData(
                issuer=health.issuer,
                client_id=HUB_CLIENT,
                client_secret_env=HEALTH_SECRET_ENV,
                scopes="openid email profile groups",
                roles_claim="groups",
                role_mapping=MAPPING,
                trust_role_mapping=True,
            ),
        )
        return Providers(
            police_row.id, health_row.id, world.agencies["police"], world.agencies["health"]
        )


def callback_path(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def start_sign_in(client: Any, agency_id: int) -> str:
    """Begin at the hub; return the provider URL the hub sends the browser to."""
    response = client.get(f"/sign-in/agency/{agency_id}/start")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return str(response.headers["Location"])


def sso_sign_in(
    client: Any,
    agency_id: int,
    login: str,
    password: str = PASSWORD,
    *,
    browser: requests.Session | None = None,
) -> Any:
    """The whole flow over plain HTTP: hub, provider's login form, back to the hub."""
    back = login_via_http(
        browser or requests.Session(), start_sign_in(client, agency_id), login, password
    )
    return client.get(callback_path(back.headers["Location"]))


# --- Enterprise-shaped providers ---------------------------------------------------------
#
# Two more real dev IdPs, configured the way Microsoft Entra ID and NHS CIS2 behave where
# the hub can tell the difference. Entra-like (Testshire Homes): an issuer with a path, ES256
# keys only, pairwise subjects, every claim beyond sub only in userinfo, app roles in
# `roles`, the client registered for client_secret_post, 60-second ID tokens, and no
# email_verified at all. CIS2-like (Testshire Hospital): private_key_jwt with RS512
# assertions, an authentication level asked for with acr_values, and roles as a list of
# objects (`nhsid_nrbac_roles`), one per organisation the person works for.

ENTRA_PATH = "/6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a77/v2.0"
ENTRA_SECRET_ENV = "HUB_TEST_IDP_ENTRA_SECRET"
ENTRA_SECRET = "entra-like-client-secret"
ENTRA_ROLES = {"MARAC.Practitioner": "practitioner", "MARAC.Representative": "marac_rep"}
CIS2_ORG = "RX1"
CIS2_ROLES_CLAIM = f"nhsid_nrbac_roles[org_code={CIS2_ORG}].role_code"
CIS2_ROLES = {"S8000:G8000:R8001": "practitioner", "S8000:G8000:R8000": "marac_rep"}
CIS2_ACR = "AAL3_ANY"


def _nrbac(org: str, role_code: str) -> dict[str, Any]:
    return {
        "person_orgid": f"55512{len(org)}",
        "person_roleid": f"5551{abs(hash(role_code)) % 10000:04d}",
        "org_code": org,
        "role_name": '"Clinical":"Clinical Provision":"Nurse Access Role"',
        "role_code": role_code,
        "activities": ["Receive Self Claimed LR Alert"],
        "activity_codes": ["B0264"],
    }


ENTRA_USERS = [
    {
        **_user("ent-amara", "amara@homes.test", "Amara Obi", []),
        "roles": ["MARAC.Practitioner"],
        "omit_claims": ["email_verified"],
    },
    {
        **_user("ent-rep", "housing.rep@homes.test", "Homes Rep", []),
        "roles": ["MARAC.Representative", "MARAC.Practitioner"],
        "omit_claims": ["email_verified"],
    },
    {
        # In too many groups: Entra ID sends a pointer to Microsoft Graph instead of them.
        **_user("ent-overage", "busy@homes.test", "Bea Busy", []),
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {
            "src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}
        },
        "omit_claims": ["email_verified", "groups"],
    },
]
CIS2_USERS = [
    {
        **_user("cis-nina", "nina@nhs.test", "Nina Patel", []),
        # A practitioner here, a representative at another trust: only RX1's role counts.
        "nhsid_nrbac_roles": [
            _nrbac(CIS2_ORG, "S8000:G8000:R8001"),
            _nrbac("RY9", "S8000:G8000:R8000"),
        ],
        "acr": CIS2_ACR,
    },
    {
        **_user("cis-low", "low@nhs.test", "Lee Low", []),
        "nhsid_nrbac_roles": [_nrbac(CIS2_ORG, "S8000:G8000:R8001")],
        "acr": "AAL1_USERPASS",
    },
    {
        # The hospital's existing member, but the address is not verified (a string).
        **_user("cis-nurse", "nurse@nhs.test", "Nurse", []),
        "email_verified": "false",
        "nhsid_nrbac_roles": [_nrbac(CIS2_ORG, "S8000:G8000:R8001")],
        "acr": CIS2_ACR,
    },
    {
        **_user("cis-stringly", "stringly@nhs.test", "Sam Stringly", []),
        "email_verified": "true",
        "nhsid_nrbac_roles": [_nrbac(CIS2_ORG, "S8000:G8000:R8001")],
        "acr": CIS2_ACR,
    },
]


def entra_like_idp(bases: list[str], *, auth_method: str = "client_secret_post") -> DevIdP:
    idp = DevIdP()
    return idp.start(
        clients=[
            {
                "client_id": "3c9f1e27-marac-hub",
                "client_secret": ENTRA_SECRET,
                "client_name": "MARAC Hub (Entra-like)",
                "redirect_uris": [b + "/auth/callback" for b in bases],
                "post_logout_redirect_uris": [b + "/signed-out" for b in bases],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": auth_method,
                "id_token_signed_response_alg": "ES256",
                "subject_type": "pairwise",
                "scope": "openid email profile roles groups",
            }
        ],
        users=ENTRA_USERS,
        issuer_path=ENTRA_PATH,
        signing_algs=("ES256",),
        subject_types=("public", "pairwise"),
        extra_env={"IDP_ID_TOKEN_TTL": "60", "IDP_ACCESS_TOKEN_TTL": "60"},
    )


def cis2_like_idp(bases: list[str], hub_public_jwks: dict[str, Any]) -> DevIdP:
    idp = DevIdP()
    return idp.start(
        clients=[
            {
                "client_id": "marac-hub-cis2",
                "client_name": "MARAC Hub (CIS2-like)",
                "redirect_uris": [b + "/auth/callback" for b in bases],
                "post_logout_redirect_uris": [b + "/signed-out" for b in bases],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "RS512",
                "jwks": hub_public_jwks,
                "scope": "openid email profile nationalrbacaccess",
            }
        ],
        users=CIS2_USERS,
        claims={"nationalrbacaccess": ["nhsid_nrbac_roles"]},
        acr_values=(CIS2_ACR, "AAL1_USERPASS"),
    )


def connect_entra_like(world: Any, idp: DevIdP, *, auth_method: str = "client_secret_post") -> int:
    """Testshire Homes signs in through the Entra-like provider; returns the provider id."""
    os.environ[ENTRA_SECRET_ENV] = ENTRA_SECRET
    with db.unit_of_work():
        row = identity.add_provider(
            Actor.system("test-sso"),
            agencies.get_agency(world.agencies["housing"]),
            identity.ProviderData(
                issuer=idp.issuer,
                client_id="3c9f1e27-marac-hub",
                client_secret_env=ENTRA_SECRET_ENV,
                scopes="openid email profile roles",
                roles_claim="roles",
                role_mapping=ENTRA_ROLES,
                trust_role_mapping=True,
                token_auth_method=auth_method,
                email_verification="directory",
            ),
        )
        return row.id


def connect_cis2_like(world: Any, idp: DevIdP) -> int:
    """Testshire Hospital signs in through the CIS2-like provider; returns the provider id."""
    with db.unit_of_work():
        row = identity.add_provider(
            Actor.system("test-sso"),
            agencies.get_agency(world.agencies["health"]),
            identity.ProviderData(
                issuer=idp.issuer,
                client_id="marac-hub-cis2",
                scopes="openid email profile nationalrbacaccess",
                roles_claim=CIS2_ROLES_CLAIM,
                role_mapping=CIS2_ROLES,
                trust_role_mapping=True,
                token_auth_method="private_key_jwt",
                assertion_alg="RS512",
                auth_params={"acr_values": CIS2_ACR},
            ),
        )
        return row.id


def records_system_bearer(
    providers: Providers, police: DevIdP, scopes: frozenset[str]
) -> tuple[dict[str, str], int]:
    """Register the police records system as an API client with ``scopes`` and return the
    Authorization header of a token its provider issued for them, and the client's id."""
    with db.unit_of_work():
        registered = identity.add_api_client(
            Actor.system(),
            identity.ApiClientData(
                agency_id=providers.police_agency,
                client_id=RECORDS_CLIENT,
                name="Police records system",
                scopes=scopes,
            ),
        )
    token = police.client_credentials_token(
        RECORDS_CLIENT, RECORDS_SECRET, " ".join(sorted(scopes))
    )
    return {"Authorization": f"Bearer {token}"}, registered.id
