"""The demo a newcomer gets from `make run`: a case in every state, meetings and tasks."""

from __future__ import annotations

from sqlalchemy import func, select

from agencies import services as agencies
from cases.models import Referral, ReferralStatus
from hub import demo
from hub.core import db
from meetings.demo import seed_meetings
from meetings.models import Meeting, MeetingStatus, Minutes, MinutesStatus
from tests.support.web import signed_in, text
from todo.models import Task


def _seed(settings) -> None:
    with db.unit_of_work():
        demo.seed(settings)
    with db.unit_of_work():
        seed_meetings(settings)
    with db.unit_of_work():
        demo.seed_cases(settings)


def test_the_demo_has_a_case_in_every_state_and_a_second_seed_adds_nothing(app) -> None:
    settings = app.extensions["hub.settings"]
    _seed(settings)
    _seed(settings)
    with db.unit_of_work() as uow:
        statuses = list(uow.session.execute(select(Referral.status)).scalars())
        assert len(statuses) == 8
        assert set(statuses) == set(ReferralStatus) - {ReferralStatus.TRANSFERRED}
        meetings = {m.status: m for m in uow.session.execute(select(Meeting)).scalars()}
        assert set(meetings) == {MeetingStatus.PLANNED, MeetingStatus.HELD}
        assert meetings[MeetingStatus.PLANNED].items  # the accepted case is on its agenda
        held = uow.session.get(Minutes, meetings[MeetingStatus.HELD].id)
        assert held is not None and held.status == MinutesStatus.DISTRIBUTED
        assert uow.session.execute(select(func.count()).select_from(Task)).scalar_one() > 0


def test_the_demo_coordinator_and_idva_find_work_on_their_pages(app) -> None:
    _seed(app.extensions["hub.settings"])
    with db.unit_of_work():
        coordinator = agencies.find_member_by_email("coordinator@csp.northbridge.example")
        idva = agencies.find_member_by_email("l.novak@idva.northbridge.example")
        waiting = db.session().execute(
            select(Referral.reference).where(Referral.status == ReferralStatus.SUBMITTED)
        )
        reference = waiting.scalar_one()
    inbox = signed_in(app.test_client(), coordinator).get("/referrals/inbox")
    assert inbox.status_code == 200 and reference in text(inbox)
    tasks = signed_in(app.test_client(), idva).get("/tasks")
    assert tasks.status_code == 200
    assert "Contact the victim within two working days" in text(tasks)
