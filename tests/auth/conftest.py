"""Identity providers for the sign-in tests: two real dev IdPs and one shaped by each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agencies import services as agencies
from hub.auth import identity
from hub.core import db
from hub.core.access import Actor
from tests.support.agencies_sso import (
    POLICE_SECRET_ENV,
    POLICE_USERS,
    RECORDS_CLIENT,
    SECRETS,
    Providers,
    _clients,
    agency_idps,
    connect_providers,
)
from tests.support.fake_op import CLIENT_ID, CLIENT_SECRET, FakeProvider
from tests.support.idp import DevIdP

TEST_CLIENT_BASE = "http://127.0.0.1:5000"
FAKE_SECRET_ENV = "HUB_TEST_FAKE_OP_SECRET"  # the Flask test client's (and settings') base URL


@pytest.fixture(scope="session")
def idps() -> Iterator[tuple[DevIdP, DevIdP]]:
    with agency_idps([TEST_CLIENT_BASE]) as running:
        yield running


@pytest.fixture
def police_idp(idps: tuple[DevIdP, DevIdP]) -> DevIdP:
    return idps[0]


@pytest.fixture
def health_idp(idps: tuple[DevIdP, DevIdP]) -> DevIdP:
    return idps[1]


@pytest.fixture
def providers(world: Any, police_idp: DevIdP, health_idp: DevIdP) -> Providers:
    return connect_providers(world, police_idp, health_idp)


@pytest.fixture(scope="session")
def _fake_op_server() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def fake_op(_fake_op_server: FakeProvider) -> Iterator[FakeProvider]:
    _fake_op_server.reset()
    yield _fake_op_server
    _fake_op_server.reset()


@pytest.fixture
def fake_provider(world: Any, fake_op: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> int:
    """Testshire Homes signs in through the shaped provider; returns the agency id."""
    monkeypatch.setenv(FAKE_SECRET_ENV, CLIENT_SECRET)
    fake_op.user["email"] = "fake.person@homes.test"
    with db.unit_of_work():
        identity.add_provider(
            Actor.system(),
            agencies.get_agency(world.agencies["housing"]),
            identity.ProviderData(
                issuer=fake_op.issuer,
                client_id=CLIENT_ID,
                client_secret_env=FAKE_SECRET_ENV,
                roles_claim="groups",
                role_mapping={"marac-practitioners": "practitioner"},
                trust_role_mapping=True,
            ),
        )
    return int(world.agencies["housing"])


@pytest.fixture
def own_idp() -> Iterator[DevIdP]:
    """A police provider of the test's own, for tests that withdraw its keys, hang or stop it."""
    provider = DevIdP().start(
        clients=_clients(SECRETS[POLICE_SECRET_ENV], ["http://127.0.0.1:5000"]),
        users=POLICE_USERS,
    )
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def own_police_provider(world: Any, own_idp: DevIdP, monkeypatch: pytest.MonkeyPatch) -> int:
    """Testshire Police signs in through ``own_idp``; its records system calls the API."""
    monkeypatch.setenv(POLICE_SECRET_ENV, SECRETS[POLICE_SECRET_ENV])
    with db.unit_of_work():
        provider = identity.add_provider(
            Actor.system(),
            agencies.get_agency(world.agencies["police"]),
            identity.ProviderData(
                issuer=own_idp.issuer, client_id="marac-hub", client_secret_env=POLICE_SECRET_ENV
            ),
        )
        identity.add_api_client(
            Actor.system(),
            identity.ApiClientData(
                agency_id=world.agencies["police"],
                client_id=RECORDS_CLIENT,
                name="Police records system",
                scopes=frozenset({"referrals:read"}),
            ),
        )
        return provider.id
