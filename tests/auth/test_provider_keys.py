"""A provider's keys and settings, as every process of the hub sees them.

A provider of its own (the real dev IdP) for this module, since these tests withdraw its
keys and stop it. Two apps on one database stand for two processes of one deployment:
each keeps its own cache, as gunicorn workers do.
"""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from hub.auth import identity
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import now
from tests.support.agencies_sso import RECORDS_CLIENT, RECORDS_SECRET
from tests.support.idp import DevIdP

WHOAMI = "/api/v1/whoami"
CACHE_SECONDS = 60


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"oidc_cache_seconds": CACHE_SECONDS}


def _token(idp: DevIdP) -> str:
    return idp.client_credentials_token(RECORDS_CLIENT, RECORDS_SECRET, "referrals:read")


def _whoami(client: Any, token: str) -> int:
    return int(client.get(WHOAMI, headers={"Authorization": f"Bearer {token}"}).status_code)


def test_a_withdrawn_key_is_refused_once_the_cached_key_set_expires(
    client: Any, own_police_provider: int, own_idp: DevIdP
) -> None:
    old = _token(own_idp)
    assert _whoami(client, old) == 200  # the hub has fetched and cached the key set
    own_idp.rotate_keys(retain=False)  # the provider withdraws the key that signed `old`
    new = _token(own_idp)
    # Until the cached set expires (HUB_OIDC_CACHE_SECONDS) the hub cannot know.
    assert _whoami(client, old) == 200
    with time_machine.travel(now() + timedelta(seconds=CACHE_SECONDS + 1), tick=False):
        refused = client.get(WHOAMI, headers={"Authorization": f"Bearer {old}"})
        assert refused.status_code == 401
        assert "key its issuer does not publish" in refused.get_json()["detail"]
        assert _whoami(client, new) == 200


def test_fetch_keys_again_makes_every_process_drop_a_withdrawn_key_at_once(
    app: Any, own_police_provider: int, own_idp: DevIdP, tmp_path: Any
) -> None:
    from hub.app import create_app

    other = create_app(app.extensions["hub.settings"])  # a second worker process
    try:
        old = _token(own_idp)
        first, second = app.test_client(), other.test_client()
        assert _whoami(first, old) == 200 and _whoami(second, old) == 200
        own_idp.rotate_keys(retain=False)
        with app.app_context(), db.unit_of_work():
            # The administrator, in the first process, after hearing of the compromise.
            identity.refresh_provider(Actor.system(), identity.get_provider(own_police_provider))
        # No waiting for any cache: the other process refuses the withdrawn key now.
        assert _whoami(second, old) == 401
        assert _whoami(second, _token(own_idp)) == 200
    finally:
        other.extensions["hub.db"].dispose()


def test_a_provider_that_goes_down_gets_the_hubs_own_page_even_when_cached(
    client: Any, own_police_provider: int, own_idp: DevIdP, world: Any
) -> None:
    first = client.get(f"/sign-in/agency/{world.agencies['police']}/start")
    assert first.status_code == 302 and first.headers["Location"].startswith(own_idp.issuer)
    own_idp.stop()
    again = client.get(f"/sign-in/agency/{world.agencies['police']}/start")
    # Never sent to an address that does not answer (the browser's own error page).
    assert again.status_code == 503
    page = html.unescape(again.get_data(as_text=True))
    assert "Testshire Police's sign-in service is not available" in page
