"""`hub serve` when the database connection dies in the middle of a request.

Each test holds a lock on a table the request is about to read, waits until the request's
session is queued behind it, and has the server end that session, as a restart or a
failover does to every request in flight. Before, such requests got 500s, some of them
gunicorn's bare page, because the hub's own error page needed the session that had failed.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pyotp
import pytest
import requests

from audit import services
from hub.app import create_app
from hub.core.db import unit_of_work
from tests.conftest import make_settings
from tests.faults.conftest import Cluster
from tests.support.processes import HubProcess, free_port, hub_env, wait_for
from tests.support.world import build_world

pytestmark = pytest.mark.postgres_only
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = "test-secret-key-that-is-long-enough-1234567890"


@pytest.fixture
def served(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """The hub served by gunicorn as the application role, with the test world in it."""
    instance = tmp_path / "instance"
    app = create_app(make_settings(cluster.admin_url, instance))
    with app.app_context():
        world = build_world()
        with unit_of_work() as uow:
            services.sign_checkpoint(uow.session, app.ledger_key(), force=True)
    app.extensions["hub.db"].dispose()
    port = free_port()
    web = HubProcess(
        "web",
        ["serve", "--port", str(port), "--workers", "1"],
        hub_env(cluster.app_url, instance, SECRET_KEY=SECRET),
        tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(base + "/ledger/public-key"), 60, "the hub serves")
        yield base, world
    finally:
        web.stop()
        print(web.output[-4000:])


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=5)
    except requests.ConnectionError:
        return None


def sign_in(base: str, person: Any) -> requests.Session:
    browser = requests.Session()

    def post(path: str, data: dict[str, str]) -> requests.Response:
        page = browser.get(base + path, timeout=10)
        token = CSRF.search(page.text)
        assert token, page.text[:500]
        return browser.post(
            base + path,
            data={"csrf_token": token.group(1), **data},
            allow_redirects=False,
            timeout=10,
        )

    first = post("/sign-in", {"email": person.email, "password": person.password})
    assert first.status_code == 302 and first.headers["Location"].endswith("/sign-in/code")
    second = post("/sign-in/code", {"code": pyotp.TOTP(person.totp_secret).now()})
    assert second.status_code == 302, second.text[:500]
    return browser


@contextmanager
def locked(cluster: Cluster, table: str) -> Iterator[None]:
    """Hold an exclusive lock on ``table`` in a transaction of the test's own."""
    conn = psycopg.connect(cluster.server.libpq_url(cluster.name), autocommit=False)
    try:
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        conn.rollback()
        conn.close()


def end_the_session_waiting_on(cluster: Cluster, table: str) -> None:
    """Wait until a request's session queues behind the lock, then have the server end it."""
    with psycopg.connect(cluster.server.libpq_url(cluster.name), autocommit=True) as conn:

        def waiting() -> int | None:
            row = conn.execute(
                "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = %s AND NOT l.granted",
                (table,),
            ).fetchone()
            return row[0] if row else None

        pid = wait_for(waiting, 30, f"a request waits on {table}")
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    return thread, result


def test_a_request_whose_connection_dies_before_it_did_anything_is_retried(
    served: tuple[str, Any], cluster: Cluster
) -> None:
    base, _ = served
    with locked(cluster, "audit_checkpoints"):
        # The checkpoint's first statement is the one that waits: nothing was done yet.
        thread, result = in_background(
            lambda: requests.get(base + "/ledger/checkpoint", timeout=60)
        )
        end_the_session_waiting_on(cluster, "audit_checkpoints")
    thread.join(60)
    response = result[0]
    assert response.status_code == 200, response.text[:500]
    assert "\n— " in response.text  # the signed note itself, on a new connection


def test_a_request_that_loses_its_connection_midway_gets_the_hubs_page(
    served: tuple[str, Any], cluster: Cluster
) -> None:
    base, world = served
    browser = sign_in(base, world["police_officer"])
    assert "Sign out" in browser.get(base + "/", timeout=10).text
    with locked(cluster, "tasks"):
        # Signed in, the page has read the session and the member, then waits on the
        # header's to-do counts: it has done something, so it is not run again.
        thread, result = in_background(lambda: browser.get(base + "/", timeout=60))
        end_the_session_waiting_on(cluster, "tasks")
    thread.join(60)
    response = result[0]
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert "Sorry, the service is unavailable" in response.text
    assert "govuk-template" in response.text  # the hub's page, not the web server's
    assert "Traceback" not in response.text
    # The next request, on a new connection, works.
    assert "Sign out" in browser.get(base + "/", timeout=10).text
