"""One commit point per request; side effects only after it; nothing half-committed."""

from __future__ import annotations

import pytest
from flask import abort
from sqlalchemy import func, select

from agencies import services
from agencies.models import Agency, AgencyType, Sector
from audit.models import AuditEntry
from hub.core import db
from hub.core.access import Actor
from hub.core.routes import public


def _agencies() -> int:
    with db.unit_of_work() as uow:
        return int(uow.session.execute(select(func.count()).select_from(Agency)).scalar_one())


def _add(name: str) -> Agency:
    actor = Actor.system("test")
    area = services.get_area_by_name("Testshire MARAC")
    return services.create_agency(
        actor, area, services.AgencyData(name=name, type=AgencyType.OTHER, sector=Sector.STATUTORY)
    )


def test_unit_of_work_commits_once_at_the_end(app, world) -> None:
    before = _agencies()
    with db.unit_of_work():
        _add("Committed Agency")
    assert _agencies() == before + 1


def test_unit_of_work_rolls_everything_back_on_error(app, world) -> None:
    before = _agencies()
    entries = _count_entries()
    with pytest.raises(RuntimeError), db.unit_of_work():
        _add("Half Agency")
        raise RuntimeError("boom")
    assert _agencies() == before
    assert _count_entries() == entries  # the ledger entry went with it


def _count_entries() -> int:
    with db.unit_of_work() as uow:
        return int(uow.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def test_side_effects_run_only_after_commit(app, world) -> None:
    ran: list[str] = []
    with pytest.raises(RuntimeError), db.unit_of_work():
        db.after_commit(lambda: ran.append("rolled back"))
        raise RuntimeError("boom")
    with db.unit_of_work():
        db.after_commit(lambda: ran.append("committed"))
        assert ran == []
    assert ran == ["committed"]


def test_request_that_fails_after_writing_commits_nothing(app, world) -> None:
    ran: list[str] = []

    @app.route("/test-half-write", methods=["POST"])
    @public
    def half_write() -> str:
        _add("Request Agency")
        db.after_commit(lambda: ran.append("mail"))
        abort(400)

    @app.route("/test-crash", methods=["POST"])
    @public
    def crash() -> str:
        _add("Crash Agency")
        raise RuntimeError("unexpected")

    app.config["WTF_CSRF_ENABLED"] = False
    before = _agencies()
    client = app.test_client()
    assert client.post("/test-half-write").status_code == 400
    assert client.post("/test-crash").status_code == 500
    assert _agencies() == before
    assert ran == []


def test_request_that_succeeds_commits_and_then_runs_side_effects(app, world) -> None:
    ran: list[int] = []

    @app.route("/test-write", methods=["POST"])
    @public
    def write() -> str:
        _add("Good Agency")
        db.after_commit(lambda: ran.append(_agencies()))
        return "ok"

    app.config["WTF_CSRF_ENABLED"] = False
    before = _agencies()
    assert app.test_client().post("/test-write").status_code == 200
    assert ran == [before + 1]  # the effect saw the committed row


def test_services_refuse_to_run_outside_a_unit_of_work(app) -> None:
    with pytest.raises(RuntimeError, match="no unit of work"):
        services.list_agencies()
