"""/healthz for supervisors and monitoring, and the checkpoint's age for witnesses."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import text

from audit import services
from audit.ledger import record_in
from hub.app import create_app
from hub.core.access import Actor
from hub.core.db import Database, UnitOfWork
from tests.conftest import make_settings
from tests.support.pgserver import free_port


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"ledger_max_seal_lag_seconds": 1, "ledger_checkpoint_minutes": 5}


def database_of(app: Any) -> Database:
    return app.extensions["hub.db"]


def record_some(database: Database, count: int) -> None:
    uow = UnitOfWork(database)
    try:
        for n in range(count):
            record_in(uow.session, Actor.system("web"), "case:viewed", None, {"n": n})
        uow.commit()
    finally:
        uow.close()


def sign(app: Any) -> None:
    database = database_of(app)
    services.seal(database)
    uow = UnitOfWork(database)
    try:
        services.sign_checkpoint(uow.session, app.ledger_key(), force=True)
        uow.commit()
    finally:
        uow.close()


def checks(response: Any) -> dict[str, str]:
    body = response.get_json(force=True)
    return {name: found[0]["status"] for name, found in body["checks"].items()}


def test_a_working_hub_passes(app: Any, client: Any) -> None:
    record_some(database_of(app), 3)
    sign(app)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/health+json"
    assert response.get_json(force=True)["status"] == "pass"
    assert set(checks(response).values()) == {"pass"}


@pytest.mark.postgres_only
def test_entries_left_unsealed_past_the_limit_fail_it(app: Any, client: Any) -> None:
    # No sealer runs (a scheduler killed without a standby): entries wait.
    sign(app)
    record_some(database_of(app), 4)
    time.sleep(1.2)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert checks(response)["ledger:sealing-lag"] == "fail"
    lag = response.get_json(force=True)["checks"]["ledger:sealing-lag"][0]
    assert lag["waiting"] == 4 and lag["observedValue"] > 1
    sign(app)  # the sealer is back
    assert client.get("/healthz").status_code == 200


def test_a_stale_checkpoint_fails_it(app: Any, client: Any) -> None:
    record_some(database_of(app), 1)
    sign(app)
    with database_of(app).engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_checkpoints (tree_size, root_hash, note, signed_at) "
                "SELECT tree_size, root_hash, note, :at FROM audit_checkpoints"
            ),
            {"at": "2026-01-01 00:00:00+00:00"},
        )
    response = client.get("/healthz")
    assert response.status_code == 503
    assert checks(response) == {
        "database:connection": "pass",
        "ledger:sealing-lag": "pass",
        "ledger:checkpoint-age": "fail",
    }


def test_an_unreachable_database_fails_it(tmp_path: Any) -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/nowhere"
    app = create_app(make_settings(url, tmp_path / "instance"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert checks(response) == {"database:connection": "fail"}
    app.extensions["hub.db"].dispose()


def test_the_checkpoint_is_served_with_its_age_and_interval(app: Any, client: Any) -> None:
    record_some(database_of(app), 1)
    sign(app)
    response = client.get("/ledger/checkpoint")
    assert response.status_code == 200
    assert 0 <= int(response.headers["Checkpoint-Age"]) < 60
    assert response.headers["Checkpoint-Interval"] == "300"
    assert response.headers["Last-Modified"]
