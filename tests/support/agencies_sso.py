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
            "scope": "referrals:read referrals:write",
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
