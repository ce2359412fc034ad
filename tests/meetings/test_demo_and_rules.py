"""The demo's upcoming meeting, and the scheduler's minutes-due rule."""

from __future__ import annotations

from sqlalchemy import func, select

from hub import demo
from hub.core import db
from hub.core.clock import today_london
from meetings import minutes
from meetings.demo import seed_meetings
from meetings.models import Meeting
from tests.meetings.conftest import run_to_close
from tests.support.world import actor_of
from todo import jobs
from todo.models import Task


def test_the_demo_gets_one_upcoming_meeting_however_often_it_is_seeded(app) -> None:
    settings = app.extensions["hub.settings"]
    with db.unit_of_work():
        demo.seed(settings)
        first = seed_meetings(settings)
        assert first is not None and first.held_on > today_london()
        assert first.chair_id is not None and first.coordinator_id is not None
        first_id = first.id
    with db.unit_of_work() as uow:
        assert seed_meetings(settings).id == first_id
        assert uow.session.execute(select(func.count()).select_from(Meeting)).scalar_one() == 1


def test_the_minutes_due_rule_is_resolved_once_the_minutes_are_sent_out(world, conference) -> None:
    from todo import meetings as meeting_tasks

    assert jobs.rule_providers()["meetings-minutes-due"] is meeting_tasks.minutes_due_provider
    run_to_close(world, conference)
    key = f"rule:minutes-due:meeting-{conference.meeting_id}"
    jobs.generate_system_rule_tasks()  # already made at closing: nothing new
    with db.unit_of_work() as uow:
        task = uow.session.execute(select(Task).where(Task.source_key == key)).scalar_one()
        assert task.state == "open"
        minutes.approve_minutes(
            actor_of(world["chair"]), uow.session.get(Meeting, conference.meeting_id)
        )
        minutes.distribute_minutes(
            actor_of(world["coordinator"]), uow.session.get(Meeting, conference.meeting_id)
        )
    with db.unit_of_work() as uow:
        task = uow.session.execute(select(Task).where(Task.source_key == key)).scalar_one()
        assert task.state == "done"
    jobs.generate_system_rule_tasks()
    with db.unit_of_work() as uow:
        assert (
            uow.session.execute(
                select(func.count()).select_from(Task).where(Task.source_key == key)
            ).scalar_one()
            == 1
        )
