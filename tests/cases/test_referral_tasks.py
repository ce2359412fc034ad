"""Referrals feed the to-do lists: acceptance and sharing make each agency's template tasks."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.core import db
from hub.core.clock import today_london
from tests.support import cases
from tests.support.web import sign_in, text
from tests.support.world import actor_of
from todo import jobs
from todo.models import Task


def _tasks(agency_id: int) -> list[Task]:
    with db.unit_of_work() as uow:
        return list(
            uow.session.execute(
                select(Task).where(Task.agency_id == agency_id).order_by(Task.id)
            ).scalars()
        )


def test_accepting_fills_the_referrers_list_and_the_idva_queue(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    assert _tasks(world.agencies["police"]) == []
    cases.accept(actor_of(world["coordinator"]), referral_id)
    police = _tasks(world.agencies["police"])
    idva = _tasks(world.agencies["idva"])
    assert police and all(t.referral_id == referral_id for t in police)
    assert {t.owner_member_id for t in police} == {world["police_officer"].member_id}
    assert idva and all(t.owner_member_id is None for t in idva)  # the agency's queue
    assert any("safety plan" in t.title.lower() for t in idva)
    client = app.test_client()
    sign_in(
        client,
        world["police_officer"].email,
        world["police_officer"].password,
        world["police_officer"].totp_secret,
    )
    page = text(client.get("/tasks"))
    assert police[0].title in page


def test_a_pending_approval_becomes_a_task_for_the_referring_agency(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.without_consent(officer, referral_id)
    with app.app_context():
        jobs.generate_system_rule_tasks(
            today=today_london() + timedelta(days=1), database=app.extensions["hub.db"]
        )
    titles = [t.title for t in _tasks(world.agencies["police"])]
    assert any("without consent" in t for t in titles)
