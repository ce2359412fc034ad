"""The transfer timers: send within 1 working day, acknowledge within 2, list at the next
meeting; a task for the coordinator who must act when one runs out, closed once it is done."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.core import db
from hub.core.clock import today_london
from hub.core.workdays import add_working_days
from meetings.models import Meeting, MeetingStatus
from tests.support.web import signed_in, submit
from tests.transfers.conftest import (
    NB_COORDINATOR,
    SP_COORDINATOR,
    _member,
    southport_id,
    transfer_to_southport,
)
from todo.models import Task
from transfers.jobs import raise_timer_tasks, transfer_timers


def _timer_tasks() -> dict[str, bool]:
    """Each timer task's rule key and whether it is still open."""
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(Task).where(Task.source_key.like("rule:transfer:%_timer"))
        ).scalars()
        return {t.source_key.split(":")[-1]: t.is_active for t in rows if t.source_key}


def _run(day) -> int:
    with db.unit_of_work():
        return raise_timer_tasks(day)


def test_each_timer_raises_a_task_when_it_runs_out_and_closes_it_when_done(app, two_areas) -> None:
    case_id, _ = two_areas
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    receiver = signed_in(app.test_client(), _member(SP_COORDINATOR))
    transfer_id = transfer_to_southport(sender, case_id)
    with db.unit_of_work() as uow:
        meeting = uow.session.execute(
            select(Meeting).where(
                Meeting.area_id == southport_id(), Meeting.status != MeetingStatus.HELD
            )
        ).scalar_one()
        held_on = meeting.held_on
    today = today_london()
    # Within a working day, nothing; after it, the sending coordinator is asked to send.
    assert _run(add_working_days(today, 1)) == 0
    assert _run(add_working_days(today, 2)) == 1
    assert _timer_tasks() == {"send_timer": True}
    with db.unit_of_work() as uow:
        task = uow.session.execute(
            select(Task).where(Task.source_key.like("%send_timer"))
        ).scalar_one()
        assert task.title.startswith(f"Send transfer TR-{transfer_id}")
        assert task.owner_member_id == _member(NB_COORDINATOR).id
    assert _run(add_working_days(today, 3)) == 0  # once only
    submit(sender, f"/transfers/{transfer_id}/send", form_url=f"/transfers/{transfer_id}")
    # Sent: the send task is done; the receiver has 2 working days to acknowledge.
    _run(today)
    assert _timer_tasks() == {"send_timer": False}
    assert _run(add_working_days(today, 2)) == 0
    assert _run(add_working_days(today, 3)) == 1
    assert _timer_tasks()["acknowledge_timer"] is True
    with db.unit_of_work() as uow:
        task = uow.session.execute(
            select(Task).where(Task.source_key.like("%acknowledge_timer"))
        ).scalar_one()
        assert task.title == f"Acknowledge transfer TR-{transfer_id} from Northbridge MARAC"
        assert task.owner_member_id == _member(SP_COORDINATOR).id
    submit(receiver, f"/transfers/{transfer_id}/acknowledge", form_url=f"/transfers/{transfer_id}")
    _run(today)
    assert _timer_tasks()["acknowledge_timer"] is False
    # The agenda cut-off of Southport's next meeting comes, and the case is not listed.
    assert "list_timer" not in _timer_tasks() or not _timer_tasks()["list_timer"]
    _run(held_on - timedelta(days=30))
    assert _timer_tasks().get("list_timer") is not True
    _run(held_on)
    assert _timer_tasks()["list_timer"] is True
    submit(receiver, f"/transfers/{transfer_id}/accept", form_url=f"/transfers/{transfer_id}")
    # The scheduler's job, as it runs it (by name, in the app, with the configured days).
    from hub.scheduler import JOBS

    assert ("transfer-timers", "transfers.jobs:transfer_timers", {"minutes": 30}) in JOBS
    with app.app_context():
        transfer_timers(today=held_on)
    assert _timer_tasks() == {
        "send_timer": False,
        "acknowledge_timer": False,
        "list_timer": False,
    }
